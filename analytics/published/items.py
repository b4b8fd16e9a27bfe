"""Readers of the three-bin item distributions (ANONYMITY R4, R14: stored only where a cell may
show one, n >= 2k with R5 at 2k among the units showing them) and of released comments (R7)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass

from analytics.models import ItemDistribution, ReleasedComment, UnitSnapshot
from analytics.published.cells import unit_id_parse
from analytics.published.cycles import door_state
from surveys.models import Cycle


@dataclass(frozen=True, slots=True)
class PublishedDistribution:
    """One item's answers in three bins for one unit and cycle, as shares of those who answered it."""

    cycle: str
    unit_id: str
    item: str
    n: int
    unfavourable: float  # shares in [0, 1]; they sum to 1
    neutral: float
    favourable: float


@dataclass(frozen=True, slots=True)
class PublishedComment:
    """A released comment: its cycle, its one listing unit and its text. Nothing else is kept
    about it (no date, no author, no team below the listing unit: R7)."""

    cycle: str
    unit_id: str
    unit_path: str
    text: str


def unit_distributions(*, cycle: Cycle, unit_id: uuid.UUID | str) -> list[PublishedDistribution]:
    """The unit's item distributions in a served cycle, by item key; empty where none may be
    shown (a hidden unit stores none). One query beside the door's."""
    unit = unit_id_parse(unit_id)
    served = door_state().served_cycle(cycle.pk)
    if served is None:
        return []
    rows = ItemDistribution.objects.filter(cycle_id=served.pk, unit_id=unit).order_by("item")
    records = (
        distribution_record(served, str(unit), *row)
        for row in rows.values_list("item", "unfavourable", "neutral", "favourable")
    )
    return [record for record in records if record is not None]


def distribution_record(
    cycle: Cycle, unit_id: str, item: str, unfavourable: int, neutral: int, favourable: int
) -> PublishedDistribution | None:
    """Shares of the three bins (None for an empty row, which the job never writes)."""
    n = unfavourable + neutral + favourable
    if not n:
        return None
    return PublishedDistribution(cycle.label, unit_id, item, n, unfavourable / n, neutral / n, favourable / n)


def listed_comments(*, cycle: Cycle, unit_ids: Collection[uuid.UUID | str]) -> list[PublishedComment]:
    """The comments listed at the given units in a served cycle, by unit path, then in the random
    order drawn at release. Two queries beside the door's."""
    served = door_state().served_cycle(cycle.pk)
    units = [unit_id_parse(unit) for unit in unit_ids]
    if served is None or not units:
        return []
    paths = dict(UnitSnapshot.objects.filter(cycle_id=served.pk, unit_id__in=units).values_list("unit_id", "path"))
    rows = ReleasedComment.objects.filter(cycle_id=served.pk, unit_id__in=units).values_list(
        "unit_id", "position", "text"
    )
    listed = sorted(rows, key=lambda row: (paths.get(row[0], ""), str(row[0]), row[1]))
    return [PublishedComment(served.label, str(unit), paths.get(unit, ""), text) for unit, _, text in listed]
