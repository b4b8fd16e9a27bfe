"""The open cycle's live participation, as the job last counted and decided it (ANONYMITY R4, R5,
R8): a percentage where the unit is published, otherwise the one public reason.

Nothing is recomputed here (R6): the rows were decided for the whole tree by
analytics.job.participation. Rows decided under a k lower than the cycle's current one (k was
raised since, R3) are not served until the next count.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from analytics.core.disclosure import HIDDEN_TEXT
from analytics.core.tree import ORGANISATION_UNIT_ID
from analytics.models import LiveParticipation
from surveys.models import Cycle

#: The page's sentence on how the live figures count people (docs/decisions.md 54-56).
COUNTING_TEXT = (
    "Everyone counts for the team they were invited on, for the whole cycle (leavers and movers "
    "included), and which units may show a figure is decided from head counts, so that neither "
    "answering, moving nor leaving can show by subtraction whether someone answered."
)

_FIELDS = ("unit_id", "parent_id", "path", "level", "depth", "invited", "published", "percent", "computed_at", "k")


@dataclass(frozen=True, slots=True)
class LiveUnitRate:
    """One unit's live response rate. A hidden unit has no percentage and the one public text;
    the answered count never leaves the door (the percentage is what may be shown)."""

    unit_id: str
    parent_id: str | None
    path: str
    level: str
    depth: int  # 0 for the organisation
    invited: int  # a head count from the roster: everyone invited on the unit's subtree, leavers included
    percent: int | None
    text: str  # "56%" or HIDDEN_TEXT

    @property
    def suppressed(self) -> bool:
        return self.percent is None


@dataclass(frozen=True, slots=True)
class LiveParticipationRecord:
    """The open cycle's live response rates, every unit of the tree (organisation first, then by
    path: a fixed order, never one by a value), and when they were counted."""

    cycle: str
    k: int
    computed_at: dt.datetime
    units: tuple[LiveUnitRate, ...]

    @property
    def organisation(self) -> LiveUnitRate | None:
        return next((unit for unit in self.units if unit.depth == 0), None)


def _record(row: tuple[object, ...]) -> LiveUnitRate:
    unit_id, parent_id, path, level, depth, invited, published, percent, _, _ = row
    shown = int(str(percent)) if published and percent is not None else None
    return LiveUnitRate(
        unit_id=str(unit_id),
        parent_id=str(parent_id) if parent_id is not None else None,
        path=str(path),
        level=str(level),
        depth=int(str(depth)),
        invited=int(str(invited)),
        percent=shown,
        text=HIDDEN_TEXT if shown is None else f"{shown}%",
    )


def live_participation(*, cycle: Cycle) -> LiveParticipationRecord | None:
    """The open cycle's stored live participation; None if the cycle is not open, has not been
    counted yet, or was counted under a lower k than it has now. One query."""
    if not cycle.is_open:
        return None
    rows = list(LiveParticipation.objects.filter(cycle=cycle, k=cycle.k).values_list(*_FIELDS))
    if not rows:
        return None
    units = sorted((_record(row) for row in rows), key=lambda unit: (unit.depth != 0, unit.path, unit.unit_id))
    return LiveParticipationRecord(cycle=cycle.label, k=cycle.k, computed_at=rows[0][8], units=tuple(units))


def organisation_live_rate(*, cycle: Cycle) -> LiveUnitRate | None:
    """The organisation's live response rate alone (the home page's), by the unique index; None
    as for :func:`live_participation`."""
    if not cycle.is_open:
        return None
    row = (
        LiveParticipation.objects.filter(cycle=cycle, unit_id=ORGANISATION_UNIT_ID, k=cycle.k)
        .values_list(*_FIELDS)
        .first()
    )
    return _record(row) if row is not None else None
