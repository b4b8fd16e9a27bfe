"""Every API error is JSON with one message that names the parameter and says the fix.

DRF's own handler already answers its exceptions with ``{"detail": ...}``; this one also flattens
a field-keyed body (a serializer's errors) into the same shape, words DRF's generic refusals (a
method, a media type) with the fix, answers Django's refusals of an oversized body as the 400 they
are (config.api_parsers), and answers an unexpected error with a JSON 500 instead of Django's
HTML page. The message of an unexpected error is fixed text: an exception's own words may quote
data, and error bodies must never carry any (ANONYMITY.md, threat 7: error messages are a side
door).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.urls import Resolver404, resolve
from rest_framework import status
from rest_framework.exceptions import MethodNotAllowed, NotAcceptable, PermissionDenied, UnsupportedMediaType
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from config.api_parsers import BodyError, too_big

logger = logging.getLogger(__name__)

SERVER_ERROR = "server: something went wrong on our side; try again later, and tell the operator if it persists."
NOT_AN_ENDPOINT = "path: no such API endpoint; the endpoints are listed at /api/docs/."
# How DRF's SessionAuthentication words a refused CSRF check (rest_framework.authentication).
CSRF_FAILED = "CSRF Failed:"


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    exc = _as_api_error(exc)
    response = exception_handler(exc, context)
    if response is None:
        # The traceback goes to the log (whose filters redact survey links), not to the client.
        logger.exception("Unhandled error in an API view", exc_info=exc)
        return Response({"detail": SERVER_ERROR}, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    if not (isinstance(response.data, dict) and set(response.data) == {"detail"}):
        response.data = {"detail": _flatten(response.data)}
    worded = _with_the_fix(exc, context)
    if worded is not None:
        response.data = {"detail": worded}
    return response


def _as_api_error(exc: Exception) -> Exception:
    """Django's refusals of a request body (raised while DRF reads it) as the API's 400; a view
    that reads the body through config.api_parsers.body_read never lets them get this far."""
    if isinstance(exc, RequestDataTooBig):
        return too_big()
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return BodyError("body", "too many fields or files; send only the fields the endpoint documents.")
    return exc


def _with_the_fix(exc: Exception, context: dict[str, Any]) -> str | None:
    """DRF's words for a wrong method, media type or Accept header, with what to send instead."""
    request, view = context.get("request"), context.get("view")
    if isinstance(exc, MethodNotAllowed) and request is not None and view is not None:
        allowed = ", ".join(method for method in view.allowed_methods if method != "OPTIONS")
        return f"method: {request.method} is not allowed here; this endpoint answers {allowed}."
    if isinstance(exc, UnsupportedMediaType) and request is not None:
        accepted = " or ".join(parser.media_type for parser in request.parsers)
        return f"Content-Type: {request.content_type or 'none'} is not a body this endpoint reads; send {accepted}."
    if isinstance(exc, NotAcceptable):
        return "Accept: the API answers application/json only; accept it (or send no Accept header)."
    if isinstance(exc, PermissionDenied) and str(exc.detail).startswith(CSRF_FAILED):
        reason = str(exc.detail).removeprefix(CSRF_FAILED).strip()
        return (
            f"csrf: {reason} A signed-in browser sends the X-CSRFToken header (the csrftoken cookie's value); "
            "a script uses an API token instead (Authorization: Token <token>, from /api/tokens/)."
        )
    return None


def _flatten(data: Any, prefix: str = "") -> str:
    """``{"unit": ["Not a UUID."]}`` -> ``"unit: Not a UUID."``, the shape of every other error."""
    if isinstance(data, dict):
        return "; ".join(_flatten(value, f"{prefix}{key}: ") for key, value in data.items())
    if isinstance(data, list):
        return "; ".join(_flatten(value, prefix) for value in data)
    return f"{prefix}{data}"


class ApiNotFound(APIView):
    """A path under /api/ that no view answers, whatever the method: JSON like the API's other
    errors, not the site's HTML page, and the one-character fix when only the trailing slash is
    missing.

    A DRF view rather than a plain one so that Django's CSRF middleware leaves it to DRF, as every
    API view: a PATCH to a mistyped path (or to an id its route's converter refuses) once got
    Django's HTML "CSRF failed" page. A session caller without the CSRF token still gets the
    API's JSON 403 from DRF's check; everyone else this 404."""

    permission_classes: list[type[BasePermission]] = []
    schema = None  # not an endpoint: left out of the OpenAPI schema

    def answer(self, request: Request, rest: str = "") -> Response:
        detail = NOT_AN_ENDPOINT
        if not request.path.endswith("/"):
            try:
                match = resolve(request.path + "/")
            except Resolver404:
                match = None
            if match is not None and getattr(match.func, "cls", None) is not ApiNotFound:
                detail = f"path: no such API endpoint; did you mean {request.path}/ (with the trailing slash)?"
        return Response({"detail": detail}, status=status.HTTP_404_NOT_FOUND)

    get = post = put = patch = delete = head = options = trace = answer


api_not_found = ApiNotFound.as_view()
