"""Signed-in home page, sign-in, privacy page."""

import pytest
from django.urls import reverse

from surveys.models import Person
from surveys.services.cycles import cycle_open
from surveys.submission import response_submit
from tests.factories import PersonFactory, UserFactory
from tests.surveys.helpers import FULL_ANSWERS, team_with_people

pytestmark = pytest.mark.django_db


def test_home_requires_sign_in(client):
    page = client.get(reverse("home"))
    assert page.status_code == 302 and page["Location"].startswith(reverse("login"))


def test_sign_in_with_email_and_password(client):
    person = PersonFactory(email="hr@example.com", role="hr")
    page = client.post(reverse("login"), {"username": person.email, "password": "pw"})
    assert page.status_code == 302
    home = client.get(reverse("home"))
    assert "as hr" in home.content.decode()


def test_response_rate_is_hidden_until_k_people_have_answered(client):
    team_with_people("Core", 8)
    viewer = PersonFactory(email="viewer@example.com", role="hr")
    links = cycle_open(send_mail=False).links
    client.force_login(viewer.user)
    assert "hidden to protect anonymity" in client.get(reverse("home")).content.decode()
    for link in links[:5]:
        response_submit(token=link.token, raw_answers=FULL_ANSWERS)
    body = client.get(reverse("home")).content.decode()
    assert "56%" in body  # 5 of the 9 invited (8 engineers and the viewer)


def test_home_tells_a_person_whether_they_have_answered(client):
    team_with_people("Core", 5)
    person = Person.objects.first()
    link = next(link for link in cycle_open(send_mail=False).links if link.person_email == person.email)
    person.user = UserFactory(username=person.email)
    person.save()
    client.force_login(person.user)
    assert "your link is in your e-mail" in client.get(reverse("home")).content.decode()
    response_submit(token=link.token, raw_answers=FULL_ANSWERS)
    assert "You have answered this month" in client.get(reverse("home")).content.decode()


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
    assert NOT_AGGREGATED_TEXT in client.get(reverse("home")).content.decode()
    aggregate_cycle(cycle=cycle)
    cell = MetricCell.objects.get(cycle=cycle, unit_id=ORGANISATION, metric="responses")
    assert cell.published and cell.n == 28
    body = client.get(reverse("home")).content.decode()
    assert f"<td>{round(cell.value)}%</td>" in body and NOT_AGGREGATED_TEXT not in body
    # Whatever the job decided is what is shown: a hidden cell shows no percentage.
    MetricCell.objects.filter(pk=cell.pk).update(published=False, n=None, value=None)
    body = client.get(reverse("home")).content.decode()
    assert "<td>hidden to protect anonymity</td>" in body and f"{round(cell.value)}%" not in body
    # A raised k withholds the cycle until it is aggregated again (R3).
    MetricCell.objects.filter(pk=cell.pk).update(published=True, n=cell.n, value=cell.value)
    type(cycle).objects.filter(pk=cycle.pk).update(k=9)
    assert NOT_AGGREGATED_TEXT in client.get(reverse("home")).content.decode()
