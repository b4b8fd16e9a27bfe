"""HR's export pages: start an export, follow its progress, download the file.

Only HR may use them (analytics.reports.access); anyone else signed in gets 404, and a job is
only ever shown to the person who started it (another HR user's job is 404 too), so neither the
pages nor a job's existence are confirmed to anyone else.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from analytics.exports.forms import ExportStartForm
from analytics.exports.models import ExportJob
from analytics.exports.selectors import RECENT_JOBS, export_job_of, export_jobs_of
from analytics.exports.services import (
    EXPIRED_TEXT,
    ExportInputError,
    ExportUnavailable,
    export_download_name,
    export_job_download,
    export_job_start,
)
from analytics.reports.access import viewer_for

View = Callable[..., HttpResponseBase]


def _user(request: HttpRequest) -> User:
    """The signed-in user (hr_required has checked there is one)."""
    if not isinstance(request.user, User):
        raise Http404
    return request.user


def hr_required(view: View) -> View:
    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
        if not viewer_for(request.user).is_hr:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


@require_http_methods(["GET", "POST"])
@hr_required
def exports_home(request: HttpRequest) -> HttpResponse:
    # Bound on every POST, an empty one included (``request.POST or None`` would show an empty
    # POST the blank form, 200, without a word about the format it lacks).
    form = ExportStartForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            job = export_job_start(
                requester=_user(request),
                fmt=form.cleaned_data["format"],
                cycle_label=form.cleaned_data["cycle"] or None,
            )
        except ExportInputError as error:
            form.add_error(error.field, f"{error.field.capitalize()}: {error.message}")
        else:
            messages.success(request, f"Export {job.pk} started. It is listed below; download it once it is done.")
            return redirect("exports:home")
    jobs = list(export_jobs_of(user=_user(request))[:RECENT_JOBS])
    status = 400 if form.is_bound else 200  # a valid POST has redirected above
    return render(
        request,
        "analytics/exports/home.html",
        {
            "form": form,
            "jobs": jobs,
            "polling": any(job.is_running for job in jobs),
            "expired_text": EXPIRED_TEXT,
            "ttl_hours": settings.PULSE_EXPORT_TTL_HOURS,
        },
        status=status,
    )


def _own_job(request: HttpRequest, job_id: int) -> ExportJob:
    job = export_job_of(user=_user(request), job_id=job_id)
    if job is None:
        raise Http404
    return job


@require_GET
@hr_required
def export_status(request: HttpRequest, job_id: int) -> JsonResponse:
    """What the page's poll reads while a job runs (static/js/exports.js)."""
    job = _own_job(request, job_id)
    return JsonResponse(
        {
            "id": job.pk,
            "state": job.state,
            "state_display": job.get_state_display(),
            "progress": job.progress,
            "download_url": reverse("exports:download", args=[job.pk]) if job.state == job.State.DONE else None,
        }
    )


@require_GET
@hr_required
def export_download(request: HttpRequest, job_id: int) -> HttpResponseBase:
    job = _own_job(request, job_id)
    try:
        handle = export_job_download(job=job, actor=_user(request))
    except ExportUnavailable as error:
        status = 410 if job.is_expired() else 409
        return render(request, "analytics/exports/unavailable.html", {"job": job, "message": str(error)}, status=status)
    return FileResponse(handle, as_attachment=True, filename=export_download_name(job))
