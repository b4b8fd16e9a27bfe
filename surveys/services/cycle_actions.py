"""HR's cycle actions, one service each for the cycles page and the API (ANONYMITY R8, R10).

- :func:`hr_cycle_open`: open a cycle now (this month's, or next month's if this month already
  has one) and e-mail everyone their link, through :func:`surveys.services.cycles.cycle_open`.
- :func:`hr_reminders_send`: e-mail a fresh link to everyone who has not answered, at most once a
  day (a reminder voids the earlier link, and the opening day already had its invitation).
- :func:`hr_cycle_close`: close the open cycle now through :func:`surveys.closing.cycle_close`
  (aggregation is queued on commit by the cycle_closed signal).
- :func:`hr_closing_date_set`: move the open cycle's closing date (after today and the opening
  date).

Each is idempotent (a repeat changes nothing and says so) and audited with the HR person as
actor, under the same action names whichever door it came through. No audit detail names a
person or holds anything answered, nor a respondent count (decision 47: while a cycle is open,
invited minus reminded is the exact number who answered). A refusal is a CycleError whose
message says why and what to do; nothing is done then.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction

from surveys.closing import cycle_close
from surveys.models import AuditEvent, Cycle
from surveys.services.cycles import CycleError, cycle_open, month_start, open_cycle_get, reminders_send

DATE_HINT = "as YYYY-MM-DD, e.g. 2026-05-20"
NONE_OPEN_TO_REMIND = "No cycle is open, so there is nobody to remind; open one first."
NONE_OPEN_TO_CLOSE = "No cycle is open: nothing was closed."
NONE_OPEN_TO_MOVE = "No cycle is open, so there is no closing date to change."


@dataclass(frozen=True)
class CycleOpenOutcome:
    cycle: Cycle
    created: bool  # False: it was open already, and only people without a link were mailed one
    links_mailed: int
    reason: str  # which month was opened and why ("this month's, 2026-05")


@dataclass(frozen=True)
class CycleCloseOutcome:
    cycle: Cycle
    closed_now: bool  # False: another request closed it first
    teams: int  # teams the invitation log was reduced to


@dataclass(frozen=True)
class ClosingDateOutcome:
    cycle: Cycle
    changed: bool  # False: it already closed on that day
    before: dt.date
    after: dt.date


def _audit(actor: str, action: str, **detail: object) -> None:
    AuditEvent.objects.create(actor=actor, action=action, detail=detail)


def _next_month(month: dt.date) -> dt.date:
    return (month_start(month) + dt.timedelta(days=32)).replace(day=1)


def open_target(today: dt.date) -> tuple[dt.date, str]:
    """The month "open now" opens: this month, unless it already has a cycle (then the next)."""
    current = month_start(today)
    if not Cycle.objects.filter(month=current).exists():
        return current, f"this month's, {current:%Y-%m}"
    following = _next_month(current)
    return following, f"{following:%Y-%m}, because {current:%Y-%m} already has a cycle"


def reminder_refusal(cycle: Cycle, today: dt.date) -> str | None:
    """Why no reminder may go out today (None: one may): at most one mail a day, and the opening
    day's mail was the invitation itself."""
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


# The longest a monthly pulse may stay open: a later date is most likely a typo (2206 for 2026),
# and an open cycle keeps the next month's from opening. PULSE_CYCLE_OPEN_DAYS is held to it too.
MAX_OPEN_DAYS = 60


def closing_date_problem(*, cycle: Cycle, closes_on: dt.date, today: dt.date) -> str | None:
    """What is wrong with ``closes_on`` as the cycle's new closing date (None: nothing)."""
    if closes_on <= today:
        return f"The closing date must be after today ({today:%Y-%m-%d}); enter a later date, {DATE_HINT}."
    if closes_on <= cycle.opened_on:
        return f"The closing date must be after the opening date ({cycle.opened_on:%Y-%m-%d}); enter a later date."
    latest = cycle.opened_on + dt.timedelta(days=MAX_OPEN_DAYS)
    if closes_on > latest:
        return (
            f"The closing date may be at most {MAX_OPEN_DAYS} days after the opening date "
            f"({cycle.opened_on:%Y-%m-%d}), so {latest:%Y-%m-%d} at the latest; enter an earlier date "
            f"(a pulse left open longer keeps the next month's from opening)."
        )
    return None


def hr_cycle_open(*, actor: str, today: dt.date) -> CycleOpenOutcome:
    """Open :func:`open_target`'s month now and mail everyone their link; audited
    "cycle_opened_by_hr". Raises CycleError (e.g. another cycle is still open, or that month is
    closed) and does nothing."""
    target, reason = open_target(today)
    result = cycle_open(month=target, today=today, send_mail=True)
    _audit(
        actor, "cycle_opened_by_hr", cycle=result.cycle.label, created=result.created, links_mailed=len(result.links)
    )
    return CycleOpenOutcome(cycle=result.cycle, created=result.created, links_mailed=len(result.links), reason=reason)


def hr_reminders_send(*, actor: str, today: dt.date) -> Cycle:
    """Mail a fresh link to everyone in the open cycle who has not answered; audited
    "reminders_sent_by_hr" with the cycle and the day, no count. Raises CycleError when no cycle
    is open or a mail already went out today."""
    with transaction.atomic():
        # Claim today's reminder under the row lock, so two presses at once send one reminder.
        cycle = Cycle.objects.select_for_update().filter(status=Cycle.Status.OPEN).first()
        if cycle is None:
            raise CycleError(NONE_OPEN_TO_REMIND)
        refusal = reminder_refusal(cycle, today)
        if refusal is not None:
            raise CycleError(refusal)
        day = (today - cycle.opened_on).days
        cycle.reminder_days_sent = sorted({*cycle.reminder_days_sent, day})
        cycle.save(update_fields=["reminder_days_sent"])
    # force: today's day is already claimed above, and may not be one of the scheduled days.
    try:
        reminders_send(today=today, force=True)
    except Exception:
        # The mail server refused: give the day back, so HR can try again today rather than
        # tomorrow (people whose mail did go out may then get a second one; better than none).
        with transaction.atomic():
            locked = Cycle.objects.select_for_update().get(pk=cycle.pk)
            locked.reminder_days_sent = [sent for sent in locked.reminder_days_sent if sent != day]
            locked.save(update_fields=["reminder_days_sent"])
        raise
    # No count: while the cycle is open the number reminded would give the exact number who
    # answered, which is shown only as a rate where it reaches k (R4, R8).
    _audit(actor, "reminders_sent_by_hr", cycle=cycle.label, day=day)
    return cycle


def hr_cycle_close(*, actor: str, today: dt.date) -> CycleCloseOutcome:
    """Close the open cycle now; audited "cycle_closed_by_hr" with the team count when this call
    closed it. Raises CycleError when no cycle is open."""
    cycle = open_cycle_get()
    if cycle is None:
        raise CycleError(NONE_OPEN_TO_CLOSE)
    result = cycle_close(cycle=cycle, today=today)
    if result.closed_now:
        _audit(actor, "cycle_closed_by_hr", cycle=result.cycle.label, teams=result.teams)
    return CycleCloseOutcome(cycle=result.cycle, closed_now=result.closed_now, teams=result.teams)


def hr_closing_date_set(*, actor: str, cycle: Cycle, closes_on: dt.date, today: dt.date) -> ClosingDateOutcome:
    """Move the open ``cycle``'s closing date; audited "cycle_closing_date_changed_by_hr" with the
    old and new dates. Raises CycleError for a date that is not after today and the opening date,
    or a cycle that has closed meanwhile."""
    with transaction.atomic():
        locked = Cycle.objects.select_for_update().get(pk=cycle.pk)
        if not locked.is_open:
            raise CycleError(f"The {locked.label} cycle closed meanwhile; its closing date can no longer change.")
        before = locked.closes_on
        if before == closes_on:  # nothing to change, whatever the rules say of that date now
            return ClosingDateOutcome(cycle=locked, changed=False, before=before, after=closes_on)
        problem = closing_date_problem(cycle=locked, closes_on=closes_on, today=today)
        if problem is not None:
            raise CycleError(problem)
        locked.closes_on = closes_on
        locked.save(update_fields=["closes_on"])
        _audit(
            actor,
            "cycle_closing_date_changed_by_hr",
            cycle=locked.label,
            **{"from": f"{before:%Y-%m-%d}", "to": f"{closes_on:%Y-%m-%d}"},
        )
    return ClosingDateOutcome(cycle=locked, changed=True, before=before, after=closes_on)
