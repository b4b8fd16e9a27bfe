"""The programme's start page for HR: what can be run from here, the recent cycles, and the
closed cycles whose comments are still in review (ANONYMITY R7), with their release dates."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from surveys.models import Cycle
from surveys.programme.access import hr_required


@hr_required
def programme_home(request: HttpRequest) -> HttpResponse:
    cycles = list(Cycle.objects.order_by("-month")[:12])
    # Every cycle still in review, however old: one left unreleased must not drop off the page.
    in_review = list(
        Cycle.objects.filter(status=Cycle.Status.CLOSED, comments_released_at__isnull=True).order_by("month")
    )
    return render(request, "surveys/programme/home.html", {"cycles": cycles, "in_review": in_review})
