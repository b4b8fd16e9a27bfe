"""Forms of the action loop's pages: record an action, edit it, close it with an outcome, delete
it. They parse and check what the page can check by itself (a choice from the lists offered, a
box ticked); surveys.services.actions checks the rest and its messages are put on the fields here,
so the page and the API say the same thing. Every message names the field and the fix."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from analytics.core.catalogue import RESPONSES
from analytics.reports import themes
from config.text_input import spaces_trimmed, text_problem
from surveys.models import Person
from surveys.models.actions import ACTION_OUTCOME_MAX, ACTION_TITLE_MAX
from surveys.services.actions import CHECK_BACK_MONTHS_MAX, CHECK_BACK_MONTHS_MIN, month_add

OWN_WORDS = "own"
# The check-back month offered first: three months gives an action time to be tried, and the
# pulse's noise time to average out a little.
CHECK_BACK_DEFAULT = 3

#: The metrics an action may aim at, in the report's order (the response rate first).
METRIC_CHOICES: tuple[tuple[str, str], ...] = (
    (RESPONSES, themes.label(RESPONSES)),
    *((metric, themes.label(metric)) for theme in themes.THEMES for metric in theme.metrics),
)
METRIC_NAMES = frozenset(name for name, _ in METRIC_CHOICES)


def check_back_choices(started: dt.date) -> list[tuple[str, str]]:
    """The months one to six after the started cycle, as (YYYY-MM, "June 2026 (3 months after)")."""
    choices = []
    for months in range(CHECK_BACK_MONTHS_MIN, CHECK_BACK_MONTHS_MAX + 1):
        month = month_add(started, months)
        after = "1 month" if months == 1 else f"{months} months"
        choices.append((f"{month:%Y-%m}", f"{month:%B %Y} ({after} after)"))
    return choices


def owner_choices(people: Sequence[Person]) -> list[tuple[str, str]]:
    # The empty choice first: a select whose value is not among its options shows the first one,
    # which would hand the action to someone nobody chose (an owner who has left, say).
    return [("", "Choose the owner"), *((str(person.pk), f"{person.name} ({person.email})") for person in people)]


def month_parse(value: str) -> dt.date:
    return dt.date.fromisoformat(f"{value}-01")


# The titles and outcomes are shown to the team, in the next pulse invitation and in the audit
# log: config.text_input's rule keeps out what nobody types but can hide or reorder what a reader
# sees (and the NUL PostgreSQL refuses). Each message says which field and what to remove.
WHAT_YOU_TRY = "What you will try"
OUTCOME = "The outcome"


def _nul_message(what: str) -> str:
    return f"{what} holds a character that cannot be stored: remove the control character U+0000."


def plain_text(form: forms.Form, name: str, *, what: str, multiline: bool) -> str:
    """The field's cleaned value if config.text_input takes the text as posted, else a
    ValidationError naming ``what``. The posted text is checked, spaces at its ends aside: Django's
    CharField strips every kind of whitespace first, control characters such as U+001C included,
    which would otherwise go unnoticed at either end."""
    posted = form.data.get(form.add_prefix(name), "")
    problem = text_problem(spaces_trimmed(posted if isinstance(posted, str) else ""), multiline=multiline)
    if problem is not None:
        raise ValidationError(f"{what} holds a character that cannot be stored: {problem}.", code="bad_text")
    return str(form.cleaned_data[name])


class _OwnerAndMonth(forms.Form):
    """The fields a new action and an edit share."""

    owner = forms.ChoiceField(
        label="Owner",
        help_text="Who makes sure it happens: the unit's people or its managers.",
        error_messages={
            "required": "Choose the action's owner from the list.",
            "invalid_choice": "Choose the owner from the list: the unit's people or its managers.",
        },
    )
    check_back_month = forms.ChoiceField(
        label="Check back with the results of",
        help_text="One to six months after the results that prompted it: the report then shows what changed.",
        error_messages={
            "required": "Choose the month to check back, from the list.",
            "invalid_choice": "Choose a check-back month from the list: one to six months after the results.",
        },
    )

    def __init__(self, *args: Any, owners: Sequence[Person], started: dt.date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = owner_choices(owners)  # type: ignore[attr-defined]
        self.fields["check_back_month"].choices = check_back_choices(started)  # type: ignore[attr-defined]

    def clean_check_back_month(self) -> dt.date:
        return month_parse(self.cleaned_data["check_back_month"])


class ActionNewForm(_OwnerAndMonth):
    """A new action: one of the flag's suggestions or the manager's own words."""

    suggestion = forms.ChoiceField(
        label="What will you try?",
        required=False,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": "Pick one of the suggestions listed, or \u201cIn my own words\u201d."},
    )
    own_title = forms.CharField(
        label="In my own words",
        required=False,
        max_length=ACTION_TITLE_MAX,
        help_text=f"A sentence is enough (at most {ACTION_TITLE_MAX} characters). The team sees it, and so "
        "does the invitation to the next pulse.",
        error_messages={
            "max_length": f"Keep what you will try to {ACTION_TITLE_MAX} characters (it has %(show_value)d).",
            "null_characters_not_allowed": _nul_message(WHAT_YOU_TRY),
        },
    )
    metric = forms.ChoiceField(
        label="Metric it aims to move",
        choices=[("", "Choose the metric"), *METRIC_CHOICES],
        error_messages={
            "required": "Choose the metric the action aims to move.",
            "invalid_choice": "Choose the metric from the list of the report's metrics.",
        },
    )
    flag_kind = forms.CharField(required=False, widget=forms.HiddenInput)
    # Not required: see __init__ (missing, it differs from the published cycle like any other).
    cycle = forms.CharField(required=False, widget=forms.HiddenInput)

    field_order = ["suggestion", "own_title", "metric", "owner", "check_back_month"]

    def __init__(self, *args: Any, suggestions: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The hidden fields only carry the page's cycle and flag back: the view compares them with
        # what is published and says in words when they differ (a NUL included), so they have no
        # check of their own, whose message would point at a field nobody can see.
        for hidden in ("flag_kind", "cycle"):
            self.fields[hidden].validators = []
        self.suggestions = list(suggestions)
        choices = [(str(index), text) for index, text in enumerate(self.suggestions)]
        self.fields["suggestion"].choices = [*choices, (OWN_WORDS, "In my own words (below)")]  # type: ignore[attr-defined]
        if not self.suggestions:
            # Nothing to pick from, so the page shows no choice: a posted one (a form of a flag
            # since withdrawn, or a tampered one) is not read, or its error would sit at no field.
            del self.fields["suggestion"]
            self.fields["own_title"].label = "What will you try?"

    def clean_own_title(self) -> str:
        return plain_text(self, "own_title", what=WHAT_YOU_TRY, multiline=False)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        choice = data.get("suggestion") or ""
        own = " ".join((data.get("own_title") or "").split())
        if "suggestion" in self.errors or "own_title" in self.errors:
            return data
        if choice and choice != OWN_WORDS:
            if own:
                self.add_error(
                    "own_title",
                    "You picked a suggestion and wrote your own words: choose \u201cIn my own words\u201d to "
                    "use your text, or clear it.",
                )
                return data
            data["title"] = self.suggestions[int(choice)]
        elif own:
            data["title"] = own
        else:
            field = "own_title" if choice == OWN_WORDS or not self.suggestions else "suggestion"
            fix = "write it in a sentence" if field == "own_title" else "pick a suggestion or write your own"
            self.add_error(field, f"Say what you will try: {fix}.")
        return data


class ActionEditForm(_OwnerAndMonth):
    title = forms.CharField(
        label="What you will try",
        max_length=ACTION_TITLE_MAX,
        help_text=f"At most {ACTION_TITLE_MAX} characters.",
        error_messages={
            "required": "Say what you will try, in a sentence.",
            "max_length": f"Keep what you will try to {ACTION_TITLE_MAX} characters (it has %(show_value)d).",
            "null_characters_not_allowed": _nul_message(WHAT_YOU_TRY),
        },
    )

    field_order = ["title", "owner", "check_back_month"]

    def clean_title(self) -> str:
        return plain_text(self, "title", what=WHAT_YOU_TRY, multiline=False)


class _Confirmed(forms.Form):
    confirm = forms.BooleanField(required=False)
    refusal = ""

    def clean_confirm(self) -> bool:
        if not self.cleaned_data.get("confirm"):
            raise ValidationError(self.refusal)
        return True


class ActionCloseForm(_Confirmed):
    outcome = forms.CharField(
        label="Outcome",
        max_length=ACTION_OUTCOME_MAX,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text=f"What happened, in a sentence or two (at most {ACTION_OUTCOME_MAX} characters): even "
        "\u201cwe stopped; it did not fit\u201d is worth recording. The team sees it.",
        error_messages={
            "required": "Say in a sentence what happened, even \u201cwe stopped; it did not fit\u201d.",
            "max_length": f"Keep the outcome to {ACTION_OUTCOME_MAX} characters (it has %(show_value)d).",
            "null_characters_not_allowed": _nul_message(OUTCOME),
        },
    )
    refusal = "Tick the box to confirm closing the action, or leave it open."

    field_order = ["outcome", "confirm"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields[
            "confirm"
        ].label = "Yes, close this action: it moves to the team's earlier actions and cannot be reopened."

    def clean_outcome(self) -> str:
        return plain_text(self, "outcome", what=OUTCOME, multiline=True)


class ActionDeleteForm(_Confirmed):
    refusal = "Tick the box to confirm deleting the action, or go back to the report."

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["confirm"].label = "Yes, delete this action: it was recorded by mistake."


def service_errors_apply(form: forms.Form, error: ValidationError, *, title_field: str) -> None:
    """Puts the service's messages on the form's fields (the title on ``title_field``); what has
    no field of its own (the cycle, the action's status) goes above the form."""
    fields = {"title": title_field, "owner": "owner", "check_back_month": "check_back_month", "metric": "metric"}
    for key, messages in error.message_dict.items():
        target = fields.get(key)
        for message in messages:
            form.add_error(target if target in form.fields else None, message)
