"""URLs of the load benchmark only (enabled by bench.load_settings): the product's own URLs,
plus two views to measure the survey submission against on the same server.

- trivial: no database, no template; what the server and middleware cost alone.
- floor: the rows one submission writes (the invitation marked answered, the response, its
  answers, a comment for 3 in 20), in one transaction, through the same ORM calls, and nothing
  else: no token lookup, no lock, no validation. The submission cannot be cheaper than this.
"""

from __future__ import annotations

import uuid
from functools import cache

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from bench.load_answers import FLOOR_ANSWERS
from surveys.anonymous.models import Answer, Comment, Response
from surveys.instrument import Instrument, load_definition
from surveys.models import Invitation


@cache
def _floor_values() -> tuple[dict[str, float], str]:
    clean = Instrument(load_definition(1)).clean(FLOOR_ANSWERS, is_manager=False)
    return clean.values, clean.comment


def trivial(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


@csrf_exempt
def floor(request: HttpRequest, invitation_id: int, team_id: uuid.UUID) -> HttpResponse:
    values, comment = _floor_values()
    cycle_id = settings.LOAD_FLOOR_CYCLE_ID
    with transaction.atomic():
        Invitation.objects.filter(pk=invitation_id).update(status=Invitation.Status.ANSWERED)
        response = Response.objects.create(
            cycle_id=cycle_id, team_id=team_id, instrument_version_id=settings.LOAD_INSTRUMENT_VERSION_ID
        )
        Answer.objects.bulk_create(
            [Answer(response=response, item=item, value=value) for item, value in values.items()]
        )
        if invitation_id % 20 < 3:
            Comment.objects.create(cycle_id=cycle_id, team_id=team_id, text=comment)
    return redirect("survey_thanks")


urlpatterns = [
    path("bench/trivial/", trivial),
    path("bench/floor/<int:invitation_id>/<uuid:team_id>/", floor),
    path("", include("config.urls")),
]
