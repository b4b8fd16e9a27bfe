"""Readers of published cells: a whole cycle (exports), one unit over a range of cycles, one
unit's children in a cycle (a heatmap) and a subtree across cycles, a page at a time (the API).

Each page reader costs at most three queries: which cycles are served (analytics.published.cycles),
the unit snapshots it needs, and the cells. MetricCell's only index is its unique
(cycle, unit_id, metric), so every read here names its cycles (``cycle_id IN (...)`` and a unit, or
one cycle and a key range); nothing reads a whole cycle except the export.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import uuid
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet, Subquery, Value
from django.db.models.functions import Concat

from analytics.core.catalogue import METRICS
from analytics.core.tree import ORGANISATION_UNIT_ID
from analytics.models import MetricCell, UnitSnapshot
from analytics.published.cycles import door_state
from analytics.published.records import (
    CellPage,
    CursorInvalid,
    PublishedCell,
    cell_record,
    cursor_decode,
    cursor_encode,
)
from surveys.models import Cycle

CELL_FIELDS = ("cycle_id", "unit_id", "metric", "published", "n", "value", "ci_low", "ci_high", "extra")
# Cells every unit but the organisation has per cycle: each metric, and the response rate.
CELLS_PER_UNIT = len(METRICS) + 1
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class _Snapshot:
    unit_id: str
    parent_id: str | None
    path: str
    level: str


Snapshots = dict[tuple[int, str], _Snapshot]


def unit_id_parse(unit_id: uuid.UUID | str) -> uuid.UUID:
    try:
        return unit_id if isinstance(unit_id, uuid.UUID) else uuid.UUID(str(unit_id))
    except ValueError as error:
        raise ValueError(f"unit_id: {unit_id!r} is not a unit id (a UUID such as {ORGANISATION_UNIT_ID}).") from error


def _snapshots(queryset: QuerySet[UnitSnapshot]) -> Snapshots:
    return {
        (cycle_id, str(unit)): _Snapshot(str(unit), str(parent) if parent is not None else None, path, level)
        for cycle_id, unit, parent, path, level in queryset.values_list(
            "cycle_id", "unit_id", "parent_id", "path", "level"
        )
    }


def _with_parents(cycle_ids: Collection[int], units: Q) -> QuerySet[UnitSnapshot]:
    """Snapshots of some units and of their parents (for parent_path), in one query."""
    parents = UnitSnapshot.objects.filter(units, cycle_id__in=cycle_ids).values("parent_id")
    return UnitSnapshot.objects.filter(cycle_id__in=cycle_ids).filter(units | Q(unit_id__in=Subquery(parents)))


def _records(rows: Iterator[tuple[Any, ...]], cycles: dict[int, Cycle], snapshots: Snapshots) -> list[PublishedCell]:
    out = []
    for cycle_id, unit, metric, published, n, value, ci_low, ci_high, extra in rows:
        snapshot = snapshots.get((cycle_id, str(unit)))
        if snapshot is None:  # a cell without its unit's snapshot has no place to be shown
            continue
        parent = snapshots.get((cycle_id, snapshot.parent_id)) if snapshot.parent_id else None
        cycle = cycles[cycle_id]
        out.append(
            cell_record(
                cycle=cycle.label,
                k=cycle.k,
                unit_id=snapshot.unit_id,
                unit_path=snapshot.path,
                parent_path=parent.path if parent else "",
                level=snapshot.level,
                metric=metric,
                published=published,
                numbers=(n, value, ci_low, ci_high),
                extra=extra,
            )
        )
    return out


def _metric_order(metrics: Sequence[str] | None) -> dict[str, int]:
    return {metric: position for position, metric in enumerate(metrics or ())}


def _by_metric(metrics: Sequence[str] | None) -> Any:
    """Sort key within a unit: the caller's metric order, else the metric's name."""
    order = _metric_order(metrics)
    return (lambda cell: (order.get(cell.metric, len(order)), cell.metric)) if order else (lambda cell: cell.metric)


# --- exports: whole cycles -----------------------------------------------------------------------


def published_cells(*, cycles: list[Cycle]) -> Iterator[PublishedCell]:
    """Every cell of the given cycles, hidden ones as hidden, in a fixed order (cycle, unit path,
    metric): never an order that depends on a hidden value (R4). For exports: it reads whole
    cycles, two queries each."""
    for cycle in cycles:
        snapshots = _snapshots(UnitSnapshot.objects.filter(cycle=cycle))
        rows = MetricCell.objects.filter(cycle=cycle).values_list(*CELL_FIELDS)
        records = _records(iter(rows), {cycle.pk: cycle}, snapshots)
        records.sort(key=lambda cell: (cell.unit_path, cell.metric))
        yield from records


# --- pages ---------------------------------------------------------------------------------------


def unit_cells(
    *,
    unit_id: uuid.UUID | str,
    since: dt.date | None = None,
    until: dt.date | None = None,
    metrics: Sequence[str] | None = None,
) -> list[PublishedCell]:
    """One unit's cells in every served cycle from ``since`` to ``until`` (months, inclusive; None:
    open-ended), all metrics or the given ones; ordered by cycle, then the given metric order (or
    metric name). Three queries."""
    unit = unit_id_parse(unit_id)
    cycles = {cycle.pk: cycle for cycle in door_state().served_between(since, until)}
    if not cycles:
        return []
    cells = MetricCell.objects.filter(cycle_id__in=list(cycles), unit_id=unit)
    if metrics is not None:
        cells = cells.filter(metric__in=list(metrics))
    rows = list(cells.values_list(*CELL_FIELDS))
    if not rows:
        return []
    snapshots = _snapshots(_with_parents(list(cycles), Q(unit_id=unit)))
    by_metric = _by_metric(metrics)
    records = _records(iter(rows), cycles, snapshots)
    records.sort(key=lambda cell: (cell.cycle, by_metric(cell)))  # YYYY-MM sorts as the months do
    return records


def children_cells(*, cycle: Cycle, unit_id: uuid.UUID | str, metrics: Sequence[str]) -> list[PublishedCell]:
    """The given metrics' cells of one unit's children (as the tree stood in that cycle), for a
    heatmap: ordered by child path (then unit id), then the given metric order. Never by a value
    (R4): a hidden cell keeps its row and column. Empty if the cycle is not served. Three queries."""
    unit = unit_id_parse(unit_id)
    served = door_state().served_cycle(cycle.pk)
    if served is None or not metrics:
        return []
    # The children through the (cycle, parent_id) index, the unit itself (for their parent_path)
    # through the unique (cycle, unit_id) one.
    snapshots = _snapshots(UnitSnapshot.objects.filter(cycle_id=served.pk).filter(Q(parent_id=unit) | Q(unit_id=unit)))
    children = [s.unit_id for s in snapshots.values() if s.parent_id == str(unit)]
    if not children:
        return []
    rows = MetricCell.objects.filter(cycle_id=served.pk, unit_id__in=children, metric__in=list(metrics))
    records = _records(iter(rows.values_list(*CELL_FIELDS)), {served.pk: served}, snapshots)
    by_metric = _by_metric(metrics)
    records.sort(key=lambda cell: (cell.unit_path, cell.unit_id, by_metric(cell)))
    return records


def subtree_cells_page(
    *,
    unit_id: uuid.UUID | str,
    since: dt.date | None = None,
    until: dt.date | None = None,
    metrics: Sequence[str] | None = None,
    cursor: str | None = None,
    size: int = 500,
) -> CellPage:
    """One page of the cells of a unit and everything under it (as the tree stood in each cycle),
    across the served cycles from ``since`` to ``until``, for the API.

    Keyset pagination in a fixed order: cycle (oldest first), unit id, metric. Unit ids are random
    (UUID4), so the order says nothing about a unit, and nothing in it depends on a value (R4).
    ``cursor`` is ``next_cursor`` of the previous page. A page holds at most ``size`` cells of one
    cycle. Three queries per page."""
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ValueError(f"size: a page holds 1 to {MAX_PAGE_SIZE} cells; got {size}.")
    root = unit_id_parse(unit_id)
    cycles = door_state().served_between(since, until)
    after: tuple[uuid.UUID, str] | None = None
    if cursor is not None:
        month, cursor_unit, cursor_metric = cursor_decode(cursor)
        try:
            start = dt.date.fromisoformat(f"{month}-01")
            if cursor_unit is not None and cursor_metric is not None:
                after = (uuid.UUID(cursor_unit), cursor_metric)
        except ValueError as error:
            raise CursorInvalid(
                "cursor: not a cursor this API handed out; start again without it (the first page)."
            ) from error
        # A cycle withheld since the last page (k raised) is skipped, not an error.
        cycles = [c for c in cycles if c.month >= start]
        if cycles and cycles[0].month != start:
            after = None
    if not cycles:
        return CellPage(cells=(), next_cursor=None)
    cycle, later = cycles[0], cycles[1:]
    next_cycle = cursor_encode(later[0].label, None, None) if later else None
    if root == ORGANISATION_UNIT_ID:
        return _organisation_page(cycle, metrics, after, size, next_cycle)
    return _subtree_page(cycle, root, metrics, after, size, next_cycle)


def _after(cells: QuerySet[MetricCell], after: tuple[uuid.UUID, str] | None) -> QuerySet[MetricCell]:
    """Cells past the keyset position; ``unit_id >= u`` alone lets the index start there."""
    if after is None:
        return cells
    unit, metric = after
    return cells.filter(unit_id__gte=unit).filter(Q(unit_id__gt=unit) | Q(metric__gt=metric))


def _page(
    cycle: Cycle, rows: list[tuple[Any, ...]], snapshots: Snapshots, size: int, more: bool, next_cycle: str | None
) -> CellPage:
    records = _records(iter(rows[:size]), {cycle.pk: cycle}, snapshots)
    if len(rows) > size or (more and rows):
        last = rows[min(size, len(rows)) - 1]
        return CellPage(tuple(records), cursor_encode(cycle.label, str(last[1]), last[2]))
    return CellPage(tuple(records), next_cycle)


def _organisation_page(
    cycle: Cycle, metrics: Sequence[str] | None, after: tuple[uuid.UUID, str] | None, size: int,
    next_cycle: str | None,
) -> CellPage:  # fmt: skip
    """The whole tree: a range scan of the cycle's cells in index order, from the cursor on."""
    cells = _after(MetricCell.objects.filter(cycle_id=cycle.pk), after)
    if metrics is not None:
        cells = cells.filter(metric__in=list(metrics))
    rows = list(cells.order_by("unit_id", "metric").values_list(*CELL_FIELDS)[: size + 1])
    units = {row[1] for row in rows[:size]}
    snapshots = _snapshots(_with_parents([cycle.pk], Q(unit_id__in=units))) if units else {}
    return _page(cycle, rows, snapshots, size, False, next_cycle)


def _subtree_page(
    cycle: Cycle, root: uuid.UUID, metrics: Sequence[str] | None, after: tuple[uuid.UUID, str] | None, size: int,
    next_cycle: str | None,
) -> CellPage:  # fmt: skip
    """A unit below the organisation: its subtree in this cycle, then the next units' cells."""
    members, snapshots = _subtree(cycle, root)
    start = bisect.bisect_left(members, after[0]) if after else 0
    per_unit = len(set(metrics)) if metrics is not None else CELLS_PER_UNIT
    # Enough units to fill the page, plus the cursor's own unit whose remaining metrics come first.
    take = members[start : start + math.ceil(size / max(per_unit, 1)) + 1]
    if not take:
        return CellPage((), next_cycle)
    cells = _after(MetricCell.objects.filter(cycle_id=cycle.pk, unit_id__in=take), after)
    if metrics is not None:
        cells = cells.filter(metric__in=list(metrics))
    rows = list(cells.order_by("unit_id", "metric").values_list(*CELL_FIELDS)[: size + 1])
    # Every unit below the organisation carries the same metrics: none of these among the units
    # taken means none in this cycle, and the next page starts at the next cycle.
    return _page(cycle, rows, snapshots, size, start + len(take) < len(members), next_cycle)


def _subtree(cycle: Cycle, root: uuid.UUID) -> tuple[list[uuid.UUID], Snapshots]:
    """The unit and its descendants in the cycle's snapshot, sorted by unit id, in one query.

    Candidates are the units whose path extends the root's (and the root's parent, for its
    parent_path); a name may itself contain "/", so membership is then decided by parent links
    among the candidates, not by the path."""
    root_row = UnitSnapshot.objects.filter(cycle_id=cycle.pk, unit_id=root)
    prefix = Concat(Subquery(root_row.values("path")[:1]), Value("/"))
    candidates = UnitSnapshot.objects.filter(cycle_id=cycle.pk).filter(
        Q(unit_id=root) | Q(unit_id__in=Subquery(root_row.values("parent_id"))) | Q(path__startswith=prefix)
    )
    snapshots = _snapshots(candidates)
    children: dict[str, list[str]] = {}
    for snapshot in snapshots.values():
        if snapshot.parent_id is not None:
            children.setdefault(snapshot.parent_id, []).append(snapshot.unit_id)
    if (cycle.pk, str(root)) not in snapshots:
        return [], snapshots
    members, queue = [str(root)], [str(root)]
    while queue:
        below = children.get(queue.pop(), [])
        members.extend(below)
        queue.extend(below)
    return sorted(uuid.UUID(member) for member in members), snapshots


def units_cells(*, cycle: Cycle, unit_ids: Collection[uuid.UUID | str], metrics: Sequence[str]) -> list[PublishedCell]:
    """The given metrics' cells of the given units in one served cycle (a manager's teams side by
    side), by unit path, then the given metric order: never by a value (R4). Three queries."""
    served = door_state().served_cycle(cycle.pk)
    units = [unit_id_parse(unit) for unit in unit_ids]
    if served is None or not units or not metrics:
        return []
    snapshots = _snapshots(_with_parents([served.pk], Q(unit_id__in=units)))
    rows = MetricCell.objects.filter(cycle_id=served.pk, unit_id__in=units, metric__in=list(metrics))
    records = _records(iter(rows.values_list(*CELL_FIELDS)), {served.pk: served}, snapshots)
    by_metric = _by_metric(metrics)
    records.sort(key=lambda cell: (cell.unit_path, cell.unit_id, by_metric(cell)))
    return records
