"""The form HR starts an export with: a format, and one published cycle or all of them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from analytics.exports.models import ExportJob
from analytics.exports.selectors import export_cycle_choices
from config.text_input import text_problem

ALL_CYCLES = ""
# A refused value is quoted back only while it is short plain text ("pdf", "2025-01", what an old
# bookmark or a typo sends); anything longer, or holding a character config.text_input refuses
# (a direction override would reorder the message around it), is not repeated.
QUOTED_MAX = 20


class _QuotingChoiceField(forms.ChoiceField):
    """A choice whose "invalid_choice" message quotes the value only when QUOTED_MAX allows;
    otherwise it says "invalid_unquoted"."""

    def validate(self, value: Any) -> None:
        try:
            super().validate(value)
        except ValidationError as error:
            text = str(value)
            if error.code == "invalid_choice" and (len(text) > QUOTED_MAX or text_problem(text, multiline=False)):
                raise ValidationError(self.error_messages["invalid_unquoted"], code="invalid_choice") from None
            raise


class ExportStartForm(forms.Form):
    format = _QuotingChoiceField(
        label="Format",
        choices=ExportJob.Format.choices,
        error_messages={
            "required": "Format: choose CSV, Excel or Parquet.",
            "invalid_choice": "Format: %(value)s is not a format we export; choose CSV, Excel or Parquet.",
            "invalid_unquoted": "Format: that is not a format we export; choose CSV, Excel or Parquet.",
        },
    )
    cycle = _QuotingChoiceField(
        label="Cycle",
        required=False,
        error_messages={
            "invalid_choice": (
                "Cycle: %(value)s is not a published cycle; choose one from the list, or All published cycles."
            ),
            "invalid_unquoted": (
                "Cycle: that is not a published cycle; choose one from the list, or All published cycles."
            ),
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(ALL_CYCLES, "All published cycles")]
        choices += [(cycle.label, f"{cycle.label} (k = {cycle.k})") for cycle in export_cycle_choices()]
        cycle = self.fields["cycle"]
        if isinstance(cycle, forms.ChoiceField):
            cycle.choices = choices
