"""The state of each closed cycle's aggregation, for HR's cycles page and the cycles API.

States (analytics.models.AggregationRun, written by analytics.job): queued, running with its
stage, done, failed (with the error's class name and when; a retry is offered), or refused by
the disclosure checker (R15: nothing was published, and it is not retried under the same k).
A state holds no figure. A run done or refused under a k lower than the cycle's current one is
shown as queued: the raise (R3) queues it again under the new k.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils import timezone

from analytics.models import AggregationRun
from analytics.published.cycles import door_state
from surveys.models import Cycle

State = AggregationRun.State
STAGE_LABELS = dict(AggregationRun.Stage.choices)

#: What the page and the API say about a refused run; there is nothing HR can do about it.
REFUSED_TEXT = (
    "Stopped by the disclosure checker: nothing was published. "
    "It is not retried; an operator must look at the job's log."
)


@dataclass(frozen=True, slots=True)
class AggregationState:
    """Where one closed cycle's aggregation is."""

    cycle: str
    state: str  # queued, running, done, failed or refused
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
        return "Queued: the results are computed next" + (f" (since {at})." if at else ".")


def aggregation_states(*, cycles: Sequence[Cycle]) -> dict[int, AggregationState]:
    """The state of each given closed cycle's aggregation, keyed by cycle id (open cycles are
    left out: nothing is aggregated before close, R8). Two queries."""
    closed = [cycle for cycle in cycles if not cycle.is_open]
    if not closed:
        return {}
    runs = {
        run.cycle_id: run
        for run in AggregationRun.objects.filter(cycle_id__in=[cycle.pk for cycle in closed]).only(
            "cycle_id", "state", "stage", "error", "k", "changed_at"
        )
    }
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
        if state in (State.DONE, State.REFUSED) and run.k != cycle.k:
            state = str(State.QUEUED)  # decided under a lower k: the raise queued it again
        states[cycle.pk] = AggregationState(
            cycle=cycle.label,
            state=state,
            stage=run.stage or None if state == State.RUNNING else None,
            error=run.error or None if state == State.FAILED else None,
            since=run.changed_at,
        )
    return states
