"""Every API error is JSON with one message that names the parameter and says the fix.

DRF's own handler already answers its exceptions with ``{"detail": ...}``; this one also flattens
a field-keyed body (a serializer's errors) into the same shape, and answers an unexpected error
with a JSON 500 instead of Django's HTML page. The message of an unexpected error is fixed text:
an exception's own words may quote data, and error bodies must never carry any (ANONYMITY.md,
threat 7: error messages are a side door).
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import Resolver404, resolve
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)

SERVER_ERROR = "server: something went wrong on our side; try again later, and tell the operator if it persists."
NOT_AN_ENDPOINT = "path: no such API endpoint; the endpoints are listed at /api/docs/."


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    response = exception_handler(exc, context)
    if response is None:
        # The traceback goes to the log (whose filters redact survey links), not to the client.
        logger.exception("Unhandled error in an API view", exc_info=exc)
        return Response({"detail": SERVER_ERROR}, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    if not (isinstance(response.data, dict) and set(response.data) == {"detail"}):
        response.data = {"detail": _flatten(response.data)}
    return response


def _flatten(data: Any, prefix: str = "") -> str:
    """``{"unit": ["Not a UUID."]}`` -> ``"unit: Not a UUID."``, the shape of every other error."""
    if isinstance(data, dict):
        return "; ".join(_flatten(value, f"{prefix}{key}: ") for key, value in data.items())
    if isinstance(data, list):
        return "; ".join(_flatten(value, prefix) for value in data)
    return f"{prefix}{data}"


def api_not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    """A path under /api/ that no view answers: JSON like the API's other errors, not the site's
    HTML page, and the one-character fix when only the trailing slash is missing."""
    detail = NOT_AN_ENDPOINT
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            detail = f"path: no such API endpoint; did you mean {request.path}/ (with the trailing slash)?"
    return JsonResponse({"detail": detail}, status=404)
