"""The exports API (mounted at /api/v1/exports/): start an export, read its status, download it.

The same rules as the pages: HR only (anyone else signed in gets 404), a job only for the person
who started it (404 for everyone else), a file only while it has not expired (410). Errors are
JSON ``{"detail": "<field>: <the fix>"}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import User
from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.api.fields import TextField
from analytics.exports.models import ExportJob
from analytics.exports.selectors import export_job_of
from analytics.exports.services import (
    ExportInputError,
    ExportUnavailable,
    export_download_name,
    export_job_download,
    export_job_start,
)
from analytics.exports.writers import FORMATS
from analytics.reports.access import viewer_for
from config.api_parsers import body_read

NO_SUCH_EXPORT = "id: no such export of yours; list yours on /exports/ or start one with POST /api/v1/exports/."
NOT_AN_OBJECT = 'body: send a JSON object such as {"format": "csv"} (and "cycle": "YYYY-MM" for one cycle).'
# The file's media type by its extension (analytics.exports.writers.export_extension): said
# exactly, as the schema documents it, rather than guessed from the name.
MEDIA_TYPES = {
    "zip": "application/zip",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
DOWNLOADED = "The file: for CSV and Parquet a ZIP of both tables, for XLSX one workbook."
ERROR = inline_serializer("ExportError", fields={"detail": serializers.CharField()})


class BadInput(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "input: not an export this API can start."


class IsHR(BasePermission):
    """HR only. Anyone else signed in is told the endpoint is not there (404), as on the pages."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not viewer_for(request.user).is_hr:
            raise NotFound("path: no such API endpoint; the endpoints are listed at /api/docs/.")
        return True


_CHOOSE = f"choose one of {', '.join(FORMATS)}."


class ExportStartInput(serializers.Serializer[Any]):
    # Length caps so that a wrong value is quoted back in a sentence, not a megabyte; TextField so
    # that "csv\x85" is refused for its control character, not trimmed into "csv".
    format = TextField(
        max_length=max(len(name) for name in FORMATS),
        help_text=f"One of {', '.join(FORMATS)}.",
        error_messages={"required": _CHOOSE, "blank": _CHOOSE, "null": _CHOOSE, "max_length": _CHOOSE},
    )
    cycle = TextField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=len("YYYY-MM"),
        help_text="YYYY-MM of a published cycle; empty: all.",
        error_messages={"max_length": "write the cycle as YYYY-MM (a published one), or leave it empty for all."},
    )


class ExportJobOutput(serializers.Serializer[ExportJob]):
    id = serializers.IntegerField()
    format = serializers.CharField()
    cycle = serializers.CharField(source="cycle.label", allow_null=True, default=None, help_text="null: all cycles.")
    state = serializers.ChoiceField(choices=ExportJob.State.choices)
    progress = serializers.IntegerField(min_value=0, max_value=100)
    k = serializers.ListField(child=serializers.IntegerField(), source="k_values", help_text="k of the file's cycles.")
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    download_url = serializers.SerializerMethodField()

    def get_download_url(self, job: ExportJob) -> str | None:
        if job.state != ExportJob.State.DONE or job.is_expired():
            return None
        request: Request = self.context["request"]
        # Named within whatever namespace the API mounts this module under.
        namespace = request.resolver_match.namespace if request.resolver_match else ""
        name = f"{namespace}:exports-api-download" if namespace else "exports-api-download"
        return request.build_absolute_uri(reverse(name, args=[job.pk]))


def _user(request: Request) -> User:
    """The signed-in user (IsAuthenticated has checked there is one)."""
    if not isinstance(request.user, User):
        raise NotFound(NO_SUCH_EXPORT)
    return request.user


def _own_job(request: Request, job_id: int) -> ExportJob:
    job = export_job_of(user=_user(request), job_id=job_id)
    if job is None:
        raise NotFound(NO_SUCH_EXPORT)
    return job


class ExportStartApi(APIView):
    permission_classes = [IsAuthenticated, IsHR]

    @extend_schema(
        operation_id="exports_start",
        request=ExportStartInput,
        responses={
            202: OpenApiResponse(ExportJobOutput, description="Started; poll the job's status."),
            400: OpenApiResponse(ERROR, description="A field is wrong; the message names it and the fix."),
            401: OpenApiResponse(ERROR, description="Not signed in (no token or session)."),
            404: OpenApiResponse(ERROR, description="Not HR."),
        },
    )
    def post(self, request: Request) -> Response:
        body = body_read(request)
        if not isinstance(body, Mapping):
            raise BadInput(NOT_AN_OBJECT)
        data = ExportStartInput(data=body)
        data.is_valid(raise_exception=True)
        try:
            job = export_job_start(
                requester=_user(request),
                fmt=data.validated_data["format"],
                cycle_label=data.validated_data.get("cycle") or None,
            )
        except ExportInputError as error:
            raise BadInput(str(error)) from error
        job.refresh_from_db()  # where the task has got to (eager runs have finished it already)
        body = ExportJobOutput(job, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


class ExportStatusApi(APIView):
    permission_classes = [IsAuthenticated, IsHR]

    @extend_schema(
        operation_id="exports_status",
        responses={
            200: OpenApiResponse(ExportJobOutput, description="The job; download_url once it is done."),
            401: OpenApiResponse(ERROR, description="Not signed in."),
            404: OpenApiResponse(ERROR, description="Not HR, or not an export you started."),
        },
    )
    def get(self, request: Request, job_id: int) -> Response:
        return Response(ExportJobOutput(_own_job(request, job_id), context={"request": request}).data)


class ExportDownloadApi(APIView):
    permission_classes = [IsAuthenticated, IsHR]

    @extend_schema(
        operation_id="exports_download",
        responses={
            **{
                (200, media_type): OpenApiResponse(OpenApiTypes.BINARY, description=DOWNLOADED)
                for media_type in MEDIA_TYPES.values()
            },
            401: OpenApiResponse(ERROR, description="Not signed in."),
            404: OpenApiResponse(ERROR, description="Not HR, or not an export you started."),
            409: OpenApiResponse(ERROR, description="Not done yet (or failed); poll the status."),
            410: OpenApiResponse(ERROR, description="Expired; start a new export."),
        },
    )
    def get(self, request: Request, job_id: int) -> FileResponse | Response:
        job = _own_job(request, job_id)
        try:
            handle = export_job_download(job=job, actor=_user(request))
        except ExportUnavailable as error:
            gone = job.is_expired()
            code = status.HTTP_410_GONE if gone else status.HTTP_409_CONFLICT
            return Response({"detail": f"id: {error}"}, status=code)
        name = export_download_name(job)
        media_type = MEDIA_TYPES.get(name.rsplit(".", 1)[-1], "application/octet-stream")
        return FileResponse(handle, as_attachment=True, filename=name, content_type=media_type)
