"""The navigation every page shows, by role (a context processor: settings.TEMPLATES)."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from analytics.reports.access import viewer_of


def navigation(request: HttpRequest) -> dict[str, object]:
    # Lazy: pages that show no navigation (the survey) never look the viewer up, and the report
    # pages share the lookup their view already made.
    return {"viewer": SimpleLazyObject(lambda: viewer_of(request))}
