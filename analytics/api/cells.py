"""The cells read of the API (a selector): which unit, which scope, which page.

Two scopes (analytics.api.permissions): a subtree through the door's keyset pages
(``subtree_cells_page``, fixed order cycle, unit id, metric), or the unit alone, one cycle a page
(``unit_cells``; a unit has about 45 cells a cycle, under a page's 500). Both hand out cursors in
the door's format: the unit-alone cursor is the door's "start of this cycle" position.

Visibility is checked on the latest cycle of the range (404 if the unit is not the viewer's
there) and again for every page of an earlier cycle, in that cycle's own tree: a page of a cycle
in which the unit was not the viewer's (a team since moved under their department, say) comes
back empty, with its ``next`` link, rather than showing what was not theirs then.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.utils.urls import replace_query_param

from analytics.api.params import METRIC_NAMES, MONTH, BadParameter, metrics_parse, range_parse, unit_parse
from analytics.api.permissions import UNIT_NOT_FOUND, Scope, unit_scope
from analytics.published import (
    ORGANISATION_ID,
    CursorInvalid,
    PublishedCell,
    aggregated_cycles,
    subtree_cells_page,
    unit_cells,
)

# The door's cursor encoding, so that both scopes hand out cursors of one kind (a position only:
# cycle, unit, metric; never a value).
from analytics.published.records import cursor_decode, cursor_encode
from analytics.reports.access import Viewer
from surveys.models import Cycle

PARAMS = ("unit", "since", "until", "metric", "cursor")
#: Cells a page; fixed, not the client's choice.
PAGE_SIZE = 500
BAD_CURSOR = "not a cursor this API handed out; start again without it (the first page)."
#: Longer than any cursor this API hands out (a month, a unit id and a metric name, base64): a
#: longer one is refused before it is decoded, whatever it would decode to.
CURSOR_MAX = 256


@dataclass(frozen=True, slots=True)
class Found:
    cells: tuple[PublishedCell, ...]
    next_cursor: str | None


def cells_page(viewer: Viewer, query: Mapping[str, str]) -> Found:
    """One page of the cells the query asks for, as far as the viewer may see them."""
    since, until = range_parse(query.get("since"), query.get("until"))
    metrics = metrics_parse("metric", query["metric"]) if "metric" in query else None
    if "unit" in query:
        unit = unit_parse("unit", query["unit"])
    elif viewer.is_hr:
        unit = ORGANISATION_ID
    else:
        raise BadParameter("unit", "required for your role; give a unit_id from /api/v1/units/.")
    cursor = query.get("cursor")
    if cursor is not None:
        _cursor_check(cursor)
    served = [
        cycle
        for cycle in sorted(aggregated_cycles(), key=lambda cycle: cycle.month)
        if (since is None or cycle.month >= since) and (until is None or cycle.month <= until)
    ]
    if not served:
        return Found((), None)
    latest = served[-1]
    scope = unit_scope(viewer, cycle=latest, unit_id=unit)
    if scope is None:
        raise NotFound(UNIT_NOT_FOUND)
    if scope is Scope.SUBTREE:
        return _subtree(viewer, unit, served, since, until, metrics, cursor)
    return _unit_alone(viewer, unit, served, metrics, cursor)


def _cursor_check(cursor: str) -> None:
    """Refuses a cursor that is not one this API could have handed out, before the door decodes
    it: the door reads the position it names as it is, and a forged one could end that read in an
    error (a metric holding NUL or a lone surrogate reaches the database; a cursor nesting JSON a
    thousand deep stops the decoder)."""
    if len(cursor) > CURSOR_MAX:
        raise BadParameter("cursor", BAD_CURSOR)
    try:
        month, unit_id, metric = cursor_decode(cursor)
    except CursorInvalid:
        raise BadParameter("cursor", BAD_CURSOR) from None
    if MONTH.match(month) is None:
        raise BadParameter("cursor", BAD_CURSOR)
    if unit_id is not None:
        try:
            uuid.UUID(unit_id)
        except ValueError:
            raise BadParameter("cursor", BAD_CURSOR) from None
    if metric is not None and metric not in METRIC_NAMES:
        raise BadParameter("cursor", BAD_CURSOR)


def _cursor_month(cursor: str) -> dt.date:
    try:
        month, _, _ = cursor_decode(cursor)
        return dt.date.fromisoformat(f"{month}-01")
    except (CursorInvalid, ValueError):
        raise BadParameter("cursor", BAD_CURSOR) from None


def _subtree(
    viewer: Viewer,
    unit: str,
    served: list[Cycle],
    since: dt.date | None,
    until: dt.date | None,
    metrics: list[str] | None,
    cursor: str | None,
) -> Found:
    try:
        page = subtree_cells_page(
            unit_id=unit, since=since, until=until, metrics=metrics, cursor=cursor, size=PAGE_SIZE
        )
    except CursorInvalid:
        raise BadParameter("cursor", BAD_CURSOR) from None
    if page.cells and not viewer.is_hr:
        # A page holds one cycle's cells: re-decide the scope in that cycle's tree.
        label = page.cells[0].cycle
        cycle = next(cycle for cycle in served if cycle.label == label)
        if cycle is not served[-1] and unit_scope(viewer, cycle=cycle, unit_id=unit) is not Scope.SUBTREE:
            return Found((), page.next_cursor)
    return Found(page.cells, page.next_cursor)


def _unit_alone(viewer: Viewer, unit: str, served: list[Cycle], metrics: list[str] | None, cursor: str | None) -> Found:
    """The unit's own cells, one cycle a page (no subtree: it would hold units not the viewer's)."""
    start = _cursor_month(cursor) if cursor is not None else served[0].month
    remaining = [cycle for cycle in served if cycle.month >= start]
    if not remaining:
        return Found((), None)
    cycle, later = remaining[0], remaining[1:]
    next_cursor = cursor_encode(later[0].label, None, None) if later else None
    if cycle is not served[-1] and unit_scope(viewer, cycle=cycle, unit_id=unit) is None:
        return Found((), next_cursor)
    found = unit_cells(unit_id=unit, since=cycle.month, until=cycle.month, metrics=metrics)
    return Found(tuple(found), next_cursor)


def next_url(request: Request, found: Found) -> str | None:
    """The same query with the next cursor: the client follows it as it is."""
    if found.next_cursor is None:
        return None
    return str(replace_query_param(request.build_absolute_uri(), "cursor", found.next_cursor))
