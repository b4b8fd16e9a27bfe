"""Celery tasks for the aggregation job: thin wrappers over analytics.job.run.

A small organisation is aggregated in one task. From PULSE_AGGREGATION_FANOUT_TEAMS teams up,
the job fans out as a chord: one task per top-level unit computes its teams' partials (counts,
sums, sums of squares, histograms), and the chord's body merges them and runs the rest of the
job (organisation level, disclosure, flags, comments) exactly as one process would.

Every place that queues an aggregation marks the cycle's run queued (closing, the nightly
catch-up, which a raise of k or of the comment threshold also queues, and HR's retry); the run
itself records running, done, failed or refused (analytics.job.run). Beside them: the open
cycle's live participation, counted every ten minutes (analytics.job.participation).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from celery import chord, shared_task
from celery.backends.base import DisabledBackend
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from analytics.core.partials import Partials
from analytics.job.participation import participation_clear, participation_count
from analytics.job.retention import answers_purge, retention_months
from analytics.job.run import (
    AggregationBusy,
    AggregationSummary,
    CyclePurged,
    CycleStillOpen,
    RunStage,
    RunState,
    aggregate_cycle,
    comments_withhold,
    cycle_partials,
    cycle_tree,
    cycles_after,
    cycles_needing_aggregation,
    fanout_team_groups,
    purged_cycle_ids,
    run_recorded,
    run_state_set,
    runs_queued,
)
from analytics.job.signals import results_stored
from analytics.models import AggregationRun
from config.task_options import CONNECTION_ERRORS, idempotent_task_options
from surveys.models import AuditEvent, Cycle

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
    if cycle.pk in purged_cycle_ids():
        # Its answers are gone: a run would replace its results with nothing. The later cycles
        # still go on (their flags read its stored cells, which stay).
        _continue(then)
        return {"cycle": cycle.label, "skipped": "answers purged"}
    with run_recorded(cycle):
        groups = fanout_team_groups(cycle_tree(cycle), min_teams=settings.PULSE_AGGREGATION_FANOUT_TEAMS)
    if groups is None:
        summary = _summary(aggregate_cycle(cycle=cycle))
        results_stored.send(sender=Cycle, cycle=cycle)
        _continue(then)
        return summary
    # The fanned-out tasks read the answers; the chord's body records the later stages.
    run_state_set(cycle, RunState.RUNNING, stage=RunStage.READING)
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
    if cycle.pk in purged_cycle_ids():
        raise CyclePurged(f"the answers of {cycle.label} were purged: there is nothing to compute")
    with run_recorded(cycle):
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
    if cycle.pk in purged_cycle_ids():
        _continue(then)
        return {"cycle": cycle.label, "skipped": "answers purged"}
    with run_recorded(cycle):
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
    runs_queued(cycles)
    if cycles:
        aggregate_cycle_task.delay(cycles[0].pk, [cycle.pk for cycle in cycles[1:]])
    return [cycle.label for cycle in cycles]


def aggregation_on_close(sender: object, *, cycle: Cycle, **kwargs: object) -> None:
    """Receiver of surveys.signals.cycle_closed: aggregate once the close has committed.

    Inside the closing transaction it marks the run queued and deletes the cycle's live
    participation (the published response rates take over; both go with the close, or neither).

    robust=True: the close has already happened; a failure to queue (broker down) is logged and
    the nightly run picks the cycle up (it is still queued: the page says so truly), instead of
    an error surfacing from closing.
    """
    runs_queued([cycle])
    participation_clear(cycle=cycle)
    cycle_id = cycle.pk
    transaction.on_commit(lambda: aggregate_cycle_task.delay(cycle_id), robust=True)


def reaggregation_on_k_raised(sender: object, *, cycle: Cycle, **kwargs: object) -> None:
    """Receiver of surveys.signals.cycle_k_raised (sent once the raise has committed, R3).

    A closed cycle's stored decisions were made under the old k: until the job has run again
    under the new one, analytics.published serves nothing of that cycle (nor flags that look back
    on it). The catch-up queues it and every later cycle. An open cycle has nothing stored yet;
    its close aggregates under the new k; its live participation is counted again at once, since
    the stored figures were decided under the old k and are withheld until then.

    Failure to queue (broker down) propagates to the sender, which sends robustly: it is logged,
    and the nightly run finds the cycle anyway (its stored decisions name another k).
    """
    if cycle.is_open:
        participation_count_task.delay()
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


# --- HR's retry of a failed run ---------------------------------------------------------------


class AggregationRetryRefused(Exception):
    """The run may not be retried from the page; the message says why and what to do."""


@dataclass(frozen=True)
class AggregationRetried:
    cycle: Cycle
    retried: bool  # False: the run was not failed (already queued again, running or done)
    state: str  # the run's state before the request


def aggregation_retry(*, cycle: Cycle, actor: str) -> AggregationRetried:
    """Queue a failed cycle's aggregation again, with every later closed cycle after it (their
    trend flags quote its cells), as the nightly run would; audited "aggregation_retried_by_hr".

    Idempotent: the run's row is locked and must be failed, so a second press finds it queued
    and does nothing. A run refused by the disclosure checker is not retried (an operator must
    read the job's log; raising k is the only new decision that queues it).
    """
    with transaction.atomic():
        run = AggregationRun.objects.select_for_update().filter(cycle=cycle).first()
        state = run.state if run is not None else ""
        if state == RunState.REFUSED:
            raise AggregationRetryRefused(
                f"The {cycle.label} aggregation was stopped by the disclosure checker: nothing was published. "
                "It is not retried; an operator must look at the job's log."
            )
        if state != RunState.FAILED:
            return AggregationRetried(cycle=cycle, retried=False, state=state or RunState.QUEUED)
        later = cycles_after(cycle)
        runs_queued([cycle, *later])
        AuditEvent.objects.create(actor=actor, action="aggregation_retried_by_hr", detail={"cycle": cycle.label})
        cycle_id, then = cycle.pk, [later_cycle.pk for later_cycle in later]
        # robust: a broker that is down leaves the run queued, and the nightly run takes it.
        transaction.on_commit(lambda: aggregate_cycle_task.delay(cycle_id, then), robust=True)
    return AggregationRetried(cycle=cycle, retried=True, state=state)


# --- live participation ------------------------------------------------------------------------

# A count reads the invitation log once and rewrites one row per unit: a blip of the database is
# worth another try, anything else is a bug. Beat runs it every ten minutes, so a run that
# waited longer than that is dropped (the schedule's ``expires``) rather than run late.
PARTICIPATION_TASK_OPTIONS = idempotent_task_options(
    retry_for=CONNECTION_ERRORS, soft_time_limit=4 * 60, time_limit=5 * 60, retry_backoff=10, max_retries=3
)


@shared_task(**PARTICIPATION_TASK_OPTIONS)
def participation_count_task() -> dict[str, Any]:
    """Count the open cycle's live participation and store it; a no-op while no cycle is open."""
    counted = participation_count()
    if counted is None:
        return {"skipped": "no open cycle"}
    return {"cycle": counted.cycle, "units": counted.units, "computed_at": counted.computed_at.isoformat()}


# --- retention --------------------------------------------------------------------------------

# A purge deletes one cycle's anonymous rows per transaction and records it there: a rerun finds
# the cycle purged and does nothing, so a redelivery is safe. A busy aggregation lock on a cycle
# only postpones that cycle to the next night (answers_purge skips it), so nothing is retried for it.
RETENTION_TASK_OPTIONS = idempotent_task_options(
    retry_for=CONNECTION_ERRORS, soft_time_limit=25 * 60, time_limit=30 * 60, retry_backoff=60, max_retries=3
)


@shared_task(**RETENTION_TASK_OPTIONS)
def answers_purge_task() -> dict[str, Any]:
    """Purge the raw answers of closed cycles older than PULSE_RETENTION_MONTHS (beat, nightly);
    a no-op when it is 0 (keep forever). Returns cycle labels only."""
    result = answers_purge(today=timezone.localdate(), months=retention_months())
    return {"purged": result.purged, "skipped": result.skipped}
