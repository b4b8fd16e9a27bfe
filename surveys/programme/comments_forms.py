"""Forms of HR's comment review page: releasing a cycle's comments now, and redacting one comment.
Each is confirmed with a ticked box; every message names the field and the fix."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.core.exceptions import ValidationError


class CommentsReleaseForm(forms.Form):
    """Release the cycle's comments now, before their release date."""

    confirm = forms.BooleanField(
        label=(
            "Yes, release the comments now: everyone who may see them can read them from now on, "
            "and the release cannot be undone."
        ),
        required=False,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "release")
        super().__init__(*args, **kwargs)

    def clean_confirm(self) -> bool:
        if not self.cleaned_data.get("confirm"):
            raise ValidationError(
                "Tick the box to confirm releasing the comments now, or leave them to their release date."
            )
        return True


UNREADABLE_ID = (
    "The comment to redact is not named by a valid id; reload the page and use that comment's Redact button."
)


class CommentRedactForm(forms.Form):
    """Redact one listed comment, named by its id in the listing. One form per comment on the
    page: ``auto_id`` keeps each form's element ids apart while the field names stay the same."""

    comment = forms.CharField(
        widget=forms.HiddenInput,
        error_messages={
            "required": "No comment was named to redact; reload the page and use that comment's Redact button.",
            # A NUL cannot be in an id: the same words as for any other unreadable one.
            "null_characters_not_allowed": UNREADABLE_ID,
        },
    )
    confirm = forms.BooleanField(
        label="Yes, redact this comment: its text is deleted and cannot be restored.", required=False
    )

    def clean_comment(self) -> uuid.UUID:
        value = str(self.cleaned_data.get("comment", "")).strip()
        try:
            return uuid.UUID(value)
        except ValueError:
            raise ValidationError(UNREADABLE_ID) from None

    def clean_confirm(self) -> bool:
        if not self.cleaned_data.get("confirm"):
            raise ValidationError("Tick the box to confirm redacting this comment, or leave it as it is.")
        return True
