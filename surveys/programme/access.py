"""HR only: everyone else gets 404 (the pages' existence is not confirmed), anonymous users the
sign-in page."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse

from surveys.models import Person, Role


def hr_person(request: HttpRequest) -> Person | None:
    """The signed-in HR person, or None."""
    if not request.user.is_authenticated:
        return None
    return Person.objects.filter(user_id=request.user.pk, is_active=True, role=Role.HR).first()


def hr_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @login_required
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        person = hr_person(request)
        if person is None:
            raise Http404("no such page")
        request.hr_person = person  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper
