"""The state of each closed cycle's aggregation, for HR's cycles page and the cycles API.

States (analytics.models.AggregationRun, written by analytics.job): queued, running with its
stage, done, failed (with the error's class name and when; a retry is offered), or refused by
the disclosure checker (R15: nothing was published, and it is not retried under the same k).
A state holds no figure. A run done or refused under a k lower than the cycle's current one is
shown as queued: the raise (R3) queues it again under the new k; unless the cycle's raw answers
were purged (analytics.job.retention), when nothing can be decided again and its results stay
withheld for good.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils import timezone

from analytics.models import AggregationRun, PurgedCycle
from analytics.published.cycles import door_state
from surveys.models import Cycle

State = AggregationRun.State
STAGE_LABELS = dict(AggregationRun.Stage.choices)

#: What the page and the API say about a refused run; there is nothing HR can do about it.
REFUSED_TEXT = (
    "Stopped by the disclosure checker: nothing was published. "
    "It is not retried; an operator must look at the job's log."
)


#: A cycle whose raw answers were purged and whose publication is not current: its k was raised
#: since (the door no longer serves what was decided under the old one), or a run was queued or
#: failed after the purge. Nothing can be computed again.
WITHHELD = "withheld"
WITHHELD_TEXT = (
    "Withheld for good: its answers were purged ({day}), so its results cannot be decided again "
    "under its current threshold."
)


@dataclass(frozen=True, slots=True)
class AggregationState:
    """Where one closed cycle's aggregation is."""

    cycle: str
    state: str  # queued, running, done, failed, refused or withheld
    stage: str | None  # while running: reading, computing, checking, flags or comments
    error: str | None  # when failed: the exception's class name, never its message
    since: dt.datetime | None  # when the state was entered (None: recorded before runs were)

    @property
    def retryable(self) -> bool:
        """Failed: HR may queue it again (a refused run may not be: it would stop again)."""
        return self.state == State.FAILED

    @property
    def refused(self) -> bool:
        return self.state == State.REFUSED

    @property
    def text(self) -> str:
        """One sentence for the page."""
        at = f"{timezone.localtime(self.since):%Y-%m-%d %H:%M}" if self.since is not None else ""
        if self.state == State.RUNNING:
            return f"Running: {STAGE_LABELS.get(self.stage or '', self.stage)}" + (f" (since {at})." if at else ".")
        if self.state == State.DONE:
            return "Done: the results are published" + (f" ({at})." if at else ".")
        if self.state == State.FAILED:
            return f"Failed ({self.error})" + (f" on {at}." if at else ".")
        if self.state == State.REFUSED:
            return REFUSED_TEXT
        if self.state == WITHHELD:
            return WITHHELD_TEXT.format(day=f"{timezone.localtime(self.since):%Y-%m-%d}" if self.since else "")
        return "Queued: the results are computed next" + (f" (since {at})." if at else ".")


def aggregation_states(*, cycles: Sequence[Cycle]) -> dict[int, AggregationState]:
    """The state of each given closed cycle's aggregation, keyed by cycle id (open cycles are
    left out: nothing is aggregated before close, R8). Three queries."""
    closed = [cycle for cycle in cycles if not cycle.is_open]
    if not closed:
        return {}
    runs = {
        run.cycle_id: run
        for run in AggregationRun.objects.filter(cycle_id__in=[cycle.pk for cycle in closed]).only(
            "cycle_id", "state", "stage", "error", "k", "changed_at"
        )
    }
    purged = dict(
        PurgedCycle.objects.filter(cycle_id__in=[cycle.pk for cycle in closed]).values_list("cycle_id", "purged_at")
    )
    served: frozenset[int] | None = None
    states = {}
    for cycle in closed:
        run = runs.get(cycle.pk)
        if run is None:
            # Closed without a recorded run (a cycle closed inside a transaction that never
            # committed its queueing, or data older than the runs): what the door serves says it.
            served = door_state().served_ids if served is None else served
            derived = State.DONE if cycle.pk in served else State.QUEUED
            states[cycle.pk] = AggregationState(cycle.label, str(derived), None, None, None)
            continue
        state = str(run.state)
        since = run.changed_at
        if cycle.pk in purged and not (state == State.DONE and run.k == cycle.k):
            # Nothing left to decide it again from: whatever the run says (a raise since, or a
            # run queued or failed after the purge), the job will skip it and it is never retried.
            state, since = WITHHELD, purged[cycle.pk]
        elif state in (State.DONE, State.REFUSED) and run.k != cycle.k:
            state = str(State.QUEUED)  # decided under a lower k: the raise queued it again
        states[cycle.pk] = AggregationState(
            cycle=cycle.label,
            state=state,
            stage=run.stage or None if state == State.RUNNING else None,
            error=run.error or None if state == State.FAILED else None,
            since=since,
        )
    return states
