"""How large a request may be, and the pages that say so.

Django caps a form's or a JSON body's size (DATA_UPLOAD_MAX_MEMORY_SIZE) and its number of fields
(DATA_UPLOAD_MAX_NUMBER_FIELDS), but not a file upload, which it spools to disk whatever its
size, and DRF reads a JSON body without Django's cap. RequestSizeLimitMiddleware refuses any
request whose declared length is over PULSE_MAX_REQUEST_BYTES before anything reads it: 413 with
a page (or, under /api/, a JSON error) that says the limit as a number. A body sent without a
length (chunked) is read by Django as empty, so the declared length is the whole of it.

``bad_request`` replaces Django's bare "Bad Request (400)" for the requests Django itself refuses
before a view runs (too many fields, a body over the cap that slipped past a missing length):
the same words, and for the survey the promise that nothing was stored and the link still works.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from surveys.services.roster_apply import ROSTER_MAX_LABEL


def limit_label(size: int) -> str:
    """3145728 -> "3 MB", 4096 -> "4 KB": binary units, as upload sizes are counted."""
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= factor:
            amount = size / factor
            return f"{amount:.0f} {unit}" if amount == int(amount) else f"{amount:.1f} {unit}"
    return f"{size} bytes"


def _is_survey(request: HttpRequest) -> bool:
    return request.path.startswith("/s/")


def _refusal(request: HttpRequest, *, status: int, problem: str, fix: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": f"body: {problem}; {fix}"}, status=status)
    context = {"problem": problem, "fix": fix, "survey": _is_survey(request), "status": status}
    response = HttpResponse(render_to_string("request_refused.html", context), status=status)
    response["Cache-Control"] = "no-store"
    return response


class RequestSizeLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _refusal(
                request, status=400, problem="its Content-Length is not a number", fix="send the request again"
            )
        if declared > settings.PULSE_MAX_REQUEST_BYTES:
            return _refusal(
                request,
                status=413,
                problem=f"the request is larger than {limit_label(settings.PULSE_MAX_REQUEST_BYTES)}, the most one "
                "request may carry",
                fix=f"send a smaller file (a roster of at most {ROSTER_MAX_LABEL}) or shorter text",
            )
        return self.get_response(request)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400: Django's refusals of a request it cannot read, in words."""
    if isinstance(exception, TooManyFieldsSent):
        problem = f"the form sent more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,} fields"
        fix = "reload the page and send the form as it is shown"
    elif isinstance(exception, RequestDataTooBig):
        problem = f"the form is larger than {limit_label(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)}"
        fix = "send shorter text"
    else:
        problem, fix = "the request could not be read", "reload the page and try again"
    return _refusal(request, status=400, problem=problem, fix=fix)
