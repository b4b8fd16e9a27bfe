"""HR's audit log (ANONYMITY R10): every audit event, newest first, filtered by kind, actor and
date range, a page at a time, and as a CSV of the filtered events.

The log holds who did what and when, never answers or comments, and so does its CSV. Exporting
the log is itself an export, so it is audited: the filters used and the number of rows, never the
rows' contents.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from analytics.reports.access import viewer_of
from surveys.audit import audit_subject
from surveys.models import AuditEvent
from surveys.programme.access import hr_required
from surveys.programme.audit_forms import AuditFilterForm, kind_label
from surveys.spreadsheet import spreadsheet_text

PER_PAGE = 100
CSV_COLUMNS = ("at", "actor", "action", "subject", "detail")
BOM = "\ufeff"  # so that Excel reads the file as UTF-8
# A cell that starts with "=", "@"... is run by a spreadsheet (CSV injection): it gets an apostrophe.
csv_cell = spreadsheet_text


def _detail_json(detail: object) -> str:
    return json.dumps(detail, ensure_ascii=False, sort_keys=True)


def _actor(request: HttpRequest) -> str:
    user = request.user
    return str(getattr(user, "email", "") or user.get_username())


def _form(request: HttpRequest) -> AuditFilterForm:
    # Bound only when a filter was given, so the plain page is not a "submitted" empty form.
    fields = set(AuditFilterForm.base_fields)
    return AuditFilterForm(request.GET if fields & set(request.GET) else None)


def _page(request: HttpRequest, form: AuditFilterForm, *, status: int = 200) -> HttpResponse:
    context: dict[str, Any] = {"form": form, "viewer": viewer_of(request), "time_zone": settings.TIME_ZONE}
    if form.is_bound and not form.is_valid():
        # No results under a filter that could not be read: the form and what to fix, only.
        return render(request, "surveys/programme/audit.html", context, status=400)
    filters = form.filters()
    page = Paginator(form.events(), PER_PAGE).get_page(request.GET.get("page"))
    rows = [
        {
            "event": event,
            "kind": kind_label(event.action),
            "subject": audit_subject(event.detail),
            "detail": _detail_json(event.detail),
        }
        for event in page.object_list
    ]
    context.update(
        page=page,
        rows=rows,
        filters=filters,
        filter_query=urlencode(filters),
        filtered=bool(filters),
    )
    return render(request, "surveys/programme/audit.html", context, status=status)


@require_GET
@hr_required
def audit_log(request: HttpRequest) -> HttpResponse:
    return _page(request, _form(request))


def _csv_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    class Line:
        """csv.writer's file: hands back each line written instead of storing it."""

        def write(self, text: str) -> str:
            return text

    writer = csv.writer(Line())
    yield BOM + writer.writerow(CSV_COLUMNS)
    for event in events:
        yield writer.writerow(
            [
                csv_cell(value)
                for value in (
                    timezone.localtime(event.at).isoformat(),
                    event.actor,
                    event.action,
                    audit_subject(event.detail),
                    _detail_json(event.detail),
                )
            ]
        )


@require_GET
@hr_required
def audit_csv(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        return _page(request, form)  # 400, the form and its messages, no file
    # The export's own audit event is written first but is not in the file: the file holds the
    # events that existed when it was asked for, so its row count is the one audited.
    last = AuditEvent.objects.aggregate(last=Max("pk"))["last"] or 0
    events = form.events().filter(pk__lte=last)
    filters = form.filters()
    AuditEvent.objects.create(
        actor=_actor(request),
        action="audit_log_exported",
        detail={"format": "csv", "filters": filters, "rows": events.count()},
    )
    # Read in chunks, joined in memory: the log is small (a few events per change), and a whole
    # response is what hr_required hands back.
    response = HttpResponse(_csv_lines(events.iterator(chunk_size=500)), content_type="text/csv; charset=utf-8")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="pilotpulse-audit-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response
