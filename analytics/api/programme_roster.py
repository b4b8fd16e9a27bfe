"""The roster API (HR only; anyone else signed in gets 404, as on the pages): a dry-run preview of a
roster CSV and its all-or-nothing apply, the same import the browser runs (surveys.roster).

The browser keeps the uploaded text between preview and apply in the session; an API client has
none, so it sends the file again with the preview's ``fingerprint`` of the roster. The apply
refuses (409) when the roster has changed since that preview, so applying the same file does
exactly what the preview said. The body is JSON (``csv``: the text) or multipart (``file``);
checks, limits and messages are the upload form's (surveys.services.roster_apply). Every 400
names the field, with each bad line of the file in ``row_errors``; nothing is stored then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ParseError
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.api.errors import NOT_AN_ENDPOINT
from analytics.api.roster_serializers import (
    RosterAppliedOutput,
    RosterApplyInput,
    RosterApplyJSONInput,
    RosterApplyUploadInput,
    RosterErrorsOutput,
    RosterInput,
    RosterPreviewJSONInput,
    RosterPreviewOutput,
    RosterPreviewUploadInput,
)
from analytics.api.serializers import ErrorOutput
from analytics.reports.access import viewer_for
from config.api_parsers import BodyError, StrictJSONParser, body_read
from surveys.models import Person
from surveys.roster import RosterErrors, RosterRow, RosterStale
from surveys.services.cycles import open_cycle_get
from surveys.services.roster_apply import (
    ROSTER_MAX_BYTES,
    ROSTER_MAX_LABEL,
    RosterInputError,
    RosterPreview,
    roster_preview,
    roster_rows_read,
    roster_text_read,
    roster_upload_apply,
)

PREVIEW_PATH = "/api/v1/programme/roster/preview/"
NO_ROSTER = (
    "send the roster CSV: as text in the JSON field csv, or as a multipart upload named file "
    "(header email,name,team,role[,manages])."
)
JSON_EXAMPLE = '{"csv": "email,name,team,role\\n..."}'
BOTH_GIVEN = "send the roster once: csv (JSON text) or file (multipart upload), not both."
STALE = (
    "the roster has changed since this preview (someone imported or edited it meanwhile); nothing was "
    f"changed. Preview the file again (POST {PREVIEW_PATH}) and apply it with the new fingerprint."
)


class IsHR(BasePermission):
    """HR only. Anyone else signed in is told the endpoint is not there (404), as on the pages;
    the HR person is kept on the view, whose e-mail address the audit records."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        viewer = viewer_for(request.user)
        if not viewer.is_hr or viewer.person is None:
            raise NotFound(NOT_AN_ENDPOINT)
        view.hr_person = viewer.person  # type: ignore[attr-defined]
        return True


class _Refusal(Exception):
    """A 400 that names the field, with the file's bad lines when there are any. Answered by the
    view itself: the exception handler would flatten ``row_errors`` into the message."""

    def __init__(self, field: str, message: str, row_errors: list[tuple[int, str]] | None = None) -> None:
        super().__init__(message)
        self.field, self.message, self.row_errors = field, message, row_errors or []

    def response(self) -> Response:
        body = {
            "detail": f"{self.field}: {self.message}",
            "row_errors": [{"line": line, "message": message} for line, message in self.row_errors],
        }
        return Response(body, status=status.HTTP_400_BAD_REQUEST)


@dataclass(frozen=True)
class _Upload:
    rows: list[RosterRow]
    deactivate_missing: bool
    fingerprint: str


def _body(request: Request, allowed: tuple[str, ...]) -> Mapping[str, Any]:
    """The request's fields, refusing a body that is not an object and any field not ``allowed``
    (a misspelt ``deactivate_missing`` would otherwise preview without deactivating)."""
    try:
        data = body_read(request)
    except BodyError as error:
        if error.code == "too_big":  # the body over DATA_UPLOAD_MAX_MEMORY_SIZE: the CSV is most of it
            raise _Refusal("csv", f"larger than {ROSTER_MAX_LABEL}; split the file.") from None
        raise _Refusal(error.field, error.message) from None  # names its field already
    except ParseError as error:
        raise _Refusal("body", f"{error.detail}; send a JSON object such as {JSON_EXAMPLE}.") from None
    if not isinstance(data, Mapping):
        raise _Refusal("body", f"send a JSON object such as {JSON_EXAMPLE}.")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise _Refusal(", ".join(unknown), f"unknown field; this endpoint accepts {', '.join(allowed)}.")
    return data


def _first_error(errors: Mapping[str, Any]) -> tuple[str, str]:
    field, messages = next(iter(errors.items()))
    return str(field), " ".join(str(message) for message in (messages if isinstance(messages, list) else [messages]))


def _upload_read(request: Request, serializer_class: type[RosterInput]) -> _Upload:
    """Checks the body and parses the roster in it; raises _Refusal naming the field."""
    data = _body(request, tuple(serializer_class().fields))
    checked = serializer_class(data=data)
    if not checked.is_valid():
        raise _Refusal(*_first_error(checked.errors))
    values = checked.validated_data
    has_csv, has_file = "csv" in values, "file" in values
    if has_csv and has_file:
        raise _Refusal("csv", BOTH_GIVEN)
    if not (has_csv or has_file):
        raise _Refusal("csv", NO_ROSTER)
    field = "csv" if has_csv else "file"
    try:
        if has_csv:
            text = roster_text_read(raw=values["csv"].encode("utf-8"))
        else:
            upload = values["file"]
            # One byte past the limit is enough to refuse: the upload's size is the client's word.
            text = roster_text_read(raw=upload.read(ROSTER_MAX_BYTES + 1), name=upload.name or "")
        rows = roster_rows_read(text=text)
    except RosterInputError as error:
        raise _Refusal(field, str(error)) from None
    except RosterErrors as errors:
        lines = "; ".join(f"line {line}: {message}" for line, message in errors.errors)
        raise _Refusal(field, f"the file has errors; fix them and send it again: {lines}.", errors.errors) from None
    return _Upload(
        rows=rows, deactivate_missing=bool(values["deactivate_missing"]), fingerprint=values.get("fingerprint", "")
    )


def _actor(view: APIView) -> str:
    person: Person = view.hr_person  # type: ignore[attr-defined]
    return str(person.email)


def _change(change: Any) -> dict[str, str]:
    return {"email": change.email, "name": change.name, "before": change.before, "after": change.after}


def _preview_data(preview: RosterPreview, upload: _Upload) -> dict[str, Any]:
    report = preview.report
    open_cycle = open_cycle_get()
    return {
        "fingerprint": preview.fingerprint,
        "rows": len(upload.rows),
        "deactivate_missing": upload.deactivate_missing,
        "changes": report.people_created
        + report.people_updated
        + report.people_deactivated
        + len(report.teams_created),
        "created": report.people_created,
        "updated": report.people_updated,
        "moved": report.people_moved,
        "deactivated": report.people_deactivated,
        "unchanged": report.people_unchanged,
        **{
            name: [_change(change) for change in getattr(report, name)]
            for name in (
                "joiners",
                "movers",
                "leavers",
                "role_changes",
                "manages_changes",
                "reactivated",
                "renamed",
                "missing_active",
            )
        },
        "teams_created": list(report.teams_created),
        "warnings": list(report.warnings),
        "open_cycle": open_cycle.label if open_cycle is not None else None,
    }


_ERRORS_400 = OpenApiResponse(
    RosterErrorsOutput,
    description="The body or the file is wrong: `detail` names the field (csv, file, deactivate_missing, "
    "fingerprint) and the fix; `row_errors` lists each bad line. Nothing was stored.",
)
_ERROR_401 = OpenApiResponse(ErrorOutput, description="Not signed in: send `Authorization: Token <token>`.")
_ERROR_404 = OpenApiResponse(ErrorOutput, description="Not HR (the roster is HR's; as on the pages, 404).")


class RosterPreviewView(APIView):
    """What importing the roster would do: joiners, movers, leavers, role changes and the R5
    warnings, computed by a dry run (nothing stored, audited or mailed), with the fingerprint to
    apply it by."""

    permission_classes = [IsAuthenticated, IsHR]
    parser_classes = [StrictJSONParser, MultiPartParser]

    @extend_schema(
        operation_id="roster_preview",
        request={"application/json": RosterPreviewJSONInput, "multipart/form-data": RosterPreviewUploadInput},
        responses={
            200: OpenApiResponse(RosterPreviewOutput, description="The dry run; nothing was stored."),
            400: _ERRORS_400,
            401: _ERROR_401,
            404: _ERROR_404,
        },
    )
    def post(self, request: Request) -> Response:
        try:
            upload = _upload_read(request, RosterInput)
        except _Refusal as refusal:
            return refusal.response()
        preview = roster_preview(rows=upload.rows, deactivate_missing=upload.deactivate_missing, actor=_actor(self))
        return Response(RosterPreviewOutput(_preview_data(preview, upload)).data)


class RosterApplyView(APIView):
    """Applies a previewed roster file, all or nothing, audited as the browser's apply is (one
    ``roster_imported`` event and the per-person role events, by your e-mail address); then the
    open cycle's invitations follow (joiners invited, leavers' links stopped)."""

    permission_classes = [IsAuthenticated, IsHR]
    parser_classes = [StrictJSONParser, MultiPartParser]

    @extend_schema(
        operation_id="roster_apply",
        request={"application/json": RosterApplyJSONInput, "multipart/form-data": RosterApplyUploadInput},
        responses={
            200: OpenApiResponse(
                RosterAppliedOutput, description="Applied. mail_error: applied, but the joiners' links were not mailed."
            ),
            400: _ERRORS_400,
            401: _ERROR_401,
            404: _ERROR_404,
            409: OpenApiResponse(
                ErrorOutput,
                description="The roster has changed since the preview (the fingerprint no longer matches); "
                "nothing was changed: preview again.",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        try:
            upload = _upload_read(request, RosterApplyInput)
        except _Refusal as refusal:
            return refusal.response()
        try:
            applied = roster_upload_apply(
                rows=upload.rows,
                deactivate_missing=upload.deactivate_missing,
                fingerprint=upload.fingerprint,
                actor=_actor(self),
            )
        except RosterStale:
            return Response({"detail": f"fingerprint: {STALE}"}, status=status.HTTP_409_CONFLICT)
        return Response(RosterAppliedOutput(applied).data)
