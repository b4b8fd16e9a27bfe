"""The promise, stated truthfully (issue 7, item 6): the privacy page, the survey form, the
thank-you page and the survey e-mails say what is protected, with the thresholds actually in
force, and what k-anonymity cannot promise (ANONYMITY.md, "What k-anonymity cannot promise")."""

import datetime as dt
import html
import re

import pytest
from django.urls import reverse

from surveys.models import Organisation
from surveys.services.cycles import cycle_open, link_resend, reminders_send
from surveys.services.thresholds import cycle_k_raise
from tests.surveys.helpers import team_with_people

pytestmark = pytest.mark.django_db
NOV = dt.date(2026, 11, 2)

# What is protected: nobody sees a person's answers; small groups and groups found by
# subtraction are hidden; nothing before the close.
PROTECTED = (
    "nobody",
    "manager",
    "hr",
    "administrator",
    "subtracting one report from another",
    "after the pulse closes",
)
# What it cannot promise, one phrase per limit: homogeneity, insiders, across cycles, raw access.
LIMITS = ("same answer", "own answer", "two months", "direct access to the database server")


def text_of(content: bytes | str) -> str:
    """Visible words only, whitespace collapsed, lower case: what a reader reads."""
    content = content.decode() if isinstance(content, bytes) else content
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", content))).lower()


def assert_promise(text: str, *, k: int | None, comment_threshold: int | None) -> None:
    for phrase in PROTECTED + LIMITS:
        assert re.search(rf"\b{re.escape(phrase)}\b", text), phrase
    assert "without dates" in text and "comments" in text
    if k is not None:
        assert f"groups of at least {k} people" in text
    if comment_threshold is not None:
        assert f"comments are shown only for groups of at least {comment_threshold} people" in text or (
            f"comments are released only for groups of at least {comment_threshold} people" in text
        )


@pytest.fixture
def organisation() -> Organisation:
    Organisation.objects.update(anonymity_threshold=7, comment_threshold=12)
    return Organisation.current()


def test_the_privacy_page_states_the_organisations_thresholds_and_the_limits(client, organisation):
    text = text_of(client.get(reverse("privacy")).content)
    assert_promise(text, k=7, comment_threshold=12)
    assert "raised afterwards, never lowered" in text
    assert "what this cannot promise" in text


def test_the_survey_form_states_the_cycles_own_thresholds(client, organisation):
    team_with_people("Core", 6)
    opened = cycle_open(send_mail=False)
    cycle_k_raise(cycle=opened.cycle, k=9, actor="hr@example.com")  # the cycle's k, not the organisation's 7
    Organisation.objects.update(anonymity_threshold=3)
    page = client.get(reverse("survey", kwargs={"token": opened.links[0].token}))
    text = text_of(page.content)
    assert_promise(text, k=9, comment_threshold=12)
    assert "groups of at least 3 people" not in text and "groups of at least 7 people" not in text
    assert reverse("privacy") in page.content.decode()


def test_the_thank_you_page_states_the_promise_and_the_limits(client):
    page = client.get(reverse("survey_thanks"))
    assert_promise(text_of(page.content), k=None, comment_threshold=None)
    assert reverse("privacy") in page.content.decode()  # where the thresholds are


def test_every_survey_mail_states_the_cycles_thresholds_and_the_limits(organisation, mailoutbox):
    team_with_people("Core", 2)
    cycle = cycle_open(today=NOV).cycle
    cycle_k_raise(cycle=cycle, k=8, actor="hr@example.com")
    reminders_send(today=NOV + dt.timedelta(days=3))
    link_resend(email="core-0@example.com")
    kinds = {"Your November pulse": 0, "Reminder": 0, "Your new link": 0}
    for message in mailoutbox:
        kind = next(prefix for prefix in kinds if message.subject.startswith(prefix))
        kinds[kind] += 1
        # The invitations went out at k = 7; the reminder and the resend after the raise, at 8.
        k = 7 if kind == "Your November pulse" else 8
        for body in (message.body, message.alternatives[0][0]):
            assert_promise(text_of(body), k=k, comment_threshold=12)
            assert "http://127.0.0.1:8000/privacy/" in body
    assert all(kinds.values()), kinds
