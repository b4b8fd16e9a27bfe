"""Serializers of the roster API (analytics.api.programme_roster): every field named.

The inputs exist twice, once per media type, so the schema says exactly what each accepts: JSON
carries the CSV as text (``csv``), multipart as an uploaded file (``file``). The view reads either
from whichever body it is sent (see ``RosterInput``).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from surveys.roster import ROSTER_MAX_ROWS
from surveys.services.roster_apply import ROSTER_MAX_LABEL

FINGERPRINT_PATTERN = r"^[0-9a-f]{64}$"
_DEACTIVATE_HELP = (
    "Deactivate everyone active now who is not in the file (they stop being invited; their open "
    "links stop). Default false: they are listed in missing_active and left alone."
)
_CSV_HELP = (
    f"The roster CSV as text: header email,name,team,role[,manages], one row per person, at most "
    f"{ROSTER_MAX_LABEL} and {ROSTER_MAX_ROWS:,} people (the columns python manage.py import_roster reads)."
)
_FILE_HELP = (
    f"The roster CSV file (.csv or .txt), UTF-8 or UTF-16 with a byte-order mark, at most {ROSTER_MAX_LABEL} "
    f"and {ROSTER_MAX_ROWS:,} people; same columns as csv."
)
_FINGERPRINT_HELP = "The fingerprint the preview of this file returned; 409 if the roster has changed since."
FINGERPRINT_MESSAGES: dict[str, Any] = {
    "required": "send the fingerprint the preview returned (POST the file to /api/v1/programme/roster/preview/).",
    "blank": "send the fingerprint the preview returned (POST the file to /api/v1/programme/roster/preview/).",
    "null": "send the fingerprint the preview returned (POST the file to /api/v1/programme/roster/preview/).",
    "invalid": "not a fingerprint (64 lower-case hex digits); send the one the preview returned.",
}
BOOLEAN_MESSAGES: dict[str, Any] = {"invalid": "write true or false.", "null": "write true or false, or leave it out."}


@extend_schema_field({"type": "string", "format": "binary"})
class UploadField(serializers.FileField):
    """An uploaded file, documented as multipart binary (DRF's FileField reads as a URL)."""


@extend_schema_field({"type": "string"})
class CSVTextField(serializers.Field):  # type: ignore[type-arg]
    """The CSV as a string, exactly as sent: no coercion of a number to text and no check of its
    characters here (surveys.services.roster_apply says what is wrong with a file, in the
    upload form's words)."""

    default_error_messages = {"invalid": "give the CSV as a JSON string (the file's text)."}

    def to_internal_value(self, data: object) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(data)

    def to_representation(self, value: object) -> object:
        return value


class RosterInput(serializers.Serializer):  # type: ignore[type-arg]
    """What the preview validates, whatever the media type: csv or file (the view checks that
    exactly one is given, and reads it) and the deactivate choice."""

    csv = CSVTextField(required=False)
    file = UploadField(required=False, allow_empty_file=True)
    deactivate_missing = serializers.BooleanField(required=False, default=False, error_messages=BOOLEAN_MESSAGES)


class RosterApplyInput(RosterInput):
    fingerprint = serializers.RegexField(FINGERPRINT_PATTERN, error_messages=FINGERPRINT_MESSAGES)


class RosterPreviewJSONInput(serializers.Serializer):  # type: ignore[type-arg]
    csv = serializers.CharField(help_text=_CSV_HELP)
    deactivate_missing = serializers.BooleanField(required=False, default=False, help_text=_DEACTIVATE_HELP)


class RosterPreviewUploadInput(serializers.Serializer):  # type: ignore[type-arg]
    file = UploadField(help_text=_FILE_HELP)
    deactivate_missing = serializers.BooleanField(required=False, default=False, help_text=_DEACTIVATE_HELP)


class RosterApplyJSONInput(RosterPreviewJSONInput):
    fingerprint = serializers.RegexField(FINGERPRINT_PATTERN, help_text=_FINGERPRINT_HELP)


class RosterApplyUploadInput(RosterPreviewUploadInput):
    fingerprint = serializers.RegexField(FINGERPRINT_PATTERN, help_text=_FINGERPRINT_HELP)


class PersonChangeOutput(serializers.Serializer):  # type: ignore[type-arg]
    email = serializers.EmailField()
    name = serializers.CharField()
    before = serializers.CharField(
        help_text="Team path (a mover, a leaver), role (a role change), old name (renamed), managed team paths "
        'joined by "; " (manages changes); "" for a joiner.'
    )
    after = serializers.CharField(
        help_text='The same after the import; a joiner\'s is "<team path> (<role>)", a leaver\'s "".'
    )


class RosterPreviewOutput(serializers.Serializer):  # type: ignore[type-arg]
    fingerprint = serializers.CharField(
        help_text="The roster's state this dry run was computed against: send it with the same file to apply."
    )
    rows = serializers.IntegerField(help_text="People rows read from the file.")
    deactivate_missing = serializers.BooleanField()
    changes = serializers.IntegerField(
        help_text="People created, updated or deactivated, and teams created: 0 means applying changes nothing."
    )
    created = serializers.IntegerField()
    updated = serializers.IntegerField(help_text="Moved, renamed, reactivated, or their role or managed teams changed.")
    moved = serializers.IntegerField()
    deactivated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    joiners = PersonChangeOutput(many=True)
    movers = PersonChangeOutput(many=True)
    leavers = PersonChangeOutput(many=True, help_text="Only with deactivate_missing.")
    role_changes = PersonChangeOutput(many=True)
    manages_changes = PersonChangeOutput(many=True)
    reactivated = PersonChangeOutput(many=True)
    renamed = PersonChangeOutput(many=True)
    missing_active = PersonChangeOutput(
        many=True, help_text="Active people not in the file: deactivated with deactivate_missing, else left alone."
    )
    teams_created = serializers.ListField(child=serializers.CharField(), help_text="Team paths the import adds.")
    warnings = serializers.ListField(
        child=serializers.CharField(),
        help_text="ANONYMITY R5: people sitting directly on a unit that has sub-teams force a sub-team to be "
        "hidden; each warning names the unit and the fix.",
    )
    open_cycle = serializers.CharField(
        allow_null=True, help_text="The open cycle (YYYY-MM) whose invitations follow the roster when applied."
    )


class RosterAppliedOutput(serializers.Serializer):  # type: ignore[type-arg]
    """The counts the ``roster_imported`` audit event records."""

    rows = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    moved = serializers.IntegerField()
    role_changes = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    deactivated = serializers.IntegerField()
    teams_created = serializers.IntegerField(help_text="How many teams were added.")
    warnings = serializers.IntegerField(help_text="How many R5 warnings the roster now raises.")
    mail_error = serializers.CharField(
        allow_null=True,
        help_text="Null, or: the roster was applied but the joiners' survey links could not be mailed.",
    )


class RowErrorOutput(serializers.Serializer):  # type: ignore[type-arg]
    line = serializers.IntegerField(help_text="Line of the file (1 is the header).")
    message = serializers.CharField(help_text="What is wrong on that line, and the fix.")


class RosterErrorsOutput(serializers.Serializer):  # type: ignore[type-arg]
    detail = serializers.CharField(help_text="<field>: what is wrong, and the fix (every line's error, joined).")
    row_errors = RowErrorOutput(
        many=True, help_text="Each bad line of the file; empty when the body itself is wrong (no file, not UTF-8…)."
    )
