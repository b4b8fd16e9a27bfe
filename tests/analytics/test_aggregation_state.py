"""Where each closed cycle's aggregation is (HR's cycles page and the cycles API): queued wherever
it is queued, running with its stage, done, failed (by class name, no values) with HR's retry,
or refused by the disclosure checker (R15), which nothing retries under the same k."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from celery.exceptions import Retry
from django.apps import apps
from django.db import OperationalError

from analytics.core.checker import Finding, PublicationRefused
from analytics.job import run as job_run
from analytics.job import tasks as job_tasks
from analytics.job.run import AggregationBusy, aggregate_cycle, cycle_lock, cycles_needing_aggregation, runs_queued
from analytics.job.tasks import (
    AggregationRetryRefused,
    aggregate_cycle_task,
    aggregate_nightly_task,
    aggregation_retry,
)
from analytics.models import AggregationRun, AggregationStage, MetricCell
from analytics.published import REFUSED_TEXT, aggregation_states
from surveys.closing import cycle_close
from surveys.models import AuditEvent, Cycle, Team
from surveys.services.cycles import cycle_open
from surveys.services.thresholds import cycle_k_raise
from surveys.submission import response_submit
from tests.surveys.helpers import FULL_ANSWERS, team_with_people

pytestmark = pytest.mark.django_db
SEP, OCT, NOV = dt.date(2026, 9, 1), dt.date(2026, 10, 1), dt.date(2026, 11, 1)


@pytest.fixture
def teams():
    team_with_people("Core", 6)
    team_with_people("Edge", 6)


def closed_cycle(month: dt.date) -> Cycle:
    opened = cycle_open(month=month, today=month, send_mail=False)
    for link in opened.links[:10]:
        response_submit(token=link.token, raw_answers=FULL_ANSWERS)
    return cycle_close(cycle=opened.cycle, today=month + dt.timedelta(days=14)).cycle


def run_of(cycle: Cycle) -> AggregationRun:
    return AggregationRun.objects.get(cycle=cycle)


def refuse(monkeypatch) -> None:
    """The checker finds something to stop (a stand-in for a decider bug it catches)."""
    monkeypatch.setattr(job_run, "publication_check", lambda *args, **kwargs: [Finding("unit-x", "responses", "R5")])


def test_closing_marks_the_run_queued_with_the_close_and_the_run_marks_it_done(
    teams, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        cycle = closed_cycle(OCT)
    run = run_of(cycle)
    assert (run.state, run.stage, run.error, run.k) == ("queued", "", "", 5)
    for callback in callbacks:
        callback()  # the queued task (eager Celery)
    assert run_of(cycle).state == "done"
    [state] = aggregation_states(cycles=[cycle]).values()
    assert state.state == "done" and state.text.startswith("Done: the results are published")


def test_each_stage_is_recorded_as_it_starts(teams):
    cycle = closed_cycle(OCT)
    seen = []

    def progress(message: str) -> None:
        run = run_of(cycle)
        seen.append((run.state, run.stage))

    aggregate_cycle(cycle=cycle, progress=progress)
    assert seen == [
        ("running", "reading"), ("running", "computing"), ("running", "checking"), ("running", "flags"),
        ("running", "comments"),
    ]  # fmt: skip
    assert (run_of(cycle).state, run_of(cycle).stage) == ("done", "")


def test_the_page_sees_the_running_stage(teams):
    cycle = closed_cycle(OCT)
    job_run.run_state_set(cycle, "running", stage="checking")
    [state] = aggregation_states(cycles=[cycle]).values()
    assert (state.state, state.stage, state.retryable) == ("running", "checking", False)
    assert state.text.startswith("Running: checking what would be published (since ")


def test_a_failure_is_recorded_by_class_name_only_and_raised(teams, monkeypatch):
    cycle = closed_cycle(OCT)

    def broken(**kwargs):
        raise ValueError("a message that quotes 4.25")

    monkeypatch.setattr("analytics.flags.stage.flags_compute_for_cycle", broken)
    with pytest.raises(ValueError, match="quotes"):
        aggregate_cycle(cycle=cycle)
    run = run_of(cycle)
    assert (run.state, run.error, run.stage) == ("failed", "ValueError", "")
    [state] = aggregation_states(cycles=[cycle]).values()
    assert state.retryable and state.error == "ValueError" and "4.25" not in state.text
    assert state.text.startswith("Failed (ValueError) on ")
    assert cycles_needing_aggregation() == [cycle]  # the nightly run tries it again too


def test_a_refusal_is_recorded_and_never_retried_under_the_same_k(
    teams, monkeypatch, django_capture_on_commit_callbacks
):
    cycle = closed_cycle(OCT)
    refuse(monkeypatch)
    with pytest.raises(PublicationRefused):
        aggregate_cycle(cycle=cycle)
    assert run_of(cycle).state == "refused"
    assert not MetricCell.objects.filter(cycle=cycle).exists()  # nothing was published
    [state] = aggregation_states(cycles=[cycle]).values()
    assert state.refused and not state.retryable and state.text == REFUSED_TEXT
    # Its cells stage is left "started", which alone would make the nightly run retry it.
    assert AggregationStage.objects.get(cycle=cycle, stage="cells").state == "started"
    assert cycles_needing_aggregation() == []
    assert aggregate_nightly_task.apply().get() == []
    assert run_of(cycle).state == "refused"
    with pytest.raises(AggregationRetryRefused, match="not retried; an operator must look at the job's log"):
        aggregation_retry(cycle=cycle, actor="hr@example.com")
    # Raising k is a new decision: the catch-up queues it, and it runs under the new k.
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        cycle = cycle_k_raise(cycle=cycle, k=6, actor="hr@example.com")
    assert (run_of(cycle).state, run_of(cycle).k) == ("done", 6)


def test_a_refused_run_under_an_older_k_shows_as_queued(teams, monkeypatch):
    cycle = closed_cycle(OCT)
    refuse(monkeypatch)
    with pytest.raises(PublicationRefused):
        aggregate_cycle(cycle=cycle)
    Cycle.objects.filter(pk=cycle.pk).update(k=7)  # raised; the catch-up has not run yet
    cycle.refresh_from_db()
    assert aggregation_states(cycles=[cycle])[cycle.pk].state == "queued"
    assert cycles_needing_aggregation() == [cycle]


def test_a_busy_lock_leaves_the_state_of_the_run_that_holds_it(teams):
    cycle = closed_cycle(OCT)
    runs_queued([cycle])
    with cycle_lock(cycle.pk), pytest.raises(AggregationBusy):
        aggregate_cycle(cycle=cycle)
    assert run_of(cycle).state == "queued"


def test_a_dropped_connection_fails_the_run_and_the_autoretry_runs_it_again(teams, monkeypatch):
    cycle = closed_cycle(OCT)
    real_tree = job_tasks.cycle_tree

    def dropped(cycle):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(job_tasks, "cycle_tree", dropped)
    with pytest.raises(Retry):
        aggregate_cycle_task.apply(args=[cycle.pk])
    assert (run_of(cycle).state, run_of(cycle).error) == ("failed", "OperationalError")
    monkeypatch.setattr(job_tasks, "cycle_tree", real_tree)
    aggregate_cycle_task.apply(args=[cycle.pk]).get()  # what the retry does
    assert run_of(cycle).state == "done"


def test_a_fanned_out_run_is_recorded_too(settings):
    for department in ("Engineering", "Product"):
        parent = Team.objects.create(name=department)
        team_with_people(f"{department} core", 6, parent=parent)
    cycle = closed_cycle(OCT)
    settings.PULSE_AGGREGATION_FANOUT_TEAMS = 0
    assert aggregate_cycle_task.apply(args=[cycle.pk]).get()["fanned_out"] == 2
    assert run_of(cycle).state == "done"


def test_the_nightly_run_marks_what_it_queues(teams, monkeypatch):
    october, november = closed_cycle(OCT), closed_cycle(NOV)
    aggregate_cycle(cycle=october)
    job_run.run_state_set(november, "failed", error="OperationalError")
    queued = []
    monkeypatch.setattr(aggregate_cycle_task, "delay", lambda *args: queued.append(args))
    assert aggregate_nightly_task.apply().get() == [november.label]
    assert queued == [(november.pk, [])]
    assert run_of(november).state == "queued" and run_of(october).state == "done"


def test_hr_retries_a_failed_run_once_with_the_later_cycles_after_it(
    teams, monkeypatch, django_capture_on_commit_callbacks
):
    september, october, november = closed_cycle(SEP), closed_cycle(OCT), closed_cycle(NOV)
    for cycle in (september, october, november):
        aggregate_cycle(cycle=cycle)
    job_run.run_state_set(october, "failed", error="SoftTimeLimitExceeded")
    queued = []
    monkeypatch.setattr(aggregate_cycle_task, "delay", lambda *args: queued.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        outcome = aggregation_retry(cycle=october, actor="hr@example.com")
    assert outcome.retried and outcome.state == "failed"
    assert queued == [(october.pk, [november.pk])]
    assert [run_of(cycle).state for cycle in (september, october, november)] == ["done", "queued", "queued"]
    [event] = AuditEvent.objects.filter(action="aggregation_retried_by_hr")
    assert (event.actor, event.detail) == ("hr@example.com", {"cycle": october.label})
    # A second press finds it queued: nothing more is queued or recorded.
    with django_capture_on_commit_callbacks(execute=True):
        again = aggregation_retry(cycle=october, actor="hr@example.com")
    assert not again.retried and again.state == "queued"
    assert len(queued) == 1 and AuditEvent.objects.filter(action="aggregation_retried_by_hr").count() == 1


def test_a_done_run_is_not_retried(teams):
    cycle = closed_cycle(OCT)
    aggregate_cycle(cycle=cycle)
    outcome = aggregation_retry(cycle=cycle, actor="hr@example.com")
    assert not outcome.retried and outcome.state == "done"
    assert not AuditEvent.objects.filter(action="aggregation_retried_by_hr").exists()


def test_cycles_without_a_recorded_run_show_what_the_door_serves(teams):
    october, november = closed_cycle(OCT), closed_cycle(NOV)
    aggregate_cycle(cycle=october)
    AggregationRun.objects.all().delete()  # as before runs were recorded
    opened = cycle_open(month=dt.date(2026, 12, 1), today=dt.date(2026, 12, 1), send_mail=False).cycle
    states = aggregation_states(cycles=[october, november, opened])
    assert (states[october.pk].state, states[november.pk].state) == ("done", "queued")
    assert opened.pk not in states  # nothing is aggregated before close (R8)
    assert states[october.pk].since is None and states[october.pk].text == "Done: the results are published."


def test_the_migration_gives_every_closed_cycle_a_state(teams):
    october, november = closed_cycle(OCT), closed_cycle(NOV)
    aggregate_cycle(cycle=october)
    AggregationRun.objects.all().delete()
    migration = importlib.import_module("analytics.migrations.0005_aggregation_runs_and_live_participation")
    migration.runs_backfill(apps, None)
    assert {run.cycle_id: (run.state, run.k) for run in AggregationRun.objects.all()} == {
        october.pk: ("done", 5),
        november.pk: ("queued", 5),
    }
