"""What the OpenAPI schema says about the API's query parameters and error responses, in one place,
so that every status a view returns is documented with the same words the errors use."""

from __future__ import annotations

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
