"""The "results are ready" e-mail: sent once per cycle to everyone on the roster when the job has
stored the cycle's results, with a link to their team's report, and no figure in it."""

from __future__ import annotations

import pytest
from django.core import mail

from analytics.job.tasks import aggregate_cycle_task
from analytics.models import AggregationStage
from analytics.reports.announce import results_ready_announce
from surveys.models import Organisation, Person
from tests.analytics.builders import cycle_run, org_build, standard_answers

pytestmark = pytest.mark.django_db


@pytest.fixture
def closed(db):
    org = org_build()
    return org, cycle_run(org, standard_answers(org)).cycle


def test_storing_a_cycles_results_tells_everyone_once(closed, django_capture_on_commit_callbacks):
    org, cycle = closed
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        aggregate_cycle_task.delay(cycle.pk)
    people = set(Person.objects.filter(is_active=True).values_list("email", flat=True))
    assert {message.to[0] for message in mail.outbox} == people and len(mail.outbox) == len(people)
    alpha = next(m for m in mail.outbox if m.to[0] == "engineering-alpha-0@example.com")
    assert f"/units/{org.id('Engineering/Alpha')}/?cycle={cycle.label}" in alpha.body
    assert "%" not in alpha.body  # no figure travels by e-mail
    # A rerun (say k raised) stores the results again; nobody is told twice.
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        aggregate_cycle_task.delay(cycle.pk)
    assert mail.outbox == []


def test_nothing_is_announced_before_the_results_are_served(closed):
    _, cycle = closed
    assert AggregationStage.objects.filter(cycle=cycle).count() == 0
    assert results_ready_announce(cycle_id=cycle.pk) == 0 and mail.outbox == []


def test_without_team_reports_the_link_is_the_start_page(closed, django_capture_on_commit_callbacks):
    _, cycle = closed
    Organisation.objects.update(engineers_see_team_report=False)
    with django_capture_on_commit_callbacks(execute=True):
        aggregate_cycle_task.delay(cycle.pk)
    assert mail.outbox and all("/units/" not in message.body for message in mail.outbox)
