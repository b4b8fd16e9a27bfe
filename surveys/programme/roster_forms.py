"""The roster upload: the file `import_roster` reads, checked the same way, every problem an error
on the file field (with the command's "line N: ..." wording) so that nothing is saved."""

from __future__ import annotations

import csv
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from surveys.roster import RosterErrors, RosterRow, roster_parse

ROSTER_MAX_BYTES = 2 * 1024 * 1024  # thousands of people fit in well under 2 MB
ROSTER_MAX_LABEL = "2 MB"
ROSTER_EXTENSIONS = (".csv", ".txt")
SAVE_AS_CSV = "In Excel or Numbers, use Save As / Export and choose \u201cCSV UTF-8\u201d."


class RosterUploadForm(forms.Form):
    file = forms.FileField(
        label="Roster CSV file",
        help_text=(
            f"Columns email,name,team,role[,manages], as for python manage.py import_roster; UTF-8, "
            f"at most {ROSTER_MAX_LABEL}."
        ),
        error_messages={
            "required": "Choose the roster CSV file to upload.",
            "empty": "The file is empty; its first line must be the header email,name,team,role[,manages].",
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
        name = upload.name or ""
        if not name.lower().endswith(ROSTER_EXTENSIONS):
            raise forms.ValidationError(f"{name} is not a CSV file; choose a .csv file. {SAVE_AS_CSV}", code="not_csv")
        if (upload.size or 0) > ROSTER_MAX_BYTES:
            raise forms.ValidationError(
                f"The file is larger than {ROSTER_MAX_LABEL}; remove columns other than "
                f"email,name,team,role,manages, or split the file.",
                code="too_large",
            )
        raw = upload.read(ROSTER_MAX_BYTES + 1)
        if len(raw) > ROSTER_MAX_BYTES:  # upload.size is the client's word
            raise forms.ValidationError(f"The file is larger than {ROSTER_MAX_LABEL}.", code="too_large")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError(
                f"The file is not UTF-8 text (a spreadsheet or another encoding?). {SAVE_AS_CSV}",
                code="not_utf8",
            ) from None
        if "\x00" in text:
            raise forms.ValidationError(
                f"The file is not CSV text (it holds binary data). {SAVE_AS_CSV}", code="not_csv"
            )
        if not text.strip():
            raise forms.ValidationError(self.fields["file"].error_messages["empty"], code="empty")
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
        return roster_parse(text)
    except RosterErrors as errors:
        form.add_error("file", [forms.ValidationError(f"line {line}: {message}") for line, message in errors.errors])
    except csv.Error as error:
        form.add_error("file", f"The file is not valid CSV ({error}). {SAVE_AS_CSV}")
    return None
