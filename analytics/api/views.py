"""The API's views: one read each, its query checked by analytics.api.params, its output one
explicit serializer, its numbers only from the door (analytics.published, ANONYMITY R6).

Orders are fixed (by month, by (depth, path), or the door's own keyset order), never by a value,
an n or suppression (R4); who sees which unit is analytics.reports.access, read through
analytics.api.permissions.
"""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.api import cells
from analytics.api.docs import (
    CELLS_PARAMETERS,
    CYCLE_PARAMETER,
    UNIT_PARAMETER,
    errors,
)
from analytics.api.params import cycle_pick, query_read, unit_parse
from analytics.api.permissions import UNIT_NOT_FOUND, unit_visible_or_404, visible_units
from analytics.api.serializers import (
    CellPageOutput,
    CommentsOutput,
    CyclesOutput,
    FlagsOutput,
    MeOutput,
    UnitsOutput,
)
from analytics.published import aggregated_cycles, listed_comments, organisation_flags, unit_flags
from analytics.reports.access import Viewer, viewer_for
from surveys.models import Cycle, Organisation


def _email(user: AbstractBaseUser | AnonymousUser) -> str:
    return str(getattr(user, "email", "") or user.get_username())


class MeView(APIView):
    """Who the API takes you for, and what that lets you see."""

    @extend_schema(operation_id="me_read", parameters=[], responses={200: MeOutput, **errors(400, 401)})
    def get(self, request: Request) -> Response:
        query_read(request, ())
        viewer = viewer_for(request.user)
        person = viewer.person
        data = {
            "email": person.email if person is not None else _email(request.user),
            "role": viewer.role,
            "team_path": person.team.path if person is not None else None,
            "managed_unit_ids": sorted(viewer.managed_ids),
            "engineers_see_team_report": Organisation.current().engineers_see_team_report,
        }
        return Response(MeOutput(data).data)


class CyclesView(APIView):
    """The cycles with published results: closed, and aggregated under their current k (R3, R8)."""

    @extend_schema(operation_id="cycles_list", parameters=[], responses={200: CyclesOutput, **errors(400, 401)})
    def get(self, request: Request) -> Response:
        query_read(request, ())
        served = sorted(aggregated_cycles(), key=lambda cycle: cycle.month)
        return Response(CyclesOutput({"results": served}).data)


class UnitsView(APIView):
    """The tree the viewer may see in a cycle (default: the latest), by (depth, path)."""

    @extend_schema(
        operation_id="units_list", parameters=[CYCLE_PARAMETER], responses={200: UnitsOutput, **errors(400, 401)}
    )
    def get(self, request: Request) -> Response:
        query = query_read(request, ("cycle",))
        cycle = cycle_pick("cycle", query.get("cycle"), aggregated_cycles())
        if cycle is None:
            return Response(UnitsOutput({"cycle": None, "results": []}).data)
        units = visible_units(viewer_for(request.user), cycle=cycle)
        return Response(UnitsOutput({"cycle": cycle.label, "results": units}).data)


class CellsView(APIView):
    """Published cells of a unit (and, where all of it is the viewer's business, its subtree)
    across a range of cycles, 500 a page; hidden cells come back hidden, with no numbers."""

    @extend_schema(
        operation_id="cells_list", parameters=CELLS_PARAMETERS, responses={200: CellPageOutput, **errors(400, 401, 404)}
    )
    def get(self, request: Request) -> Response:
        query = query_read(request, cells.PARAMS)
        viewer = viewer_for(request.user)
        found = cells.cells_page(viewer, query)
        return Response(CellPageOutput({"results": found.cells, "next": cells.next_url(request, found)}).data)


def _cycle_and_unit(request: Request) -> tuple[Viewer, Cycle | None, str | None]:
    """The viewer, the ``cycle`` asked for (default the latest served; None if none is) and the
    ``unit`` asked for, already checked visible in that cycle (404 otherwise, and when no cycle
    is served, since no pulse could hold it)."""
    query = query_read(request, ("cycle", "unit"))
    unit = unit_parse("unit", query["unit"]) if "unit" in query else None
    cycle = cycle_pick("cycle", query.get("cycle"), aggregated_cycles())
    viewer = viewer_for(request.user)
    if unit is not None:
        if cycle is None:
            raise NotFound(UNIT_NOT_FOUND)
        unit_visible_or_404(viewer, cycle=cycle, unit_id=unit)
    return viewer, cycle, unit


class FlagsView(APIView):
    """With ``unit``: that unit's flags and "worth watching" results. Without: flags only (never
    "watch", which stays in a unit's own report) at every unit the viewer may see."""

    @extend_schema(
        operation_id="flags_list",
        parameters=[CYCLE_PARAMETER, UNIT_PARAMETER],
        responses={200: FlagsOutput, **errors(400, 401, 404)},
    )
    def get(self, request: Request) -> Response:
        viewer, cycle, unit = _cycle_and_unit(request)
        if cycle is None:
            return Response(FlagsOutput({"cycle": None, "results": []}).data)
        if unit is not None:
            flags = unit_flags(cycle=cycle, unit_id=unit)
        else:
            shown = None if viewer.is_hr else {u.unit_id for u in visible_units(viewer, cycle=cycle)}
            flags = [
                flag
                for flag in organisation_flags(cycle=cycle)
                if flag.severity == "flag" and (shown is None or flag.unit_id in shown)
            ]
        return Response(FlagsOutput({"cycle": cycle.label, "results": flags}).data)


class CommentsView(APIView):
    """Released comments (R7) listed at the given unit, or at every unit the viewer may see: each
    with its cycle, listing unit and text only."""

    @extend_schema(
        operation_id="comments_list",
        parameters=[CYCLE_PARAMETER, UNIT_PARAMETER],
        responses={200: CommentsOutput, **errors(400, 401, 404)},
    )
    def get(self, request: Request) -> Response:
        viewer, cycle, unit = _cycle_and_unit(request)
        if cycle is None:
            return Response(CommentsOutput({"cycle": None, "results": []}).data)
        if unit is not None:
            units = [unit]
        else:
            units = [u.unit_id for u in visible_units(viewer, cycle=cycle)]
        comments = listed_comments(cycle=cycle, unit_ids=units)
        return Response(CommentsOutput({"cycle": cycle.label, "results": comments}).data)
