"""The one door (ANONYMITY R6): everything that shows or exports numbers reads them here.

This module returns only what the aggregation job decided to publish: a hidden cell comes back
with no n, value or interval and the one public reason. It never recomputes suppression for a
subtree or a filter, and never reads the anonymous side.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from analytics.core.disclosure import HIDDEN_TEXT
from analytics.flags.questions import HISTORY_WINDOW
from analytics.models import AggregationStage, Flag, MetricCell, UnitSnapshot
from surveys.models import Cycle

EXPORT_COLUMNS = [
    "cycle", "unit_id", "unit_path", "parent_path", "level", "metric", "n", "value", "ci_low", "ci_high",
    "suppressed", "reason",
]  # fmt: skip


@dataclass(frozen=True)
class PublishedCell:
    cycle: str
    unit_id: str
    unit_path: str
    parent_path: str
    level: str
    metric: str
    n: int | None
    value: float | None
    ci_low: float | None
    ci_high: float | None
    suppressed: bool
    reason: str

    def as_row(self) -> list[object]:
        return [getattr(self, column) for column in EXPORT_COLUMNS]


def aggregated_cycles() -> list[Cycle]:
    """Closed cycles whose cells have been written under the cycle's current k, oldest first.

    A cycle whose k was raised after its aggregation (R3) is left out until the job has run
    again: its stored decisions were made under the old, lower k.
    """
    with_cells = MetricCell.objects.values("cycle_id").distinct()
    decided = {
        cycle_id: k
        for cycle_id, k in AggregationStage.objects.filter(
            stage="cells", state=AggregationStage.State.DONE
        ).values_list("cycle_id", "k")
    }
    cycles = Cycle.objects.filter(status=Cycle.Status.CLOSED, pk__in=with_cells).order_by("month")
    return [cycle for cycle in cycles if decided.get(cycle.pk) == cycle.k]


def published_cells(*, cycles: list[Cycle]) -> Iterator[PublishedCell]:
    """Every cell of the given cycles, hidden ones as hidden, in a fixed order (cycle, unit path,
    metric): never an order that depends on a hidden value (R4)."""
    for cycle in cycles:
        snapshots = {s.unit_id: s for s in UnitSnapshot.objects.filter(cycle=cycle)}
        paths = {unit_id: s.path for unit_id, s in snapshots.items()}
        cells = MetricCell.objects.filter(cycle=cycle).values_list(
            "unit_id", "metric", "published", "n", "value", "ci_low", "ci_high"
        )
        rows = sorted(cells, key=lambda row: (paths.get(row[0], ""), row[1]))
        for unit_id, metric, published, n, value, ci_low, ci_high in rows:
            snapshot = snapshots.get(unit_id)
            if snapshot is None:
                continue
            parent = paths.get(snapshot.parent_id) if snapshot.parent_id else None
            yield PublishedCell(
                cycle=cycle.label,
                unit_id=str(unit_id),
                unit_path=snapshot.path,
                parent_path=parent or "",
                level=snapshot.level,
                metric=metric,
                n=n if published else None,
                value=value if published else None,
                ci_low=ci_low if published else None,
                ci_high=ci_high if published else None,
                suppressed=not published,
                reason="" if published else HIDDEN_TEXT,
            )


# The cells each kind of flag is computed from, besides its own metric's.
FLAG_INPUTS = {"trust_use_gap": ("daily_use_share",), "capability_trap": ("psych_safety",)}


def _of_published_cells(cycle: Cycle, flags: Iterable[Flag]) -> list[Flag]:
    """R4: a flag is a derived output of its cells, served only while they are published. The
    flags stage writes none for hidden cells, but a rerun that re-decides disclosure (k raised)
    and dies before that stage leaves the previous run's flags, numbers and n included, behind."""
    if not _history_is_current(cycle):
        return []
    shown = set(MetricCell.objects.filter(cycle=cycle, published=True).values_list("unit_id", "metric"))
    return [
        flag
        for flag in flags
        if all((flag.unit_id, metric) in shown for metric in (flag.metric, *FLAG_INPUTS.get(flag.kind, ())))
    ]


def _history_is_current(cycle: Cycle) -> bool:
    """Whether the cycle and the closed cycles its trend flags look back on were all aggregated
    under their current k: a flag quotes earlier cycles' means and n, which a raised k may hide."""
    current = {c.pk for c in aggregated_cycles()}
    window = Cycle.objects.filter(status=Cycle.Status.CLOSED, month__lte=cycle.month).order_by("-month")
    return all(pk in current for pk in window.values_list("pk", flat=True)[:HISTORY_WINDOW])


def organisation_flags(*, cycle: Cycle) -> list[Flag]:
    """Flags that survived Benjamini-Hochberg; "worth watching" results stay in the unit's own
    report and never reach organisation views."""
    flags = Flag.objects.filter(cycle=cycle, severity=Flag.Severity.FLAG).order_by("kind", "unit_id")
    return _of_published_cells(cycle, flags)


def unit_flags(*, cycle: Cycle, unit_id: uuid.UUID) -> list[Flag]:
    """A unit's own flags and its "worth watching" results."""
    return _of_published_cells(cycle, Flag.objects.filter(cycle=cycle, unit_id=unit_id).order_by("severity", "kind"))
