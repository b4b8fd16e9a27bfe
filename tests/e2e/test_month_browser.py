"""A whole month of the programme in a real browser, on the demo organisation.

A manager records an action from a flag's suggestion; an engineer of that team sees it on the
report; HR closes the open cycle and opens the next one, whose invitation names the action; the
team answers from the e-mailed links while HR watches live participation grow; HR closes the
month, sees its aggregation done and releases its comments; the manager's report shows the
action checked back, and the manager closes it with an outcome. Nothing is done in a shell: the
only stand-ins are the beat's ten-minute participation count (run here, as beat would) and the
inbox (Django's in-memory mailbox). Every page visited is checked with axe at 390 px.
"""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from analytics.job.participation import participation_count
from surveys.demo import HR_EMAIL, MANAGER_EMAIL, PAYMENTS
from surveys.instrument import load_definition
from surveys.models import Action, Cycle, Person, Team
from surveys.services.actions import month_add
from tests.e2e.conftest import DEMO_PASSWORD
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

ITEM_TEXT = {item["key"]: item["text"] for item in load_definition(1)["items"]}
PS_KEYS = [f"ps{n}" for n in range(1, 8)]
HIDDEN = "hidden to protect anonymity"
LINK = re.compile(r"(/s/[A-Za-z0-9_-]{20,}/)")
ANSWERING = 6  # of Payments' nine or ten: more than k = 5, so the month is published for the team


def payments() -> Team:
    parent = None
    for name in PAYMENTS.split("/"):
        parent = Team.objects.get(name=name, parent=parent)
    assert parent is not None
    return parent


def click_and_wait(page: Page, locator) -> None:
    with page.expect_navigation():
        locator.click()


def confirm_and_press(page: Page, form_legend: str, button: str) -> None:
    """Ticks the confirm box of the fieldset named ``form_legend`` and presses its button."""
    fieldset = page.get_by_role("group", name=form_legend)
    fieldset.get_by_role("checkbox").check()
    click_and_wait(page, fieldset.get_by_role("button", name=button))


def answer_survey(page: Page, url: str, *, trying: str) -> None:
    """Both steps, as a non-user of AI (the shortest path through the form); the first page
    names what the managers are trying."""
    page.goto(url)
    expect(page.locator(".trying")).to_contain_text(trying)
    for key in PS_KEYS:
        page.get_by_role("group", name=ITEM_TEXT[key]).get_by_role("radio", name=re.compile(r"^(\d )?Agree$")).check()
    for key, label in (("use1", "Never"), ("ws1", "Never")):
        page.get_by_role("group", name=ITEM_TEXT[key]).get_by_role(
            "radio", name=re.compile(rf"^(\d )?{label}$")
        ).check()
    click_and_wait(page, page.get_by_role("button", name="Next", exact=True))
    click_and_wait(page, page.get_by_role("button", name="Send my answers", exact=True))
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you: your answers are in")


def payments_rate(page: Page) -> str:
    row = page.locator("#live-participation ~ div table tr", has=page.get_by_role("rowheader", name=PAYMENTS))
    return row.locator("td").nth(1).inner_text()


def cycle_row(page: Page, label: str):
    """The past-cycles table's row of ``label``."""
    return page.locator("tr", has=page.get_by_role("rowheader", name=label, exact=True))


def sign_out(page: Page) -> None:
    click_and_wait(page, page.get_by_role("button", name="Sign out"))


def test_a_whole_month_from_an_action_to_its_check_back(demo, live_server, report_page, sign_in, check_page):
    page = report_page
    team = payments()
    open_cycle = Cycle.objects.get(status=Cycle.Status.OPEN)
    latest = Cycle.objects.filter(status=Cycle.Status.CLOSED).order_by("-month").first()
    assert latest is not None
    report_url = f"{live_server.url}/units/{team.pk}/"

    # 1. The manager records an action from the falling-safety flag's first suggestion, to be
    #    checked back on two months after the results that prompted it: the month after next.
    sign_in(page, MANAGER_EMAIL)
    page.goto(report_url)
    flag = page.locator("article.flag-flag", has=page.locator("h3[id^=flag-psych_safety_falling-]")).first
    click_and_wait(page, flag.get_by_role("link", name="Record an action on this flag"))
    check_page(page, "new action from a flag")
    page.get_by_role("group", name="What will you try?").get_by_role("radio").first.check()
    suggestion = page.get_by_role("group", name="What will you try?").get_by_role("radio").first
    title = page.locator(f"label[for={suggestion.get_attribute('id')}]").inner_text()
    page.get_by_label("Check back with the results of").select_option(f"{month_add(open_cycle.month, 1):%Y-%m}")
    click_and_wait(page, page.get_by_role("button", name="Record the action"))
    action = Action.objects.get(title=title, started_cycle=latest, unit=team, status=Action.Status.OPEN)
    check_back = action.check_back_month
    expect(page.locator("#actions")).to_contain_text(title)
    check_page(page, "report with the new action")
    sign_out(page)

    # 2. An engineer of Payments sees it on the team's report.
    member = Person.objects.filter(team=team, role="engineer").order_by("email").first()
    assert member is not None
    if member.user is None:
        member.user = UserFactory(username=member.email)
        member.save(update_fields=["user"])
    member.user.set_password(DEMO_PASSWORD)
    member.user.save()
    sign_in(page, member.email)
    page.goto(report_url)
    expect(page.locator("#actions")).to_contain_text(title)
    sign_out(page)

    # 3. HR closes the open cycle, then opens the next month; the invitations go out.
    sign_in(page, HR_EMAIL)
    page.goto(f"{live_server.url}/programme/cycles/")
    check_page(page, "cycles page, a cycle open")
    confirm_and_press(page, "Close now", f"Close {open_cycle.label} now")
    expect(cycle_row(page, open_cycle.label)).to_contain_text("Done: the results are published")
    mail.outbox.clear()
    # The open cycle's month has a cycle now, so "open now" opens the next: the check-back month.
    confirm_and_press(page, "Open a cycle now", f"Open {check_back:%Y-%m} now")
    month = Cycle.objects.get(status=Cycle.Status.OPEN)
    assert month.month == check_back

    # The engineer's invitation names what the manager is trying (titles listed as "A; B.").
    invitations = {message.to[0]: message for message in mail.outbox}
    assert title.rstrip(".") in invitations[member.email].body
    members = list(Person.objects.filter(team=team, is_active=True).order_by("email"))
    links = [LINK.search(invitations[person.email].body).group(1) for person in members[:ANSWERING]]

    # 4. Participation, as beat counts it every ten minutes: hidden until k have answered, then
    #    a rate that grows with every answer.
    participation_count()
    page.reload()
    check_page(page, "cycles page with live participation")
    assert payments_rate(page) == HIDDEN
    answering_page = page.context.new_page()
    rates = []
    for number, path in enumerate(links, start=1):
        answer_survey(answering_page, f"{live_server.url}{path}", trying=title.rstrip("."))
        if number >= 5:
            participation_count()
            page.reload()
            rates.append(payments_rate(page))
    answering_page.close()
    assert all(rate.endswith("%") for rate in rates), rates
    assert int(rates[-1].rstrip("%")) > int(rates[0].rstrip("%")), rates

    # 5. HR closes the month: aggregated at once; its comments wait for review, released by hand.
    confirm_and_press(page, "Close now", f"Close {month.label} now")
    expect(cycle_row(page, month.label)).to_contain_text("Done: the results are published")
    page.goto(f"{live_server.url}/programme/cycles/{month.label}/comments/")
    check_page(page, "comment review")
    release = page.get_by_role("group", name="Release now")
    release.get_by_role("checkbox").check()
    click_and_wait(page, release.get_by_role("button", name=f"Release the comments of {month.label} now"))
    assert Cycle.objects.get(pk=month.pk).comments_released_at is not None
    # HR's counts per department: Engineering's flags, and the actions that answered them.
    page.goto(f"{live_server.url}/overview/actions/")
    expect(page.get_by_role("rowheader", name="Engineering")).to_be_visible()
    check_page(page, "flags and actions per department")
    sign_out(page)

    # 6. The manager's report of the new month checks back on the action, honestly worded, and
    #    the manager closes it with an outcome.
    sign_in(page, MANAGER_EMAIL)
    page.goto(f"{report_url}?cycle={month.label}")
    item = page.locator("#actions li", has=page.get_by_role("heading", name=title)).filter(
        has_text=f"the {latest.label} results"
    )
    expect(item).to_contain_text(re.compile(r"No clear change yet|Higher by|Lower by"))
    expect(item).to_contain_text("tend to move back toward usual on their own")
    expect(item).not_to_contain_text("it worked")
    check_page(page, "report with the check-back")
    click_and_wait(page, item.get_by_role("link", name=re.compile("Close with an outcome")))
    check_page(page, "close an action")
    page.get_by_label("Outcome").fill("We kept the retro question; people now say when AI slowed them down.")
    page.get_by_role("checkbox").check()
    click_and_wait(page, page.get_by_role("button", name="Close the action"))
    expect(page.locator("#actions")).to_contain_text("We kept the retro question")
    assert Action.objects.get(pk=action.pk).status == Action.Status.CLOSED
