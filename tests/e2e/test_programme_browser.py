"""HR runs the programme in a real browser: the programme pages (axe, 390 px), and a roster
upload with one bad row that shows the command's line error, is fixed, previewed and applied."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from surveys.models import AuditEvent, Person, Role
from tests.factories import PersonFactory, TeamFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

HEADER = "email,name,team,role,manages\n"
GOOD_ROWS = (
    "ana@example.com,Ana,Engineering/Core,engineer,\n"
    "bo@example.com,Bo,Engineering/Core,engineer,\n"
    "cy@example.com,Cy,Engineering/Leadership,manager,Engineering\n"
)


@pytest.fixture
def hr(db):
    return PersonFactory(email="hr@example.com", role=Role.HR, team=TeamFactory(name="People"))


def upload(page: Page, tmp_path, text: str) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    page.get_by_label("Roster CSV file").set_input_files(str(path))
    with page.expect_navigation():
        page.get_by_role("button", name="Preview the import").click()


def test_hr_fixes_a_bad_roster_row_previews_and_applies(live_server, report_page, sign_in, check_page, hr, tmp_path):
    page = report_page
    sign_in(page, hr.email, "pw")
    for path, label in (
        ("/programme/", "programme"),
        ("/programme/settings/", "settings"),
        ("/programme/audit/", "audit log"),
    ):
        page.goto(f"{live_server.url}{path}")
        check_page(page, label)
    page.goto(f"{live_server.url}/programme/roster/")
    check_page(page, "roster upload")

    upload(page, tmp_path, HEADER + GOOD_ROWS + "di@example.com,Di,Engineering/Core,wizard,\n")
    expect(page.get_by_text("line 5:").first).to_be_visible()
    expect(page.get_by_role("button", name="Apply this roster")).to_have_count(0)
    check_page(page, "roster with a bad row")
    assert not Person.objects.filter(email="ana@example.com").exists()

    upload(page, tmp_path, HEADER + GOOD_ROWS + "di@example.com,Di,Engineering/Core,engineer,\n")
    expect(page.get_by_text("ana@example.com").first).to_be_visible()
    check_page(page, "roster preview")
    assert not Person.objects.filter(email="ana@example.com").exists()  # a preview writes nothing
    with page.expect_navigation():
        page.get_by_role("button", name="Apply this roster").click()
    check_page(page, "roster applied")
    assert set(Person.objects.filter(email__in=["ana@example.com", "cy@example.com", "di@example.com"])
               .values_list("email", flat=True)) == {"ana@example.com", "cy@example.com", "di@example.com"}  # fmt: skip
    assert AuditEvent.objects.filter(action="roster_imported", actor=hr.email).count() == 1
