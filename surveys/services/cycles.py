"""Opening cycles, issuing one-time links, reminders and "resend my link" (identity side only)."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from celery import current_app
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from surveys.emails import SurveyMail, survey_mails_send
from surveys.models import Cycle, InstrumentVersion, Invitation, Organisation, Person
from surveys.models.cycles import token_digest

# The analytics app counts the open cycle's live participation (every ten minutes, and once right
# after a cycle opens). Named, not imported, as the beat schedule names tasks: the survey core
# does not import analytics (surveys/signals.py).
PARTICIPATION_COUNT_TASK = "analytics.job.tasks.participation_count_task"

# Mails go out in batches; each batch's new tokens are committed only if its mails were
# accepted, so a mail-server failure never leaves someone with a link that does not work.
MAIL_BATCH_SIZE = 100


class CycleError(Exception):
    """A cycle operation that cannot be done as asked; the message says why and what to do."""


@dataclass(frozen=True)
class IssuedLink:
    invitation_id: int
    person_email: str
    token: str


@dataclass
class CycleOpenResult:
    cycle: Cycle
    created: bool
    links: list[IssuedLink] = field(default_factory=list)


def survey_token_new() -> str:
    """256 bits from the OS's CSPRNG, URL-safe (ANONYMITY R2 asks for at least 128)."""
    return secrets.token_urlsafe(32)


def month_start(value: dt.date) -> dt.date:
    return value.replace(day=1)


def parse_month(text: str) -> dt.date:
    try:
        return dt.datetime.strptime(text, "%Y-%m").date()  # noqa: DTZ007 - a calendar month, no time
    except ValueError as error:
        raise CycleError(f"--month must look like 2026-11 (year-month), got {text!r}.") from error


def open_cycle_get() -> Cycle | None:
    return Cycle.objects.filter(status=Cycle.Status.OPEN).first()


def cycle_open(
    *,
    month: dt.date | None = None,
    today: dt.date | None = None,
    send_mail: bool = True,
) -> CycleOpenResult:
    """Opens the month's cycle (idempotent) and invites everyone active who has no link yet.

    Freezes the instrument version, k, comment threshold and Pilot cut-off (ANONYMITY R3).
    Running it again on an open cycle invites joiners and re-mails links whose mail failed.
    """
    today = today or timezone.localdate()
    month = month_start(month or today)
    with transaction.atomic():
        existing = Cycle.objects.select_for_update().filter(month=month).first()
        if existing is not None and not existing.is_open:
            raise CycleError(f"The {existing.label} cycle is already closed; it cannot be reopened.")
        other_open = Cycle.objects.filter(status=Cycle.Status.OPEN).exclude(month=month).first()
        if other_open is not None:
            raise CycleError(
                f"The {other_open.label} cycle is still open; close it first (python manage.py close_cycle)."
            )
        created = existing is None
        if existing is None:
            organisation = Organisation.current()
            try:
                with transaction.atomic():
                    cycle = Cycle.objects.create(
                        month=month,
                        instrument_version=InstrumentVersion.latest(),
                        k=organisation.anonymity_threshold,
                        comment_threshold=organisation.comment_threshold,
                        pilot_cutoff=organisation.pilot_cutoff,
                        opened_on=today,
                        closes_on=today + dt.timedelta(days=settings.PULSE_CYCLE_OPEN_DAYS),
                    )
            except IntegrityError as error:  # a concurrent run opened it first
                raise CycleError(f"The {month:%Y-%m} cycle was opened by another run just now.") from error
            # robust: the cycle is open either way; a broker that is down only delays the first
            # count to the next scheduled one.
            transaction.on_commit(_participation_count_queue, robust=True)
        else:
            cycle = existing
        invitations_create_missing(cycle=cycle)
    unmailed = Invitation.objects.filter(cycle=cycle, status=Invitation.Status.PENDING, mailed=False)
    links = links_issue(cycle=cycle, invitations=unmailed, kind="invitation", send_mail=send_mail)
    return CycleOpenResult(cycle=cycle, created=created, links=links)


def _participation_count_queue() -> None:
    current_app.tasks[PARTICIPATION_COUNT_TASK].delay()


def invitations_create_missing(*, cycle: Cycle) -> int:
    """One invitation per active person without one; the link itself is issued when mailed."""
    invited = Invitation.objects.filter(cycle=cycle).values("person_id")
    newcomers = Person.objects.filter(is_active=True).exclude(pk__in=invited)
    rows = [
        # Until its mail goes out the invitation holds the hash of a token nobody was given.
        Invitation(
            cycle=cycle,
            person=person,
            team_id=person.team_id,
            counted_team_id=person.team_id,
            token_hash=token_digest(survey_token_new()),
        )
        for person in newcomers
    ]
    Invitation.objects.bulk_create(rows)
    return len(rows)


def links_issue(
    *, cycle: Cycle, invitations: QuerySet[Invitation], kind: str, send_mail: bool = True
) -> list[IssuedLink]:
    """Gives each invitation a fresh token (voiding its old link) and mails it.

    With send_mail=False the caller receives the tokens and is responsible for delivering them
    (the demo prints them), so the invitation still counts as mailed.

    Each batch is one transaction that includes handing the mails to the backend: if sending
    fails, that batch keeps its old tokens, and the error propagates so the caller can retry.
    """
    pending = list(invitations.select_related("person"))
    issued: list[IssuedLink] = []
    for start in range(0, len(pending), MAIL_BATCH_SIZE):
        batch = pending[start : start + MAIL_BATCH_SIZE]
        with transaction.atomic():
            tokens = {invitation.pk: survey_token_new() for invitation in batch}
            for invitation in batch:
                invitation.token_hash = token_digest(tokens[invitation.pk])
                invitation.mailed = True
            Invitation.objects.bulk_update(batch, ["token_hash", "mailed"])
            if send_mail:
                survey_mails_send(
                    cycle=cycle,
                    mails=[SurveyMail(person=inv.person, token=tokens[inv.pk], kind=kind) for inv in batch],
                )
        issued.extend(IssuedLink(inv.pk, inv.person.email, tokens[inv.pk]) for inv in batch)
    return issued


def reminders_send(*, today: dt.date | None = None, force: bool = False) -> int:
    """Mails a fresh link to everyone in the open cycle who has not answered, on the configured
    days after opening (default 3 and 5). Idempotent per day: a second run the same day sends
    nothing. Returns how many reminders went out."""
    today = today or timezone.localdate()
    with transaction.atomic():
        cycle = Cycle.objects.select_for_update().filter(status=Cycle.Status.OPEN).first()
        if cycle is None:
            return 0
        day = (today - cycle.opened_on).days
        due = day in settings.PULSE_REMINDER_DAYS and day not in cycle.reminder_days_sent
        if not (due or force):
            return 0
        cycle.reminder_days_sent = sorted({*cycle.reminder_days_sent, day})
        cycle.save(update_fields=["reminder_days_sent"])
    waiting = Invitation.objects.filter(cycle=cycle, status=Invitation.Status.PENDING, person__is_active=True)
    return len(links_issue(cycle=cycle, invitations=waiting, kind="reminder"))


def link_resend(*, email: str) -> None:
    """ "Resend my link": a fresh link for the open cycle, voiding the old one.

    Says nothing about whether the address is known (the caller shows one message for all), and
    does nothing when there is no open cycle or the person has already answered.
    """
    cycle = open_cycle_get()
    person = Person.objects.filter(email__iexact=email.strip(), is_active=True).first()
    if cycle is None or person is None:
        return
    invitations_create_missing(cycle=cycle)
    invitation = Invitation.objects.filter(cycle=cycle, person=person, status=Invitation.Status.PENDING)
    links_issue(cycle=cycle, invitations=invitation, kind="resend")


def invitations_follow_roster(*, people: Sequence[Person]) -> None:
    """Keeps the open cycle's invitations in step with roster changes: a leaver's link stops
    working, a joiner is invited. A mover's invitation stays with the team it was issued on, and
    so do their answers, for the whole cycle: moving its pending invitations, and not its answered
    ones, would change both teams' counts by whether the mover had answered."""
    cycle = open_cycle_get()
    if cycle is None:
        return
    for person in people:
        if not person.is_active:
            Invitation.objects.filter(cycle=cycle, person=person, status=Invitation.Status.PENDING).update(
                status=Invitation.Status.VOID
            )
    invitations_create_missing(cycle=cycle)
    joiners = Invitation.objects.filter(cycle=cycle, status=Invitation.Status.PENDING, mailed=False)
    links_issue(cycle=cycle, invitations=joiners, kind="invitation")


def cycles_due_for_closing(*, today: dt.date | None = None) -> list[Cycle]:
    today = today or timezone.localdate()
    return list(Cycle.objects.filter(status=Cycle.Status.OPEN, closes_on__lt=today))
