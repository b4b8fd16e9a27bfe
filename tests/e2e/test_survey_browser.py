"""The survey form in a real browser: phone and desktop, keyboard only, without JavaScript, the
error path, the skip logic, and the link pages; every page checked with axe-core."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import Response as PwResponse

from surveys.anonymous.models import Answer, Comment, Response
from surveys.instrument import load_definition
from surveys.models import Invitation

pytestmark = [
    pytest.mark.browser,
    # live_server needs a transactional database, which is emptied after each test; serialized
    # rollback puts back what the migrations installed (instrument v1, content types) and keeps
    # the flush from re-running post_migrate, which would break later serialized-rollback tests.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

ITEM_TEXT = {item["key"]: item["text"] for item in load_definition(1)["items"]}
PS_KEYS = [f"ps{n}" for n in range(1, 8)]
AI_USER_KEYS = ["trust1", "speed1", "speed2", "ag1", "ag2", "ag3", "ag4", "op1", "op2"]
USE1_ERROR = f"Choose an answer to \u201c{ITEM_TEXT['use1']}\u201d: it decides which questions follow."


@contextmanager
def posting(page: Page) -> Iterator[list[PwResponse]]:
    """Wraps an action that submits a form; fails clearly if the server refuses the POST.
    The yielded list holds the POST's response once the block is done."""
    responses: list[PwResponse] = []
    with page.expect_response(lambda response: response.request.method == "POST") as posted:
        yield responses
    response = posted.value
    responses.append(response)
    if response.status == 403:
        origin = response.request.header_value("origin")
        hint = ""
        if origin == "null":
            hint = (
                " The browser sent `Origin: null`: with Referrer-Policy `no-referrer` (the meta tag in"
                " templates/base.html and SECURE_REFERRER_POLICY) browsers serialise a form POST's Origin"
                " as null, and Django's CsrfViewMiddleware refuses it. `strict-origin` keeps the token"
                " out of Referer (origin only) and lets the real Origin through."
            )
        pytest.fail(f"A form POST was refused with 403 (CSRF).{hint}", pytrace=False)


def click_submit(page: Page, name: str) -> PwResponse:
    with posting(page) as responses:
        page.get_by_role("button", name=name, exact=True).click()
    return responses[0]


def group(page: Page, key: str):
    """An item's fieldset, found the way assistive technology finds it: by its legend."""
    return page.get_by_role("group", name=ITEM_TEXT[key])


def choose(page: Page, key: str, label: str) -> None:
    # Scale options are named with their number too ("2 Disagree"), as they are shown.
    group(page, key).get_by_role("radio", name=re.compile(rf"^(\d )?{re.escape(label)}$")).check()


def step1_fill(page: Page, *, use1: str, ws1: str) -> None:
    for key, label in zip(PS_KEYS, ["Disagree", "Agree", "Strongly disagree", "Somewhat agree"] * 2, strict=False):
        choose(page, key, label)
    choose(page, "use1", use1)
    choose(page, "ws1", ws1)


def expect_step(page: Page, number: int) -> None:
    expect(page.get_by_role("navigation", name="Progress")).to_contain_text(f"Step {number} of 2")
    expect(page).to_have_title(re.compile(rf"step {number} of 2"))


def stored_answers() -> dict[str, float]:
    return dict(Answer.objects.values_list("item", "value"))


def invitation_status(survey_link) -> str:
    return Invitation.objects.get(pk=survey_link.invitation_id).status


def test_phone_user_answers_both_steps_once(phone_page: Page, survey_link, assert_accessible):
    page = phone_page
    page.goto(survey_link.url)
    expect_step(page, 1)
    expect(page.locator(".lede")).to_contain_text(f"groups of at least {survey_link.k} people")
    # A radio's accessible name is what the label shows, number included, so voice control
    # users can say what they see (WCAG 2.5.3).
    ps1 = group(page, "ps1")
    expect(ps1.get_by_role("radio", name="1 Strongly disagree", exact=True)).to_have_count(1)
    expect(ps1.locator("label").first).to_have_text("1 Strongly disagree")
    # Nothing is wider than the phone: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    assert_accessible(page, "step 1 (phone)")
    if screenshot_dir := os.environ.get("PULSE_E2E_SCREENSHOTS"):  # opt-in, for a human to look at
        page.screenshot(path=Path(screenshot_dir) / "pulse-step1-phone.png", full_page=True)

    step1_fill(page, use1="Daily", ws1="Once")
    click_submit(page, "Next")

    expect_step(page, 2)
    for key in [*AI_USER_KEYS, "ws2", "ws3", "voice1", "mgr1"]:
        expect(page.locator(f"#{key}-field")).to_be_visible()
    assert_accessible(page, "step 2 (phone)")
    choose(page, "trust1", "Somewhat trust")
    choose(page, "speed1", "Half the time")
    page.get_by_label(re.compile("how many hours a week did AI tools save you")).fill("3")
    choose(page, "ag1", "Agree")
    choose(page, "ag4", "Disagree")
    choose(page, "ws2", "1–2 hours")
    group(page, "ws3").get_by_role("checkbox", name="Teammates").check()
    group(page, "ws3").get_by_role("checkbox", name="Other teams").check()
    page.get_by_label(re.compile("What one change would help")).fill("More pairing on AI-assisted reviews.")
    click_submit(page, "Send my answers")

    expect(page).to_have_url(re.compile(r"/thanks/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you: your answers are in")
    assert_accessible(page, "thanks page")

    assert Response.objects.count() == 1
    answers = stored_answers()
    assert answers["use1"] == 4  # Daily
    assert answers["ws1"] == 2  # Once
    assert answers["ps2"] == 6  # Agree, as stored (reverse-scoring happens in analysis)
    assert answers["trust1"] == 4
    assert answers["speed1"] == 0.5
    assert answers["speed2"] == 3
    assert answers["ws2"] == 1.5
    assert (answers["ws3_teammates"], answers["ws3_other_teams"], answers["ws3_leaders"]) == (1, 1, 0)
    assert list(Comment.objects.values_list("text", flat=True)) == ["More pairing on AI-assisted reviews."]
    assert invitation_status(survey_link) == Invitation.Status.ANSWERED

    response = page.goto(survey_link.url)
    assert response is not None and response.status == 409
    expect(page.get_by_role("heading", level=1)).to_have_text("You have already answered this pulse")
    assert_accessible(page, "already-answered page")
    assert Response.objects.count() == 1


def test_keyboard_only(desktop_page: Page, survey_link):
    page = desktop_page
    page.goto(survey_link.url)

    page.keyboard.press("Tab")
    skip_link = page.get_by_role("link", name="Skip to content")
    expect(skip_link).to_be_focused()
    assert skip_link.bounding_box()["x"] >= 0, "the skip link comes into view when focused"

    def focused() -> dict:
        return page.evaluate(
            "() => { const e = document.activeElement;"
            " return {tag: e.tagName, name: e.name || '', type: e.type || '', value: e.value || '',"
            " text: (e.innerText || '').trim(), outline: getComputedStyle(e).outlineStyle}; }"
        )

    # Tab walks the page; each radio group is a single tab stop on the way to use1.
    radio_groups_passed = []
    for _ in range(30):
        page.keyboard.press("Tab")
        element = focused()
        if element["type"] == "radio":
            assert element["outline"] != "none", "keyboard focus is visible"
            if element["name"] == "use1":
                break
            radio_groups_passed.append(element["name"])
    else:
        pytest.fail("Tab never reached the use1 radio group")
    assert radio_groups_passed == PS_KEYS

    use1 = group(page, "use1")
    expect(use1.get_by_role("radio", name="Never")).to_be_focused()
    expect(use1.get_by_role("radio", name="Never")).not_to_be_checked()
    page.keyboard.press("Space")
    expect(use1.get_by_role("radio", name="Never")).to_be_checked()
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    expect(use1.get_by_role("radio", name="Daily")).to_be_checked()
    expect(use1.get_by_role("radio", name="Daily")).to_be_focused()
    expect(use1.get_by_role("radio", checked=True)).to_have_count(1)

    page.keyboard.press("Tab")
    ws1 = group(page, "ws1")
    expect(ws1.get_by_role("radio", name="Never")).to_be_focused()
    page.keyboard.press("ArrowDown")  # moves to "Once" and chooses it
    expect(ws1.get_by_role("radio", name="Once")).to_be_checked()

    # Enter in a radio group submits step 1 (implicit submission; "Next" is the only button).
    with posting(page):
        page.keyboard.press("Enter")
    expect_step(page, 2)
    expect(group(page, "trust1")).to_be_visible()
    expect(group(page, "ws2")).to_be_visible()

    for _ in range(80):
        page.keyboard.press("Tab")
        element = focused()
        if element["tag"] == "BUTTON" and element["text"] == "Send my answers":
            break
    else:
        pytest.fail("Tab never reached the Send my answers button")
    with posting(page):
        page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/thanks/$"))
    assert stored_answers() == {"use1": 4, "ws1": 2}
    assert invitation_status(survey_link) == Invitation.Status.ANSWERED


def test_missing_required_answer_is_explained_and_nothing_is_stored(desktop_page: Page, survey_link, assert_accessible):
    page = desktop_page
    page.goto(survey_link.url)
    assert click_submit(page, "Next").status == 400

    expect_step(page, 1)
    summary = page.get_by_role("alert")
    expect(summary).to_be_visible()
    expect(summary.get_by_role("heading")).to_have_text("Please fix 1 answer")
    summary_link = summary.get_by_role("link")
    expect(summary_link).to_have_count(1)
    expect(summary_link).to_have_text(USE1_ERROR)
    expect(summary_link).to_have_attribute("href", "#use1-field")

    use1 = group(page, "use1")
    expect(use1).to_have_attribute("id", "use1-field")
    expect(use1).to_have_attribute("aria-describedby", "use1-error")
    expect(use1).to_have_accessible_description(USE1_ERROR)
    expect(page.locator("#use1-error")).to_have_text(USE1_ERROR)
    assert_accessible(page, "step 1 with errors")

    assert Response.objects.count() == 0
    assert Answer.objects.count() == 0
    assert invitation_status(survey_link) == Invitation.Status.PENDING

    # Fixing the answer clears the error and moves on.
    choose(page, "use1", "Weekly")
    click_submit(page, "Next")
    expect_step(page, 2)
    expect(page.get_by_role("alert")).to_have_count(0)


def test_non_user_is_not_asked_ai_items(desktop_page: Page, survey_link):
    page = desktop_page
    page.goto(survey_link.url)
    step1_fill(page, use1="Never", ws1="Never")
    click_submit(page, "Next")

    expect_step(page, 2)
    for key in ["voice1", "press1", "mgr1", "c1"]:
        expect(page.locator(f"#{key}-field")).to_be_visible()
    for key in [*AI_USER_KEYS, "ws2", "ws3"]:
        expect(page.locator(f"#{key}-field")).to_have_count(0)
    expect(page.get_by_text(ITEM_TEXT["trust1"])).to_have_count(0)

    choose(page, "voice1", "Agree")
    click_submit(page, "Send my answers")
    expect(page).to_have_url(re.compile(r"/thanks/$"))
    answers = stored_answers()
    assert answers["use1"] == 1 and answers["voice1"] == 6
    assert not set(answers) & {*AI_USER_KEYS, "ws2"}


def test_form_works_without_javascript(no_js_page: Page, survey_link):
    page = no_js_page
    page.goto(survey_link.url)
    step1_fill(page, use1="A few times", ws1="2–3 times")
    click_submit(page, "Next")
    expect_step(page, 2)
    choose(page, "ws2", "Under 1 hour")

    # Back keeps every answer (they travel as hidden fields), then forward again.
    click_submit(page, "Back")
    expect_step(page, 1)
    expect(group(page, "use1").get_by_role("radio", name="A few times")).to_be_checked()
    expect(group(page, "ps2").get_by_role("radio", name="6 Agree", exact=True)).to_be_checked()
    click_submit(page, "Next")
    expect_step(page, 2)
    expect(group(page, "ws2").get_by_role("radio", name="Under 1 hour")).to_be_checked()

    click_submit(page, "Send my answers")
    expect(page).to_have_url(re.compile(r"/thanks/$"))
    assert Response.objects.count() == 1
    answers = stored_answers()
    assert (answers["use1"], answers["ws1"], answers["ws2"], answers["ps1"]) == (2, 3, 0.5, 2)
    assert invitation_status(survey_link) == Invitation.Status.ANSWERED


def test_invalid_link_offers_a_new_one(desktop_page: Page, live_server, assert_accessible):
    page = desktop_page
    response = page.goto(f"{live_server.url}/s/not-a-real-token-123456/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("This link is not valid")
    assert_accessible(page, "invalid-link page")

    page.get_by_role("link", name="Ask for a new link").click()
    expect(page).to_have_url(f"{live_server.url}/resend/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Get a new survey link")
    assert_accessible(page, "resend page")

    email = page.get_by_label("Work e-mail address")
    email.fill("not-an-address")
    click_submit(page, "Send me a new link")
    expect(email).to_have_accessible_description("Enter your work e-mail address, like name@example.com.")
    expect(email).to_have_attribute("aria-invalid", "true")
    assert_accessible(page, "resend page with an error")

    page.get_by_label("Work e-mail address").fill("nobody@example.com")
    click_submit(page, "Send me a new link")
    expect(page.get_by_role("status")).to_contain_text("a new link is on its way")
    assert_accessible(page, "resend page, sent")
