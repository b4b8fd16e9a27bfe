"""HR's audit log page and its CSV (ANONYMITY R10): filters, pagination, the CSV's safety, bad
input, who may see it, and the export's own audit event."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from surveys.admin import AuditEventAdmin
from surveys.audit import audit_subject
from surveys.models import AuditEvent, Role
from surveys.programme.audit_views import PER_PAGE, csv_cell
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db
PAGE = reverse("programme:audit")
CSV = reverse("programme:audit_csv")
PARIS = ZoneInfo("Europe/Paris")


def event(action: str, at: dt.datetime, actor: str = "hr@example.com", **detail: object) -> AuditEvent:
    created = AuditEvent.objects.create(actor=actor, action=action, detail=detail)
    AuditEvent.objects.filter(pk=created.pk).update(at=at)  # auto_now_add ignores a given value
    created.refresh_from_db()
    return created


@pytest.fixture
def paris(settings):
    settings.TIME_ZONE = "Europe/Paris"


@pytest.fixture
def hr(client):
    person = PersonFactory(email="hr@example.com", role=Role.HR)
    client.force_login(person.user)
    return person


def rows_of(response) -> list[dict[str, str]]:
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff"), "the BOM Excel needs"
    return list(csv.DictReader(io.StringIO(text[1:])))


def shown(response) -> list[int]:
    return [row["event"].pk for row in response.context["rows"]]


# --- who may see it ---------------------------------------------------------------------------


@pytest.mark.parametrize("url", [PAGE, CSV])
def test_anonymous_visitors_are_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith(f"{reverse('login')}?next=")


@pytest.mark.parametrize("role", [Role.ENGINEER, Role.MANAGER])
@pytest.mark.parametrize("url", [PAGE, CSV])
def test_anyone_but_hr_gets_404(client, role, url):
    client.force_login(PersonFactory(role=role).user)
    assert client.get(url).status_code == 404
    assert not AuditEvent.objects.filter(action="audit_log_exported").exists()


# --- the page ---------------------------------------------------------------------------------


def test_the_page_lists_every_event_newest_first_with_its_subject(client, hr):
    old = event("role_set", dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC), email="a@example.com", role="engineer")
    new = event("cycle_k_raised", dt.datetime(2026, 4, 1, 9, tzinfo=dt.UTC), cycle="2026-04", to=7)
    response = client.get(PAGE)
    assert response.status_code == 200
    assert shown(response) == [new.pk, old.pk]
    html = response.content.decode()
    assert 'role="region" aria-label="Audit log" tabindex="0"' in html and '<th scope="col">Subject</th>' in html
    assert "a@example.com" in html and "2026-04" in html and "Cycle k raised" in html


def test_filters_by_kind_and_actor(client, hr):
    at = dt.datetime(2026, 4, 1, 9, tzinfo=dt.UTC)
    mine = event("role_changed", at, actor="HR@example.com", email="x@example.com")
    event("role_changed", at, actor="import_roster", email="y@example.com")
    event("export_started", at, actor="hr@example.com", format="csv")
    response = client.get(PAGE, {"kind": "role_changed", "actor": "hr@example.com"})
    assert response.status_code == 200 and shown(response) == [mine.pk]  # the actor matched in any case


def test_the_dates_are_whole_days_in_the_programme_time_zone_both_ends_included(client, hr, paris):
    # 1 April 00:00 in Paris is 31 March 22:00 UTC; 30 April 23:59 Paris is 21:59 UTC.
    before = event("role_set", dt.datetime(2026, 3, 31, 21, 59, tzinfo=dt.UTC))
    first = event("role_set", dt.datetime(2026, 4, 1, 0, 0, tzinfo=PARIS))
    last = event("role_set", dt.datetime(2026, 4, 30, 23, 59, 59, tzinfo=PARIS))
    after = event("role_set", dt.datetime(2026, 4, 30, 22, 0, tzinfo=dt.UTC))  # 1 May, 00:00 in Paris
    response = client.get(PAGE, {"date_from": "2026-04-01", "date_to": "2026-04-30"})
    assert shown(response) == [last.pk, first.pk]
    assert before.pk not in shown(response) and after.pk not in shown(response)
    one_day = client.get(PAGE, {"date_from": "2026-05-01", "date_to": "2026-05-01"})
    assert shown(one_day) == [after.pk]
    assert shown(client.get(PAGE, {"date_to": "2026-03-31"})) == [before.pk]


def test_pages_hold_a_hundred_and_their_links_keep_the_filters(client, hr):
    start = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    for minute in range(PER_PAGE + 5):
        event("role_set", start + dt.timedelta(minutes=minute))
    event("export_started", start)  # filtered out
    response = client.get(PAGE, {"kind": "role_set", "date_from": "2026-04-01"})
    assert len(response.context["rows"]) == PER_PAGE and response.context["page"].paginator.count == PER_PAGE + 5
    html = response.content.decode()
    assert 'href="?kind=role_set&amp;date_from=2026-04-01&amp;page=2"' in html
    assert f'href="{CSV}?kind=role_set&amp;date_from=2026-04-01"' in html
    second = client.get(PAGE, {"kind": "role_set", "date_from": "2026-04-01", "page": "2"})
    assert len(second.context["rows"]) == 5
    assert {row["event"].action for row in second.context["rows"]} == {"role_set"}
    assert 'href="?kind=role_set&amp;date_from=2026-04-01&amp;page=1"' in second.content.decode()


@pytest.mark.parametrize("page", ["0", "-1", "abc", "9" * 5000, "1e3", "2\x00"])
def test_an_odd_page_number_shows_a_page(client, hr, page):
    event("role_set", dt.datetime(2026, 4, 1, tzinfo=dt.UTC))
    assert client.get(PAGE, {"page": page}).status_code == 200


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"date_from": "01/04/2026"}, "date_from", "From date: enter a date as YYYY-MM-DD"),
        ({"date_to": "2026-02-30"}, "date_to", "To date: enter a date as YYYY-MM-DD"),
        ({"date_from": "2026-04-05", "date_to": "2026-04-01"}, "date_to", "To date: choose a date on or after"),
        ({"date_from": "0001-01-01"}, "date_from", "From date: choose a date between"),
        ({"date_to": "9999-12-31"}, "date_to", "To date: choose a date between"),
        ({"kind": "no_such_kind"}, "kind", "Kind: choose one of the kinds listed"),
        ({"kind": "x" * 10_000}, "kind", "Kind: choose one of the kinds listed"),
        ({"actor": "a" * 10_000}, "actor", "Actor: enter at most 254 characters"),
        ({"actor": "hr\x00@example.com"}, "actor", "Actor: remove the control characters"),
        ({"actor": "hr\x07@example.com"}, "actor", "Actor: remove the control characters"),
        ({"date_from": "2026-04-01\x00"}, "date_from", "From date: enter a date as YYYY-MM-DD"),
    ],
)
@pytest.mark.parametrize("url", [PAGE, CSV])
def test_bad_filters_give_400_naming_the_field_and_no_results(client, hr, url, query, field, message):
    event("role_set", dt.datetime(2026, 4, 1, tzinfo=dt.UTC), email="someone@example.com")
    response = client.get(url, query)
    assert response.status_code == 400 and response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert message in html
    assert f'<a href="#id_{field}">' in html and 'aria-invalid="true"' in html  # the summary links to it
    assert "someone@example.com" not in html and 'aria-label="Audit log"' not in html
    assert len(html) < 40_000  # the refused value is not echoed in full
    assert not AuditEvent.objects.filter(action="audit_log_exported").exists()


# --- the CSV ----------------------------------------------------------------------------------


def test_the_csv_holds_the_filtered_events_only_under_its_header(client, hr, paris):
    at = dt.datetime(2026, 4, 2, 8, 30, tzinfo=dt.UTC)
    kept = event("role_changed", at, actor="hr@example.com", email="ana@example.com", to="manager")
    event("role_changed", at, actor="import_roster", email="bo@example.com")
    event("role_changed", dt.datetime(2026, 5, 2, tzinfo=dt.UTC), email="cy@example.com")
    response = client.get(CSV, {"kind": "role_changed", "actor": "hr@example.com", "date_to": "2026-04-30"})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="pilotpulse-audit-')
    text = response.content.decode("utf-8")
    assert text.splitlines()[0] == "\ufeffat,actor,action,subject,detail"
    rows = rows_of(response)
    assert rows == [
        {
            "at": "2026-04-02T10:30:00+02:00",  # ISO 8601 with the programme's offset
            "actor": "hr@example.com",
            "action": "role_changed",
            "subject": "ana@example.com",
            "detail": json.dumps({"email": "ana@example.com", "to": "manager"}, sort_keys=True),
        }
    ]
    assert kept.pk


def test_the_csv_neutralises_formulas(client, hr):
    at = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    for start in ("=", "+", "-", "@", "\t", "\r"):
        event("role_set", at, actor=f"{start}cmd|' /C calc'!A0", email=f'{start}HYPERLINK("http://x")')
    event("role_set", at, actor="plain@example.com", email="ok@example.com")
    rows = rows_of(client.get(CSV))
    exported = [row for row in rows if row["action"] == "role_set"]
    assert len(exported) == 7
    for row in exported:
        for column in ("actor", "subject"):
            assert row[column][0] not in "=+-@\t\r", row
    assert {row["actor"] for row in exported if row["actor"].startswith("'")} == {
        f"'{start}cmd|' /C calc'!A0" for start in ("=", "+", "-", "@", "\t", "\r")
    }
    assert "plain@example.com" in {row["actor"] for row in exported}
    assert csv_cell("-1") == "'-1" and csv_cell("a=b") == "a=b" and csv_cell("") == ""


def test_the_csv_keeps_non_ascii_text(client, hr):
    event("role_set", dt.datetime(2026, 4, 1, tzinfo=dt.UTC), email="zoë@example.com")
    (row,) = rows_of(client.get(CSV, {"kind": "role_set"}))
    assert row["subject"] == "zoë@example.com" and "zoë" in row["detail"]


def test_exporting_the_csv_is_audited_with_the_filters_and_no_row_contents(client, hr):
    event("role_changed", dt.datetime(2026, 4, 1, tzinfo=dt.UTC), email="secret-subject@example.com")
    event("role_changed", dt.datetime(2026, 4, 2, tzinfo=dt.UTC), email="other@example.com")
    response = client.get(CSV, {"kind": "role_changed", "date_from": "2026-04-01"})
    assert len(rows_of(response)) == 2  # the export's own event is not in its file
    audited = AuditEvent.objects.get(action="audit_log_exported")
    assert audited.actor == "hr@example.com"
    assert audited.detail == {
        "format": "csv",
        "filters": {"kind": "role_changed", "date_from": "2026-04-01"},
        "rows": 2,
    }
    assert "secret-subject" not in json.dumps(audited.detail)
    # It is listed on the page like any event, under its own kind, and can be filtered on.
    page = client.get(PAGE, {"kind": "audit_log_exported"})
    assert shown(page) == [audited.pk] and "Audit log exported" in page.content.decode()


def test_viewing_the_page_is_not_audited(client, hr):
    client.get(PAGE, {"kind": "role_set"})
    assert not AuditEvent.objects.exists()


# --- the shared subject -----------------------------------------------------------------------


def test_the_admin_and_the_page_name_the_same_subject():
    from django.contrib import admin

    listed = AuditEventAdmin(AuditEvent, admin.site)
    for detail in ({"email": "a@example.com", "cycle": "2026-04"}, {"cycle": "2026-04"}, {"subject": "s"}, {}, []):
        shown_event = AuditEvent(actor="x", action="y", detail=detail)
        assert listed.subject(shown_event) == audit_subject(detail)
    assert audit_subject({"email": "", "cycle": "2026-04"}) == "2026-04"
    assert audit_subject("not a dict") == ""
