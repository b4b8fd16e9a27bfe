"""The programme's start page for HR: what can be run from here."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from surveys.models import Cycle
from surveys.programme.access import hr_required


@hr_required
def programme_home(request: HttpRequest) -> HttpResponse:
    cycles = list(Cycle.objects.order_by("-month")[:12])
    return render(request, "surveys/programme/home.html", {"cycles": cycles})
