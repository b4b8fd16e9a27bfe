"""Which cycles the door serves: closed, and aggregated under the cycle's current k (R3, R8).

One query answers it for every cycle at once; the readers ask it on each call (k may be raised
at any time, and a page must never serve a cycle whose stored decisions were made under a lower k).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Exists, OuterRef

from analytics.core.tree import ORGANISATION_UNIT_ID
from analytics.flags.questions import HISTORY_WINDOW
from analytics.models import AggregationStage, MetricCell
from surveys.models import Cycle

# The job's stage that decides publication and writes the cells (analytics.job.run.STAGE_CELLS).
CELLS_STAGE = "cells"


@dataclass(frozen=True, slots=True)
class DoorState:
    """Every closed cycle, oldest first, and which of them are served."""

    closed: tuple[Cycle, ...]
    served_ids: frozenset[int]

    @property
    def served(self) -> list[Cycle]:
        return [cycle for cycle in self.closed if cycle.pk in self.served_ids]

    def served_cycle(self, cycle_id: int) -> Cycle | None:
        """The cycle as stored now (its current k), if it is served."""
        if cycle_id not in self.served_ids:
            return None
        return next(cycle for cycle in self.closed if cycle.pk == cycle_id)

    def served_between(self, since: dt.date | None, until: dt.date | None) -> list[Cycle]:
        return [
            cycle
            for cycle in self.served
            if (since is None or cycle.month >= since) and (until is None or cycle.month <= until)
        ]

    def history_is_current(self, cycle_id: int) -> bool:
        """Whether the cycle and the closed cycles its trend flags look back on were all aggregated
        under their current k: a flag quotes earlier cycles' means and n, which a raised k may hide."""
        months = {cycle.pk: cycle.month for cycle in self.closed}
        if cycle_id not in months:
            return False
        window = [cycle for cycle in self.closed if cycle.month <= months[cycle_id]][-HISTORY_WINDOW:]
        return all(cycle.pk in self.served_ids for cycle in window)


def door_state() -> DoorState:
    """One query: closed cycles, each with whether its cells stage is done under its current k
    and its cells are there. Both subqueries are index probes: AggregationStage's unique
    (cycle, stage), and the organisation's cells on MetricCell's unique (cycle, unit_id, metric).
    (Naming the unit matters: "any cell of the cycle" lets the planner choose a scan of the whole
    table, which never stops for a cycle without cells.)"""
    decided = AggregationStage.objects.filter(
        cycle=OuterRef("pk"), stage=CELLS_STAGE, state=AggregationStage.State.DONE, k=OuterRef("k")
    )
    has_cells = MetricCell.objects.filter(cycle=OuterRef("pk"), unit_id=ORGANISATION_UNIT_ID)
    cycles = (
        Cycle.objects.filter(status=Cycle.Status.CLOSED)
        .annotate(decided=Exists(decided), has_cells=Exists(has_cells))
        .order_by("month")
    )
    closed = tuple(cycles)
    return DoorState(
        closed=closed,
        served_ids=frozenset(cycle.pk for cycle in closed if cycle.decided and cycle.has_cells),  # type: ignore[attr-defined]
    )


def aggregated_cycles() -> list[Cycle]:
    """Closed cycles whose cells have been written under the cycle's current k, oldest first.

    A cycle whose k was raised after its aggregation (R3) is left out until the job has run
    again: its stored decisions were made under the old, lower k.
    """
    return door_state().served
