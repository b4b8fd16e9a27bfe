"""Which units the API shows a viewer, on top of analytics.reports.access (the one rule for pages,
the API and exports; nothing here widens it).

Two readings the API adds, both narrower than "the unit is visible":

- **Scope of a cells read.** A subtree is shown only where every unit in it is the viewer's
  business: HR anywhere, a manager below (or at) a unit they manage. A unit visible only as part
  of the viewer's own lineage (an engineer's team and the units above it; a manager's own
  department above the team they manage) is shown alone: its subtree would hold teams that are
  not theirs (their department's other teams).
- **Per cycle.** Visibility is decided in each cycle's own frozen tree, so a page of an older
  cycle is shown only if the unit was visible in that cycle too (teams move).

A unit the viewer may not see and a unit that does not exist get the same 404 body, so the API
never confirms that a unit exists.
"""

from __future__ import annotations

import enum

from rest_framework.exceptions import NotFound

from analytics.published import ORGANISATION_ID, PublishedUnit, unit_lineage, units_under
from analytics.reports.access import Viewer, unit_visible
from surveys.models import Cycle

UNIT_NOT_FOUND = "unit: no unit with this id that you may see in this pulse; pick one from /api/v1/units/."


class Scope(enum.Enum):
    SUBTREE = "subtree"  # the unit and everything below it
    UNIT = "unit"  # the unit alone


def unit_scope(viewer: Viewer, *, cycle: Cycle, unit_id: str) -> Scope | None:
    """How much of ``unit_id`` the viewer may read in ``cycle``; None: nothing (answer 404)."""
    lineage = unit_visible(viewer, cycle=cycle, unit_id=unit_id)
    if lineage is None:
        return None
    if viewer.is_hr or any(unit.unit_id in viewer.managed_ids for unit in lineage):
        return Scope.SUBTREE
    return Scope.UNIT


def unit_visible_or_404(viewer: Viewer, *, cycle: Cycle, unit_id: str) -> list[PublishedUnit]:
    lineage = unit_visible(viewer, cycle=cycle, unit_id=unit_id)
    if lineage is None:
        raise NotFound(UNIT_NOT_FOUND)
    return lineage


def visible_units(viewer: Viewer, *, cycle: Cycle) -> list[PublishedUnit]:
    """Every unit of ``cycle``'s tree the viewer may see, by (depth, path): HR the whole tree; a
    manager the subtrees they manage; everyone on the roster their own team's lineage when the
    organisation lets engineers see their team's report (``own_team_id`` is None otherwise).
    Each unit listed is one ``unit_visible`` answers for."""
    if not viewer.sees_reports:
        return []
    if viewer.is_hr:
        return units_under(cycle=cycle, roots=[ORGANISATION_ID])
    found: dict[str, PublishedUnit] = {}
    if viewer.managed_ids:
        found.update((unit.unit_id, unit) for unit in units_under(cycle=cycle, roots=sorted(viewer.managed_ids)))
    if viewer.own_team_id is not None:
        found.update((unit.unit_id, unit) for unit in unit_lineage(cycle=cycle, unit_id=viewer.own_team_id))
    return sorted(found.values(), key=lambda unit: (unit.depth, unit.path, unit.unit_id))
