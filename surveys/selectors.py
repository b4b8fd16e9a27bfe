"""Reads of the identity side used by the form, the pages and the commands."""

from __future__ import annotations

import enum

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, Q

from surveys.models import Cycle, Invitation, Person, RetiredLink
from surveys.models.cycles import token_digest


class LinkState(enum.Enum):
    OPEN = "open"
    ANSWERED = "answered"
    CLOSED = "closed"
    UNKNOWN = "unknown"  # never issued, replaced by a newer link, or its holder has left


def invitation_for_token(*, token: str) -> Invitation | None:
    return (
        Invitation.objects.select_related("cycle__instrument_version", "person", "team")
        .filter(token_hash=token_digest(token))
        .first()
    )


def survey_link_state(*, token: str, invitation: Invitation | None) -> LinkState:
    if invitation is None:
        if RetiredLink.objects.filter(token_hash=token_digest(token)).exists():
            return LinkState.CLOSED
        return LinkState.UNKNOWN
    if invitation.status == Invitation.Status.VOID or not invitation.person.is_active:
        return LinkState.UNKNOWN
    if not invitation.cycle.is_open:
        return LinkState.CLOSED
    if invitation.status == Invitation.Status.ANSWERED:
        return LinkState.ANSWERED
    return LinkState.OPEN


def person_for_user(user: AbstractBaseUser | AnonymousUser) -> Person | None:
    if not user.is_authenticated:
        return None
    return Person.objects.select_related("team").filter(user_id=user.pk).first()


def cycle_progress(*, cycle: Cycle) -> dict[str, int]:
    """Organisation-wide invited and answered counts of a cycle (open: live log; closed: tallies)."""
    if cycle.is_open:
        counts = Invitation.objects.filter(cycle=cycle).aggregate(
            invited=Count("pk", filter=~Q(status=Invitation.Status.VOID)),
            answered=Count("pk", filter=Q(status=Invitation.Status.ANSWERED)),
        )
        return {"invited": counts["invited"] or 0, "answered": counts["answered"] or 0}
    totals = {"invited": 0, "answered": 0}
    for tally in cycle.tallies.all():
        totals["invited"] += tally.invited
        totals["answered"] += tally.answered
    return totals
