"""HR's cycles page (ANONYMITY R8, R10): the cycle calendar, the open cycle's live participation,
each closed cycle's aggregation, and the actions on them.

- ``cycles``: past cycles with their status, closing date, k and the state of their aggregation
  (queued, running with its stage, done, failed with a retry, or stopped by the disclosure
  checker); the open one with its live participation per unit (read through analytics.published:
  percentages only where R4 and R5 allow, decided for the whole tree by the job); the next one
  the schedule (Celery beat's "open-monthly-cycle") will open.
- ``cycle_open``, ``cycle_remind``, ``cycle_close``, ``cycle_closing_date``: the actions of
  surveys.services.cycle_actions (the cycles API calls the same services).
- ``cycle_aggregation_retry``: queue a failed aggregation again (analytics.job.tasks).

Each action is a POST whose confirm box must be ticked (else the page again, 400, nothing done),
is idempotent (a repeat changes nothing and says so) and is audited with the HR person as actor.
No detail names a person or holds anything answered, nor a respondent count (R4, R8).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms as django_forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from analytics.job.tasks import AggregationRetryRefused, aggregation_retry
from analytics.published import COUNTING_TEXT, REFUSED_TEXT, aggregation_states, live_participation
from surveys.models import Cycle
from surveys.programme.access import hr_required
from surveys.programme.cycles_forms import (
    AggregationRetryForm,
    ClosingDateForm,
    CycleCloseForm,
    CycleOpenForm,
    CycleRemindForm,
)
from surveys.services.cycle_actions import (
    hr_closing_date_set,
    hr_cycle_close,
    hr_cycle_open,
    hr_reminders_send,
    open_target,
    reminder_refusal,
)
from surveys.services.cycles import CycleError, month_start, open_cycle_get, parse_month

TEMPLATE = "surveys/programme/cycles.html"
BEAT_ENTRY = "open-monthly-cycle"
PARTICIPATION_BEAT_ENTRY = "count-live-participation"
PAST_CYCLES_SHOWN = 36


def _actor(request: HttpRequest) -> str:
    return str(request.hr_person.email)  # type: ignore[attr-defined]


def beat_next() -> dict[str, Any]:
    """When the schedule next opens a cycle: its cron text, and its next firing where celery can
    say (None otherwise)."""
    entry = settings.CELERY_BEAT_SCHEDULE.get(BEAT_ENTRY, {})
    schedule = entry.get("schedule")
    cron = ""
    fires: dt.datetime | None = None
    if schedule is not None:
        parts = ("_orig_minute", "_orig_hour", "_orig_day_of_month", "_orig_month_of_year", "_orig_day_of_week")
        cron = " ".join(str(getattr(schedule, part, "?")) for part in parts)
        try:
            now = schedule.now()
            estimate = now + schedule.remaining_estimate(now) + dt.timedelta(seconds=1)
            fires = timezone.localtime(estimate.replace(second=0, microsecond=0))
        except Exception:  # noqa: BLE001 - only a nicety: the cron text is shown instead
            fires = None
    month = month_start(fires.date()) if fires is not None else None
    return {"cron": cron, "fires": fires, "month": month, "scheduled": schedule is not None}


def _page(request: HttpRequest, *, status: int = 200, errors_title: str = "", **bound: Any) -> HttpResponse:
    today = timezone.localdate()
    open_cycle = open_cycle_get()
    target, target_reason = open_target(today)
    closing_form = bound.get("closing_form")
    if closing_form is None and open_cycle is not None:
        closing_form = ClosingDateForm(cycle=open_cycle, today=today, initial={"closes_on": open_cycle.closes_on})
    forms = {
        "open_form": bound.get("open_form") or CycleOpenForm(),
        "remind_form": bound.get("remind_form") or CycleRemindForm(),
        "close_form": bound.get("close_form") or CycleCloseForm(),
        "closing_form": closing_form,
    }
    error_form = next((form for form in bound.values() if isinstance(form, django_forms.Form) and form.errors), None)
    past_cycles = list(Cycle.objects.exclude(status=Cycle.Status.OPEN).order_by("-month")[:PAST_CYCLES_SHOWN])
    states = aggregation_states(cycles=past_cycles)
    bound_retry: AggregationRetryForm | None = bound.get("retry_form")
    past = [(cycle, states.get(cycle.pk)) for cycle in past_cycles]
    retries = [
        bound_retry
        if bound_retry is not None and bound_retry.cycle.pk == cycle.pk
        else AggregationRetryForm(cycle=cycle)
        for cycle, state in past
        if state is not None and state.retryable
    ]
    context = {
        **forms,
        "today": today,
        "open_days": settings.PULSE_CYCLE_OPEN_DAYS,
        "open_cycle": open_cycle,
        "participation": live_participation(cycle=open_cycle) if open_cycle is not None else None,
        "participation_scheduled": PARTICIPATION_BEAT_ENTRY in settings.CELERY_BEAT_SCHEDULE,
        "counting_text": COUNTING_TEXT,
        "past_cycles": [{"cycle": cycle, "aggregation": state} for cycle, state in past],
        "retry_forms": retries,
        "open_target": target,
        "open_target_reason": target_reason,
        "beat": beat_next(),
        "reminded_today": open_cycle is not None and reminder_refusal(open_cycle, today) is not None,
        "error_form": error_form,
        "errors_title": errors_title,
        "problem": bound.get("problem", ""),
    }
    return render(request, TEMPLATE, context, status=status)


@hr_required
@require_safe
def cycles_page(request: HttpRequest) -> HttpResponse:
    return _page(request)


@hr_required
@require_POST
def cycle_open_view(request: HttpRequest) -> HttpResponse:
    form = CycleOpenForm(request.POST)
    if not form.is_valid():
        return _page(request, status=400, errors_title="No cycle was opened", open_form=form)
    try:
        outcome = hr_cycle_open(actor=_actor(request), today=timezone.localdate())
    except CycleError as error:
        # E.g. a cycle is still open, or that month is closed: nothing was done.
        return _page(request, status=409, errors_title="No cycle was opened", problem=str(error))
    label = outcome.cycle.label
    if outcome.created:
        messages.success(
            request,
            f"The {label} cycle is open ({outcome.reason}) until {outcome.cycle.closes_on:%Y-%m-%d}; "
            f"{outcome.links_mailed} people were e-mailed their link.",
        )
    else:
        messages.info(
            request,
            f"The {label} cycle was already open; {outcome.links_mailed} people without a link were e-mailed one.",
        )
    return redirect("programme:cycles")


@hr_required
@require_POST
def cycle_remind_view(request: HttpRequest) -> HttpResponse:
    form = CycleRemindForm(request.POST)
    if not form.is_valid():
        return _page(request, status=400, errors_title="No reminder was sent", remind_form=form)
    try:
        cycle = hr_reminders_send(actor=_actor(request), today=timezone.localdate())
    except CycleError as error:
        return _page(request, status=409, errors_title="No reminder was sent", problem=str(error))
    messages.success(
        request,
        f"Reminders for the {cycle.label} cycle went out to everyone who has not answered yet; "
        "their earlier links no longer work.",
    )
    return redirect("programme:cycles")


@hr_required
@require_POST
def cycle_close_view(request: HttpRequest) -> HttpResponse:
    form = CycleCloseForm(request.POST)
    if not form.is_valid():
        return _page(request, status=400, errors_title="No cycle was closed", close_form=form)
    try:
        outcome = hr_cycle_close(actor=_actor(request), today=timezone.localdate())
    except CycleError as error:  # none open: a repeat of a close that already happened
        messages.info(request, str(error))
        return redirect("programme:cycles")
    if not outcome.closed_now:
        messages.info(request, f"The {outcome.cycle.label} cycle was already closed: nothing changed.")
        return redirect("programme:cycles")
    messages.success(
        request,
        f"The {outcome.cycle.label} cycle is closed. Its results are being computed and appear in the reports "
        "once that is done.",
    )
    return redirect("programme:cycles")


@hr_required
@require_POST
def cycle_closing_date_view(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    cycle = open_cycle_get()
    if cycle is None:
        return _page(
            request,
            status=409,
            errors_title="The closing date was not changed",
            problem="No cycle is open, so there is no closing date to change.",
        )
    form = ClosingDateForm(request.POST, cycle=cycle, today=today)
    if not form.is_valid():
        return _page(request, status=400, errors_title="The closing date was not changed", closing_form=form)
    new = form.cleaned_data["closes_on"]
    try:
        outcome = hr_closing_date_set(actor=_actor(request), cycle=cycle, closes_on=new, today=today)
    except CycleError as error:  # it closed meanwhile
        return _page(request, status=409, errors_title="The closing date was not changed", problem=str(error))
    label = outcome.cycle.label
    if not outcome.changed:
        messages.info(request, f"The {label} cycle already closes on {new:%Y-%m-%d}: nothing changed.")
    else:
        messages.success(request, f"The {label} cycle now closes on {new:%Y-%m-%d} (it was {outcome.before:%Y-%m-%d}).")
    return redirect("programme:cycles")


def _closed_cycle_or_404(month: str) -> Cycle:
    try:
        first_day = parse_month(month)
    except CycleError:
        raise Http404("no such cycle") from None
    cycle = Cycle.objects.filter(month=first_day, status=Cycle.Status.CLOSED).first()
    if cycle is None:
        raise Http404("no such cycle")
    return cycle


@hr_required
@require_POST
def cycle_aggregation_retry_view(request: HttpRequest, month: str) -> HttpResponse:
    cycle = _closed_cycle_or_404(month)
    state = aggregation_states(cycles=[cycle])[cycle.pk]
    title = "Nothing was retried"
    if state.refused:
        return _page(request, status=409, errors_title=title, problem=f"The {cycle.label} aggregation: {REFUSED_TEXT}")
    if not state.retryable:
        # A repeat of a retry (now queued), or a run that is going or done: nothing to confirm.
        messages.info(request, f"The {cycle.label} aggregation is {state.state}, not failed: nothing was retried.")
        return redirect("programme:cycles")
    form = AggregationRetryForm(request.POST, cycle=cycle)
    if not form.is_valid():
        return _page(request, status=400, errors_title=title, retry_form=form)
    try:
        outcome = aggregation_retry(cycle=cycle, actor=_actor(request))
    except AggregationRetryRefused as error:  # the checker stopped it while this page was open
        return _page(request, status=409, errors_title=title, problem=str(error))
    if not outcome.retried:
        messages.info(request, f"The {cycle.label} aggregation is {outcome.state}, not failed: nothing was retried.")
    else:
        messages.success(
            request, f"The {cycle.label} aggregation is queued again; this page shows where it has got to."
        )
    return redirect("programme:cycles")
