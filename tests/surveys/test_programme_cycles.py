"""HR's cycles page: the calendar, and opening, reminding, closing and moving the closing date,
each behind a ticked confirmation, idempotent and audited (ANONYMITY R8, R10); the open cycle's
live participation (R4, R5 through the door) and each closed cycle's aggregation, with a retry
for a failed one."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from analytics.job import tasks as job_tasks
from surveys.closing import cycle_close
from surveys.models import AuditEvent, Cycle
from surveys.services.cycles import cycle_open, month_start
from tests.factories import PersonFactory
from tests.surveys.helpers import team_with_people

pytestmark = pytest.mark.django_db
HR_EMAIL = "hr@example.com"
URL = "/programme/cycles/"


@pytest.fixture
def hr_client(client: Client) -> Client:
    client.force_login(PersonFactory(email=HR_EMAIL, role="hr").user)
    return client


@pytest.fixture
def team():
    return team_with_people("Core", 6)


@pytest.fixture
def open_cycle(team) -> Cycle:
    """Opened three days ago, so a reminder is allowed today."""
    opened = timezone.localdate() - dt.timedelta(days=3)
    cycle = cycle_open(month=month_start(opened), today=opened, send_mail=False).cycle
    mail.outbox.clear()
    return cycle


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action))


def test_the_urls_are_named():
    assert reverse("programme:cycles") == URL
    for name, tail in (
        ("cycle_open", "open/"),
        ("cycle_remind", "remind/"),
        ("cycle_close", "close/"),
        ("cycle_closing_date", "closing-date/"),
    ):
        assert reverse(f"programme:{name}") == URL + tail
    assert reverse("programme:cycle_aggregation_retry", args=["2026-04"]) == URL + "2026-04/retry/"


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    response = client.post(reverse("programme:cycle_close"), {"close-confirm": "on"})
    assert response.status_code == 302


@pytest.mark.parametrize("role", ["engineer", "manager"])
def test_non_hr_get_404_and_nothing_happens(client, open_cycle, role):
    client.force_login(PersonFactory(role=role).user)
    assert client.get(URL).status_code == 404
    for name, data in (
        ("cycle_open", {"open-confirm": "on"}),
        ("cycle_remind", {"remind-confirm": "on"}),
        ("cycle_close", {"close-confirm": "on"}),
        ("cycle_closing_date", {"closing-closes_on": "2099-01-01", "closing-confirm": "on"}),
    ):
        assert client.post(reverse(f"programme:{name}"), data).status_code == 404
    open_cycle.refresh_from_db()
    assert open_cycle.is_open
    assert open_cycle.reminder_days_sent == []
    assert not AuditEvent.objects.filter(action__endswith="_by_hr").exists()
    assert mail.outbox == []


def test_a_signed_in_user_without_roster_entry_gets_404(client, django_user_model):
    client.force_login(django_user_model.objects.create_user(username="op", password="x"))
    assert client.get(URL).status_code == 404


def test_the_page_lists_past_and_open_cycles_and_the_schedule(hr_client, team):
    past = cycle_open(month=dt.date(2020, 4, 1), today=dt.date(2020, 4, 1), send_mail=False).cycle
    cycle_close(cycle=past, today=dt.date(2020, 4, 15))
    opened = timezone.localdate() - dt.timedelta(days=1)
    current = cycle_open(month=month_start(opened), today=opened, send_mail=False).cycle
    response = hr_client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "2020-04" in html and "Closed" in html and "2020-04-15" in html
    assert current.label in html and f"{current.closes_on:%Y-%m-%d}" in html
    assert 'class="table-scroll" role="region" aria-label="Past cycles" tabindex="0"' in html
    assert "The schedule next opens a cycle on" in html
    assert response.context["beat"]["cron"] == "0 7 1 * *"
    # While a cycle is open there is no "open now", only reminders, closing date and close.
    assert reverse("programme:cycle_open") not in html
    for name in ("cycle_remind", "cycle_close", "cycle_closing_date"):
        assert reverse(f"programme:{name}") in html


# --- open now ---------------------------------------------------------------------------------


def test_open_without_confirmation_is_400_and_opens_nothing(hr_client, team):
    response = hr_client.post(reverse("programme:cycle_open"), {})
    assert response.status_code == 400
    html = response.content.decode()
    assert "No cycle was opened" in html
    assert 'href="#id_open-confirm"' in html
    assert "Tick the box to confirm opening the cycle now" in html
    assert not Cycle.objects.exists()
    assert mail.outbox == []
    assert events("cycle_opened_by_hr") == []


def test_open_now_opens_this_month_mails_everyone_and_is_audited(hr_client, team):
    response = hr_client.post(reverse("programme:cycle_open"), {"open-confirm": "on"}, follow=True)
    assert response.status_code == 200
    cycle = Cycle.objects.get()
    today = timezone.localdate()
    assert cycle.is_open and cycle.month == month_start(today)
    assert len(mail.outbox) == 7  # six on Core, and the HR person
    html = response.content.decode()
    assert f"The {cycle.label} cycle is open (this month&#x27;s, {cycle.label})" in html
    [event] = events("cycle_opened_by_hr")
    assert event.actor == HR_EMAIL
    assert event.detail == {"cycle": cycle.label, "created": True, "links_mailed": 7}


def test_open_now_again_is_refused_with_the_services_message_and_changes_nothing(hr_client, team):
    hr_client.post(reverse("programme:cycle_open"), {"open-confirm": "on"})
    mail.outbox.clear()
    response = hr_client.post(reverse("programme:cycle_open"), {"open-confirm": "on"})
    assert response.status_code == 409
    label = Cycle.objects.get().label
    assert f"The {label} cycle is still open; close it first" in response.content.decode()
    assert Cycle.objects.count() == 1
    assert mail.outbox == []
    assert len(events("cycle_opened_by_hr")) == 1


def test_open_now_opens_next_month_when_this_month_has_a_cycle_and_says_so(hr_client, team):
    today = timezone.localdate()
    this_month = month_start(today)
    closed = cycle_open(month=this_month, today=this_month, send_mail=False).cycle
    cycle_close(cycle=closed, today=today)
    page = hr_client.get(URL).content.decode()
    following = (this_month + dt.timedelta(days=32)).replace(day=1)
    assert f"{following:%Y-%m}, because {this_month:%Y-%m} already has a cycle" in page
    response = hr_client.post(reverse("programme:cycle_open"), {"open-confirm": "on"}, follow=True)
    assert Cycle.objects.get(status=Cycle.Status.OPEN).month == following
    assert "already has a cycle" in response.content.decode()
    assert events("cycle_opened_by_hr")[0].detail["cycle"] == f"{following:%Y-%m}"


def test_open_is_post_only(hr_client):
    assert hr_client.get(reverse("programme:cycle_open")).status_code == 405


# --- reminders --------------------------------------------------------------------------------


def test_remind_without_confirmation_is_400_and_sends_nothing(hr_client, open_cycle):
    response = hr_client.post(reverse("programme:cycle_remind"), {})
    assert response.status_code == 400
    assert 'href="#id_remind-confirm"' in response.content.decode()
    open_cycle.refresh_from_db()
    assert open_cycle.reminder_days_sent == []
    assert mail.outbox == []
    assert events("reminders_sent_by_hr") == []


def test_reminders_go_out_once_a_day_and_are_audited_without_a_count(hr_client, open_cycle):
    response = hr_client.post(reverse("programme:cycle_remind"), {"remind-confirm": "on"}, follow=True)
    assert response.status_code == 200
    assert len(mail.outbox) == 7
    assert "went out to everyone who has not answered yet" in response.content.decode()
    open_cycle.refresh_from_db()
    assert open_cycle.reminder_days_sent == [3]
    [event] = events("reminders_sent_by_hr")
    assert event.actor == HR_EMAIL
    assert event.detail == {"cycle": open_cycle.label, "day": 3}

    mail.outbox.clear()
    again = hr_client.post(reverse("programme:cycle_remind"), {"remind-confirm": "on"})
    assert again.status_code == 409
    assert "already went out today; people get at most one a day" in again.content.decode()
    assert mail.outbox == []
    assert len(events("reminders_sent_by_hr")) == 1


def test_a_scheduled_reminder_today_counts_too(hr_client, open_cycle):
    open_cycle.reminder_days_sent = [3]  # the schedule's day-3 reminder went out this morning
    open_cycle.save(update_fields=["reminder_days_sent"])
    response = hr_client.post(reverse("programme:cycle_remind"), {"remind-confirm": "on"})
    assert response.status_code == 409
    assert mail.outbox == []


def test_no_reminder_on_the_opening_day(hr_client, team):
    cycle_open(send_mail=False)
    response = hr_client.post(reverse("programme:cycle_remind"), {"remind-confirm": "on"})
    assert response.status_code == 409
    assert "opened today" in response.content.decode()
    assert mail.outbox == []


def test_no_reminder_without_an_open_cycle(hr_client, team):
    response = hr_client.post(reverse("programme:cycle_remind"), {"remind-confirm": "on"})
    assert response.status_code == 409
    assert "No cycle is open" in response.content.decode()


# --- close now --------------------------------------------------------------------------------


def test_close_without_confirmation_is_400_and_closes_nothing(hr_client, open_cycle):
    response = hr_client.post(reverse("programme:cycle_close"), {})
    assert response.status_code == 400
    assert 'href="#id_close-confirm"' in response.content.decode()
    open_cycle.refresh_from_db()
    assert open_cycle.is_open
    assert events("cycle_closed_by_hr") == []


def test_close_now_closes_queues_aggregation_on_commit_and_is_audited(
    hr_client, open_cycle, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[object] = []
    monkeypatch.setattr(job_tasks.aggregate_cycle_task, "delay", lambda *args: queued.append(args))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = hr_client.post(reverse("programme:cycle_close"), {"close-confirm": "on"})
    assert response.status_code == 302
    assert callbacks
    assert queued == [(open_cycle.pk,)]
    open_cycle.refresh_from_db()
    assert not open_cycle.is_open
    assert open_cycle.closed_on == timezone.localdate()
    [event] = events("cycle_closed_by_hr")
    assert event.actor == HR_EMAIL
    assert event.detail["cycle"] == open_cycle.label
    assert set(event.detail) == {"cycle", "teams"}

    again = hr_client.post(reverse("programme:cycle_close"), {"close-confirm": "on"}, follow=True)
    assert "No cycle is open: nothing was closed." in again.content.decode()
    assert len(events("cycle_closed_by_hr")) == 1
    assert queued == [(open_cycle.pk,)]


# --- the closing date -------------------------------------------------------------------------


def closing(client: Client, value: str, confirm: bool = True):
    data = {"closing-closes_on": value}
    if confirm:
        data["closing-confirm"] = "on"
    return client.post(reverse("programme:cycle_closing_date"), data)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Enter the new closing date"),
        ("20/05/2026", "Enter the closing date as YYYY-MM-DD"),
        ("today", "Enter the closing date as YYYY-MM-DD"),
    ],
)
def test_a_closing_date_that_cannot_be_read_is_refused(hr_client, open_cycle, value, message):
    before = open_cycle.closes_on
    response = closing(hr_client, value)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert 'href="#id_closing-closes_on"' in html
    open_cycle.refresh_from_db()
    assert open_cycle.closes_on == before
    assert events("cycle_closing_date_changed_by_hr") == []


@pytest.mark.parametrize("days", [0, -1, -10])
def test_the_closing_date_must_be_after_today(hr_client, open_cycle, days):
    before = open_cycle.closes_on
    value = timezone.localdate() + dt.timedelta(days=days)
    response = closing(hr_client, f"{value:%Y-%m-%d}")
    assert response.status_code == 400
    assert "The closing date must be after today" in response.content.decode()
    open_cycle.refresh_from_db()
    assert open_cycle.closes_on == before


def test_the_closing_date_may_be_at_most_sixty_days_after_opening(hr_client, open_cycle):
    from surveys.services.cycle_actions import MAX_OPEN_DAYS

    before = open_cycle.closes_on
    latest = open_cycle.opened_on + dt.timedelta(days=MAX_OPEN_DAYS)
    response = closing(hr_client, f"{latest + dt.timedelta(days=1):%Y-%m-%d}")
    assert response.status_code == 400
    assert f"so {latest:%Y-%m-%d} at the latest; enter an earlier date" in response.content.decode()
    open_cycle.refresh_from_db()
    assert open_cycle.closes_on == before
    assert closing(hr_client, f"{latest:%Y-%m-%d}").status_code == 302  # the last day allowed
    open_cycle.refresh_from_db()
    assert open_cycle.closes_on == latest


def test_the_closing_date_must_be_after_the_opening_date(open_cycle):
    from surveys.programme.cycles_forms import ClosingDateForm

    # A cycle opened in the future (a clock set back): after today is not enough.
    today = open_cycle.opened_on - dt.timedelta(days=5)
    form = ClosingDateForm(
        {"closing-closes_on": f"{open_cycle.opened_on:%Y-%m-%d}", "closing-confirm": "on"},
        cycle=open_cycle,
        today=today,
    )
    assert not form.is_valid()
    assert "after the opening date" in form.errors["closes_on"][0]


def test_the_closing_date_needs_confirmation(hr_client, open_cycle):
    before = open_cycle.closes_on
    response = closing(hr_client, f"{before + dt.timedelta(days=2):%Y-%m-%d}", confirm=False)
    assert response.status_code == 400
    assert "Tick the box to confirm changing the closing date" in response.content.decode()
    open_cycle.refresh_from_db()
    assert open_cycle.closes_on == before


def test_the_closing_date_changes_once_and_is_audited(hr_client, open_cycle):
    before = open_cycle.closes_on
    new = before + dt.timedelta(days=3)
    response = closing(hr_client, f"{new:%Y-%m-%d}")
    assert response.status_code == 302
    open_cycle.refresh_from_db()
    assert open_cycle.closes_on == new
    [event] = events("cycle_closing_date_changed_by_hr")
    assert event.actor == HR_EMAIL
    assert event.detail == {"cycle": open_cycle.label, "from": f"{before:%Y-%m-%d}", "to": f"{new:%Y-%m-%d}"}
    # The same date again: nothing changes, nothing more is recorded.
    assert closing(hr_client, f"{new:%Y-%m-%d}").status_code == 302
    assert len(events("cycle_closing_date_changed_by_hr")) == 1


def test_no_closing_date_to_change_without_an_open_cycle(hr_client, team):
    response = closing(hr_client, "2099-01-01")
    assert response.status_code == 409
    assert "No cycle is open" in response.content.decode()


def test_audit_details_never_name_people(hr_client, open_cycle):
    hr_client.post(reverse("programme:cycle_remind"), {"remind-confirm": "on"})
    closing(hr_client, f"{open_cycle.closes_on + dt.timedelta(days=1):%Y-%m-%d}")
    hr_client.post(reverse("programme:cycle_close"), {"close-confirm": "on"})
    for event in AuditEvent.objects.filter(action__endswith="_by_hr"):
        assert "@" not in str(event.detail)


def test_the_page_itself_takes_no_post(hr_client):
    assert hr_client.post(URL, {}).status_code == 405


# --- live participation -----------------------------------------------------------------------


def test_the_open_cycle_shows_live_percentages_and_the_hidden_text(hr_client, team):
    from analytics.job.participation import participation_count
    from analytics.published import COUNTING_TEXT, HIDDEN_TEXT
    from surveys.models import Team
    from surveys.submission import response_submit
    from tests.surveys.helpers import FULL_ANSWERS

    # Five: with HR's own team beside it, head counts hide Small (the smaller team), so that the
    # organisation minus Core is never HR's team alone.
    small = team_with_people("Small", 5)
    opened = timezone.localdate() - dt.timedelta(days=1)
    result = cycle_open(month=month_start(opened), today=opened, send_mail=False)
    mail.outbox.clear()
    page = hr_client.get(URL).content.decode()
    assert "Not counted yet" in page  # opened, but the count has not run
    core_tokens = [link.token for link in result.links if link.person_email.startswith("core-")]
    for token in core_tokens[:5]:
        response_submit(token=token, raw_answers=FULL_ANSWERS)
    participation_count()
    response = hr_client.get(URL)
    html = response.content.decode()
    assert COUNTING_TEXT in html
    assert '<table class="data-table">' in html and "Live participation in the" in html
    assert '<th scope="row">Core</th><td>6</td><td>83%</td>' in html  # 5 of 6
    assert f'<th scope="row">{small.name}</th><td>5</td><td>{HIDDEN_TEXT}</td>' in html
    units = response.context["participation"].units
    assert [unit.path for unit in units][1:] == sorted(team.path for team in Team.objects.all())


# --- the aggregation jobs ---------------------------------------------------------------------


@pytest.fixture
def closed(team) -> Cycle:
    past = cycle_open(month=dt.date(2020, 4, 1), today=dt.date(2020, 4, 1), send_mail=False).cycle
    return cycle_close(cycle=past, today=dt.date(2020, 4, 15)).cycle


def retry_url(cycle: Cycle) -> str:
    return reverse("programme:cycle_aggregation_retry", args=[cycle.label])


@pytest.mark.parametrize(
    ("state", "stage", "error", "shown"),
    [
        ("queued", "", "", "Queued: the results are computed next"),
        ("running", "flags", "", "Running: flags (since"),
        ("done", "", "", "Done: the results are published"),
        ("failed", "", "OperationalError", "Failed (OperationalError) on"),
        ("refused", "", "", "Stopped by the disclosure checker: nothing was published. It is not retried; "
                            "an operator must look at the job&#x27;s log."),
    ],
)  # fmt: skip
def test_each_closed_cycle_shows_its_aggregation_state(hr_client, closed, state, stage, error, shown):
    from analytics.job.run import run_state_set

    run_state_set(closed, state, stage=stage, error=error)
    html = hr_client.get(URL).content.decode()
    assert '<th scope="col">Results</th>' in html
    assert shown in html
    # Only a failed run has a retry button (a refused one would stop again).
    assert (retry_url(closed) in html) == (state == "failed")
    assert ("Retry 2020-04</button>" in html) == (state == "failed")


def test_a_failed_aggregation_is_retried_once_confirmed_and_audited(
    hr_client, closed, monkeypatch, django_capture_on_commit_callbacks
):
    from analytics.job.run import run_state_set
    from analytics.models import AggregationRun

    run_state_set(closed, "failed", error="OperationalError")
    queued: list[object] = []
    monkeypatch.setattr(job_tasks.aggregate_cycle_task, "delay", lambda *args: queued.append(args))
    unconfirmed = hr_client.post(retry_url(closed), {})
    assert unconfirmed.status_code == 400
    assert 'href="#id_retry-2020-04-confirm"' in unconfirmed.content.decode()
    assert AggregationRun.objects.get(cycle=closed).state == "failed" and queued == []
    with django_capture_on_commit_callbacks(execute=True):
        response = hr_client.post(retry_url(closed), {"retry-2020-04-confirm": "on"}, follow=True)
    assert response.status_code == 200
    assert "The 2020-04 aggregation is queued again" in response.content.decode()
    assert queued == [(closed.pk, [])]
    assert AggregationRun.objects.get(cycle=closed).state == "queued"
    [event] = events("aggregation_retried_by_hr")
    assert (event.actor, event.detail) == (HR_EMAIL, {"cycle": "2020-04"})
    again = hr_client.post(retry_url(closed), {"retry-2020-04-confirm": "on"}, follow=True)
    assert "is queued, not failed: nothing was retried" in again.content.decode()
    assert len(queued) == 1 and len(events("aggregation_retried_by_hr")) == 1


def test_a_refused_aggregation_is_not_retried_from_the_page(hr_client, closed, monkeypatch):
    from analytics.job.run import run_state_set

    run_state_set(closed, "refused")
    queued: list[object] = []
    monkeypatch.setattr(job_tasks.aggregate_cycle_task, "delay", lambda *args: queued.append(args))
    response = hr_client.post(retry_url(closed), {"retry-2020-04-confirm": "on"})
    assert response.status_code == 409
    assert "It is not retried; an operator must look at the job" in response.content.decode()
    assert queued == [] and events("aggregation_retried_by_hr") == []


def test_retry_of_no_such_closed_cycle_is_404(hr_client, closed, open_cycle):
    assert hr_client.post(reverse("programme:cycle_aggregation_retry", args=["2031-01"])).status_code == 404
    assert hr_client.post(reverse("programme:cycle_aggregation_retry", args=["April"])).status_code == 404
    assert hr_client.post(retry_url(open_cycle), {"retry-confirm": "on"}).status_code == 404  # still open


@pytest.mark.parametrize("role", ["engineer", "manager"])
def test_non_hr_cannot_retry(client, closed, role):
    from analytics.job.run import run_state_set

    run_state_set(closed, "failed", error="OperationalError")
    client.force_login(PersonFactory(role=role).user)
    assert client.post(retry_url(closed), {"retry-2020-04-confirm": "on"}).status_code == 404
    assert events("aggregation_retried_by_hr") == []


def test_retry_is_post_only(hr_client, closed):
    assert hr_client.get(retry_url(closed)).status_code == 405
