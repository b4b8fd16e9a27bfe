"""The survey form's properties, judged on one answer to one hostile POST: a valid body is
stored once; anything else is refused with the fields named, stores nothing, and leaves the link
able to take one valid submission, exactly once."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from django.utils.html import escape
from hypothesis import event

from config.text_input import text_problem
from surveys.anonymous.models import Answer, Comment, Response
from surveys.models import Cycle, Invitation
from surveys.models.cycles import token_digest
from tests.hostile.forms.fuzzing import URLENCODED, assert_clean_text, assert_not_server_error
from tests.surveys.helpers import FULL_ANSWERS

NOTHING = (0, 0, 0)


@dataclass(frozen=True)
class SurveyLinks:
    cycle: Cycle
    engineer: str  # the one-time token of an engineer of Core
    manager: str  # ...and of Core's manager (offered the managers-only ws3 source)


def survey_url(token: str) -> str:
    return reverse("survey", kwargs={"token": token})


def stored() -> tuple[int, int, int]:
    return Response.objects.count(), Answer.objects.count(), Comment.objects.count()


def link_status(token: str) -> str:
    return str(Invitation.objects.get(token_hash=token_digest(token)).status)


def valid_body() -> str:
    return urlencode({**FULL_ANSWERS, "action": "submit"}, doseq=True)


def assert_refused(response: HttpResponse, token: str) -> None:
    """A page (the form again, or a 4xx page), nothing stored, the link not used up; a 400 of the
    form shows every message at its item and links to it from the summary."""
    assert_not_server_error(response)
    assert response.status_code in (200, 400), response.status_code
    assert stored() == NOTHING
    assert link_status(token) == Invitation.Status.PENDING
    page = response.context["page"]
    body = response.content.decode()
    if response.status_code == 400:
        assert page.errors, "a 400 of the form with no message on it"
    for key, message in page.errors.items():
        assert f'id="{key}-error"' in body and f'href="#{key}-field"' in body, key
        assert escape(message) in body, (key, message)
        assert text_problem(message, multiline=True) is None, (key, message)  # never repeats what it refuses


def assert_link_takes_one_valid_submission(client: Client, token: str) -> None:
    done = client.post(survey_url(token), valid_body(), content_type=URLENCODED)
    assert done.status_code == 302, done.status_code
    assert stored()[0] == 1 and link_status(token) == Invitation.Status.ANSWERED
    again = client.post(survey_url(token), valid_body(), content_type=URLENCODED)
    assert again.status_code == 409, again.status_code
    assert stored()[0] == 1


def judge(client: Client, token: str, response: HttpResponse) -> bool:
    """Checks the answer to one POST of the final step; True if it was stored."""
    assert_not_server_error(response)
    event(f"status {response.status_code}")  # --hypothesis-show-statistics: every outcome is reached
    if response.status_code == 302:
        assert response["Location"] == reverse("survey_thanks")
        assert stored()[0] == 1 and link_status(token) == Invitation.Status.ANSWERED
        comments = list(Comment.objects.values_list("text", flat=True))
        assert_clean_text(*comments)
        assert not any("\ufffd" in text for text in comments), "a garbled comment was stored"
        again = client.post(survey_url(token), valid_body(), content_type=URLENCODED)
        assert again.status_code == 409 and stored()[0] == 1
        return True
    assert_refused(response, token)
    assert_link_takes_one_valid_submission(client, token)
    return False
