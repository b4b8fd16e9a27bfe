"""Releasing a closed cycle's comments after HR's review window (ANONYMITY R7, R10).

A cycle's comments are listed by the aggregation job at close (the review list) but served by
the door only once ``Cycle.comments_released_at`` is set: at close when the organisation gives no
review days (or the window had already ended), on the release date by the daily task, or sooner
when HR releases them. A release cannot be undone, is done once, and is audited with the cycle
only: no count, no text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from surveys.models import AuditEvent, Cycle

COMMENTS_RELEASED = "comments_released"
#: The actor the audit names when the daily task releases comments on their release date.
SCHEDULE_ACTOR = "schedule"
#: The actor the audit names when the close itself releases them (no review window left).
CLOSE_ACTOR = "close"


class CommentsReleaseError(Exception):
    """The comments cannot be released (the cycle is still open); the message says why and what to do."""


@dataclass(frozen=True)
class CommentsRelease:
    cycle: Cycle
    released_now: bool  # False: they were already released, and nothing changed


def comments_release_record(*, cycle: Cycle, actor: str, now: dt.datetime | None = None) -> None:
    """Marks a closed cycle's comments released and audits it. The caller holds the cycle's row
    lock and has checked that they are not released yet; the caller saves nothing else for it."""
    cycle.comments_released_at = now or timezone.now()
    Cycle.objects.filter(pk=cycle.pk).update(comments_released_at=cycle.comments_released_at)
    AuditEvent.objects.create(actor=actor, action=COMMENTS_RELEASED, detail={"cycle": cycle.label})


def comments_release_now(*, cycle: Cycle, actor: str) -> CommentsRelease:
    """Releases the cycle's comments now (HR's button), before their release date. Idempotent:
    comments already released stay as they are and nothing is recorded again.

    Raises CommentsReleaseError for an open cycle (R7: comments only after close) and saves nothing.
    """
    if not actor.strip():
        raise ValueError("releasing comments needs an actor (a user's e-mail or the schedule) for the audit (R10).")
    with transaction.atomic():
        # Locked: the button pressed twice, or pressed as the daily task runs, releases once.
        locked = Cycle.objects.select_for_update().get(pk=cycle.pk)
        if locked.is_open:
            raise CommentsReleaseError(
                f"The {locked.label} cycle is still open: its comments can be reviewed and released only "
                "after it closes."
            )
        if locked.comments_released_at is not None:
            return CommentsRelease(cycle=locked, released_now=False)
        comments_release_record(cycle=locked, actor=actor)
    return CommentsRelease(cycle=locked, released_now=True)


def comments_release_due(*, today: dt.date | None = None) -> list[Cycle]:
    """Releases the comments of every closed cycle whose review window has ended (the daily task);
    returns the cycles released now, oldest first. A second run the same day releases nothing.

    The window is the organisation's review days, counted from the later of the close and the day
    the job listed the comments (a run that was queued, failed or retried for days must not
    release comments HR never had the chance to read); nothing is released before it is listed."""
    from analytics.published import comments_listed_on  # late: analytics imports surveys' models

    today = today or timezone.localdate()
    due = Cycle.objects.filter(
        status=Cycle.Status.CLOSED, comments_released_at__isnull=True, comments_release_on__lte=today
    ).order_by("month")
    released = []
    for cycle in due:
        listed_on = comments_listed_on(cycle=cycle)
        if listed_on is None or cycle.comments_release_on is None:
            continue
        window = cycle.comments_release_on - (cycle.closed_on or cycle.comments_release_on)
        if max(cycle.comments_release_on, listed_on + window) > today:
            continue
        result = comments_release_now(cycle=cycle, actor=SCHEDULE_ACTOR)
        if result.released_now:  # HR may have released it between the query and the lock
            released.append(result.cycle)
    return released
