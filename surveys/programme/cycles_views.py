"""HR's cycles page (ANONYMITY R8, R10): the cycle calendar, and four actions on it.

- ``cycles``: past cycles with their status, closing date and k; the open one; the next one the
  schedule (Celery beat's "open-monthly-cycle") will open.
- ``cycle_open``: open a cycle now (this month's, or next month's if this month already has one)
  and e-mail everyone their link, through surveys.services.cycles.cycle_open.
- ``cycle_remind``: e-mail a fresh link to everyone who has not answered, at most once a day
  (a reminder voids the earlier link, and the opening day already had its invitation).
- ``cycle_close``: close the open cycle now through surveys.closing.cycle_close (aggregation is
  queued on commit by the cycle_closed signal).
- ``cycle_closing_date``: move the open cycle's closing date (after today and the opening date).

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
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from surveys.closing import cycle_close
from surveys.models import AuditEvent, Cycle
from surveys.programme.access import hr_required
from surveys.programme.cycles_forms import (
    ClosingDateForm,
    CycleCloseForm,
    CycleOpenForm,
    CycleRemindForm,
)
from surveys.services.cycles import CycleError, cycle_open, month_start, open_cycle_get, reminders_send

TEMPLATE = "surveys/programme/cycles.html"
BEAT_ENTRY = "open-monthly-cycle"


def _actor(request: HttpRequest) -> str:
    return str(request.hr_person.email)  # type: ignore[attr-defined]


def _audit(request: HttpRequest, action: str, **detail: object) -> None:
    AuditEvent.objects.create(actor=_actor(request), action=action, detail=detail)


def _next_month(month: dt.date) -> dt.date:
    return (month_start(month) + dt.timedelta(days=32)).replace(day=1)


def open_target(today: dt.date) -> tuple[dt.date, str]:
    """The month "open now" opens: this month, unless it already has a cycle (then the next)."""
    current = month_start(today)
    if not Cycle.objects.filter(month=current).exists():
        return current, f"this month's, {current:%Y-%m}"
    following = _next_month(current)
    return following, f"{following:%Y-%m}, because {current:%Y-%m} already has a cycle"


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
    context = {
        **forms,
        "today": today,
        "open_days": settings.PULSE_CYCLE_OPEN_DAYS,
        "open_cycle": open_cycle,
        "past_cycles": list(Cycle.objects.exclude(status=Cycle.Status.OPEN).order_by("-month")[:36]),
        "open_target": target,
        "open_target_reason": target_reason,
        "beat": beat_next(),
        "reminded_today": open_cycle is not None and _reminder_refusal(open_cycle, today) is not None,
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
    today = timezone.localdate()
    target, reason = open_target(today)
    try:
        result = cycle_open(month=target, today=today, send_mail=True)
    except CycleError as error:
        # E.g. a cycle is still open, or that month is closed: nothing was done.
        return _page(request, status=409, errors_title="No cycle was opened", problem=str(error))
    label = result.cycle.label
    _audit(
        request,
        "cycle_opened_by_hr",
        cycle=label,
        created=result.created,
        links_mailed=len(result.links),
    )
    if result.created:
        messages.success(
            request,
            f"The {label} cycle is open ({reason}) until {result.cycle.closes_on:%Y-%m-%d}; "
            f"{len(result.links)} people were e-mailed their link.",
        )
    else:
        messages.info(
            request, f"The {label} cycle was already open; {len(result.links)} people without a link were e-mailed one."
        )
    return redirect("programme:cycles")


def _reminder_refusal(cycle: Cycle, today: dt.date) -> str | None:
    day = (today - cycle.opened_on).days
    if day <= 0:
        return (
            f"The {cycle.label} cycle opened today and everyone was e-mailed their link; "
            "send a reminder tomorrow at the earliest (at most one mail a day)."
        )
    if day in cycle.reminder_days_sent:
        return (
            f"A reminder for the {cycle.label} cycle already went out today; people get at most one a day. "
            "Send the next one tomorrow at the earliest."
        )
    return None


@hr_required
@require_POST
def cycle_remind_view(request: HttpRequest) -> HttpResponse:
    form = CycleRemindForm(request.POST)
    if not form.is_valid():
        return _page(request, status=400, errors_title="No reminder was sent", remind_form=form)
    today = timezone.localdate()
    with transaction.atomic():
        # Claim today's reminder under the row lock, so two presses at once send one reminder.
        cycle = Cycle.objects.select_for_update().filter(status=Cycle.Status.OPEN).first()
        if cycle is None:
            return _page(
                request,
                status=409,
                errors_title="No reminder was sent",
                problem="No cycle is open, so there is nobody to remind; open one first.",
            )
        refusal = _reminder_refusal(cycle, today)
        if refusal is not None:
            return _page(request, status=409, errors_title="No reminder was sent", problem=refusal)
        day = (today - cycle.opened_on).days
        cycle.reminder_days_sent = sorted({*cycle.reminder_days_sent, day})
        cycle.save(update_fields=["reminder_days_sent"])
    # force: today's day is already claimed above, and may not be one of the scheduled days.
    reminders_send(today=today, force=True)
    # No count: while the cycle is open the number reminded would give the exact number who
    # answered, which is shown only as a rate where it reaches k (R4, R8).
    _audit(request, "reminders_sent_by_hr", cycle=cycle.label, day=day)
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
    cycle = open_cycle_get()
    if cycle is None:
        messages.info(request, "No cycle is open: nothing was closed.")
        return redirect("programme:cycles")
    result = cycle_close(cycle=cycle, today=timezone.localdate())
    if not result.closed_now:
        messages.info(request, f"The {cycle.label} cycle was already closed: nothing changed.")
        return redirect("programme:cycles")
    _audit(request, "cycle_closed_by_hr", cycle=result.cycle.label, teams=result.teams)
    messages.success(
        request,
        f"The {result.cycle.label} cycle is closed. Its results are being computed and appear in the reports "
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
    with transaction.atomic():
        locked = Cycle.objects.select_for_update().get(pk=cycle.pk)
        if not locked.is_open:
            return _page(
                request,
                status=409,
                errors_title="The closing date was not changed",
                problem=f"The {locked.label} cycle closed meanwhile; its closing date can no longer change.",
            )
        before = locked.closes_on
        if before == new:
            messages.info(request, f"The {locked.label} cycle already closes on {new:%Y-%m-%d}: nothing changed.")
            return redirect("programme:cycles")
        locked.closes_on = new
        locked.save(update_fields=["closes_on"])
        _audit(
            request,
            "cycle_closing_date_changed_by_hr",
            cycle=locked.label,
            **{"from": f"{before:%Y-%m-%d}", "to": f"{new:%Y-%m-%d}"},
        )
    messages.success(request, f"The {locked.label} cycle now closes on {new:%Y-%m-%d} (it was {before:%Y-%m-%d}).")
    return redirect("programme:cycles")
