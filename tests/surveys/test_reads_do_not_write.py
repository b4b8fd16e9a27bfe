"""Organisation.current() is a pure read, and no page view of the pulse page, a survey link or the
privacy page writes to the database (a GET must be safe: mail scanners prefetch links)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from surveys.models import Organisation, Person
from surveys.services.cycles import cycle_open
from surveys.submission import response_submit
from tests.factories import PersonFactory
from tests.surveys.helpers import FULL_ANSWERS, team_with_people

pytestmark = pytest.mark.django_db
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def writes(queries: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in queries.captured_queries if query["sql"].lstrip().upper().startswith(WRITES)]


def test_the_migration_installs_the_one_organisation_with_the_defaults():
    organisation = Organisation.current()
    assert Organisation.objects.count() == 1 and organisation.pk == 1
    assert (organisation.anonymity_threshold, organisation.comment_threshold) == (5, 10)


def test_current_is_a_pure_read():
    with CaptureQueriesContext(connection) as queries:
        Organisation.current()
    assert writes(queries) == [] and len(queries) == 1


def test_a_missing_organisation_fails_clearly_instead_of_coming_back_with_defaults():
    """A recreated row would carry k = 5 into the next cycle, perhaps below the chosen k (R3)."""
    Organisation.objects.all().delete()
    with pytest.raises(Organisation.DoesNotExist, match="python manage.py migrate"):
        Organisation.current()
    assert not Organisation.objects.exists()


def test_current_reads_the_organisations_settings():
    Organisation.objects.update(anonymity_threshold=8)
    assert Organisation.current().anonymity_threshold == 8


def test_opening_a_cycle_uses_the_installed_organisation():
    Organisation.objects.update(anonymity_threshold=7, comment_threshold=12)
    team_with_people("Core", 3)
    cycle = cycle_open(send_mail=False).cycle
    assert (cycle.k, cycle.comment_threshold) == (7, 12)
    assert Organisation.objects.count() == 1


def test_get_of_the_pulse_page_writes_nothing(client):
    team_with_people("Core", 6)
    viewer = PersonFactory(email="viewer@example.com", role="hr")
    links = cycle_open(send_mail=False).links
    for link in links[:5]:
        response_submit(token=link.token, raw_answers=FULL_ANSWERS)
    client.force_login(viewer.user)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("pulse_status"))
    assert page.status_code == 200
    assert writes(queries) == []


def test_get_of_a_survey_link_writes_nothing(client):
    team_with_people("Core", 6)
    Person.objects.filter(email="core-5@example.com").update(role="manager")
    tokens = {link.person_email: link.token for link in cycle_open(send_mail=False).links}
    for token in (tokens["core-0@example.com"], tokens["core-5@example.com"]):  # an engineer's, a manager's
        with CaptureQueriesContext(connection) as queries:
            page = client.get(reverse("survey", kwargs={"token": token}))
        assert page.status_code == 200
        assert writes(queries) == []


def test_get_of_the_privacy_and_thanks_pages_writes_nothing(client):
    for name in ("privacy", "survey_thanks"):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse(name)).status_code == 200
        assert writes(queries) == [], name
