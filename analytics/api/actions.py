"""The actions API: list, record, read, edit, close and delete the actions of the action loop,
through the same services as the pages (surveys.services.actions), so both check the same things,
audit the same events and give the same messages.

Who may do what is the services' rule, against the current roster:

- **Read**: ``actions_visible_to``: HR every action; a manager those on the units they manage and
  below; everyone on the roster those on their own team and the units above it.
- **Write** (record, edit, close, delete): ``manageable_unit_ids``: a manager of the unit or of a
  unit above it. HR reads every action but records none (managers own the loop).

An action or unit the caller may not read is 404, the same answer as one that does not exist (the
API never confirms what is not yours to see). One the caller may read but not change is 403, with
a message saying who may (docs/decisions.md: "The actions API answers 403 where you may read").

Every 400 is ``{"detail": "<field>: <fix>; ...", "errors": {field: message}}``: every field's
error at once, the services' own messages where they decide (metric, title, owner, check-back
range, a closed action). Unknown fields are refused, not ignored, so a client never believes it
changed what it cannot (a PATCH of ``metric``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.api.actions_serializers import (
    NO_PERSON,
    UPDATABLE,
    ActionCloseInput,
    ActionCreateInput,
    ActionOutput,
    ActionsOutput,
    ActionUpdateInput,
    FieldErrorsOutput,
)
from analytics.api.field_errors import FieldErrors, field_messages, fields_in_order, request_fields
from analytics.api.params import BadParameter, query_read, unit_parse
from analytics.api.serializers import ErrorOutput
from analytics.published import aggregated_cycles, unit_flags, unit_lineage
from analytics.reports.access import Viewer, viewer_for
from surveys.models import Action, Cycle, Person, Team
from surveys.services.actions import (
    ActionInput,
    action_close,
    action_create,
    action_delete,
    action_update,
    actions_visible_to,
    manageable_unit_ids,
    readable_action_unit_ids,
)

ACTION_NOT_FOUND = "id: no action with this id that you may see; list yours with GET /api/v1/actions/."
UNIT_NOT_FOUND = "unit: no unit with this id whose actions you may see; pick a unit_id from /api/v1/units/."
STATUSES = (Action.Status.OPEN.value, Action.Status.CLOSED.value)
CREATE_FIELDS = ("unit", "cycle", "metric", "flag_kind", "title", "owner", "check_back_month")
# Fields an action has but a PATCH may not change, with what to do instead.
FIXED_FIELDS = {
    "unit": "an action stays on its unit; delete it (while open) and record it on the other unit.",
    "cycle": "an action follows the cycle it was recorded on; record a new one for another cycle.",
    "metric": "an action keeps its metric; close it and record a new one to aim at another.",
    "flag_kind": "an action keeps the flag it answers; close it and record a new one.",
    "status": "close it with POST /api/v1/actions/<id>/close/ (with an outcome); it cannot be reopened.",
    "outcome": "the outcome is given when closing: POST /api/v1/actions/<id>/close/.",
}


def _readable_unit_ids(viewer: Viewer) -> set[str] | None:
    """Units whose actions the viewer may read (the service's one rule); None: every one."""
    return readable_action_unit_ids(person=viewer.person, is_hr=viewer.is_hr)


def _unit_readable_or_404(viewer: Viewer, unit_id: str) -> Team:
    """The unit, if the viewer may read its actions. The set is read before the unit, so a unit
    that does not exist takes the same path as one that is not theirs (decision 44)."""
    readable = _readable_unit_ids(viewer)
    if readable is not None and unit_id not in readable:
        raise NotFound(UNIT_NOT_FOUND)
    unit = Team.objects.filter(pk=unit_id).first()
    if unit is None:
        raise NotFound(UNIT_NOT_FOUND)
    return unit


def _visible(viewer: Viewer) -> QuerySet[Action]:
    query: QuerySet[Action] = actions_visible_to(person=viewer.person, is_hr=viewer.is_hr)
    return query


def _action_or_404(viewer: Viewer, action_id: uuid.UUID) -> Action:
    action = _visible(viewer).filter(pk=action_id).first()
    if action is None:
        raise NotFound(ACTION_NOT_FOUND)
    return action


def _may_not_change(path: str, *, recording: bool) -> PermissionDenied:
    what = "record an action on it" if recording else "change this action"
    field = "unit" if recording else "action"
    return PermissionDenied(
        f"{field}: you may read {path}'s actions but not {what}; only a manager of {path} or of a unit above it "
        "may (HR reads every action and records none: managers own the loop)."
    )


def _require_change(viewer: Viewer, action: Action, paths: Mapping[str, str]) -> set[str]:
    manageable = manageable_unit_ids(viewer.person)
    if str(action.unit_id) not in manageable:
        raise _may_not_change(paths.get(str(action.unit_id), ""), recording=False)
    return manageable


def _team_paths() -> dict[str, str]:
    """Every team's path from one query (Team.path walks its parents a query at a time)."""
    rows = {
        str(pk): (name, str(parent) if parent else None)
        for pk, name, parent in Team.objects.values_list("pk", "name", "parent_id")
    }
    paths: dict[str, str] = {}
    for start in rows:
        names: list[str] = []
        node: str | None = start
        seen: set[str] = set()
        while node is not None and node in rows and node not in seen:
            seen.add(node)
            names.append(rows[node][0])
            node = rows[node][1]
        paths[start] = "/".join(reversed(names))
    return paths


def _action_data(action: Action, *, paths: Mapping[str, str], manageable: set[str]) -> dict[str, Any]:
    owner = action.owner
    return {
        "id": action.pk,
        "unit_id": action.unit_id,
        "unit_path": paths.get(str(action.unit_id), ""),
        "metric": action.metric,
        "flag_kind": action.flag_kind,
        "title": action.title,
        "from_playbook": action.from_playbook,
        "owner_id": owner.pk if owner is not None else None,
        "owner_name": owner.name if owner is not None else None,
        "cycle": action.started_cycle.label,
        "check_back_month": action.check_back_month.strftime("%Y-%m"),
        "status": action.status,
        "outcome": action.outcome,
        "created_at": action.created_at,
        "closed_at": action.closed_at,
        "can_change": str(action.unit_id) in manageable,
    }


def _one(action: Action, *, viewer: Viewer, manageable: set[str] | None = None, code: int = 200) -> Response:
    action = Action.objects.select_related("unit", "owner", "started_cycle").get(pk=action.pk)
    allowed = manageable if manageable is not None else manageable_unit_ids(viewer.person)
    data = _action_data(action, paths=_team_paths(), manageable=allowed)
    return Response(ActionOutput(data).data, status=code)


def _published_cycle(month: Any) -> tuple[Cycle | None, str | None]:
    """The served cycle of ``month`` (closed and aggregated under its current k: results a
    manager could have read), or the message for the ``cycle`` field."""
    label = month.strftime("%Y-%m")
    for cycle in aggregated_cycles():
        if cycle.month == month:
            return cycle, None
    if Cycle.objects.filter(month=month, status=Cycle.Status.OPEN).exists():
        return None, (
            f"The {label} cycle is still open: record an action on published results; pick a cycle from "
            "/api/v1/cycles/."
        )
    return None, (
        f"{label} has no published results (a pulse is served once it has closed and been aggregated); "
        "pick one from /api/v1/cycles/."
    )


def _unit_in_cycle(unit: Team, cycle: Cycle) -> str | None:
    """The message for ``cycle`` when the unit has no results in it (it joined the tree later):
    an action follows results its unit had, as on the pages."""
    if unit_lineage(cycle=cycle, unit_id=str(unit.pk)):
        return None
    return (
        f"{unit.path} has no results in {cycle.label} (it was not in that cycle's tree); pick a later cycle "
        "from /api/v1/cycles/."
    )


def _flag_published(kind: str, *, unit: Team, cycle: Cycle) -> str | None:
    """The message for ``flag_kind`` unless it is empty or one of the unit's flags (or "worth
    watching" results) as published in ``cycle``: an action answers a flag its managers saw."""
    kind = kind.strip()
    if not kind or any(flag.kind == kind for flag in unit_flags(cycle=cycle, unit_id=str(unit.pk))):
        return None
    return (
        f"no flag {kind!r} on {unit.path} in {cycle.label}; use a kind from "
        f"/api/v1/flags/?unit={unit.pk}&cycle={cycle.label}, or leave it out for an action on a metric."
    )


def _owner_id(value: int | str) -> int:
    """A person id as given, or the id of the active person with that e-mail address."""
    if isinstance(value, int):
        return value
    found = Person.objects.filter(email__iexact=value, is_active=True).values_list("pk", flat=True).first()
    return int(found) if found is not None else NO_PERSON


def _service_call(call: Any) -> Any:
    """Runs a service, its refusals as the API's: a field's ValidationError 400, PermissionError
    (the roster changed since the check) 403."""
    try:
        return call()
    except ValidationError as error:
        messages = error.message_dict if hasattr(error, "error_dict") else {"action": error.messages}
        raise FieldErrors(field_messages(messages)) from None
    except PermissionError as error:
        raise PermissionDenied(f"action: {error}.") from None


_ERRORS_400 = OpenApiResponse(
    FieldErrorsOutput, description="A field is missing or wrong: every field's message, and the fix. Nothing saved."
)
_ERROR_401 = OpenApiResponse(
    ErrorOutput, description="Not signed in: send `Authorization: Token <token>` (make one at /api/tokens/)."
)
_ERROR_403 = OpenApiResponse(
    ErrorOutput, description="You may read it but not change it: only a manager of the unit (or one above) may."
)
_ERROR_404_ACTION = OpenApiResponse(
    ErrorOutput, description="No action with this id that you may see (the same answer whether or not it exists)."
)
_ERROR_404_UNIT = OpenApiResponse(
    ErrorOutput, description="No unit with this id whose actions you may see (the same whether or not it exists)."
)
_LIST_PARAMETERS = [
    OpenApiParameter("unit", OpenApiTypes.UUID, description="Only this unit's actions (a unit_id); 404 if not yours."),
    OpenApiParameter("status", OpenApiTypes.STR, enum=list(STATUSES), description="open or closed; default both."),
]


class ActionsView(APIView):
    """GET: the actions you may read, newest first. POST: record one (managers of the unit)."""

    @extend_schema(
        operation_id="actions_list",
        parameters=_LIST_PARAMETERS,
        responses={
            200: ActionsOutput,
            400: OpenApiResponse(ErrorOutput, description="A query parameter is unknown, repeated, empty or wrong."),
            401: _ERROR_401,
            404: _ERROR_404_UNIT,
        },
    )
    def get(self, request: Request) -> Response:
        query = query_read(request, ("unit", "status"))
        viewer = viewer_for(request.user)
        actions = _visible(viewer)
        if "unit" in query:
            unit = _unit_readable_or_404(viewer, unit_parse("unit", query["unit"]))
            actions = actions.filter(unit=unit)
        if "status" in query:
            if query["status"] not in STATUSES:
                raise BadParameter("status", f"{query['status']!r} is not a status; use open or closed.")
            actions = actions.filter(status=query["status"])
        paths, manageable = _team_paths(), manageable_unit_ids(viewer.person)
        results = [
            _action_data(action, paths=paths, manageable=manageable) for action in actions.order_by("-created_at", "pk")
        ]
        return Response(ActionsOutput({"results": results}).data)

    @extend_schema(
        operation_id="actions_create",
        request=ActionCreateInput,
        responses={
            201: OpenApiResponse(ActionOutput, description="Recorded (and audited as action_created)."),
            400: _ERRORS_400,
            401: _ERROR_401,
            403: OpenApiResponse(ErrorOutput, description="You may read the unit's actions but not record one."),
            404: _ERROR_404_UNIT,
        },
    )
    def post(self, request: Request) -> Response:
        try:
            return self._create(request)
        except FieldErrors as errors:
            return errors.response()

    def _create(self, request: Request) -> Response:
        viewer = viewer_for(request.user)
        checked = ActionCreateInput(data=request_fields(request, CREATE_FIELDS))
        errors = {} if checked.is_valid() else field_messages(checked.errors)
        if "unit" in errors:  # no unit to decide who may act on: nothing else can be told yet
            raise FieldErrors(errors)
        fields, given = checked.fields, checked.initial_data
        # Who may act comes before what is wrong with the rest: a caller who may not record on the
        # unit learns nothing more from the other fields.
        unit = _unit_readable_or_404(viewer, str(fields["unit"].run_validation(given["unit"])))
        if str(unit.pk) not in manageable_unit_ids(viewer.person):
            raise _may_not_change(unit.path, recording=True)
        cycle = None
        if "cycle" not in errors:
            cycle, cycle_error = _published_cycle(fields["cycle"].run_validation(given["cycle"]))
            if cycle is not None:
                cycle_error = _unit_in_cycle(unit, cycle)
            if cycle_error is not None:
                errors["cycle"], cycle = cycle_error, None
        if cycle is not None and "flag_kind" not in errors:
            flag_error = _flag_published(given.get("flag_kind") or "", unit=unit, cycle=cycle)
            if flag_error is not None:
                errors["flag_kind"] = flag_error
        if errors or cycle is None:
            raise FieldErrors(fields_in_order(errors, CREATE_FIELDS))
        values = checked.validated_data
        data = ActionInput(
            metric=values["metric"],
            flag_kind=values.get("flag_kind") or "",
            title=values["title"],
            owner_id=_owner_id(values["owner"]),
            check_back_month=values["check_back_month"],
        )
        action = _service_call(lambda: action_create(actor=viewer.person, unit=unit, started_cycle=cycle, data=data))
        return _one(action, viewer=viewer, code=status.HTTP_201_CREATED)


class ActionView(APIView):
    """One action: read it (if you may read its unit's actions), edit or delete it (if you manage
    the unit)."""

    @extend_schema(operation_id="actions_read", responses={200: ActionOutput, 401: _ERROR_401, 404: _ERROR_404_ACTION})
    def get(self, request: Request, action_id: uuid.UUID) -> Response:
        viewer = viewer_for(request.user)
        return _one(_action_or_404(viewer, action_id), viewer=viewer)

    @extend_schema(
        operation_id="actions_update",
        request=ActionUpdateInput,
        responses={
            200: OpenApiResponse(ActionOutput, description="Edited (and audited as action_updated)."),
            400: _ERRORS_400,
            401: _ERROR_401,
            403: _ERROR_403,
            404: _ERROR_404_ACTION,
        },
    )
    def patch(self, request: Request, action_id: uuid.UUID) -> Response:
        viewer = viewer_for(request.user)
        action = _action_or_404(viewer, action_id)
        paths = _team_paths()
        manageable = _require_change(viewer, action, paths)
        try:
            checked = ActionUpdateInput(data=request_fields(request, UPDATABLE, FIXED_FIELDS))
            if not checked.is_valid():
                raise FieldErrors(fields_in_order(field_messages(checked.errors), UPDATABLE))
            values = checked.validated_data
            if not values:
                raise FieldErrors({"body": f"nothing to change; give at least one of {', '.join(UPDATABLE)}."})
            data = ActionInput(
                title=values.get("title"),
                owner_id=_owner_id(values["owner"]) if "owner" in values else None,
                check_back_month=values.get("check_back_month"),
            )
            updated = _service_call(lambda: action_update(actor=viewer.person, action=action, data=data))
        except FieldErrors as errors:
            return errors.response()
        return _one(updated, viewer=viewer, manageable=manageable)

    @extend_schema(
        operation_id="actions_delete",
        responses={
            204: OpenApiResponse(description="Deleted (and audited as action_deleted)."),
            400: OpenApiResponse(
                FieldErrorsOutput, description="status: a closed action is kept as the team's history."
            ),
            401: _ERROR_401,
            403: _ERROR_403,
            404: _ERROR_404_ACTION,
        },
    )
    def delete(self, request: Request, action_id: uuid.UUID) -> Response:
        viewer = viewer_for(request.user)
        action = _action_or_404(viewer, action_id)
        _require_change(viewer, action, _team_paths())
        try:
            _service_call(lambda: action_delete(actor=viewer.person, action=action))
        except FieldErrors as errors:
            return errors.response()
        return Response(status=status.HTTP_204_NO_CONTENT)


class ActionCloseView(APIView):
    """Closes an open action with its outcome. Closing a closed one changes nothing and answers
    it as it is (so a retried request is harmless)."""

    @extend_schema(
        operation_id="actions_close",
        request=ActionCloseInput,
        responses={
            200: OpenApiResponse(ActionOutput, description="Closed (audited as action_closed), or closed already."),
            400: _ERRORS_400,
            401: _ERROR_401,
            403: _ERROR_403,
            404: _ERROR_404_ACTION,
        },
    )
    def post(self, request: Request, action_id: uuid.UUID) -> Response:
        viewer = viewer_for(request.user)
        action = _action_or_404(viewer, action_id)
        manageable = _require_change(viewer, action, _team_paths())
        try:
            checked = ActionCloseInput(data=request_fields(request, ("outcome",), FIXED_FIELDS))
            if not checked.is_valid():
                raise FieldErrors(field_messages(checked.errors))
            outcome = checked.validated_data.get("outcome", "")
            closed = _service_call(lambda: action_close(actor=viewer.person, action=action, outcome=outcome))
        except FieldErrors as errors:
            return errors.response()
        return _one(closed, viewer=viewer, manageable=manageable)
