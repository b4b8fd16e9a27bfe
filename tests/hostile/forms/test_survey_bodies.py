"""The survey form's body as bytes: what a broken client, a proxy or an attacker sends instead of
a browser's UTF-8 form. Raw bytes as application/x-www-form-urlencoded and as multipart, bytes
that are not UTF-8 inside an otherwise valid submission, and bodies past Django's size limits,
stated here as numbers.

Properties as for the form fields (tests/hostile/forms/survey_checks.py): never a 5xx, nothing
stored unless the submission was valid, the link then still takes one valid submission."""

from __future__ import annotations

from urllib.parse import quote_from_bytes, urlencode

import pytest
from django.conf import settings
from hypothesis import given
from hypothesis import strategies as st

from config.request_limits import limit_label
from config.text_input import text_problem
from tests.hostile.forms.fuzzing import URLENCODED, fuzz, rolled_back
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
from tests.surveys.helpers import FULL_ANSWERS

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

WITHOUT_COMMENT = urlencode({**{k: v for k, v in FULL_ANSWERS.items() if k != "c1"}, "action": "submit"}, doseq=True)
BOUNDARY = "HostileBoundary7d1"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
# Bytes as they break UTF-8: a lone continuation byte, a truncated sequence, an overlong NUL, the
# encoding of a lone surrogate (U+D800), a code point past U+10FFFF, Latin-1 "é", and a BOM.
BROKEN_UTF8 = [
    b"\x80",
    b"\xc3",
    b"\xe2\x82",
    b"\xc0\x80",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"caf\xe9",
    b"\xef\xbb\xbf",
]
comment_bytes = st.one_of(
    st.binary(max_size=60),
    st.lists(st.one_of(st.sampled_from(BROKEN_UTF8), st.text(max_size=8).map(str.encode)), max_size=6).map(b"".join),
)
DECLARED_TYPES = st.sampled_from(
    [
        URLENCODED,
        f"{URLENCODED}; charset=utf-8",
        f"{URLENCODED}; charset=latin-1",
        f"{URLENCODED}; charset=no-such-charset",
        MULTIPART,
        "multipart/form-data",  # no boundary
        "multipart/form-data; boundary=",
        "text/plain",
        "application/json",
    ]
)


def expected_stored(raw: bytes) -> bool:
    """Whether a comment sent as ``raw`` may be stored with the otherwise valid answers: UTF-8,
    nothing text_problem refuses (line breaks allowed), within the item's 1,000 characters."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # as the browser's maxlength counts
    return text_problem(text, multiline=True) is None and "\ufffd" not in text and len(text.strip()) <= 1_000


def multipart_body(fields: list[tuple[str, bytes]]) -> bytes:
    parts = [
        b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (BOUNDARY.encode(), name.encode(), value)
        for name, value in fields
    ]
    return b"".join(parts) + b"--%s--\r\n" % BOUNDARY.encode()


def _answer_fields() -> list[tuple[str, bytes]]:
    return [
        (key, str(v).encode())
        for key, value in {**FULL_ANSWERS, "action": "submit"}.items()
        if key != "c1"
        for v in (value if isinstance(value, list) else [value])
    ]


@fuzz(max_examples=100)
@given(raw=comment_bytes, shape=st.sampled_from(["percent-encoded", "raw-in-urlencoded", "multipart"]))
def test_a_comment_that_is_not_valid_utf8_is_refused_and_a_valid_one_stored(client, links: SurveyLinks, raw, shape):
    """With every other answer valid, the comment decides: stored if its bytes are UTF-8 text the
    form takes, else the form again with the comment refused (never stored as U+FFFD)."""
    if shape == "percent-encoded":
        body, content_type = f"{WITHOUT_COMMENT}&c1={quote_from_bytes(raw)}".encode(), URLENCODED
    elif shape == "raw-in-urlencoded":
        # Unescaped bytes, as a broken client sends them; '&', '=', '+' and '%' keep their meaning.
        body, content_type = WITHOUT_COMMENT.encode() + b"&c1=" + raw, URLENCODED
    else:
        body, content_type = multipart_body([*_answer_fields(), ("c1", raw)]), MULTIPART
    with rolled_back():
        response = client.generic("POST", survey_url(links.engineer), body, content_type=content_type)
        was_stored = judge(client, links.engineer, response)
        if shape != "raw-in-urlencoded":  # there the bytes may also cut the body into other fields
            assert was_stored == expected_stored(raw), (response.status_code, raw)
            if not was_stored:
                assert "c1" in response.context["page"].errors


@fuzz(max_examples=80)
@given(body=st.one_of(st.binary(max_size=400), comment_bytes), content_type=DECLARED_TYPES)
def test_any_bytes_under_any_declared_type_are_a_page_never_a_5xx(client, links: SurveyLinks, body, content_type):
    """Random bytes, under a declared type that may lie (a multipart without a boundary, a charset
    nobody knows): the form again, or Django's 400 for a body it cannot parse. Nothing stored."""
    with rolled_back():
        # generic(): the bytes as they are (post() would re-encode them to the declared charset).
        response = client.generic("POST", survey_url(links.engineer), body, content_type=content_type)
        if response.status_code == 400 and (response.context is None or "page" not in response.context):
            # Django's own 400 (a multipart body it cannot parse): no form, nothing read.
            assert stored() == NOTHING and link_status(links.engineer) == "pending"
            assert_link_takes_one_valid_submission(client, links.engineer)
        else:
            judge(client, links.engineer, response)


# --- size limits, as numbers ------------------------------------------------------------------------
# config/settings.py: a request carries at most PULSE_MAX_REQUEST_BYTES (3 MB by default, for a
# 2 MB roster with its multipart framing), refused with a 413 before anything reads it
# (config.request_limits); a form at most DATA_UPLOAD_MAX_NUMBER_FIELDS fields (1,000); the
# comment at most 1,000 characters (the c1 item, tests/hostile/forms/test_survey_form.py). The
# survey's own body is about 1 KB.


def test_a_body_past_the_request_limit_is_a_413_that_says_the_limit_and_the_link_keeps_working(client, links):
    limit = settings.PULSE_MAX_REQUEST_BYTES
    padding = "x" * (limit + 1)
    response = client.post(survey_url(links.engineer), f"{valid_body()}&padding={padding}", content_type=URLENCODED)
    assert response.status_code == 413 and stored() == NOTHING
    body = response.content.decode()
    assert limit_label(limit) in body and "your link still works" in body
    assert_link_takes_one_valid_submission(client, links.engineer)


def test_a_body_past_the_field_limit_is_a_400_that_says_the_limit_and_the_link_keeps_working(client, links):
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    extra = "&".join(f"x{index}=1" for index in range(limit + 1))
    response = client.post(survey_url(links.engineer), f"{valid_body()}&{extra}", content_type=URLENCODED)
    assert response.status_code == 400 and stored() == NOTHING
    assert f"more than {limit:,} fields" in response.content.decode()
    assert_link_takes_one_valid_submission(client, links.engineer)


def test_the_longest_submission_the_form_takes_is_far_inside_the_body_limit():
    """1,000 four-byte characters, percent-encoded, with every other answer: under 13 KB, so the
    request cap can never be what refuses a comment the form would take."""
    worst = f"{WITHOUT_COMMENT}&c1={quote_from_bytes(chr(0x1F600).encode() * 1_000)}"
    assert len(worst.encode()) < 13_000 < settings.PULSE_MAX_REQUEST_BYTES
