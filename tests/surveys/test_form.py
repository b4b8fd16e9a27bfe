"""The survey form at a one-time link: steps, server-side validation, link states, rate limit."""

import logging

import pytest
from django.urls import reverse

from surveys.anonymous.models import Answer, Comment, Response
from surveys.closing import cycle_close
from surveys.models import Invitation, Person
from surveys.services.cycles import cycle_open
from tests.surveys.helpers import FULL_ANSWERS, STEP1, team_with_people

pytestmark = pytest.mark.django_db


@pytest.fixture
def links():
    team_with_people("Core", 6)
    Person.objects.filter(email="core-5@example.com").update(role="manager")
    return {link.person_email: link.token for link in cycle_open(send_mail=False).links}


@pytest.fixture
def token(links):
    return links["core-0@example.com"]


def url(token):
    return reverse("survey", kwargs={"token": token})


def stored():
    return Response.objects.count(), Answer.objects.count(), Comment.objects.count()


def test_opening_the_link_shows_step_one_and_never_uses_it_up(client, token):
    for _ in range(3):  # mail scanners prefetch links
        page = client.get(url(token))
        assert page.status_code == 200
    body = page.content.decode()
    assert "Step 1 of 2" in body and "at least <strong>5</strong> people" in body
    assert 'name="ps1"' in body and 'name="use1"' in body and 'name="trust1"' not in body
    assert Invitation.objects.get(person__email="core-0@example.com").status == "pending"
    assert page["Cache-Control"].startswith("max-age=0")


def test_two_steps_then_submit_stores_one_response(client, token):
    step2 = client.post(url(token), {**STEP1, "action": "next"})
    assert step2.status_code == 200
    body = step2.content.decode()
    assert "Step 2 of 2" in body and 'name="trust1"' in body and 'name="ws2"' in body
    assert 'type="hidden" name="ps1" value="2"' in body  # step 1 travels along, nothing stored yet
    assert stored() == (0, 0, 0)
    done = client.post(url(token), {**FULL_ANSWERS, "action": "submit"})
    assert done.status_code == 302 and done["Location"] == reverse("survey_thanks")
    response = Response.objects.get()
    answers = dict(Answer.objects.filter(response=response).values_list("item", "value"))
    assert answers["ps1"] == 2 and answers["speed1"] == 0.75 and answers["ws3_teammates"] == 1
    assert Comment.objects.get().text == "More pairing on AI work, please."
    assert client.get(url(token)).status_code == 409  # "already answered"


def test_step_two_says_what_it_refers_to_from_step_one(client, token):
    """ws2 asks how much time "it" cost; "it" is ws1's workslop, a page earlier. The stored item
    text stays as it is (answers refer to it): the section says what "it" is, with the answer given."""
    from html import unescape

    from surveys.forms import survey_page_build
    from surveys.instrument import Instrument, load_definition

    body = unescape(client.post(url(token), {**STEP1, "action": "next"}).content.decode())
    context = (
        "These questions are about the work you said you received in step 1 (\u201conce\u201d): work from a colleague "
        "that you believe was AI-generated and looked finished, but was unhelpful, low quality or missing crucial "
        "context."
    )
    assert f'<p class="context" id="ws2-context">{context}</p>' in body
    # It comes before the question that says "it", and each of the section's questions is described by it.
    assert body.index(context) < body.index("About how much of your time did dealing with it cost this month?")
    assert 'id="ws2-field" aria-describedby="ws2-context"' in body
    assert (
        'id="ws3-field" aria-describedby="ws3-context"' not in body
        and 'aria-describedby="ws2-context"' in (body.split('id="ws3-field"')[1].split(">")[0])
    )
    # The instrument's wording and keys are unchanged; only the page adds the line.
    instrument = Instrument(load_definition(1))
    assert instrument.item("ws2").text == "About how much of your time did dealing with it cost this month?"
    page = survey_page_build(instrument=instrument, raw={**STEP1, "ws1": "4"}, step=2, is_manager=False)
    work = next(section for section in page.sections if section.items[0].key == "ws2")
    assert "you said you received in step 1 (\u201c4\u201310 times\u201d):" in work.context
    assert all(not section.context for section in page.sections if section is not work)
    # No workslop, no step-2 workslop questions and no line about them.
    page = survey_page_build(instrument=instrument, raw={**STEP1, "ws1": "1"}, step=2, is_manager=False)
    assert all(not section.context for section in page.sections)


def test_every_legend_sits_inside_its_card_and_still_names_its_fieldset(client, token):
    """CSS-independent part of the wrapped-legend fix: every fieldset has a non-empty legend as its
    first child (its accessible name), and the stylesheet floats legends inside the card."""
    import re

    from django.contrib.staticfiles import finders

    for body in (client.get(url(token)).content.decode(),
                 client.post(url(token), {**STEP1, "action": "next"}).content.decode()):  # fmt: skip
        fieldsets = re.findall(r"<fieldset[^>]*>\s*(?:\{#.*?#\}\s*)?(<[a-z]+)[^>]*>([^<]*)", body)
        assert fieldsets and all(tag == "<legend" and text.strip() for tag, text in fieldsets), fieldsets
    with open(finders.find("css/pulse.css"), encoding="utf-8") as css:
        stylesheet = css.read()
    assert re.search(r"legend \{[^}]*float: left;[^}]*width: 100%;", stylesheet)
    assert "legend + * { clear: both; }" in stylesheet


def test_back_keeps_the_answers(client, token):
    back = client.post(url(token), {**FULL_ANSWERS, "action": "back"})
    body = back.content.decode()
    assert "Step 1 of 2" in body
    assert 'id="ps2-5" name="ps2" value="6" checked' in body
    assert 'type="hidden" name="trust1" value="4"' in body


def test_non_users_get_no_ai_items(client, token):
    body = client.post(url(token), {**STEP1, "use1": "1", "ws1": "1", "action": "next"}).content.decode()
    for key in ("trust1", "speed1", "speed2", "ag1", "op1", "ws2", "ws3"):
        assert f'name="{key}"' not in body
    assert 'name="voice1"' in body and 'name="mgr1"' in body


def test_people_i_manage_is_shown_to_managers_only(client, links):
    engineer = client.post(url(links["core-0@example.com"]), {**STEP1, "action": "next"}).content.decode()
    manager = client.post(url(links["core-5@example.com"]), {**STEP1, "action": "next"}).content.decode()
    assert "People I manage" not in engineer and "People I manage" in manager


def test_step_one_errors_rerender_with_field_messages(client, token):
    page = client.post(url(token), {"ps1": "9", "action": "next"})
    assert page.status_code == 400
    body = page.content.decode()
    assert 'role="alert"' in body and "Please fix 2 answers" in body
    assert 'id="use1-error"' in body and 'aria-describedby="use1-error"' in body
    assert 'id="ps1-error"' in body and "Choose one of the options shown." in body
    assert stored() == (0, 0, 0)


def test_bad_value_on_submit_stores_nothing_and_keeps_the_link(client, token):
    page = client.post(url(token), {**FULL_ANSWERS, "speed2": "99", "action": "submit"})
    assert page.status_code == 400
    body = page.content.decode()
    assert "Step 2 of 2" in body and 'id="speed2-error"' in body and "from -10 to 20" in body
    assert 'value="99"' in body  # what they typed is kept for correction
    assert stored() == (0, 0, 0)
    assert Invitation.objects.get(person__email="core-0@example.com").status == "pending"


def test_error_in_a_step_one_value_on_submit_returns_to_step_one(client, token):
    page = client.post(url(token), {**FULL_ANSWERS, "ps3": "0", "action": "submit"})
    assert page.status_code == 400 and "Step 1 of 2" in page.content.decode()
    assert stored() == (0, 0, 0)


def test_over_long_comment_is_refused_with_a_message(client, token):
    page = client.post(url(token), {**FULL_ANSWERS, "c1": "x" * 1001, "action": "submit"})
    assert page.status_code == 400 and "Keep your comment to 1,000 characters" in page.content.decode()
    assert stored() == (0, 0, 0)


def test_unknown_link_is_a_404_page_saying_it_is_not_valid(client):
    page = client.get(url("not-a-real-token-0000000000"))
    assert page.status_code == 404 and "This link is not valid" in page.content.decode()


def test_used_link_shows_already_answered_on_get_and_post(client, token):
    client.post(url(token), {**FULL_ANSWERS, "action": "submit"})
    for page in (client.get(url(token)), client.post(url(token), {**FULL_ANSWERS, "action": "submit"})):
        assert page.status_code == 409 and "already answered" in page.content.decode()
    assert Response.objects.count() == 1


def test_closed_cycle_link_shows_closed(client, token):
    cycle_close(cycle=Invitation.objects.first().cycle)
    for page in (client.get(url(token)), client.post(url(token), {**FULL_ANSWERS, "action": "submit"})):
        assert page.status_code == 410 and "This pulse has closed" in page.content.decode()


def test_leavers_links_stop_working(client, token):
    Person.objects.filter(email="core-0@example.com").update(is_active=False)
    assert client.get(url(token)).status_code == 404
    assert client.post(url(token), {**FULL_ANSWERS, "action": "submit"}).status_code == 404
    assert Response.objects.count() == 0


def test_invalid_links_are_rate_limited_but_valid_links_never_are(client, token, settings):
    settings.PULSE_INVALID_TOKEN_LIMIT = 3
    codes = [client.get(url(f"guess-{n:020d}")).status_code for n in range(5)]
    assert codes == [404, 404, 404, 429, 429]
    # The same client still gets its valid link, and can submit.
    assert client.get(url(token)).status_code == 200
    assert client.post(url(token), {**FULL_ANSWERS, "action": "submit"}).status_code == 302
    # Another client is not affected.
    assert client.get(url("guess-x" * 4), REMOTE_ADDR="10.0.0.9").status_code == 404


def test_forwarded_for_is_ignored_unless_proxies_are_trusted(client, settings):
    settings.PULSE_INVALID_TOKEN_LIMIT = 1
    client.get(url("guess-aaaaaaaaaaaa"), HTTP_X_FORWARDED_FOR="1.1.1.1")
    assert client.get(url("guess-bbbbbbbbbbbb"), HTTP_X_FORWARDED_FOR="2.2.2.2").status_code == 429
    settings.PULSE_TRUSTED_PROXIES = 1
    assert client.get(url("guess-cccccccccccc"), HTTP_X_FORWARDED_FOR="3.3.3.3").status_code == 404


def test_tokens_and_answers_never_reach_the_logs(client, token, caplog):
    caplog.set_level(logging.DEBUG)
    client.get(url("unknown-token-abcdefghijkl"))
    client.post(url(token), {**FULL_ANSWERS, "c1": "secret-comment-text", "action": "submit"})
    client.get(url(token))
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "Not Found: /s/<redacted>" in text  # Django's request log saw the 404, redacted
    assert token not in text and "unknown-token-abcdefghijkl" not in text
    assert "secret-comment-text" not in text


def test_resend_page_says_the_same_whatever_the_address(client, links, mailoutbox):
    known = client.post(reverse("link_resend"), {"email": "core-1@example.com"})
    unknown = client.post(reverse("link_resend"), {"email": "stranger@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert known.content == unknown.content.replace(b"stranger@example.com", b"core-1@example.com")
    assert [m.to for m in mailoutbox] == [["core-1@example.com"]]
    old = client.get(url(links["core-1@example.com"]))
    assert old.status_code == 404  # the old link is void


def test_resend_with_a_bad_address_explains(client):
    page = client.post(reverse("link_resend"), {"email": "not an address"})
    assert page.status_code == 400 and "Enter your work e-mail address" in page.content.decode()


def test_an_error_while_answering_leaves_no_token_or_answer_in_the_error_log(client, token, monkeypatch, caplog):
    import surveys.views

    def failing_submit(*, token, raw_answers):
        raise RuntimeError(f"boom {token} {raw_answers['c1']}")

    monkeypatch.setattr(surveys.views, "response_submit", failing_submit)
    client.raise_request_exception = False
    caplog.set_level(logging.ERROR, logger="django.request")
    page = client.post(url(token), {**FULL_ANSWERS, "c1": "my-private-comment", "action": "submit"})
    assert page.status_code == 500
    formatter = logging.Formatter("%(message)s")
    text = "\n".join(formatter.format(record) for record in caplog.records)
    assert "RuntimeError (details withheld: survey request)" in text
    assert "surveys/views.py" in text  # where it failed is kept for whoever fixes it
    assert token not in text and "my-private-comment" not in text
    assert all(getattr(record, "request", None) is None for record in caplog.records)
