"""The audit log's filters: kind (action), actor, and a date range in the programme's time zone.

Every message names its field and says what to enter instead, and none echoes the value it
refuses (it may be very long or hold control characters)."""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import Truncator

from surveys.models import AuditEvent

# Every action the code writes, with what HR reads for it. Actions found in the log but not here
# (written by a later release, or an older one) are offered too, under their own name.
KIND_LABELS: dict[str, str] = {
    "action_closed": "Action closed",
    "action_created": "Action recorded",
    "action_deleted": "Action deleted",
    "action_updated": "Action edited",
    "aggregates_exported": "Aggregates exported (command)",
    "aggregation_retried_by_hr": "Aggregation retried by HR",
    "answers_purged": "Answers purged (retention)",
    "audit_log_exported": "Audit log exported",
    "comment_redacted": "Comment redacted",
    "comments_released": "Comments released",
    "cycle_closed": "Cycle closed",
    "cycle_closed_by_hr": "Cycle closed by HR",
    "cycle_closing_date_changed_by_hr": "Cycle closing date changed by HR",
    "cycle_comment_threshold_raised": "Cycle comment threshold raised",
    "cycle_k_raised": "Cycle k raised",
    "cycle_opened": "Cycle opened",
    "cycle_opened_by_hr": "Cycle opened by HR",
    "demo_logins_set": "Demo logins set",
    "export_downloaded": "Export downloaded",
    "export_started": "Export started",
    "managed_teams_changed": "Managed teams changed",
    "organisation_k_changed": "Organisation k changed",
    "organisation_setting_changed": "Organisation setting changed",
    "reminders_sent_by_hr": "Reminders sent by HR",
    "role_changed": "Role changed",
    "role_set": "Role set (new person)",
    "roster_imported": "Roster imported",
}

# The log cannot predate the programme, and a far date would overflow the time zone arithmetic.
FIRST_DATE = dt.date(2000, 1, 1)
LAST_DATE = dt.date(2999, 12, 31)
ACTOR_MAX = 254  # AuditEvent.actor's max_length
CHOICE_CHARS = 36
CONTROL_MESSAGE = "Actor: remove the control characters; enter an e-mail address or a command's name."
DATE_HINT = "as YYYY-MM-DD, e.g. 2026-04-01"


def kind_label(action: str) -> str:
    return KIND_LABELS.get(action, action)


def kinds_known() -> list[str]:
    """The code's actions and the log's own, sorted (ordering cleared, or DISTINCT would include "at")."""
    logged = AuditEvent.objects.order_by().values_list("action", flat=True).distinct()
    return sorted(set(KIND_LABELS) | set(logged))


def _date_field(label: str) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": f"{label}: enter a date {DATE_HINT}, or leave it empty."},
    )


class AuditFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label="Kind",
        required=False,
        error_messages={"invalid_choice": "Kind: choose one of the kinds listed, or “Every kind”."},
    )
    actor = forms.CharField(
        label="Actor",
        required=False,
        max_length=ACTOR_MAX,
        help_text="The e-mail address, or the command's name, exactly as logged (upper or lower case alike).",
        error_messages={
            "max_length": f"Actor: enter at most {ACTOR_MAX} characters (an e-mail address or a command's name).",
            "null_characters_not_allowed": CONTROL_MESSAGE,
        },
    )
    date_from = _date_field("From date")
    date_to = _date_field("To date")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kind = cast(forms.ChoiceField, self.fields["kind"])
        # Truncated, so that an odd action written by hand cannot widen the list beyond a phone.
        choices = ((action, Truncator(kind_label(action)).chars(CHOICE_CHARS)) for action in kinds_known())
        kind.choices = [("", "Every kind"), *choices]

    def clean_actor(self) -> str:
        actor: str = self.cleaned_data["actor"]
        if any(unicodedata.category(char) in ("Cc", "Cf") for char in actor):
            raise forms.ValidationError(CONTROL_MESSAGE, code="control")
        return actor

    def _clean_date(self, name: str) -> dt.date | None:
        value: dt.date | None = self.cleaned_data[name]
        if value is not None and not FIRST_DATE <= value <= LAST_DATE:
            label = self.fields[name].label
            raise forms.ValidationError(
                f"{label}: choose a date between {FIRST_DATE:%Y-%m-%d} and {LAST_DATE:%Y-%m-%d}.", code="range"
            )
        return value

    def clean_date_from(self) -> dt.date | None:
        return self._clean_date("date_from")

    def clean_date_to(self) -> dt.date | None:
        return self._clean_date("date_to")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start is not None and end is not None and start > end:
            self.add_error(
                "date_to",
                f"To date: choose a date on or after the from date ({start:%Y-%m-%d}), or swap the two dates.",
            )
        return cleaned

    def _filters_given(self) -> dict[str, Any]:
        """The cleaned filters of a valid form; none for an unbound one (every event)."""
        if not self.is_bound:
            return {}
        if not self.is_valid():
            raise ValueError("the filters are not valid; show the form's errors instead")
        return self.cleaned_data

    def filters(self) -> dict[str, str]:
        """The valid filters that are set, as query parameters (for page links and the CSV link)."""
        query: dict[str, str] = {}
        for name in ("kind", "actor", "date_from", "date_to"):
            value = self._filters_given().get(name)
            if value:
                query[name] = value.isoformat() if isinstance(value, dt.date) else str(value)
        return query

    def events(self) -> QuerySet[AuditEvent]:
        """The filtered events, newest first; the dates are whole days in the programme's time zone."""
        events = AuditEvent.objects.order_by("-at", "-pk")
        data = self._filters_given()
        if data.get("kind"):
            events = events.filter(action=data["kind"])
        if data.get("actor"):
            events = events.filter(actor__iexact=data["actor"])
        zone = timezone.get_default_timezone()
        if data.get("date_from") is not None:
            events = events.filter(at__gte=dt.datetime.combine(data["date_from"], dt.time.min, tzinfo=zone))
        if data.get("date_to") is not None:
            next_day = data["date_to"] + dt.timedelta(days=1)
            events = events.filter(at__lt=dt.datetime.combine(next_day, dt.time.min, tzinfo=zone))
        return events
