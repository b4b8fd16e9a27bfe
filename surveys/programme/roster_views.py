"""The roster in the browser (HR only): upload the CSV `import_roster` reads, see a dry run, apply it.

Between preview and apply the uploaded text is kept server-side, in the HR user's session (the
database by default, never a cookie: the client only holds a random preview id), with the roster's
fingerprint at preview time and the deactivate choice. Apply re-parses that text, so the client
cannot change what is applied, and refuses if the roster's fingerprint has changed since the
preview. One preview per session (a new upload replaces it), kept for PREVIEW_TTL_SECONDS,
dropped once applied.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from surveys.programme.access import hr_required
from surveys.programme.roster_forms import ROSTER_MAX_LABEL, RosterUploadForm
from surveys.roster import RosterErrors, RosterReport, RosterRow, RosterStale, roster_parse
from surveys.services.cycles import open_cycle_get
from surveys.services.roster_apply import roster_preview, roster_upload_apply

SESSION_KEY = "programme_roster_preview"
PREVIEW_TTL_SECONDS = 30 * 60
UPLOAD_TEMPLATE = "surveys/programme/roster.html"
PREVIEW_TEMPLATE = "surveys/programme/roster_preview.html"


def _actor(request: HttpRequest) -> str:
    return str(request.hr_person.email)  # type: ignore[attr-defined]


def _same_preview_id(kept: str, posted: str) -> bool:
    """Whether the posted id is the kept one, in constant time. compare_digest raises TypeError on
    a str holding anything but ASCII, which a posted id may (the ids made here are ASCII)."""
    return kept.isascii() and posted.isascii() and secrets.compare_digest(kept, posted)


def _stored_preview(request: HttpRequest, preview_id: str) -> dict[str, Any] | None:
    stored = request.session.get(SESSION_KEY)
    if not isinstance(stored, dict) or not _same_preview_id(str(stored.get("id", "")), preview_id):
        return None
    if float(stored.get("expires", 0)) < time.time():
        request.session.pop(SESSION_KEY, None)
        return None
    return stored


def _upload_page(request: HttpRequest, form: RosterUploadForm, *, status: int = 200, refusal: str = "") -> HttpResponse:
    context = {"form": form, "max_size": ROSTER_MAX_LABEL, "refusal": refusal}
    return render(request, UPLOAD_TEMPLATE, context, status=status)


def _preview_page(
    request: HttpRequest, *, text: str, rows: list[RosterRow], deactivate_missing: bool, filename: str
) -> HttpResponse:
    """Dry-runs the import (rolled back, no mail) and keeps the text for the apply."""
    preview = roster_preview(rows=rows, deactivate_missing=deactivate_missing, actor=_actor(request))
    report, fingerprint = preview.report, preview.fingerprint
    preview_id = secrets.token_urlsafe(24)
    request.session[SESSION_KEY] = {
        "id": preview_id,
        "text": text,
        "fingerprint": fingerprint,
        "deactivate_missing": deactivate_missing,
        "filename": filename,
        "expires": time.time() + PREVIEW_TTL_SECONDS,
    }
    context = {
        "report": report,
        "rows": len(rows),
        "filename": filename,
        "preview_id": preview_id,
        "deactivate_missing": deactivate_missing,
        "missing_count": len(report.missing_active),
        "open_cycle": open_cycle_get(),
        "ttl_minutes": PREVIEW_TTL_SECONDS // 60,
        "changes": _changes_count(report),
    }
    return render(request, PREVIEW_TEMPLATE, context)


def _changes_count(report: RosterReport) -> int:
    return report.people_created + report.people_updated + report.people_deactivated + len(report.teams_created)


@hr_required
@never_cache
@require_http_methods(["GET", "POST"])
def roster(request: HttpRequest) -> HttpResponse:
    """GET: the upload form. POST with a file: the dry-run preview (or the form with every error,
    nothing stored). POST with ``preview`` and no file: the stored file previewed again with the
    other deactivate choice."""
    if request.method == "GET":
        return _upload_page(request, RosterUploadForm())
    preview_id = request.POST.get("preview", "")
    if preview_id and not request.FILES:
        return _repreview(request, preview_id)
    request.session.pop(SESSION_KEY, None)  # a new upload replaces any earlier preview
    form = RosterUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _upload_page(request, form, status=400)
    return _preview_page(
        request,
        text=form.cleaned_data["text"],
        rows=form.cleaned_data["rows"],
        deactivate_missing=form.cleaned_data["deactivate_missing"],
        filename=form.cleaned_data["file"].name,
    )


def _repreview(request: HttpRequest, preview_id: str) -> HttpResponse:
    stored = _stored_preview(request, preview_id)
    if stored is None:
        return _upload_page(request, RosterUploadForm(), status=400, refusal=_EXPIRED)
    form = RosterUploadForm()
    try:
        rows = roster_parse(stored["text"])
    except RosterErrors as errors:  # a team it manages was removed meanwhile, say
        request.session.pop(SESSION_KEY, None)
        refusal = "The file no longer passes the checks; fix it and upload it again: " + str(errors)
        return _upload_page(request, form, status=409, refusal=refusal)
    return _preview_page(
        request,
        text=stored["text"],
        rows=rows,
        deactivate_missing=request.POST.get("deactivate_missing") == "on",
        filename=stored["filename"],
    )


_EXPIRED = (
    "There is no preview to apply: it was applied already, replaced by a newer upload, or older than "
    f"{PREVIEW_TTL_SECONDS // 60} minutes. Nothing was changed; upload the file again."
)


@hr_required
@never_cache
@require_POST
def roster_apply_view(request: HttpRequest) -> HttpResponse:
    """Applies the previewed file, all or nothing; refuses a stale or unknown preview."""
    stored = _stored_preview(request, request.POST.get("preview", ""))
    if stored is None:
        return _upload_page(request, RosterUploadForm(), status=400, refusal=_EXPIRED)
    request.session.pop(SESSION_KEY, None)  # used once, whatever happens next
    try:
        rows = roster_parse(stored["text"])
        applied = roster_upload_apply(
            rows=rows,
            deactivate_missing=bool(stored["deactivate_missing"]),
            fingerprint=str(stored["fingerprint"]),
            actor=_actor(request),
        )
    except (RosterStale, RosterErrors) as error:
        refusal = f"Not applied: {error}"
        if isinstance(error, RosterErrors):
            refusal = f"Not applied: the roster changed since the preview and the file no longer passes: {error}"
        return _upload_page(request, RosterUploadForm(), status=409, refusal=refusal)
    summary = (
        f"{applied.rows} rows read: {applied.created} created, {applied.updated} updated ({applied.moved} moved), "
        f"{applied.unchanged} unchanged, {applied.deactivated} deactivated; {applied.teams_created} teams created."
    )
    if applied.mail_error is not None:  # the roster is committed; only the survey-link mails failed
        messages.warning(request, f"{applied.mail_error} {summary}")
    else:
        messages.success(request, f"Roster applied from {stored['filename']}: {summary}")
    return redirect("programme:roster")
