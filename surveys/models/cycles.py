"""Cycles and the invitation log (identity side).

The invitation log knows who was invited and whether they have answered, never when or what
(ANONYMITY R2). When a cycle closes it is reduced to counts per team (InvitationTally).
"""

from __future__ import annotations

import hashlib
from functools import cached_property

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from surveys.models.instrument import InstrumentVersion
from surveys.models.organisation import K_MAX, K_MIN, Person, Team


def token_digest(token: str) -> str:
    """SHA-256 of a survey token. Tokens carry 256 bits of randomness, so a fast hash is enough;
    a password hasher would only slow every page view of the form."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Cycle(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    month = models.DateField(unique=True, help_text="First day of the month the cycle covers.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    instrument_version = models.ForeignKey(InstrumentVersion, on_delete=models.PROTECT, related_name="cycles")
    # Frozen when the cycle opens (ANONYMITY R3): k may later be raised, never lowered.
    k = models.PositiveSmallIntegerField(validators=[MinValueValidator(K_MIN), MaxValueValidator(K_MAX)])
    comment_threshold = models.PositiveSmallIntegerField()
    pilot_cutoff = models.DecimalField(max_digits=3, decimal_places=1)
    opened_on = models.DateField()
    closes_on = models.DateField()
    closed_on = models.DateField(null=True, blank=True)
    reminder_days_sent = models.JSONField(default=list, blank=True)
    # When everyone was told the results are ready: once per cycle, however often it is re-aggregated.
    results_announced_at = models.DateTimeField(null=True, blank=True)
    # Comment review (ANONYMITY R7): set at close to the day comments are released unless HR
    # releases them sooner; the door lists a cycle's comments only once they are released.
    comments_release_on = models.DateField(null=True, blank=True)
    comments_released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-month"]
        constraints = [
            # At most one cycle collects answers at a time: invitations, reminders and the
            # "resend my link" page all assume a single open cycle.
            models.UniqueConstraint(fields=["status"], condition=models.Q(status="open"), name="one_open_cycle"),
            models.CheckConstraint(condition=models.Q(k__gte=K_MIN, k__lte=K_MAX), name="cycle_k_in_allowed_range"),
        ]

    def __str__(self) -> str:
        return self.label

    @cached_property
    def label(self) -> str:
        # Cached: a report formats it thousands of times; a cycle's month never changes.
        return self.month.strftime("%Y-%m")

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


class Invitation(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Not answered yet"
        ANSWERED = "answered", "Answered"
        VOID = "void", "Void (left the organisation)"

    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="invitations")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="invitations")
    # The team the answers count for: the person's team when the invitation was issued, for the
    # whole cycle (a mover's answers stay with the old team; see invitations_follow_roster).
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+")
    # What live participation counts by: equal to ``team`` now that a mover's invitation stays
    # where it was issued (docs/decisions.md 64).
    counted_team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+")
    # SHA-256 of the current one-time token; a reminder or "resend my link" replaces it.
    token_hash = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    mailed = models.BooleanField(default=False, help_text="The current link has been e-mailed.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cycle", "person"], name="one_invitation_per_person_cycle")]

    def __str__(self) -> str:
        return f"{self.cycle} \u2192 {self.person.email}"


class InvitationTally(models.Model):
    """What is left of the invitation log once a cycle closes: counts per team, no people."""

    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="tallies")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+")
    invited = models.PositiveIntegerField()
    answered = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cycle", "team"], name="one_tally_per_cycle_team")]

    def __str__(self) -> str:
        return f"{self.cycle}: {self.answered}/{self.invited}"


class RetiredLink(models.Model):
    """Hash of a link from a closed cycle, kept so it shows "this pulse has closed" rather than
    "not a valid link". It names the cycle only: who held it is deleted at close."""

    token_hash = models.CharField(max_length=64, unique=True)
    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"retired link of {self.cycle}"
