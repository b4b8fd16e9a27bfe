"""The form HR starts an export with: a format, and one published cycle or all of them."""

from __future__ import annotations

from typing import Any

from django import forms

from analytics.exports.models import ExportJob
from analytics.exports.selectors import export_cycle_choices

ALL_CYCLES = ""


class ExportStartForm(forms.Form):
    format = forms.ChoiceField(
        label="Format",
        choices=ExportJob.Format.choices,
        error_messages={
            "required": "Format: choose CSV, Excel or Parquet.",
            "invalid_choice": "Format: %(value)s is not a format we export; choose CSV, Excel or Parquet.",
        },
    )
    cycle = forms.ChoiceField(
        label="Cycle",
        required=False,
        error_messages={
            "invalid_choice": (
                "Cycle: %(value)s is not a published cycle; choose one from the list, or All published cycles."
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
