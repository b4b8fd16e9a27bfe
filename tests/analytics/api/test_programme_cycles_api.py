"""The cycles API (/api/v1/programme/cycles/, mounted by analytics.api.urls): HR's calendar with
each closed cycle's aggregation state and the open cycle's live participation through the door,
and open, remind and close through the page's own services: HR only, idempotent, 409 with a JSON
message for a refusal, audited as on the page, and in the OpenAPI schema."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken

from analytics.job import tasks as job_tasks
from analytics.job.participation import participation_count
from analytics.job.run import run_state_set
from analytics.published import COUNTING_TEXT, HIDDEN_TEXT
from surveys.closing import cycle_close
from surveys.models import AuditEvent, Cycle, Role
from surveys.services.cycle_actions import open_target
from surveys.services.cycles import cycle_open, links_issue, month_start
from surveys.submission import response_submit
from tests.factories import PersonFactory
from tests.surveys.helpers import FULL_ANSWERS, team_with_people

pytestmark = pytest.mark.django_db
HR_EMAIL = "hr@example.com"
ROUTES = {
    "calendar": ("get", "api:programme_cycles", "/api/v1/programme/cycles/"),
    "open": ("post", "api:programme_cycles_open", "/api/v1/programme/cycles/open/"),
    "remind": ("post", "api:programme_cycles_remind", "/api/v1/programme/cycles/remind/"),
    "close": ("post", "api:programme_cycles_close", "/api/v1/programme/cycles/close/"),
}


@pytest.fixture
def team():
    return team_with_people("Core", 6)


@pytest.fixture
def hr(team) -> Client:
    client = Client()
    client.force_login(PersonFactory(email=HR_EMAIL, role=Role.HR).user)
    return client


def call(client: Client, route: str, **data: object):
    method, _, path = ROUTES[route]
    if method == "get":
        return client.get(path, data)
    return client.post(path, data, content_type="application/json")


def opened_days_ago(days: int) -> Cycle:
    opened = timezone.localdate() - dt.timedelta(days=days)
    cycle = cycle_open(month=month_start(opened), today=opened, send_mail=False).cycle
    mail.outbox.clear()
    return cycle


def audits(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action))


def test_the_routes_are_named_under_the_api():
    for _, name, path in ROUTES.values():
        assert reverse(name) == path


@pytest.mark.parametrize("route", list(ROUTES))
def test_anonymous_requests_get_401_json(client, team, route):
    response = call(client, route)
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json") and "detail" in response.json()
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("role", [Role.ENGINEER, Role.MANAGER])
@pytest.mark.parametrize("route", list(ROUTES))
def test_everyone_but_hr_gets_404_json_and_nothing_happens(client, team, role, route):
    cycle = opened_days_ago(3)
    client.force_login(PersonFactory(role=role).user)
    response = call(client, route)
    assert response.status_code == 404
    assert response.json() == {"detail": "path: no such API endpoint; the endpoints are listed at /api/docs/."}
    cycle.refresh_from_db()
    assert cycle.is_open and cycle.reminder_days_sent == [] and mail.outbox == []
    assert not AuditEvent.objects.filter(action__endswith="_by_hr").exists()


def test_an_operator_without_a_roster_entry_gets_404(client, team, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("ops@example.com", "ops@example.com", "pw"))
    assert call(client, "calendar").status_code == 404


def test_hr_reads_the_calendar_with_a_token(team):
    hr_person = PersonFactory(email=HR_EMAIL, role=Role.HR)
    _, token = AuthToken.objects.create(user=hr_person.user)
    response = Client().get(ROUTES["calendar"][2], HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_the_calendar_shows_states_and_live_participation_through_the_door(hr, team):
    past = cycle_open(month=dt.date(2020, 4, 1), today=dt.date(2020, 4, 1), send_mail=False).cycle
    past = cycle_close(cycle=past, today=dt.date(2020, 4, 15)).cycle
    run_state_set(past, "failed", error="OperationalError")
    # Five: with HR's one-person team beside it, head counts hide Small (the smaller team) so that
    # the organisation minus Core is never HR alone.
    small = team_with_people("Small", 5)
    current = opened_days_ago(1)
    before = call(hr, "calendar").json()
    assert before["results"][1]["participation"] is None  # opened, not counted yet
    # Five of Core answer, through fresh links (the cycle was opened without mail).
    core = current.invitations.filter(person__email__startswith="core-").order_by("person__email")[:5]
    for link in links_issue(cycle=current, invitations=core, kind="resend", send_mail=False):
        response_submit(token=link.token, raw_answers=FULL_ANSWERS)
    participation_count()
    body = call(hr, "calendar").json()
    assert body["open_now_opens"] == f"{open_target(timezone.localdate())[0]:%Y-%m}"  # as the page says
    first, second = body["results"]  # oldest first
    assert (first["cycle"], first["status"], first["closed_on"], first["k"]) == ("2020-04", "closed", "2020-04-15", 5)
    assert first["aggregation"]["state"] == "failed" and first["aggregation"]["error"] == "OperationalError"
    assert first["aggregation"]["retryable"] is True and first["participation"] is None
    assert second["cycle"] == current.label and second["status"] == "open" and second["aggregation"] is None
    live = second["participation"]
    assert live["k"] == 5 and live["counting"] == COUNTING_TEXT
    units = {unit["path"]: unit for unit in live["units"]}
    assert units["Core"]["invited"] == 6 and units["Core"]["response_rate"] == 83 and units["Core"]["reason"] == ""
    hidden = units[small.name]
    assert (hidden["invited"], hidden["response_rate"], hidden["reason"]) == (5, None, HIDDEN_TEXT)
    assert set(hidden) == {"unit_id", "parent_id", "path", "level", "depth", "invited", "response_rate", "reason"}


def test_the_calendar_takes_no_query_parameters(hr):
    response = hr.get(ROUTES["calendar"][2], {"ordering": "answered"})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("ordering: unknown query parameter")


# --- open ---------------------------------------------------------------------------------------


def test_open_opens_this_month_then_a_repeat_is_refused_with_409(hr):
    response = call(hr, "open")
    assert response.status_code == 201
    cycle = Cycle.objects.get()
    body = response.json()
    assert body["cycle"] == cycle.label and body["created"] is True and body["links_mailed"] == 7
    assert body["closes_on"] == f"{cycle.closes_on:%Y-%m-%d}" and "this month's" in body["detail"]
    assert len(mail.outbox) == 7
    [event] = audits("cycle_opened_by_hr")
    assert event.actor == HR_EMAIL and event.detail == {"cycle": cycle.label, "created": True, "links_mailed": 7}
    mail.outbox.clear()
    again = call(hr, "open")
    assert again.status_code == 409
    assert again.json() == {
        "detail": f"cycle: The {cycle.label} cycle is still open; close it first (python manage.py close_cycle)."
    }
    assert Cycle.objects.count() == 1 and mail.outbox == [] and len(audits("cycle_opened_by_hr")) == 1


def test_a_body_is_refused_naming_the_field(hr):
    response = call(hr, "open", month="2031-01")
    assert response.status_code == 400
    assert response.json() == {"detail": "month: unknown field; this endpoint takes no body: POST it empty."}
    assert not Cycle.objects.exists()


# --- remind -------------------------------------------------------------------------------------


def test_reminders_go_out_once_a_day_and_a_repeat_is_409(hr):
    cycle = opened_days_ago(3)
    response = call(hr, "remind")
    assert response.status_code == 200
    assert response.json()["cycle"] == cycle.label and response.json()["day"] == 3
    assert len(mail.outbox) == 7
    [event] = audits("reminders_sent_by_hr")
    assert event.detail == {"cycle": cycle.label, "day": 3}  # no count (decision 47)
    mail.outbox.clear()
    again = call(hr, "remind")
    assert again.status_code == 409
    assert "already went out today; people get at most one a day" in again.json()["detail"]
    assert mail.outbox == [] and len(audits("reminders_sent_by_hr")) == 1


def test_no_reminder_on_the_opening_day_or_without_an_open_cycle(hr):
    nothing = call(hr, "remind")
    assert nothing.status_code == 409 and nothing.json()["detail"].startswith("cycle: No cycle is open")
    opened_days_ago(0)
    today = call(hr, "remind")
    assert today.status_code == 409 and "opened today" in today.json()["detail"]
    assert mail.outbox == [] and audits("reminders_sent_by_hr") == []


# --- close --------------------------------------------------------------------------------------


def test_close_closes_queues_aggregation_and_a_repeat_is_409(hr, monkeypatch, django_capture_on_commit_callbacks):
    cycle = opened_days_ago(3)
    queued: list[object] = []
    monkeypatch.setattr(job_tasks.aggregate_cycle_task, "delay", lambda *args: queued.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        response = call(hr, "close")
    assert response.status_code == 200
    assert response.json() == {
        "cycle": cycle.label,
        "closed_now": True,
        "teams": 2,
        "detail": f"The {cycle.label} cycle is closed; its results are being computed.",
    }
    assert queued == [(cycle.pk,)]
    cycle.refresh_from_db()
    assert not cycle.is_open
    [event] = audits("cycle_closed_by_hr")
    assert set(event.detail) == {"cycle", "teams"}
    body = call(hr, "calendar").json()
    assert body["results"][0]["aggregation"]["state"] == "queued"
    again = call(hr, "close")
    assert again.status_code == 409 and again.json() == {"detail": "cycle: No cycle is open: nothing was closed."}
    assert len(audits("cycle_closed_by_hr")) == 1 and queued == [(cycle.pk,)]


@pytest.mark.parametrize("route", ["open", "remind", "close"])
def test_actions_are_post_only(hr, route):
    assert hr.get(ROUTES[route][2]).status_code == 405


# --- the schema ---------------------------------------------------------------------------------


def test_the_schema_documents_every_route_and_status():
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    assert {"200", "400", "401", "404"} <= set(paths["/api/v1/programme/cycles/"]["get"]["responses"])
    assert {"200", "201", "400", "401", "404", "409"} <= set(
        paths["/api/v1/programme/cycles/open/"]["post"]["responses"]
    )
    for action in ("remind", "close"):
        assert {"200", "400", "401", "404", "409"} <= set(
            paths[f"/api/v1/programme/cycles/{action}/"]["post"]["responses"]
        )
    live_unit = schema["components"]["schemas"]["LiveUnitOutput"]["properties"]
    assert "answered" not in live_unit and live_unit["response_rate"]["nullable"] is True
