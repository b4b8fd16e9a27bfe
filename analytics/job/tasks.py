"""Celery tasks for the aggregation job: thin wrappers over analytics.job.run.

A small organisation is aggregated in one task. From PULSE_AGGREGATION_FANOUT_TEAMS teams up,
the job fans out as a chord: one task per top-level unit computes its teams' partials (counts,
sums, sums of squares, histograms), and the chord's body merges them and runs the rest of the
job (organisation level, disclosure, flags, comments) exactly as one process would.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from celery import chord, shared_task
from celery.backends.base import DisabledBackend
from django.conf import settings
from django.db import transaction

from analytics.core.partials import Partials
from analytics.job.run import (
    AggregationBusy,
    AggregationSummary,
    CycleStillOpen,
    aggregate_cycle,
    comments_withhold,
    cycle_partials,
    cycle_tree,
    cycles_needing_aggregation,
    fanout_team_groups,
)
from analytics.job.signals import results_stored
from config.task_options import CONNECTION_ERRORS, idempotent_task_options
from surveys.models import Cycle

# Every task here replaces its outputs wholesale, so a redelivery after a lost worker is safe;
# besides a dropped connection, a run of the same cycle holding the lock is worth waiting for.
AGGREGATION_TASK_OPTIONS = idempotent_task_options(
    retry_for=(AggregationBusy, *CONNECTION_ERRORS),
    soft_time_limit=25 * 60,
    time_limit=30 * 60,
    retry_backoff=60,
    retry_backoff_max=900,
    max_retries=6,
)


def _closed_cycle(cycle_id: int) -> Cycle | None:
    cycle = Cycle.objects.select_related("instrument_version").filter(pk=cycle_id).first()
    return cycle if cycle is not None and not cycle.is_open else None


@shared_task(**AGGREGATION_TASK_OPTIONS)
def aggregate_cycle_task(cycle_id: int, then: list[int] | None = None) -> dict[str, Any]:
    """Aggregates one closed cycle, in this task or fanned out, then queues the cycles in
    ``then`` one after another (each cycle's flags read the cells of the ones before)."""
    cycle = _closed_cycle(cycle_id)
    if cycle is None:
        # Nothing to retry: a cycle that is gone or still open (R8) will not change by waiting.
        _continue(then)
        return {"cycle_id": cycle_id, "skipped": "no such closed cycle"}
    groups = fanout_team_groups(cycle_tree(cycle), min_teams=settings.PULSE_AGGREGATION_FANOUT_TEAMS)
    if groups is None:
        summary = _summary(aggregate_cycle(cycle=cycle))
        results_stored.send(sender=Cycle, cycle=cycle)
        _continue(then)
        return summary
    # The next cycle starts from the chord's body, once this one's cells are written.
    body = merge_and_aggregate_task.s(cycle_id, then or [])
    result = chord(cycle_partials_task.s(cycle_id, teams) for teams in groups)(body)
    return {"cycle": cycle.label, "fanned_out": len(groups), "result_id": result.id}


def _continue(then: list[int] | None) -> None:
    if then:
        aggregate_cycle_task.delay(then[0], then[1:])


def _summary(summary: AggregationSummary) -> dict[str, Any]:
    # What goes back to the result backend: no respondent count (the organisation's may be
    # below k), only what the job did.
    result = asdict(summary)
    result.pop("respondents")
    return result


@shared_task(bind=True, **AGGREGATION_TASK_OPTIONS)
def cycle_partials_task(self: Any, cycle_id: int, team_ids: list[str]) -> dict[str, Any]:
    """One top-level unit's partials, as JSON (the project never pickles between processes).

    Per-team sums pass through the result backend, so the chord's body deletes them as soon as
    it has merged them, and CELERY_RESULT_EXPIRES bounds how long any result is kept.
    """
    cycle = _closed_cycle(cycle_id)
    if cycle is None:
        raise CycleStillOpen(f"cycle {cycle_id} is not closed: nothing is computed before close (R8)")
    partials = cycle_partials(cycle, team_ids=set(team_ids))
    return {"worker": self.request.hostname or "local", "task_id": self.request.id, "partials": partials.to_json()}


@shared_task(bind=True, **AGGREGATION_TASK_OPTIONS)
def merge_and_aggregate_task(
    self: Any, parts: list[dict[str, Any]], cycle_id: int, then: list[int] | None = None
) -> dict[str, Any]:
    """The chord's body: merge the parts, drop them from the result backend, run the rest of the
    job in one place, then go on with the next cycle."""
    # Without a result backend (eager runs) nothing was stored, so there is nothing to delete.
    if not isinstance(self.app.backend, DisabledBackend):
        for part in parts:
            if part.get("task_id"):
                self.app.AsyncResult(part["task_id"]).forget()
    cycle = _closed_cycle(cycle_id)
    if cycle is None:
        _continue(then)
        return {"cycle_id": cycle_id, "skipped": "no such closed cycle"}
    merged = Partials.merge(Partials.from_json(part["partials"]) for part in parts)
    summary = _summary(aggregate_cycle(cycle=cycle, partials=merged))
    summary["partials_from"] = sorted({part["worker"] for part in parts})
    results_stored.send(sender=Cycle, cycle=cycle)
    _continue(then)
    return summary


@shared_task(**AGGREGATION_TASK_OPTIONS)
def aggregate_nightly_task() -> list[str]:
    """Queues the closed cycles whose aggregation is missing, unfinished or stale (k raised).

    One after another, oldest first (each task queues the next when it is done, also after a
    fan-out): a cycle's trend flags read the published cells of the cycles before it.
    """
    cycles = cycles_needing_aggregation()
    if cycles:
        aggregate_cycle_task.delay(cycles[0].pk, [cycle.pk for cycle in cycles[1:]])
    return [cycle.label for cycle in cycles]


def aggregation_on_close(sender: object, *, cycle: Cycle, **kwargs: object) -> None:
    """Receiver of surveys.signals.cycle_closed: aggregate once the close has committed.

    robust=True: the close has already happened; a failure to queue (broker down) is logged and
    the nightly run picks the cycle up, instead of an error surfacing from closing.
    """
    cycle_id = cycle.pk
    transaction.on_commit(lambda: aggregate_cycle_task.delay(cycle_id), robust=True)


def reaggregation_on_k_raised(sender: object, *, cycle: Cycle, **kwargs: object) -> None:
    """Receiver of surveys.signals.cycle_k_raised (sent once the raise has committed, R3).

    A closed cycle's stored decisions were made under the old k: until the job has run again
    under the new one, analytics.published serves nothing of that cycle (nor flags that look back
    on it). The catch-up queues it and every later cycle. An open cycle has nothing stored yet;
    its close aggregates under the new k.

    Failure to queue (broker down) propagates to the sender, which sends robustly: it is logged,
    and the nightly run finds the cycle anyway (its stored decisions name another k).
    """
    if cycle.is_open:
        return
    aggregate_nightly_task.delay()


def rerelease_on_comment_threshold_raised(sender: object, *, cycle: Cycle, **kwargs: object) -> None:
    """Receiver of surveys.signals.cycle_comment_threshold_raised (sent after the raise commits).

    A closed cycle's comments were listed under the old threshold, perhaps at a unit now too small
    for them (R7): they are taken down at once and listed again by the catch-up run, which finds
    the cycle's comments stage undone. An open cycle has released nothing yet."""
    if cycle.is_open:
        return
    comments_withhold(cycle=cycle)
    aggregate_nightly_task.delay()
