"""The roster upload's steps that the browser and the API share: read the uploaded text, dry-run
it against a fingerprint of the roster, apply it.

The import itself (parse, all-or-nothing apply, the stale check, the ``roster_imported`` audit)
is surveys.roster's; this module adds what sat in the upload form and the preview view, so a
second client (the API) checks the same things with the same words and cannot drift from the
browser.
"""

from __future__ import annotations

import codecs
import csv
import logging
from dataclasses import dataclass
from typing import Any

from surveys.models import AuditEvent
from surveys.roster import RosterReport, RosterRow, roster_apply, roster_fingerprint, roster_import, roster_parse

logger = logging.getLogger(__name__)

# The same limits and wording as surveys.programme.roster_forms (a test keeps them equal until the
# form reads them from here).
ROSTER_MAX_BYTES = 2 * 1024 * 1024  # thousands of people fit in well under 2 MB
ROSTER_MAX_LABEL = "2 MB"
ROSTER_EXTENSIONS = (".csv", ".txt")
SAVE_AS_CSV = "In Excel or Numbers, use Save As / Export and choose \u201cCSV UTF-8\u201d."
EMPTY_FILE = "The file is empty; its first line must be the header email,name,team,role[,manages]."


class RosterInputError(ValueError):
    """The upload is not a roster text at all (too large, not UTF-8, binary, empty, not CSV);
    the message says what to do, in the upload form's words."""


def roster_text_read(*, raw: bytes, name: str | None = None) -> str:
    """The upload as text, checked as the browser's form checks it: ``name`` (a file's name, when
    it came as a file) must end in .csv or .txt; at most ROSTER_MAX_BYTES; UTF-8 (a leading BOM,
    which Excel writes, is dropped), or UTF-16 with its BOM (Excel's "Unicode text"); no NUL
    bytes; not blank. Text in another encoding is refused with the line and the byte that gave it
    away, never guessed: a wrong guess would store misspelt names without a word."""
    if name is not None and not name.lower().endswith(ROSTER_EXTENSIONS):
        raise RosterInputError(f"{name} is not a CSV file; choose a .csv file. {SAVE_AS_CSV}")
    if len(raw) > ROSTER_MAX_BYTES:
        raise RosterInputError(
            f"The file is larger than {ROSTER_MAX_LABEL}; remove columns other than "
            f"email,name,team,role,manages, or split the file."
        )
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"  # the BOM says which byte order; it is dropped with it
    else:
        encoding = "utf-8"
        raw = raw.removeprefix(codecs.BOM_UTF8)  # so that an error's offset counts in what is decoded
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as error:
        raise RosterInputError(_not_unicode_message(raw, error, encoding)) from None
    if "\x00" in text:
        raise RosterInputError(f"The file is not CSV text (it holds binary data). {SAVE_AS_CSV}")
    if not text.strip():
        raise RosterInputError(EMPTY_FILE)
    return text


def _not_unicode_message(raw: bytes, error: UnicodeDecodeError, encoding: str) -> str:
    if encoding == "utf-16":
        return f"The file starts like UTF-16 text but is not valid UTF-16. {SAVE_AS_CSV}"
    line = raw.count(b"\n", 0, error.start) + 1
    byte = raw[error.start]
    # Windows-1252 (Excel's "CSV" on Windows) and Latin-1 are the usual culprits: say what the byte
    # would have been there, so that HR can find the name without a hex editor.
    seen = raw[error.start : error.start + 1].decode("cp1252", errors="replace")
    # 0x80-0x9F are letters in Windows-1252 (€, Š, œ...) but control codes in Latin-1.
    encodings = "Windows-1252 or Latin-1" if byte >= 0xA0 else "Windows-1252"
    hint = f" (\u201c{seen}\u201d in {encodings})" if seen.isprintable() and seen != "\ufffd" else ""
    return (
        f"The file is not UTF-8 text: line {line} holds the byte 0x{byte:02X}{hint}, so it was "
        f"probably saved as Windows-1252 or Latin-1. {SAVE_AS_CSV}"
    )


def roster_rows_read(*, text: str) -> list[RosterRow]:
    """``roster_parse``, with the csv module's own errors (an over-long field, say) as a
    RosterInputError; RosterErrors (every bad line, with its number) passes through."""
    try:
        return roster_parse(text)
    except csv.Error as error:
        raise RosterInputError(f"The file is not valid CSV ({error}). {SAVE_AS_CSV}") from None


@dataclass(frozen=True)
class RosterPreview:
    """A dry run and the fingerprint of the roster it ran against: applying the same rows with
    this fingerprint does exactly what ``report`` says, or is refused as stale."""

    fingerprint: str
    report: RosterReport


def roster_preview(*, rows: list[RosterRow], deactivate_missing: bool, actor: str) -> RosterPreview:
    """Dry-runs the import (rolled back: nothing stored, nothing audited, nobody mailed)."""
    # Taken before the dry run: a change that lands during it then makes the apply refuse, rather
    # than the preview describing a roster that has moved on.
    fingerprint = roster_fingerprint()
    report = roster_import(rows=rows, deactivate_missing=deactivate_missing, dry_run=True, invite=False, actor=actor)
    return RosterPreview(fingerprint=fingerprint, report=report)


@dataclass(frozen=True)
class RosterApplied:
    """What an apply did, in the ``roster_imported`` audit event's terms (counts, no names), and
    the mail error if the roster was committed but the joiners' survey links could not be sent."""

    rows: int
    created: int
    updated: int
    moved: int
    role_changes: int
    unchanged: int
    deactivated: int
    teams_created: int
    warnings: int
    mail_error: str | None = None


def roster_upload_apply(
    *, rows: list[RosterRow], deactivate_missing: bool, fingerprint: str, actor: str
) -> RosterApplied:
    """``roster_apply`` (all or nothing, refused with RosterStale when ``fingerprint`` is no longer
    the roster's, audited as ``roster_imported`` by ``actor``), told back as counts.

    The open cycle's invitations follow the roster after the import has committed, and mailing
    the joiners' links may fail (OSError: the mail server). The roster then stands, and the
    caller must say so rather than report a failure that a retry would turn into a stale
    refusal: the counts are read back from the audit event the apply wrote, since the report
    died with the exception. Any other failure, or one before the commit (no event), propagates.
    """
    # Audit events of earlier applies are older: the event wanted is the actor's first after this.
    before = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    try:
        report = roster_apply(rows=rows, deactivate_missing=deactivate_missing, fingerprint=fingerprint, actor=actor)
    except OSError as error:
        event = AuditEvent.objects.filter(action="roster_imported", actor=actor, pk__gt=before).order_by("pk").first()
        if event is None:
            raise
        logger.exception("roster applied, invitation mails failed")
        return _applied_from_audit(
            event.detail,
            mail_error=(
                f"The roster was applied, but the invitation e-mails to joiners could not be sent ({error}). "
                "Check the mail settings; their invitations stay unmailed."
            ),
        )
    return RosterApplied(
        rows=len(rows),
        created=report.people_created,
        updated=report.people_updated,
        moved=report.people_moved,
        role_changes=len(report.role_changes),
        unchanged=report.people_unchanged,
        deactivated=report.people_deactivated,
        teams_created=len(report.teams_created),
        warnings=len(report.warnings),
    )


def _applied_from_audit(detail: dict[str, Any], *, mail_error: str) -> RosterApplied:
    counts = {
        name: int(detail.get(name, 0))
        for name in (
            "rows",
            "created",
            "updated",
            "moved",
            "role_changes",
            "unchanged",
            "deactivated",
            "teams_created",
            "warnings",
        )
    }
    return RosterApplied(**counts, mail_error=mail_error)
