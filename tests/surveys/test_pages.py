"""The signed-in "my pulse" page, sign-in, privacy page."""

import pytest
from django.urls import reverse

from surveys.models import Person
from surveys.services.cycles import cycle_open
from surveys.submission import response_submit
from tests.factories import PersonFactory, UserFactory
from tests.surveys.helpers import FULL_ANSWERS, team_with_people

pytestmark = pytest.mark.django_db


def test_home_and_pulse_pages_require_sign_in(client):
    for name in ("home", "pulse_status"):
        page = client.get(reverse(name))
        assert page.status_code == 302 and page["Location"].startswith(reverse("login"))


def test_sign_in_with_email_and_password(client):
    person = PersonFactory(email="hr@example.com", role="hr")
    page = client.post(reverse("login"), {"username": person.email, "password": "pw"})
    assert page.status_code == 302
    pulse = client.get(reverse("pulse_status"))
    assert "as hr" in pulse.content.decode()


def test_response_rate_is_hidden_until_k_people_have_answered(client):
    """The open cycle's rate is the organisation's stored live participation (decided with R4 and
    R5 on answered counts, counted on a schedule), not a count of the invitation log per request."""
    from analytics.job.participation import participation_count
    from analytics.published.rates import NOT_COUNTED_TEXT

    team_with_people("Core", 8)
    viewer = PersonFactory(email="viewer@example.com", role="hr")
    links = cycle_open(send_mail=False).links
    client.force_login(viewer.user)
    assert NOT_COUNTED_TEXT in client.get(reverse("pulse_status")).content.decode()  # before the first count
    participation_count()
    assert "hidden to protect anonymity" in client.get(reverse("pulse_status")).content.decode()
    for link in links[:5]:
        response_submit(token=link.token, raw_answers=FULL_ANSWERS)
    # Until the next count the page shows the stored figure, the same one HR's cycles page shows.
    assert "hidden to protect anonymity" in client.get(reverse("pulse_status")).content.decode()
    participation_count()
    body = client.get(reverse("pulse_status")).content.decode()
    assert "56%" in body  # 5 of the 9 invited (8 engineers and the viewer)


def test_home_tells_a_person_whether_they_have_answered(client):
    team_with_people("Core", 5)
    person = Person.objects.first()
    link = next(link for link in cycle_open(send_mail=False).links if link.person_email == person.email)
    person.user = UserFactory(username=person.email)
    person.save()
    client.force_login(person.user)
    assert "your link is in your e-mail" in client.get(reverse("pulse_status")).content.decode()
    response_submit(token=link.token, raw_answers=FULL_ANSWERS)
    assert "You have answered this month" in client.get(reverse("pulse_status")).content.decode()


def test_privacy_page_states_the_thresholds_and_the_residual_risk(client):
    body = client.get(reverse("privacy")).content.decode()
    assert "at least 5 people" in body and "at least 10" in body
    assert "physical order of stored rows" in body


def test_a_closed_cycles_response_rate_is_its_published_cell(client):
    """R4, R6: once a cycle closes, the home page shows the rate the aggregation job published for
    the organisation, through the door; nothing before the job has run under the cycle's k."""
    from analytics.core.tree import ORGANISATION
    from analytics.job.run import aggregate_cycle
    from analytics.models import MetricCell
    from analytics.published.rates import NOT_AGGREGATED_TEXT
    from tests.analytics.builders import cycle_run, org_build, standard_answers

    org = org_build()
    cycle = cycle_run(org, standard_answers(org)).cycle
    client.force_login(PersonFactory(email="viewer@example.com", role="hr").user)
    assert NOT_AGGREGATED_TEXT in client.get(reverse("pulse_status")).content.decode()
    aggregate_cycle(cycle=cycle)
    cell = MetricCell.objects.get(cycle=cycle, unit_id=ORGANISATION, metric="responses")
    assert cell.published and cell.n == 28
    body = client.get(reverse("pulse_status")).content.decode()
    assert f">{round(cell.value)}%</td>" in body and NOT_AGGREGATED_TEXT not in body
    # Whatever the job decided is what is shown: a hidden cell shows no percentage.
    MetricCell.objects.filter(pk=cell.pk).update(published=False, n=None, value=None)
    body = client.get(reverse("pulse_status")).content.decode()
    assert ">hidden to protect anonymity</td>" in body and f"{round(cell.value)}%" not in body
    # A raised k withholds the cycle until it is aggregated again (R3).
    MetricCell.objects.filter(pk=cell.pk).update(published=True, n=cell.n, value=cell.value)
    type(cycle).objects.filter(pk=cycle.pk).update(k=9)
    assert NOT_AGGREGATED_TEXT in client.get(reverse("pulse_status")).content.decode()


def test_home_table_stacks_on_a_phone_with_every_cell_labelled(db):
    """At 390 px the five columns do not fit: the table is a "stack" table (one card per row under
    40rem, pulse.css), and every cell carries its column's name to show there. Rendered from the
    template itself, whichever view serves it."""
    import re
    from types import SimpleNamespace

    from django.contrib.staticfiles import finders
    from django.template.loader import render_to_string

    team_with_people("Core", 6)
    cycle = cycle_open(send_mail=False).cycle
    rows = [SimpleNamespace(cycle=cycle, rate=SimpleNamespace(text="hidden to protect anonymity", live=True,
                                                              percent=None))]  # fmt: skip
    body = render_to_string("surveys/home.html", {"person": None, "cycles": rows})
    assert '<table class="stack" role="table">' in body
    headers = re.findall(r'<th scope="col" role="columnheader">([^<]+)</th>', body)
    labels = re.findall(r'<td role="cell" data-label="([^"]+)">', body)
    assert len(headers) == 5 and len(labels) == 5
    assert [label.split(" (")[0] for label in labels] == headers
    with open(finders.find("css/pulse.css"), encoding="utf-8") as css:
        stylesheet = css.read()
    assert "table.stack td::before { content: attr(data-label);" in stylesheet


def test_admin_is_branded_pilotpulse(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "Django administration" not in page and "Django site admin" not in page
    assert "<title>Programme setup: teams, people, cycles and settings | PilotPulse setup</title>" in page
    assert "PilotPulse setup</a>" in page.split('id="site-name"')[1].split("</div>")[0]
