"""Forms of HR's settings pages: the organisation's settings for future cycles, and the raise of
one cycle's k or comment threshold (ANONYMITY R3, R7, R10). Every message names the field and
the fix."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction

from surveys.models import AuditEvent, Cycle, Organisation
from surveys.models.organisation import K_MAX, K_MIN
from surveys.services.thresholds import (
    COMMENT_THRESHOLD_MAX,
    COMMENT_THRESHOLD_MIN,
    cycle_comment_threshold_raise_problem,
    cycle_k_raise_problem,
)

PILOT_MIN, PILOT_MAX = Decimal(1), Decimal(7)
REVIEW_DAYS_MIN, REVIEW_DAYS_MAX = 0, 30  # Organisation.comment_review_days' range
HOURLY_COST_MAX = Decimal("999999.99")  # the field's 8 digits, 2 of them decimals
# Three ASCII letters, checked as typed: upper-casing first would turn "ßa" into "SSA" (and other
# letters into Latin ones) and store a code nobody typed.
CURRENCY = re.compile(r"[A-Za-z]{3}")
CURRENCY_FIX = "The currency is a three-letter code such as EUR, USD or GBP; enter three letters."

# The organisation's settings this page edits, in the order they are shown and audited.
ORGANISATION_FIELDS = (
    "anonymity_threshold",
    "comment_threshold",
    "comment_review_days",
    "engineers_see_team_report",
    "hourly_cost",
    "currency",
    "pilot_cutoff",
)


def _audit_value(value: object) -> object:
    """A JSON-safe value for the audit detail (decimals as text, so 75.50 stays 75.50)."""
    return str(value) if isinstance(value, Decimal) else value


class OrganisationSettingsForm(forms.Form):
    """The organisation's defaults. They apply to cycles opened from now on: an open or closed
    cycle keeps the values it froze when it opened (R3); raise those on the cycle's own page. The
    comment review days apply to cycles closed from now on (a close sets its release date)."""

    anonymity_threshold = forms.IntegerField(
        label="Anonymity threshold k for future cycles",
        help_text=f"Smallest group whose results are shown, from {K_MIN} to {K_MAX}.",
        error_messages={
            "required": f"Enter the anonymity threshold k: a whole number from {K_MIN} to {K_MAX}.",
            "invalid": f"The anonymity threshold k must be a whole number from {K_MIN} to {K_MAX}, such as 5.",
        },
    )
    comment_threshold = forms.IntegerField(
        label="Comment threshold for future cycles",
        help_text=(
            f"Smallest group whose comments are released, from {COMMENT_THRESHOLD_MIN} to {COMMENT_THRESHOLD_MAX}."
        ),
        error_messages={
            "required": (
                f"Enter the comment threshold: a whole number from {COMMENT_THRESHOLD_MIN} to {COMMENT_THRESHOLD_MAX}."
            ),
            "invalid": (
                f"The comment threshold must be a whole number from {COMMENT_THRESHOLD_MIN} to "
                f"{COMMENT_THRESHOLD_MAX}, such as 10."
            ),
        },
    )
    comment_review_days = forms.IntegerField(
        label="Days to review comments after a cycle closes",
        help_text=(
            "A closed cycle's comments are released this many days after the close, unless you release them "
            f"sooner on its comments page; 0 releases them at the close. From {REVIEW_DAYS_MIN} to "
            f"{REVIEW_DAYS_MAX}. It applies to cycles that close from now on."
        ),
        error_messages={
            "required": (
                f"Enter the days to review comments: a whole number from {REVIEW_DAYS_MIN} to {REVIEW_DAYS_MAX}."
            ),
            "invalid": (
                f"The days to review comments must be a whole number from {REVIEW_DAYS_MIN} to "
                f"{REVIEW_DAYS_MAX}, such as 3."
            ),
        },
    )
    engineers_see_team_report = forms.BooleanField(
        label="Engineers see their own team's published report",
        required=False,
        help_text="Hidden figures stay hidden either way; managers and HR are not affected.",
    )
    hourly_cost = forms.DecimalField(
        label="Hourly cost",
        max_digits=8,
        decimal_places=2,
        help_text="Cost of an hour of work, for the workslop cost estimate. At most 2 decimals.",
        error_messages={
            "required": "Enter the hourly cost: a number such as 75 or 75.50.",
            "invalid": "The hourly cost must be a number such as 75 or 75.50 (a dot before the cents).",
            "max_decimal_places": "The hourly cost takes at most 2 decimals; round it, for example to 75.50.",
            "max_digits": f"The hourly cost must be at most {HOURLY_COST_MAX}; enter a smaller number.",
            "max_whole_digits": f"The hourly cost must be at most {HOURLY_COST_MAX}; enter a smaller number.",
        },
    )
    currency = forms.CharField(
        label="Currency",
        max_length=3,
        help_text="Three-letter ISO 4217 code, such as EUR, USD or GBP.",
        error_messages={
            "required": "Enter the currency as a three-letter code, such as EUR.",
            "max_length": "The currency is a three-letter code, such as EUR; enter three letters.",
            "null_characters_not_allowed": CURRENCY_FIX,
        },
    )
    pilot_cutoff = forms.DecimalField(
        label="Pilot cut-off for future cycles",
        max_digits=3,
        decimal_places=1,
        help_text="Agency and optimism means at or above this make a Pilot, from 1.0 to 7.0, one decimal.",
        error_messages={
            "required": "Enter the Pilot cut-off: a number from 1.0 to 7.0, such as 5.0.",
            "invalid": "The Pilot cut-off must be a number from 1.0 to 7.0, such as 5.0.",
            "max_decimal_places": "The Pilot cut-off takes one decimal; round it, for example to 5.5.",
            "max_digits": "The Pilot cut-off must be from 1.0 to 7.0; enter a value such as 5.0.",
            "max_whole_digits": "The Pilot cut-off must be from 1.0 to 7.0; enter a value such as 5.0.",
        },
    )

    def clean_anonymity_threshold(self) -> int:
        k: int = self.cleaned_data["anonymity_threshold"]
        if not K_MIN <= k <= K_MAX:
            raise ValidationError(
                f"The anonymity threshold k must be between {K_MIN} and {K_MAX}; enter a value from {K_MIN} to {K_MAX}."
            )
        return k

    def clean_comment_threshold(self) -> int:
        value: int = self.cleaned_data["comment_threshold"]
        if not COMMENT_THRESHOLD_MIN <= value <= COMMENT_THRESHOLD_MAX:
            raise ValidationError(
                f"The comment threshold must be between {COMMENT_THRESHOLD_MIN} and {COMMENT_THRESHOLD_MAX}; "
                f"enter a value from {COMMENT_THRESHOLD_MIN} to {COMMENT_THRESHOLD_MAX}."
            )
        return value

    def clean_comment_review_days(self) -> int:
        value: int = self.cleaned_data["comment_review_days"]
        if not REVIEW_DAYS_MIN <= value <= REVIEW_DAYS_MAX:
            raise ValidationError(
                f"The days to review comments must be between {REVIEW_DAYS_MIN} and {REVIEW_DAYS_MAX}; "
                f"enter a value from {REVIEW_DAYS_MIN} to {REVIEW_DAYS_MAX}."
            )
        return value

    def clean_hourly_cost(self) -> Decimal:
        value: Decimal = self.cleaned_data["hourly_cost"]
        if value < 0:
            raise ValidationError("The hourly cost cannot be negative; enter 0 or more, such as 75.")
        return value

    def clean_currency(self) -> str:
        value = str(self.cleaned_data["currency"]).strip()
        if not CURRENCY.fullmatch(value):
            raise ValidationError(CURRENCY_FIX)
        return value.upper()

    def clean_pilot_cutoff(self) -> Decimal:
        value: Decimal = self.cleaned_data["pilot_cutoff"]
        if not PILOT_MIN <= value <= PILOT_MAX:
            raise ValidationError("The Pilot cut-off must be between 1.0 and 7.0; enter a value such as 5.0.")
        return value

    @staticmethod
    def initial_from(organisation: Organisation) -> dict[str, Any]:
        return {name: getattr(organisation, name) for name in ORGANISATION_FIELDS}

    def save(self, *, actor: str) -> list[dict[str, object]]:
        """Saves what changed, each change audited (R10: actor, field, from, to); returns the
        changes (empty when nothing changed: nothing is saved or recorded then).

        The organisation's defaults may go up or down within their ranges, as the admin allows:
        they only apply to cycles opened later; a cycle's own values are raised on its page."""
        if not actor.strip():
            raise ValueError("saving the organisation's settings needs an actor for the audit (R10).")
        changes: list[dict[str, object]] = []
        with transaction.atomic():
            organisation = Organisation.objects.select_for_update().get(pk=Organisation.current().pk)
            for name in ORGANISATION_FIELDS:
                before, after = getattr(organisation, name), self.cleaned_data[name]
                if before == after:
                    continue
                setattr(organisation, name, after)
                changes.append({"field": name, "from": _audit_value(before), "to": _audit_value(after)})
            if not changes:
                return changes
            organisation.full_clean()  # the model's own validators and range, as a last guard
            organisation.save(update_fields=[str(change["field"]) for change in changes])
            for change in changes:
                # The k change keeps the admin's action name, so the audit log reads one way.
                action = (
                    "organisation_k_changed"
                    if change["field"] == "anonymity_threshold"
                    else "organisation_setting_changed"
                )
                AuditEvent.objects.create(actor=actor, action=action, detail=change)
        return changes


class _CycleRaiseForm(forms.Form):
    """One threshold of one cycle, raised in two steps: the value, then a confirmation.

    ``confirming``: the second step. There the current value itself is accepted (a repeated or
    replayed confirmation changes nothing and says so: idempotent); a lower one never is."""

    # Each kind of raise names its field, its largest value and the service's rule for it.
    field_name: ClassVar[str] = ""
    field_label: ClassVar[str] = ""
    maximum: ClassVar[int] = 0
    # The service's rule, given the new value: why it cannot be, or None (each kind defines it).
    problem: Callable[[int], str | None]
    # What a raise does to a cycle whose answers were purged (analytics.job.retention): it cannot
    # be decided again, so what the raise withholds is withheld for good.
    purge_consequence: ClassVar[str] = ""

    confirm = forms.BooleanField(
        label="I understand that this cannot be undone: the value can never be lowered again.",
        required=False,
    )

    def __init__(
        self, *args: Any, cycle: Cycle, confirming: bool = False, purged_on: dt.date | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.cycle = cycle
        self.confirming = confirming
        self.current: int = getattr(cycle, self.field_name)
        self.purged_on = purged_on
        if purged_on is not None:
            # Next to the box HR ticks to confirm, so the warning is read (and announced) before it.
            self.fields["confirm"].help_text = self.purge_warning

    @property
    def purge_warning(self) -> str:
        """The warning for a purged cycle ("" if its answers are kept)."""
        if self.purged_on is None:
            return ""
        day = f"{self.purged_on.day} {self.purged_on:%B %Y}"
        return f"Its answers were purged on {day}: {self.purge_consequence}"

    def _clean_value(self) -> int:
        value: int = self.cleaned_data[self.field_name]
        problem = self.problem(value)
        if problem is not None:
            raise ValidationError(problem)
        if value == self.current and not self.confirming:
            if self.current >= self.maximum:
                raise ValidationError(
                    f"The {self.field_label} of {self.cycle.label} is already {self.current}, the highest allowed; "
                    "it cannot be raised further."
                )
            raise ValidationError(
                f"The {self.field_label} of {self.cycle.label} is already {self.current}; to raise it, enter a "
                f"value from {self.current + 1} to {self.maximum}."
            )
        return value

    def clean_confirm(self) -> bool:
        confirmed = bool(self.cleaned_data.get("confirm"))
        if self.confirming and not confirmed:
            raise ValidationError(
                f"Tick the box to confirm raising the {self.field_label}, or go back to keep it as it is."
            )
        return confirmed

    @property
    def value(self) -> int:
        return int(self.cleaned_data[self.field_name])


class CycleKRaiseForm(_CycleRaiseForm):
    field_name = "k"
    field_label = "anonymity threshold k"

    k = forms.IntegerField(
        label="New anonymity threshold k",
        error_messages={
            "required": f"Enter the new anonymity threshold k: a whole number up to {K_MAX}.",
            "invalid": f"The anonymity threshold k must be a whole number up to {K_MAX}, such as 7.",
        },
    )

    maximum = K_MAX
    purge_consequence = (
        "raising k would withhold its results for good, because they cannot be computed again. "
        "The flags of the cycles after it that look back on it would be withheld as well."
    )

    def problem(self, value: int) -> str | None:
        return cycle_k_raise_problem(current=self.current, k=value)

    def clean_k(self) -> int:
        return self._clean_value()


class CycleCommentThresholdRaiseForm(_CycleRaiseForm):
    field_name = "comment_threshold"
    field_label = "comment threshold"

    comment_threshold = forms.IntegerField(
        label="New comment threshold",
        error_messages={
            "required": f"Enter the new comment threshold: a whole number up to {COMMENT_THRESHOLD_MAX}.",
            "invalid": f"The comment threshold must be a whole number up to {COMMENT_THRESHOLD_MAX}, such as 12.",
        },
    )

    maximum = COMMENT_THRESHOLD_MAX
    purge_consequence = (
        "raising the comment threshold would take its comments down for good, because they cannot be listed again."
    )

    def problem(self, value: int) -> str | None:
        return cycle_comment_threshold_raise_problem(current=self.current, comment_threshold=value)

    def clean_comment_threshold(self) -> int:
        return self._clean_value()


CYCLE_RAISE_FORMS: dict[str, type[_CycleRaiseForm]] = {
    "k": CycleKRaiseForm,
    "comment_threshold": CycleCommentThresholdRaiseForm,
}
