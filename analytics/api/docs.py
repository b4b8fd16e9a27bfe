"""What the OpenAPI schema says about the API's query parameters and error responses, in one place,
so that every status a view returns is documented with the same words the errors use."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from analytics.api.params import METRIC_NAMES, MONTH
from analytics.api.serializers import ErrorOutput

_MONTH_PATTERN = MONTH.pattern

ERROR_TEXT = {
    400: 'A query parameter is unknown, repeated, empty or malformed: `{"detail": "<param>: <the fix>"}`.',
    401: "Not signed in: send `Authorization: Token <token>` (make one at /api/tokens/) or a session cookie.",
    404: "No unit with this id that you may see in this pulse (the same answer whether or not it exists).",
}


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    return {status: OpenApiResponse(ErrorOutput, description=ERROR_TEXT[status]) for status in statuses}


CYCLE_PARAMETER = OpenApiParameter(
    "cycle",
    OpenApiTypes.STR,
    description="A month with published results, YYYY-MM (see /api/v1/cycles/); default: the latest.",
    pattern=_MONTH_PATTERN,
)
UNIT_PARAMETER = OpenApiParameter(
    "unit", OpenApiTypes.UUID, description="A unit_id from /api/v1/units/; 404 if it is not yours to see."
)
CELLS_PARAMETERS = [
    OpenApiParameter(
        "unit",
        OpenApiTypes.UUID,
        description=(
            "A unit_id from /api/v1/units/. Default for HR: the organisation; required otherwise. HR and "
            "managers (for units they manage) get the unit's whole subtree; a unit you see only as part of "
            "your own team's lineage comes alone."
        ),
    ),
    OpenApiParameter(
        "since", OpenApiTypes.STR, description="First month, YYYY-MM (inclusive).", pattern=_MONTH_PATTERN
    ),
    OpenApiParameter("until", OpenApiTypes.STR, description="Last month, YYYY-MM (inclusive).", pattern=_MONTH_PATTERN),
    OpenApiParameter(
        "metric",
        OpenApiTypes.STR,
        description=f"Comma-separated metric names; default: all. Known: {', '.join(METRIC_NAMES)}.",
    ),
    OpenApiParameter(
        "cursor", OpenApiTypes.STR, description="Opaque: follow `next` of the previous page instead of setting it."
    ),
]


# --- statuses the framework answers for every operation ------------------------------------------

_UNSAFE = ("post", "put", "patch", "delete")
_BODY_METHODS = ("post", "put", "patch")
_ERROR_SCHEMA = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOutput"}}}
FRAMEWORK_STATUSES = {
    "400": "The request could not be read: a Content-Length header that is not a number "
    "(config.request_limits), or, where the operation documents one, a parameter or body it refuses.",
    "406": "The Accept header asks for something other than JSON: the API answers application/json only.",
    "429": "Too many invalid API tokens from this address: every token request is refused for a while, a "
    "valid token included (config.api_auth); wait, then use a valid token.",
}
BODY_STATUSES = {
    "413": "The request is larger than PULSE_MAX_REQUEST_BYTES (3 MB by default; config.request_limits): it was "
    "refused before anything read it, so nothing was stored.",
    "415": (
        "The body's Content-Type is not one this endpoint reads: send application/json, or a form "
        "type the endpoint lists."
    ),
}
UNSAFE_STATUSES = {
    "403": "Signed in with the session cookie but without the CSRF token: send X-CSRFToken (from the csrftoken "
    "cookie), or use an API token instead.",
}


def framework_statuses_document(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS): documents the statuses that come
    from the framework rather than from a view, on every operation they can answer. An operation
    that documents the status already (a view's own 403) keeps its own words."""
    for methods in result.get("paths", {}).values():
        for method, operation in methods.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            added = dict(FRAMEWORK_STATUSES)
            if method in _BODY_METHODS:
                added.update(BODY_STATUSES)
            if method in _UNSAFE:
                added.update(UNSAFE_STATUSES)
            for code, description in added.items():
                operation["responses"].setdefault(code, {"content": _ERROR_SCHEMA, "description": description})
    return result
