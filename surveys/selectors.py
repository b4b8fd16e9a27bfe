"""Reads of the identity side used by the form, the pages and the commands."""

from __future__ import annotations

import enum
import functools

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, Q

from surveys.instrument import Instrument
from surveys.models import Cycle, InstrumentVersion, Invitation, Person, RetiredLink
from surveys.models.cycles import token_digest


class LinkState(enum.Enum):
    OPEN = "open"
    ANSWERED = "answered"
    CLOSED = "closed"
    UNKNOWN = "unknown"  # never issued, replaced by a newer link, or its holder has left


def invitation_for_token(*, token: str) -> Invitation | None:
    """The invitation a link names, with its cycle and person (what the form pages show).

    The instrument version is not joined: its definition is a large JSON document, decoded on
    every read; pages take the parsed instrument from `instrument_for_version` instead."""
    return Invitation.objects.select_related("cycle", "person").filter(token_hash=token_digest(token)).first()


@functools.lru_cache(maxsize=16)
def instrument_for_version(*, version_id: int) -> Instrument:
    """The parsed instrument of a version, read and parsed once per process.

    Safe to keep for the life of a process: a version is frozen once shipped (data migrations
    install them; the admin is read-only), and a cycle stays bound to the version it opened
    with. Decoding and parsing the ~12 KB definition on every form request and again in the
    submit service was a large part of a submission's time."""
    definition = InstrumentVersion.objects.values_list("definition", flat=True).get(pk=version_id)
    return Instrument(definition)


def survey_link_state(*, token: str, invitation: Invitation | None) -> LinkState:
    if invitation is None:
        return missing_link_state(token=token)
    return issued_link_state(
        status=invitation.status, person_is_active=invitation.person.is_active, cycle_is_open=invitation.cycle.is_open
    )


def missing_link_state(*, token: str) -> LinkState:
    """A link no invitation holds: from a closed cycle (its hash is kept), or never valid."""
    if RetiredLink.objects.filter(token_hash=token_digest(token)).exists():
        return LinkState.CLOSED
    return LinkState.UNKNOWN


def issued_link_state(*, status: str, person_is_active: bool, cycle_is_open: bool) -> LinkState:
    """What an invitation's link can do now (the submit service calls it on its locked row)."""
    if status == Invitation.Status.VOID or not person_is_active:
        return LinkState.UNKNOWN
    if not cycle_is_open:
        return LinkState.CLOSED
    if status == Invitation.Status.ANSWERED:
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
