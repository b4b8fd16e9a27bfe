"""Forms of HR's cycles page: each action is confirmed with a ticked box, and the closing date of
the open cycle is edited with a date that must fall after today and after the opening date
(surveys.services.cycle_actions checks the same, for the API too). Every message names the field
and the fix."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from surveys.models import Cycle
from surveys.services.cycle_actions import DATE_HINT, closing_date_problem


class _ConfirmForm(forms.Form):
    """One action of the cycles page, done only once its box is ticked."""

    prefix_name = ""
    confirm_label = ""
    refusal = ""

    confirm = forms.BooleanField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", self.prefix_name)
        super().__init__(*args, **kwargs)
        self.fields["confirm"].label = self.confirm_label

    def clean_confirm(self) -> bool:
        if not self.cleaned_data.get("confirm"):
            raise ValidationError(self.refusal)
        return True


class CycleOpenForm(_ConfirmForm):
    prefix_name = "open"
    confirm_label = "Yes, open the cycle now and e-mail everyone on the roster their link."
    refusal = "Tick the box to confirm opening the cycle now, or leave it to the schedule."


class CycleRemindForm(_ConfirmForm):
    prefix_name = "remind"
    confirm_label = "Yes, e-mail a fresh link to everyone who has not answered (their earlier links stop working)."
    refusal = "Tick the box to confirm sending the reminders now, or leave them to the schedule."


class CycleCloseForm(_ConfirmForm):
    prefix_name = "close"
    confirm_label = "Yes, close the cycle now: nobody can answer after this, and it cannot be reopened."
    refusal = "Tick the box to confirm closing the cycle now, or leave it open until its closing date."


class ClosingDateForm(forms.Form):
    """The open cycle's closing date: after today and after its opening date."""

    closes_on = forms.DateField(
        label="New closing date",
        input_formats=["%Y-%m-%d"],
        help_text=f"The last day people can answer, {DATE_HINT}. It must be after today.",
        error_messages={
            "required": f"Enter the new closing date, {DATE_HINT}.",
            "invalid": f"Enter the closing date {DATE_HINT}.",
        },
    )
    confirm = forms.BooleanField(
        label="Yes, change the closing date; the page and reminders will show the new date.", required=False
    )

    def __init__(self, *args: Any, cycle: Cycle, today: dt.date, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "closing")
        super().__init__(*args, **kwargs)
        self.cycle = cycle
        self.today = today

    def clean_closes_on(self) -> dt.date:
        value: dt.date = self.cleaned_data["closes_on"]
        if value == self.cycle.closes_on:
            return value  # unchanged: the service does nothing, whatever the rules say of it now
        problem = closing_date_problem(cycle=self.cycle, closes_on=value, today=self.today)
        if problem is not None:
            raise ValidationError(problem)
        return value

    def clean_confirm(self) -> bool:
        if not self.cleaned_data.get("confirm"):
            raise ValidationError("Tick the box to confirm changing the closing date, or leave it as it is.")
        return True


class AggregationRetryForm(_ConfirmForm):
    """Retry one closed cycle's failed aggregation. Each cycle's form has its own prefix, so the
    page's several retry boxes have distinct ids."""

    refusal = "Tick the box to confirm running the aggregation again, or leave it to the nightly run."

    def __init__(self, *args: Any, cycle: Cycle, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", f"retry-{cycle.label}")
        self.confirm_label = f"Yes, run the {cycle.label} aggregation again (and the later cycles' after it)."
        self.cycle = cycle
        super().__init__(*args, **kwargs)
