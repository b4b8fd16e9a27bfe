"""A database that cannot be reached answers 503 with a page that says what happened.

Without this, a lost PostgreSQL connection during a request is an unhandled exception: a bare
500 ("Server Error"), which tells an engineer half-way through the survey nothing about whether
their answers were kept. The submit service stores a response and consumes its link in one
transaction (ANONYMITY R2), so when the database goes away nothing is half-saved and the link
still works; the page says exactly that, and when to try again.

Only connection-level errors are caught (OperationalError, InterfaceError): a bug such as an
IntegrityError stays a 500 and is reported as one. The page is rendered without the request, so
no context processor runs: no session, no user, no query (the database is the thing that is
down). Nothing about the request is logged but the view's name: survey paths carry tokens (R2).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 60
#: The views whose 503 page speaks to someone answering the survey.
SURVEY_VIEWS = frozenset({"survey", "link_resend"})


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match is not None else ""
        logger.error("database unavailable in view %s: %s", view or "-", type(exception).__name__)
        if request.path.startswith("/api/"):
            response: HttpResponse = JsonResponse(
                {"detail": "database: unavailable for a moment; nothing was changed, try again in a minute"},
                status=503,
            )
        else:
            context = {
                "survey": match is not None and match.url_name in SURVEY_VIEWS,
                "retry_after": RETRY_AFTER_SECONDS,
            }
            response = HttpResponse(render_to_string("503.html", context), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response["Cache-Control"] = "no-store"
        return response
