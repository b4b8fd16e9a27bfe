"""The cycles API for HR (mounted at /api/v1/programme/cycles/): the calendar, and open, remind
and close, through the same services as HR's cycles page (surveys.services.cycle_actions), so
both check, refuse, audit and say the same.

- ``GET``: every cycle, oldest first, with its label, status, dates and k; a closed cycle's
  aggregation state (analytics.published.jobs); the open cycle's live participation, as the job
  decided it for the whole tree (analytics.published.participation: a percentage only where R4
  and R5 allow, otherwise the one public reason; ANONYMITY R6, R8).
- ``POST open/``, ``remind/``, ``close/``: no body. Idempotent: a repeat changes nothing and says
  so, with 409 where the page refuses (a reminder already sent today, a cycle still open, none
  open to close), and the JSON ``{"detail": "cycle: <why, and what to do>"}``.

HR only: anyone else signed in gets the API's 404 (the endpoint's existence is not confirmed), an
anonymous request 401. Every audit names the HR person, never a respondent count (decision 47).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.api.errors import NOT_AN_ENDPOINT
from analytics.api.params import BadParameter, query_read
from analytics.api.serializers import LEVELS, ErrorOutput
from analytics.published import (
    COUNTING_TEXT,
    HIDDEN_TEXT,
    AggregationState,
    LiveParticipationRecord,
    aggregation_states,
    live_participation,
)
from analytics.reports.access import viewer_for
from config.api_parsers import body_read
from surveys.models import Cycle
from surveys.services.cycle_actions import hr_cycle_close, hr_cycle_open, hr_reminders_send, open_target
from surveys.services.cycles import CycleError

AGGREGATION_STATES = ("queued", "running", "done", "failed", "refused", "withheld")
AGGREGATION_STAGES = ("reading", "computing", "checking", "flags", "comments")


class IsHR(BasePermission):
    """HR only. Anyone else signed in is told the endpoint is not there (404), as on the pages."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not viewer_for(request.user).is_hr:
            raise NotFound(NOT_AN_ENDPOINT)
        return True


def _actor(request: Request) -> str:
    person = viewer_for(request.user).person
    if person is None:  # IsHR let the request through, so there is one; answered as IsHR would
        raise NotFound(NOT_AN_ENDPOINT)
    return str(person.email)


def _no_body(request: Request) -> None:
    """The actions take no input: a field sent anyway is refused rather than ignored, so a
    client never believes it chose something (a month, a date) that was not applied."""
    query_read(request, ())
    data = body_read(request)
    if not isinstance(data, Mapping):  # a JSON list, string, number or null is a body too
        raise BadParameter("body", "this endpoint takes no body: POST it empty.")
    sent = sorted(str(key) for key in data)
    if sent:
        raise BadParameter(", ".join(sent[:5]), "unknown field; this endpoint takes no body: POST it empty.")


def _refused(error: CycleError) -> Response:
    return Response({"detail": f"cycle: {error}"}, status=status.HTTP_409_CONFLICT)


# --- output -------------------------------------------------------------------------------------


class AggregationStateOutput(serializers.Serializer[AggregationState]):
    state = serializers.ChoiceField(
        choices=AGGREGATION_STATES,
        help_text=(
            "refused: stopped by the disclosure checker; nothing was published and it is not retried. "
            "withheld: the raw answers were purged and k raised since; the results stay withheld for good."
        ),
    )
    stage = serializers.ChoiceField(choices=AGGREGATION_STAGES, allow_null=True, help_text="While running.")
    error = serializers.CharField(allow_null=True, help_text="When failed: the error's class name (never a value).")
    since = serializers.DateTimeField(allow_null=True, help_text="When the state was entered.")
    retryable = serializers.BooleanField(help_text="Failed: HR may retry it on the cycles page.")
    text = serializers.CharField(help_text="The sentence the cycles page shows.")


class LiveUnitOutput(serializers.Serializer[Any]):
    unit_id = serializers.UUIDField()
    parent_id = serializers.UUIDField(allow_null=True)
    path = serializers.CharField()
    level = serializers.ChoiceField(choices=LEVELS)
    depth = serializers.IntegerField(help_text="0 for the organisation.")
    invited = serializers.IntegerField(
        help_text="People invited on the unit and below it this cycle, leavers included."
    )
    response_rate = serializers.IntegerField(
        source="percent", allow_null=True, help_text="Percent answered so far; null where hidden."
    )
    reason = serializers.SerializerMethodField(help_text=f'"" or "{HIDDEN_TEXT}".')

    def get_reason(self, unit: Any) -> str:
        return "" if unit.percent is not None else HIDDEN_TEXT


class LiveParticipationOutput(serializers.Serializer[LiveParticipationRecord]):
    computed_at = serializers.DateTimeField(help_text="When the job counted it (every ten minutes).")
    k = serializers.IntegerField(help_text="The threshold the figures were decided with.")
    counting = serializers.SerializerMethodField(help_text="How the live figures count people, and why.")
    units = LiveUnitOutput(many=True, help_text="Organisation first, then by path.")

    def get_counting(self, record: LiveParticipationRecord) -> str:
        return COUNTING_TEXT


class CalendarCycleOutput(serializers.Serializer[Any]):
    cycle = serializers.CharField(help_text="YYYY-MM")
    status = serializers.ChoiceField(choices=Cycle.Status.choices)
    opened_on = serializers.DateField()
    closes_on = serializers.DateField()
    closed_on = serializers.DateField(allow_null=True)
    k = serializers.IntegerField()
    aggregation = AggregationStateOutput(allow_null=True, help_text="Closed cycles only.")
    participation = LiveParticipationOutput(
        allow_null=True, help_text="The open cycle only, once counted; null before the first count."
    )


class CalendarOutput(serializers.Serializer[Any]):
    open_now_opens = serializers.CharField(help_text='The month "open" would open now, YYYY-MM.')
    results = CalendarCycleOutput(many=True, help_text="Every cycle, oldest first.")


class CycleOpenOutput(serializers.Serializer[Any]):
    cycle = serializers.CharField()
    created = serializers.BooleanField(help_text="false: it was open already; only people without a link got one.")
    links_mailed = serializers.IntegerField()
    closes_on = serializers.DateField()
    detail = serializers.CharField()


class RemindersOutput(serializers.Serializer[Any]):
    cycle = serializers.CharField()
    day = serializers.IntegerField(help_text="Days since the cycle opened.")
    detail = serializers.CharField()


class CycleCloseOutput(serializers.Serializer[Any]):
    cycle = serializers.CharField()
    closed_now = serializers.BooleanField(help_text="false: another request closed it first.")
    teams = serializers.IntegerField(help_text="Teams the invitation log was reduced to.")
    detail = serializers.CharField()


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorOutput, description=description)


UNAUTHENTICATED = _error("Not signed in: send `Authorization: Token <token>` (make one at /api/tokens/).")
NOT_HR = _error("Not HR: the endpoint is not there for you.")
BAD_INPUT = _error("A query parameter or body field was sent; these endpoints take none.")


# --- views --------------------------------------------------------------------------------------


class ProgrammeCyclesView(APIView):
    """The cycle calendar."""

    permission_classes = [IsAuthenticated, IsHR]

    @extend_schema(
        operation_id="programme_cycles_list",
        parameters=[],
        responses={200: CalendarOutput, 400: BAD_INPUT, 401: UNAUTHENTICATED, 404: NOT_HR},
    )
    def get(self, request: Request) -> Response:
        query_read(request, ())
        cycles = list(Cycle.objects.order_by("month"))
        states = aggregation_states(cycles=cycles)
        results = []
        for cycle in cycles:
            results.append(
                {
                    "cycle": cycle.label,
                    "status": cycle.status,
                    "opened_on": cycle.opened_on,
                    "closes_on": cycle.closes_on,
                    "closed_on": cycle.closed_on,
                    "k": cycle.k,
                    "aggregation": states.get(cycle.pk),
                    "participation": live_participation(cycle=cycle) if cycle.is_open else None,
                }
            )
        target, _ = open_target(timezone.localdate())
        return Response(CalendarOutput({"open_now_opens": f"{target:%Y-%m}", "results": results}).data)


class ProgrammeCycleOpenView(APIView):
    """Open a cycle now (this month's, or next month's if this month already has one) and e-mail
    everyone on the roster their link."""

    permission_classes = [IsAuthenticated, IsHR]

    @extend_schema(
        operation_id="programme_cycles_open",
        request=None,
        responses={
            201: OpenApiResponse(CycleOpenOutput, description="Opened; everyone was e-mailed their link."),
            200: OpenApiResponse(CycleOpenOutput, description="It was open already; people without a link got one."),
            400: BAD_INPUT,
            401: UNAUTHENTICATED,
            404: NOT_HR,
            409: _error("Refused, nothing done: another cycle is still open, or that month is closed."),
        },
    )
    def post(self, request: Request) -> Response:
        _no_body(request)
        try:
            outcome = hr_cycle_open(actor=_actor(request), today=timezone.localdate())
        except CycleError as error:
            return _refused(error)
        label = outcome.cycle.label
        if outcome.created:
            detail = f"The {label} cycle is open ({outcome.reason}) until {outcome.cycle.closes_on:%Y-%m-%d}."
        else:
            detail = f"The {label} cycle was already open; people without a link were e-mailed one."
        body = {
            "cycle": label,
            "created": outcome.created,
            "links_mailed": outcome.links_mailed,
            "closes_on": outcome.cycle.closes_on,
            "detail": detail,
        }
        code = status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK
        return Response(CycleOpenOutput(body).data, status=code)


class ProgrammeCycleRemindView(APIView):
    """E-mail a fresh link to everyone in the open cycle who has not answered (their earlier link
    stops working); at most once a day."""

    permission_classes = [IsAuthenticated, IsHR]

    @extend_schema(
        operation_id="programme_cycles_remind",
        request=None,
        responses={
            200: RemindersOutput,
            400: BAD_INPUT,
            401: UNAUTHENTICATED,
            404: NOT_HR,
            409: _error("Refused, nothing sent: no cycle is open, it opened today, or today's reminder went out."),
        },
    )
    def post(self, request: Request) -> Response:
        _no_body(request)
        today = timezone.localdate()
        try:
            cycle = hr_reminders_send(actor=_actor(request), today=today)
        except CycleError as error:
            return _refused(error)
        body = {
            "cycle": cycle.label,
            "day": (today - cycle.opened_on).days,
            "detail": f"Reminders for the {cycle.label} cycle went out to everyone who has not answered yet.",
        }
        return Response(RemindersOutput(body).data)


class ProgrammeCycleCloseView(APIView):
    """Close the open cycle now: nobody can answer after this; its results are computed next."""

    permission_classes = [IsAuthenticated, IsHR]

    @extend_schema(
        operation_id="programme_cycles_close",
        request=None,
        responses={
            200: CycleCloseOutput,
            400: BAD_INPUT,
            401: UNAUTHENTICATED,
            404: NOT_HR,
            409: _error("Refused, nothing done: no cycle is open (a repeat of a close finds none)."),
        },
    )
    def post(self, request: Request) -> Response:
        _no_body(request)
        try:
            outcome = hr_cycle_close(actor=_actor(request), today=timezone.localdate())
        except CycleError as error:
            return _refused(error)
        label = outcome.cycle.label
        if outcome.closed_now:
            detail = f"The {label} cycle is closed; its results are being computed."
        else:
            detail = f"The {label} cycle was already closed: nothing changed."
        body = {"cycle": label, "closed_now": outcome.closed_now, "teams": outcome.teams, "detail": detail}
        return Response(CycleCloseOutput(body).data)
