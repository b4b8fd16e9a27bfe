"""Celery tasks for the aggregation job: thin wrappers over analytics.aggregation.

A small organisation is aggregated in one task. From PULSE_AGGREGATION_FANOUT_TEAMS teams up,
the job fans out as a chord: one task per top-level unit computes its teams' partials (counts,
sums, sums of squares, histograms), and the chord's body merges them and runs the rest of the
job (organisation level, disclosure, flags, comments) exactly as one process would.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from celery import chain, chord, shared_task
from django.conf import settings
from django.db import transaction
from django.db.utils import InterfaceError, OperationalError

from analytics.aggregation import (
    AggregationBusy,
    aggregate_cycle,
    cycle_partials,
    cycles_needing_aggregation,
    fanout_team_groups,
    organisation_tree,
)
from analytics.compute import Partials
from surveys.models import Cycle

AGGREGATION_TASK_OPTIONS: dict[str, Any] = {
    # Every task here replaces its outputs wholesale, so a redelivery after a lost worker is safe.
    "acks_late": True,
    "reject_on_worker_lost": True,
    # Retried only for what may pass on its own: a run of the same cycle holding the lock, or a
    # dropped database or broker connection. A bug or bad data fails at once, loudly.
    "autoretry_for": (AggregationBusy, OperationalError, InterfaceError, ConnectionError, TimeoutError),
    "retry_backoff": 60,
    "retry_backoff_max": 900,
    "retry_jitter": True,
    "max_retries": 6,
    "soft_time_limit": 25 * 60,
    "time_limit": 30 * 60,
}


def _closed_cycle(cycle_id: int) -> Cycle | None:
    cycle = Cycle.objects.select_related("instrument_version").filter(pk=cycle_id).first()
    return cycle if cycle is not None and not cycle.is_open else None


@shared_task(**AGGREGATION_TASK_OPTIONS)
def aggregate_cycle_task(cycle_id: int) -> dict[str, Any]:
    """Aggregates one closed cycle, in this task or fanned out; says what it did."""
    cycle = _closed_cycle(cycle_id)
    if cycle is None:
        # Nothing to retry: a cycle that is gone or still open (R8) will not change by waiting.
        return {"cycle_id": cycle_id, "skipped": "no such closed cycle"}
    groups = fanout_team_groups(organisation_tree(), min_teams=settings.PULSE_AGGREGATION_FANOUT_TEAMS)
    if groups is None:
        return asdict(aggregate_cycle(cycle=cycle))
    result = chord(cycle_partials_task.s(cycle_id, teams) for teams in groups)(merge_and_aggregate_task.s(cycle_id))
    return {"cycle": cycle.label, "fanned_out": len(groups), "result_id": result.id}


@shared_task(bind=True, **AGGREGATION_TASK_OPTIONS)
def cycle_partials_task(self: Any, cycle_id: int, team_ids: list[str]) -> dict[str, Any]:
    """One top-level unit's partials, as JSON (the project never pickles between processes)."""
    cycle = Cycle.objects.select_related("instrument_version").get(pk=cycle_id)
    partials = cycle_partials(cycle, team_ids=set(team_ids))
    return {"worker": self.request.hostname or "local", "partials": partials.to_json()}


@shared_task(**AGGREGATION_TASK_OPTIONS)
def merge_and_aggregate_task(parts: list[dict[str, Any]], cycle_id: int) -> dict[str, Any]:
    """The chord's body: merge the parts, then the rest of the job in one place."""
    cycle = _closed_cycle(cycle_id)
    if cycle is None:
        return {"cycle_id": cycle_id, "skipped": "no such closed cycle"}
    merged = Partials.merge(Partials.from_json(part["partials"]) for part in parts)
    summary = asdict(aggregate_cycle(cycle=cycle, partials=merged))
    summary["partials_from"] = sorted({part["worker"] for part in parts})
    return summary


@shared_task(**AGGREGATION_TASK_OPTIONS)
def aggregate_nightly_task() -> list[str]:
    """Queues every closed cycle whose aggregation never finished, and the latest one again.

    As a chain, oldest first: a cycle's trend flags read the published cells of the cycles before
    it, so they must be in place first.
    """
    cycles = cycles_needing_aggregation()
    if cycles:
        chain(aggregate_cycle_task.si(cycle.pk) for cycle in cycles).delay()
    return [cycle.label for cycle in cycles]


def aggregation_on_close(sender: object, *, cycle: Cycle, **kwargs: object) -> None:
    """Receiver of surveys.signals.cycle_closed: aggregate once the close has committed.

    robust=True: the close has already happened; a failure to queue (broker down) is logged and
    the nightly run picks the cycle up, instead of an error surfacing from closing.
    """
    cycle_id = cycle.pk
    transaction.on_commit(lambda: aggregate_cycle_task.delay(cycle_id), robust=True)
