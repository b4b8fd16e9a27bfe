"""One reader for a unit's report page: everything the page shows, in six queries.

A report shows the unit's cells over every served cycle (trend charts, the change since the
previous cycle, the response rate's history), its parent's and the organisation's cells in the
cycle shown (the values beside each metric), its flags and "worth watching" results, its item
distributions, and where it sits in that cycle's tree. Read one by one through the other
readers that is about eighteen queries, each asking again which cycles are served; here it is
one question of the door, then the snapshots (two), the cells, the flags and the distributions.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Q

from analytics.core.tree import ORGANISATION_UNIT_ID
from analytics.models import Flag, ItemDistribution, MetricCell, UnitSnapshot
from analytics.published.cells import CELL_FIELDS, _records, _Snapshot, unit_id_parse
from analytics.published.cycles import door_state
from analytics.published.flags import _of_published_cells, flag_record
from analytics.published.items import PublishedDistribution, distribution_record
from analytics.published.records import PublishedCell, PublishedFlag
from analytics.published.units import NOWHERE, PublishedUnit, lineage_of, unit_record
from surveys.models import Cycle


@dataclass(frozen=True)
class UnitReport:
    """What a unit's report may show for one cycle, all of it published records."""

    cycle: Cycle  # the cycle shown
    cycles: tuple[Cycle, ...]  # served cycles whose tree holds the unit, oldest first (the picker)
    lineage: tuple[PublishedUnit, ...]  # the unit and the units above it in the cycle shown, nearest first
    history: tuple[PublishedCell, ...]  # the unit's cells in every cycle of ``cycles``
    beside: tuple[PublishedCell, ...]  # the parent's and the organisation's cells in the cycle shown
    flags: tuple[PublishedFlag, ...]  # flags first, then "worth watching"
    distributions: tuple[PublishedDistribution, ...]

    @property
    def unit(self) -> PublishedUnit:
        return self.lineage[0]

    @property
    def previous(self) -> Cycle | None:
        """The served cycle before the one shown that holds the unit, if any."""
        earlier = [cycle for cycle in self.cycles if cycle.month < self.cycle.month]
        return earlier[-1] if earlier else None


#: Decides, from the unit's lineage in the cycle to be shown (empty for a unit that is not
#: there), whether the viewer may see it; it may read the database.
Allowed = Callable[[Cycle, tuple[PublishedUnit, ...]], bool]


def unit_report(
    *, unit_id: uuid.UUID | str, month: str | None = None, allowed: Allowed | None = None
) -> UnitReport | None:
    """The report of ``unit_id`` for the served cycle ``month`` (YYYY-MM; None: the latest that
    holds the unit). None if no served cycle holds the unit, ``month`` is not one of them, or
    ``allowed`` says no.

    ``allowed`` is asked after the unit's lineage is read and before any figure is: a unit that
    does not exist costs the same queries and the same question (with an empty lineage in the
    latest cycle) as one the viewer may not see, so a 404 says nothing about which it was."""
    unit = unit_id_parse(unit_id)
    state = door_state()
    served = {cycle.pk: cycle for cycle in state.served}
    if not served:
        return None
    own = list(
        UnitSnapshot.objects.filter(cycle_id__in=list(served), unit_id=unit).values_list(
            "cycle_id", "unit_id", "parent_id", "path", "level", "depth"
        )
    )
    holding = sorted((served[row[0]] for row in own), key=lambda cycle: cycle.month)
    shown = (
        (holding[-1] if month is None else next((c for c in holding if c.label == month), None)) if holding else None
    )
    if shown is None:
        latest = state.served[-1]
        lineage_of(latest, NOWHERE)  # the lineage query a unit that is there would cost
        if allowed is not None:
            allowed(latest, ())
        return None
    _, *shown_row = next(row for row in own if row[0] == shown.pk)
    lineage = tuple(lineage_of(shown, unit_record(tuple(shown_row))))
    if allowed is not None and not allowed(shown, lineage):
        return None
    beside_ids = [uuid.UUID(u.unit_id) for u in lineage[1:2]] + ([ORGANISATION_UNIT_ID] if len(lineage) > 1 else [])
    cycle_ids = [cycle.pk for cycle in holding]
    rows = MetricCell.objects.filter(
        Q(cycle_id__in=cycle_ids, unit_id=unit) | Q(cycle_id=shown.pk, unit_id__in=beside_ids)
    ).values_list(*CELL_FIELDS)
    snapshots = {(row[0], str(unit)): _Snapshot(str(unit), _str(row[2]), row[3], row[4]) for row in own}
    for member in lineage:
        snapshots[(shown.pk, member.unit_id)] = _Snapshot(member.unit_id, member.parent_id, member.path, member.level)
    cells = _records(iter(rows), {cycle.pk: cycle for cycle in holding}, snapshots)
    cells.sort(key=lambda cell: (cell.cycle, cell.unit_path, cell.metric))
    history = tuple(cell for cell in cells if cell.unit_id == str(unit))
    beside = tuple(cell for cell in cells if cell.unit_id != str(unit))

    flags: tuple[PublishedFlag, ...] = ()
    if state.history_is_current(shown.pk):
        stored = Flag.objects.filter(cycle_id=shown.pk, unit_id=unit).order_by("severity", "kind", "test")
        flags = tuple(flag_record(shown, flag) for flag in _of_published_cells(stored))
    distributions = ItemDistribution.objects.filter(cycle_id=shown.pk, unit_id=unit).order_by("item")
    items = tuple(
        record
        for record in (
            distribution_record(shown, str(unit), *row)
            for row in distributions.values_list("item", "unfavourable", "neutral", "favourable")
        )
        if record is not None
    )
    return UnitReport(shown, tuple(holding), lineage, history, beside, flags, items)


def _str(value: object) -> str | None:
    return str(value) if value else None
