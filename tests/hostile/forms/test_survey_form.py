"""Property-based fuzzing of the anonymous survey form at its one-time link (/s/<token>/):
hypothesis-made POST bodies (fields missing, repeated or unknown; answers out of range or not
numbers; comments with NUL, C0/C1 controls, direction overrides, far too long) and hostile tokens.

Properties: never a 5xx; a refused submission is the form again (or a 4xx page) with a message at
each field it names; nothing is stored and the link is not used up; the same link then takes one
valid submission, exactly once. On PostgreSQL, which is what refuses NUL in text."""

from __future__ import annotations

from urllib.parse import quote, quote_from_bytes

import pytest
from django.test import Client
from django.utils.html import escape
from hypothesis import given
from hypothesis import strategies as st

from config.text_input import text_problem
from surveys.anonymous.models import Comment
from surveys.instrument import AnswerErrors
from surveys.models import Invitation
from surveys.submission import response_submit
from tests.hostile.forms.fuzzing import URLENCODED, fuzz, post, rolled_back
from tests.hostile.forms.strategies import (
    form_pairs,
    hostile_text,
    numbers_as_text,
    salted,
    utf8_char,
)
from tests.hostile.forms.survey_checks import (
    NOTHING,
    SurveyLinks,
    assert_link_takes_one_valid_submission,
    judge,
    link_status,
    stored,
    survey_url,
    valid_body,
)
from tests.surveys.helpers import FULL_ANSWERS, STEP1, STEP2

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

COMMENT = str(FULL_ANSWERS["c1"])
COMMENT_MAX = 1_000  # the c1 item's max_length in surveys/instruments/v1.json
# Each answer's field as the form sends it; the multi-select ws3 as one of its ticks.
VALID_FIELDS = {key: value[0] if isinstance(value, list) else value for key, value in FULL_ANSWERS.items()}

answers = st.one_of(
    st.sampled_from(["0", "8", "-1", "1.0", "7.0", " 7 ", "07", "1e0", "\uff17", "7\x00", "0.75", "teammates"]),
    numbers_as_text(),
    hostile_text(20),
)
sources = st.one_of(st.sampled_from(["reports", "everyone", "teammates\x00", "", "TEAMMATES"]), hostile_text(20))
comments = st.one_of(
    hostile_text(120),
    salted(COMMENT),
    st.builds(
        lambda length, tail: "y" * length + tail, st.sampled_from([999, 1_000, 1_001]), st.sampled_from(["", "\x00"])
    ),
)
HOSTILE_FIELDS = {key: answers for key in VALID_FIELDS} | {"ws3": sources, "c1": comments}
actions = st.one_of(st.sampled_from(["submit", "submit", "next", "back"]), hostile_text(10))


@fuzz(max_examples=200)
@given(
    pairs=form_pairs(VALID_FIELDS, HOSTILE_FIELDS, focus=["c1"]),
    action=actions,
    multipart=st.booleans(),
    manager=st.booleans(),
)
def test_any_post_is_stored_once_when_valid_or_refused_at_its_fields(
    client, links: SurveyLinks, pairs, action, multipart, manager
):
    """Whatever the body, the answer is one of: stored (302, then the link is used up); the next
    or previous step (200); the form again with its messages (400). Each refusal leaves the link
    able to take one valid submission. A manager's link too: it is offered one more ws3 source."""
    token = links.manager if manager else links.engineer
    with rolled_back():
        response = post(client, survey_url(token), [*pairs, ("action", action)], multipart=multipart)
        if action in ("next", "back"):
            # A step change stores nothing, however hostile the answers it carries along.
            assert response.status_code in (200, 400) and stored() == NOTHING
        judge(client, token, response)


refused_comments = st.one_of(
    salted(COMMENT),
    st.builds(lambda position: COMMENT[:position] + "\ufffd" + COMMENT[position:], st.integers(0, len(COMMENT))),
)


@fuzz(max_examples=50)
@given(comment=refused_comments)
def test_a_comment_that_cannot_be_stored_is_refused_at_the_comment_and_every_other_answer_kept(
    client, links: SurveyLinks, comment
):
    """The policy for the comment: refused with a message on it (never stripped in silence), and
    the form comes back at its step with every other answer as typed."""
    with rolled_back():
        response = post(
            client, survey_url(links.engineer), [*_pairs({**FULL_ANSWERS, "c1": comment}), ("action", "submit")]
        )
        assert response.status_code == 400 and stored() == NOTHING
        page = response.context["page"]
        assert list(page.errors) == ["c1"] and page.step == 2
        message = page.errors["c1"]
        assert message.startswith("Your comment holds") and ("remove the" in message or "retype that part" in message)
        # Step 1 travels in hidden fields; step 2 is shown with its answers chosen as they were.
        assert set(STEP1.items()) <= set(page.hidden)
        shown = {item.key: item for section in page.sections for item in section.items}
        for key, value in STEP2.items():
            item = shown[key]
            if item.kind == "number":
                assert item.value == value, key
            elif item.kind != "text":
                assert [option.value for option in item.options if option.checked] == (
                    value if isinstance(value, list) else [value]
                ), key
        assert f">{escape(comment)}</textarea>" in response.content.decode()  # what was typed, to fix
        assert_link_takes_one_valid_submission(client, links.engineer)


@fuzz(max_examples=50)
@given(comment=st.text(alphabet=st.one_of(st.characters(categories=["Cs"]), utf8_char), min_size=1, max_size=30))
def test_the_submit_service_refuses_a_comment_no_http_body_can_carry(links: SurveyLinks, comment):
    """A lone surrogate cannot arrive in a form body (Django decodes it to U+FFFD) but does arrive
    from JSON's "\\ud800" escape; psycopg cannot encode one, so the service refuses it itself."""
    problem = text_problem(comment, multiline=True) is not None or "\ufffd" in comment
    with rolled_back():
        try:
            response_submit(token=links.engineer, raw_answers={**FULL_ANSWERS, "c1": comment})
        except AnswerErrors as errors:
            assert problem, errors.errors
            assert list(errors.errors) == ["c1"] and errors.errors["c1"].startswith("Your comment holds")
            assert stored() == NOTHING and link_status(links.engineer) == Invitation.Status.PENDING
        else:
            assert not problem, repr(comment)
            assert link_status(links.engineer) == Invitation.Status.ANSWERED


def _pairs(answers: dict[str, object]) -> list[tuple[str, str]]:
    return [(key, v) for key, value in answers.items() for v in (value if isinstance(value, list) else [str(value)])]


@pytest.mark.parametrize(
    ("comment", "stored_as"),
    [
        ("y" * COMMENT_MAX, "y" * COMMENT_MAX),
        # A browser sends each line break of a textarea as CRLF but its maxlength counts it as one.
        ("line\r\n" * (COMMENT_MAX // 5 - 1) + "last!", "line\n" * (COMMENT_MAX // 5 - 1) + "last!"),
    ],
    ids=["exactly-1000", "1000-with-crlf-line-breaks"],
)
def test_a_comment_of_the_stated_limit_is_taken(client, links: SurveyLinks, comment, stored_as):
    assert len(stored_as) == COMMENT_MAX
    response = post(
        client, survey_url(links.engineer), [*_pairs({**FULL_ANSWERS, "c1": comment}), ("action", "submit")]
    )
    assert response.status_code == 302
    assert list(Comment.objects.values_list("text", flat=True)) == [stored_as]


def test_a_comment_over_the_stated_limit_says_the_limit_and_its_length(client, links: SurveyLinks):
    response = post(
        client, survey_url(links.engineer), [*_pairs({**FULL_ANSWERS, "c1": "y" * 1_001}), ("action", "submit")]
    )
    assert response.status_code == 400 and stored() == NOTHING
    assert response.context["page"].errors == {"c1": "Keep your comment to 1,000 characters; it has 1,001."}
    assert_link_takes_one_valid_submission(client, links.engineer)


# --- hostile tokens ------------------------------------------------------------------------------------


def _variants(token: str) -> st.SearchStrategy[str]:
    """The real token, damaged: what a mangled mail link or a guesser sends."""
    return st.sampled_from(
        [token[:-1], token + "x", token.upper(), " " + token, token + "\x00", token + "\u202e", token[::-1], token * 3]
    )


@fuzz(max_examples=80)
@given(data=st.data())
def test_a_hostile_token_is_a_4xx_page_and_the_real_link_keeps_working(client: Client, links: SurveyLinks, data):
    token_path = data.draw(
        st.one_of(
            st.text(alphabet=utf8_char, max_size=80).map(lambda text: quote(text, safe="")),
            st.binary(max_size=40).map(lambda raw: quote_from_bytes(raw, safe="")),  # bytes that are not UTF-8 too
            _variants(links.engineer).map(lambda text: quote(text, safe="")),
        ),
        label="token_path",
    )
    with rolled_back():
        url = f"/s/{token_path}/"
        for response in (client.get(url), client.post(url, valid_body(), content_type=URLENCODED)):
            # 404 unknown (429 after too many), never a 5xx, never a form; a real token is not hit.
            assert response.status_code in (404, 429), response.status_code
        assert stored() == NOTHING and link_status(links.engineer) == Invitation.Status.PENDING
        assert client.get(survey_url(links.engineer)).status_code == 200
