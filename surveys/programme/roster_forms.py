"""The roster upload: the file `import_roster` reads, checked the same way, every problem an error
on the file field (with the command's "line N: ..." wording) so that nothing is saved."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from surveys.roster import ROSTER_MAX_ROWS, RosterErrors, RosterRow
from surveys.services.roster_apply import (
    EMPTY_FILE,
    ROSTER_EXTENSIONS,
    ROSTER_MAX_BYTES,
    ROSTER_MAX_LABEL,
    SAVE_AS_CSV,
    RosterInputError,
    roster_rows_read,
    roster_text_read,
)

__all__ = ["ROSTER_EXTENSIONS", "ROSTER_MAX_BYTES", "ROSTER_MAX_LABEL", "SAVE_AS_CSV", "RosterUploadForm"]


class RosterUploadForm(forms.Form):
    file = forms.FileField(
        label="Roster CSV file",
        help_text=(
            f"Columns email,name,team,role[,manages], as for python manage.py import_roster; UTF-8 "
            f"(or UTF-16 with a byte-order mark), at most {ROSTER_MAX_LABEL} and {ROSTER_MAX_ROWS:,} people."
        ),
        error_messages={
            "required": "Choose the roster CSV file to upload.",
            "empty": EMPTY_FILE,
            "invalid": "That was not a file; choose the roster CSV file again.",
        },
    )
    deactivate_missing = forms.BooleanField(
        label="Deactivate people missing from the file",
        required=False,
        help_text="Everyone active now who is not in the file stops being invited; the preview shows how many.",
    )

    def clean_file(self) -> UploadedFile[bytes]:
        upload: UploadedFile[bytes] = self.cleaned_data["file"]
        try:
            # One byte past the limit is enough to refuse (upload.size is the client's word).
            text = roster_text_read(raw=upload.read(ROSTER_MAX_BYTES + 1), name=upload.name or "")
        except RosterInputError as error:
            raise forms.ValidationError(str(error), code="not_a_roster") from None
        self.cleaned_data["text"] = text
        return upload

    def clean(self) -> dict[str, Any]:
        super().clean()
        text = self.cleaned_data.get("text")
        if text is not None:
            rows = roster_text_check(text=text, form=self)
            if rows is not None:
                self.cleaned_data["rows"] = rows
        return self.cleaned_data


def roster_text_check(*, text: str, form: forms.Form) -> list[RosterRow] | None:
    """Parses ``text`` as the command does; each problem becomes an error on the form's file field."""
    try:
        return roster_rows_read(text=text)
    except RosterErrors as errors:
        form.add_error("file", [forms.ValidationError(f"line {line}: {message}") for line, message in errors.errors])
    except RosterInputError as error:
        form.add_error("file", str(error))
    return None
