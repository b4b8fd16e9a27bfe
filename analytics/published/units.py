"""Readers of a cycle's frozen tree: the units as they stood when the cycle was aggregated.

Names and the tree are not figures (the roster shows them too), but a page, the API and the
permission checks all need them per cycle, because teams move and history stays where it was:
a report of March is a report of March's tree. Every reader costs at most two queries and
reads through UnitSnapshot's unique (cycle, unit_id) index or its (cycle, parent_id) index.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass

from django.db.models import Q

from analytics.core.tree import ORGANISATION_UNIT_ID
from analytics.models import UnitSnapshot
from analytics.published.cells import unit_id_parse
from surveys.models import Cycle

ORGANISATION_ID = str(ORGANISATION_UNIT_ID)
_FIELDS = ("unit_id", "parent_id", "path", "level", "depth")


@dataclass(frozen=True, slots=True)
class PublishedUnit:
    """One unit of a cycle's tree: what a page needs to name it and place it."""

    unit_id: str
    parent_id: str | None
    path: str  # "Engineering/Payments"; the organisation's own name for the root
    level: str  # organisation, department or team
    depth: int  # 0 for the organisation

    @property
    def name(self) -> str:
        """The unit's own name: the last part of its path (a name may itself hold a "/": the
        path is built from names, so for the organisation and top-level units it is the path)."""
        if self.depth <= 1:
            return self.path
        return self.path.rsplit("/", 1)[-1]

    @property
    def is_organisation(self) -> bool:
        return self.unit_id == ORGANISATION_ID


def unit_record(row: tuple[object, ...]) -> PublishedUnit:
    """A unit from a snapshot row of (unit_id, parent_id, path, level, depth)."""
    unit_id, parent_id, path, level, depth = row
    return PublishedUnit(str(unit_id), str(parent_id) if parent_id else None, str(path), str(level), int(str(depth)))


def unit_lineage(*, cycle: Cycle, unit_id: uuid.UUID | str) -> list[PublishedUnit]:
    """The unit and every unit above it up to the organisation, nearest first, as the tree stood
    in ``cycle``; empty if the unit was not in that cycle's tree. Two queries, whether or not the
    unit exists: permission checks call this before answering 404, and a 404 must not take less
    work for a unit that does not exist than for one the viewer may not see."""
    unit = unit_id_parse(unit_id)
    own = UnitSnapshot.objects.filter(cycle_id=cycle.pk, unit_id=unit).values_list(*_FIELDS).first()
    if own is None:
        lineage_of(cycle, NOWHERE)  # the same second query, for the same work
        return []
    return lineage_of(cycle, unit_record(own))


#: A stand-in below the organisation for a unit that is not in the tree (see unit_lineage).
NOWHERE = PublishedUnit("", ORGANISATION_ID, "", "team", 1)


def lineage_of(cycle: Cycle, start: PublishedUnit) -> list[PublishedUnit]:
    """``start`` and the units above it in ``cycle``, nearest first. One query: the units whose
    path is one of ``start``'s path's prefixes, then the chain is followed by parent links (a
    name may itself contain "/", which only adds candidates that the links then drop)."""
    if start.parent_id is None:
        return [start]
    parts = start.path.split("/")
    prefixes = ["/".join(parts[:end]) for end in range(1, len(parts))]
    rows = UnitSnapshot.objects.filter(cycle_id=cycle.pk).filter(
        Q(unit_id=ORGANISATION_UNIT_ID) | Q(path__in=prefixes, depth__lt=start.depth)
    )
    by_id = {start.unit_id: start}
    by_id.update((unit.unit_id, unit) for unit in map(unit_record, rows.values_list(*_FIELDS)))
    chain: list[PublishedUnit] = []
    node: PublishedUnit | None = start
    while node is not None:
        chain.append(node)
        node = by_id.get(node.parent_id) if node.parent_id else None
    return chain


def unit_children(*, cycle: Cycle, unit_id: uuid.UUID | str) -> list[PublishedUnit]:
    """The unit's direct children in ``cycle``'s tree, by path. One query, on (cycle, parent_id)."""
    unit = unit_id_parse(unit_id)
    rows = UnitSnapshot.objects.filter(cycle_id=cycle.pk, parent_id=unit).order_by("path", "unit_id")
    return [unit_record(row) for row in rows.values_list(*_FIELDS)]


def units_under(*, cycle: Cycle, roots: Collection[uuid.UUID | str]) -> list[PublishedUnit]:
    """The given units and everything below them in ``cycle``'s tree, each once, by path. One
    query per level of the tree below the roots (a tree is a handful of levels deep)."""
    found: dict[str, PublishedUnit] = {}
    frontier = [unit_id_parse(root) for root in roots]
    rows = UnitSnapshot.objects.filter(cycle_id=cycle.pk, unit_id__in=frontier).values_list(*_FIELDS)
    level = [unit_record(row) for row in rows]
    while level:
        fresh = [unit for unit in level if unit.unit_id not in found]
        found.update((unit.unit_id, unit) for unit in fresh)
        if not fresh:
            break
        below = UnitSnapshot.objects.filter(
            cycle_id=cycle.pk, parent_id__in=[uuid.UUID(unit.unit_id) for unit in fresh]
        ).values_list(*_FIELDS)
        level = [unit_record(row) for row in below]
    return sorted(found.values(), key=lambda unit: (unit.depth, unit.path, unit.unit_id))


def unit_in_cycles(*, unit_id: uuid.UUID | str, cycles: Collection[Cycle]) -> dict[int, PublishedUnit]:
    """Cycle id -> the unit as it stood in that cycle, for the given cycles it was part of. One query."""
    unit = unit_id_parse(unit_id)
    rows = UnitSnapshot.objects.filter(cycle_id__in=[cycle.pk for cycle in cycles], unit_id=unit)
    return {cycle_id: unit_record(rest) for cycle_id, *rest in rows.values_list("cycle_id", *_FIELDS)}
