"""The report side in a real browser: an engineer answers from the e-mailed link and, once the
cycle is closed and aggregated, reads their team's report; a manager reads a flag and what to
try; HR sorts the heatmap and downloads an export; a manager is refused another department's
team, on the page and in the API; keyboard use of a report. Every page visited is checked with
axe-core and for sideways scrolling at 390 px (conftest.check_page).

Most tests use the demo organisation (conftest.demo, about 6 s to seed and aggregate)."""

from __future__ import annotations

import re
import uuid

import openpyxl
import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from analytics.job.run import aggregate_cycle
from surveys.closing import cycle_close
from surveys.demo import HR_EMAIL, MANAGER_EMAIL, PAYMENTS
from surveys.instrument import load_definition
from surveys.models import Cycle, Organisation, Team
from surveys.services.cycles import cycle_open
from surveys.submission import response_submit
from tests.factories import PersonFactory, TeamFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    # As in test_survey_browser.py: live_server empties the database after each test; serialized
    # rollback puts back what the migrations installed (instrument v1, content types).
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

ITEM_TEXT = {item["key"]: item["text"] for item in load_definition(1)["items"]}
PS_KEYS = [f"ps{n}" for n in range(1, 8)]
UNIT_URL = re.compile(r"/units/[0-9a-f-]{36}/\?cycle=\d{4}-\d{2}$")
HIDDEN = "hidden to protect anonymity"


def team_id(path: str) -> str:
    """A team's id from its path ("Engineering/Payments")."""
    parent = None
    for name in path.split("/"):
        team = Team.objects.get(name=name, parent=parent)
        parent = team
    assert parent is not None
    return str(parent.pk)


def choose(page: Page, key: str, label: str) -> None:
    group = page.get_by_role("group", name=ITEM_TEXT[key])
    group.get_by_role("radio", name=re.compile(rf"^(\d )?{re.escape(label)}$")).check()


def expect_no_account_navigation(page: Page, label: str) -> None:
    """Survey pages never read the session: no account navigation even when signed in."""
    expect(page.get_by_role("button", name="Sign out"), f"{label}: no Sign out").to_have_count(0)
    expect(page.get_by_role("navigation", name="Main"), f"{label}: no account navigation").to_have_count(0)


def click_and_wait(page: Page, locator) -> None:
    with page.expect_navigation():
        locator.click()


# 1. ---------------------------------------------------------------------------------------------


def test_engineer_answers_from_the_email_link_and_reads_the_team_report(
    live_server, report_page: Page, sign_in, check_page
):
    """A team of six, all answering (k = 5), so the cycle is published for the team."""
    organisation = Organisation.current()
    organisation.anonymity_threshold = 5
    organisation.save()
    checkout = TeamFactory(name="Checkout", parent=TeamFactory(name="Engineering"))
    engineer = PersonFactory(email="ada@example.com", name="Ada Engineer", team=checkout)
    others = [PersonFactory(team=checkout) for _ in range(5)]

    opened = cycle_open(send_mail=True)
    cycle = opened.cycle
    invitation = next(message for message in mail.outbox if message.to == [engineer.email])
    token = re.search(r"/s/([A-Za-z0-9_-]{20,})/", invitation.body)
    assert token, f"no survey link in the invitation:\n{invitation.body}"
    survey_path = f"/s/{token.group(1)}/"
    for link in opened.links:  # the other five answer (through the same service the form uses)
        if link.person_email in {person.email for person in others}:
            response_submit(
                token=link.token,
                raw_answers={
                    **{key: "5" for key in PS_KEYS},
                    "use1": "1",
                    "ws1": "1",
                    "voice1": "5",
                    "press1": "3",
                    "mgr1": "4",
                },
            )

    page = report_page
    page.goto(f"{live_server.url}/accounts/login/")
    check_page(page, "login page")
    # Signed in, and straight on to the e-mailed link.
    sign_in(page, engineer.email, "pw", next_path=survey_path)
    expect(page).to_have_url(f"{live_server.url}{survey_path}")
    expect(page.get_by_role("navigation", name="Progress")).to_contain_text("Step 1 of 2")
    expect_no_account_navigation(page, "step 1")
    check_page(page, "survey step 1")
    for key in PS_KEYS:
        choose(page, key, "Agree")
    choose(page, "use1", "Never")
    choose(page, "ws1", "Never")
    click_and_wait(page, page.get_by_role("button", name="Next", exact=True))
    expect(page.get_by_role("navigation", name="Progress")).to_contain_text("Step 2 of 2")
    expect_no_account_navigation(page, "step 2")
    check_page(page, "survey step 2")
    choose(page, "voice1", "Agree")
    choose(page, "press1", "Disagree")
    click_and_wait(page, page.get_by_role("button", name="Send my answers", exact=True))
    expect(page).to_have_url(re.compile(r"/thanks/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you: your answers are in")
    expect_no_account_navigation(page, "thanks page")
    check_page(page, "thanks page")
    # The session is still there: the report pages do show the account navigation.
    page.goto(f"{live_server.url}/pulse/")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    check_page(page, "my pulse page")

    closed = cycle_close(cycle=cycle)
    assert closed.closed_now and closed.responses == 6
    summary = aggregate_cycle(cycle=Cycle.objects.get(pk=cycle.pk))
    assert summary.respondents == 6

    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(f"{live_server.url}/units/{checkout.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Engineering/Checkout")
    expect(page.locator(".lede")).to_contain_text(f"Results of the {cycle.label} pulse")
    expect(page.get_by_role("heading", name="This group is too small to show")).to_have_count(0)
    responses = page.locator("section[aria-labelledby=responses-heading]")
    expect(responses).to_contain_text("n = 6")
    expect(responses).not_to_contain_text(HIDDEN)
    expect(page.locator("#cycle-picker")).to_have_value(cycle.label)
    check_page(page, "engineer's team report")


# 2. ---------------------------------------------------------------------------------------------


def test_manager_sees_payments_falling_safety_flag_with_what_to_try(
    demo, live_server, report_page: Page, sign_in, check_page
):
    page = report_page
    sign_in(page, MANAGER_EMAIL)
    expect(page).to_have_url(re.compile(r"/my-teams/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("My teams")
    check_page(page, "My teams")

    payments = page.locator(".team-list li", has=page.get_by_role("link", name=PAYMENTS, exact=True))
    expect(payments.locator(".flag-line").first).to_be_visible()
    click_and_wait(page, page.get_by_role("link", name=PAYMENTS, exact=True))
    expect(page).to_have_url(re.compile(rf"/units/{team_id(PAYMENTS)}/\?cycle="))
    expect(page.get_by_role("heading", level=1)).to_have_text(PAYMENTS)

    falling = page.locator("article.flag-flag").filter(has_text="psychological safety is falling").first
    expect(falling).to_be_visible()
    expect(falling.get_by_role("heading", level=3)).to_contain_text(
        "In Engineering/Payments, psychological safety is falling"
    )
    expect(falling.locator("summary")).to_have_text("The numbers and the method")
    expect(falling.get_by_role("heading", name="What to try", level=4)).to_be_visible()
    suggestions = falling.locator("h4 + ul > li")
    assert suggestions.count() >= 2, "a flag comes with at least two things to try"
    for index in range(suggestions.count()):
        assert len(suggestions.nth(index).inner_text().strip()) > 20
    trap = page.locator("article.flag").filter(has_text="capability-trap")
    expect(trap.first).to_be_visible()

    # Flags come before the metrics by theme.
    order = page.evaluate(
        "() => [...document.querySelectorAll('main section > h2')].map(h => h.id || h.textContent.trim())"
    )
    assert order.index("flags-heading") < min(i for i, h in enumerate(order) if h.startswith("theme-")), order
    check_page(page, "Payments report")


# 3. ---------------------------------------------------------------------------------------------


def heatmap_column(page: Page, label: str) -> list[str]:
    """The texts of one heatmap column, top to bottom."""
    labels = [re.sub(r",\s*sort$", "", text.strip()) for text in page.locator(".heatmap thead th").all_text_contents()]
    assert label in labels, labels
    column = labels.index(label)  # the first th is "Unit"
    return [row.locator("td").nth(column - 1).inner_text().strip() for row in page.locator(".heatmap tbody tr").all()]


def number(text: str) -> float:
    found = re.search(r"[−-]?\d+(?:\.\d+)?", text)
    assert found, text
    return float(found.group(0).replace("−", "-"))


def test_hr_sorts_the_heatmap_and_downloads_an_xlsx_export(
    demo, live_server, report_page: Page, sign_in, check_page, tmp_path
):
    page = report_page
    sign_in(page, HR_EMAIL)
    expect(page).to_have_url(re.compile(r"/overview/$"))
    check_page(page, "overview")

    rows = page.locator(".heatmap tbody tr th[scope=row] a")
    assert rows.count() >= 3
    for index in range(rows.count()):
        assert UNIT_URL.search(rows.nth(index).get_attribute("href") or ""), "each row links to its unit's report"
    engineering = page.locator(".heatmap tbody").get_by_role("link", name="Engineering", exact=True)
    click_and_wait(page, engineering)
    expect(page.get_by_role("heading", level=1)).to_have_text("Engineering")
    check_page(page, "Engineering report (HR)")

    # Engineering's teams side by side, sorted by psychological safety through its header link.
    click_and_wait(page, page.get_by_role("link", name="Compare the units of Engineering side by side"))
    expect(page).to_have_url(re.compile(rf"/units/{team_id('Engineering')}/heatmap/\?cycle="))
    header = page.locator(".heatmap thead th").filter(has_text="Psychological safety")
    click_and_wait(page, header.get_by_role("link"))
    expect(page).to_have_url(re.compile(r"sort=psych_safety&dir=desc"))
    expect(header).to_have_attribute("aria-sort", "descending")
    texts = heatmap_column(page, "Psychological safety (1–7)")
    shown = [text for text in texts if HIDDEN not in text and text != "–"]
    assert shown, texts
    assert texts[: len(shown)] == shown, f"hidden cells sort last: {texts}"
    values = [number(text) for text in shown]
    assert values == sorted(values, reverse=True), texts
    # Payments' safety has fallen: it is the lowest of Engineering's shown teams.
    names = page.locator(".heatmap tbody th[scope=row]").all_inner_texts()
    assert names[len(shown) - 1].strip() == "Payments", (names, texts)
    check_page(page, "Engineering heatmap, sorted")
    # And back up: ascending, hidden cells still last.
    click_and_wait(page, header.get_by_role("link"))
    expect(header).to_have_attribute("aria-sort", "ascending")
    texts = heatmap_column(page, "Psychological safety (1–7)")
    shown = [text for text in texts if HIDDEN not in text and text != "–"]
    assert texts[: len(shown)] == shown, f"hidden cells sort last: {texts}"
    values = [number(text) for text in shown]
    assert values == sorted(values), texts

    for path, label in [("/comments/", "comments"), ("/instrument-health/", "instrument health")]:
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == 200, path
        check_page(page, label)
    expect(page.get_by_role("heading", level=1)).to_have_text("Instrument health")
    page.goto(f"{live_server.url}/api/tokens/")
    check_page(page, "API tokens page")

    page.goto(f"{live_server.url}/exports/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Exports")
    check_page(page, "exports")
    page.get_by_label("Format").select_option("xlsx")
    expect(page.get_by_label("Format")).to_have_value("xlsx")
    click_and_wait(page, page.get_by_role("button", name="Start the export"))
    expect(page.get_by_role("status")).to_contain_text("started")
    job_row = page.locator("table tbody tr").first
    expect(job_row.locator("[data-export-state]")).to_have_text("Done")
    download_link = job_row.get_by_role("link", name="Download")
    expect(download_link).to_be_visible()
    job_id = re.search(r"/exports/(\d+)/download/", download_link.get_attribute("href") or "")
    assert job_id
    status = page.request.get(f"{live_server.url}/exports/{job_id.group(1)}/status/").json()
    assert (status["state"], status["progress"]) == ("done", 100), status
    check_page(page, "exports, done")
    with page.expect_download() as download_info:
        download_link.click()
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx"), download.suggested_filename
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    workbook = openpyxl.load_workbook(saved)
    assert {"aggregates", "flags"} <= set(workbook.sheetnames), workbook.sheetnames
    assert workbook["aggregates"].max_row > 1, "the demo's cells are exported"
    assert workbook["flags"].max_row > 1, "the demo's flags are exported"


# 4. ---------------------------------------------------------------------------------------------


def test_manager_cannot_open_another_departments_team(demo, live_server, report_page: Page, sign_in, check_page):
    page = report_page
    sign_in(page, MANAGER_EMAIL)
    growth = team_id("Product/Growth")
    product = team_id("Product")

    for path in [f"/units/{growth}/", f"/units/{product}/", f"/units/{product}/heatmap/"]:
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == 404, path
        expect(page.get_by_text(re.compile("Growth|Product"))).to_have_count(0)  # nothing of it is shown
    check_page(page, "not-found page")
    # A team that does not exist answers the same as one that is not theirs.
    response = page.goto(f"{live_server.url}/units/{uuid.uuid4()}/")
    assert response is not None and response.status == 404
    # Their own department's team opens.
    response = page.goto(f"{live_server.url}/units/{team_id(PAYMENTS)}/")
    assert response is not None and response.status == 200

    api = page.request
    for path in [f"/api/v1/cells/?unit={growth}", f"/api/v1/flags/?unit={growth}", f"/api/v1/comments/?unit={growth}"]:
        response = api.get(f"{live_server.url}{path}")
        assert response.status == 404, (path, response.status, response.text())
        assert response.headers["content-type"].startswith("application/json"), path
        assert set(response.json()) == {"detail"}, response.json()
    own = api.get(f"{live_server.url}/api/v1/cells/?unit={team_id(PAYMENTS)}")
    assert own.status == 200, own.text()
    # /api/v1/units/ takes no unit; it lists what the manager may see, and Growth is not there.
    units = api.get(f"{live_server.url}/api/v1/units/")
    assert units.status == 200, units.text()
    listed = {unit["unit_id"] for unit in units.json()["results"]}
    assert team_id(PAYMENTS) in listed and growth not in listed and product not in listed, listed


# 5 (the rest). ----------------------------------------------------------------------------------


def test_operator_page_and_password_reset_page(live_server, report_page: Page, sign_in, check_page):
    UserFactory(username="ops@example.com", is_staff=True, is_superuser=True)
    page = report_page
    page.goto(f"{live_server.url}/accounts/login/")
    click_and_wait(page, page.get_by_role("link", name=re.compile("Set a password by e-mail")))
    expect(page).to_have_url(f"{live_server.url}/accounts/password_reset/")
    check_page(page, "password reset page")

    sign_in(page, "ops@example.com", "pw")
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("You are signed in as an operator")
    expect(page.get_by_role("link", name="Open the administration")).to_have_attribute("href", "/admin/")
    check_page(page, "operator page")


# 6. ---------------------------------------------------------------------------------------------


def test_unit_report_by_keyboard(demo, live_server, report_page: Page, sign_in):
    page = report_page
    sign_in(page, MANAGER_EMAIL)
    page.goto(f"{live_server.url}/units/{team_id(PAYMENTS)}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(PAYMENTS)

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    assert skip.bounding_box()["x"] >= 0, "the skip link comes into view when focused"
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    picker = page.locator("#cycle-picker")
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "cycle-picker":
            break
    else:
        pytest.fail("Tab never reached the cycle picker")
    expect(picker).to_be_focused()

    summary = page.locator("article.flag-flag details > summary").first
    details = page.locator("article.flag-flag details").first
    expect(details).not_to_have_attribute("open", "")
    for _ in range(30):
        page.keyboard.press("Tab")
        if summary.evaluate("element => element === document.activeElement"):
            break
    else:
        pytest.fail("Tab never reached the first flag's <summary>")
    page.keyboard.press("Enter")
    expect(details).to_have_attribute("open", "")
    expect(details.locator("dl.numbers")).to_be_visible()
    expect(details.locator("p.hint")).to_be_visible()
