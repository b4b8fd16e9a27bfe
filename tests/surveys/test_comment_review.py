"""HR's comment review window (ANONYMITY R7, R10): a closed cycle's comments are listed at close
but served only once released, the organisation's review days after the close (0: at once), by
the daily task, or sooner by HR; HR's review page shows each comment at its listing unit, in the
readers' order, with release and redaction behind a ticked box; the settings page edits the days."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from analytics.job.run import aggregate_cycle
from analytics.models import ReleasedComment
from analytics.published import ORGANISATION_ID, comments_in_review, listed_comments
from surveys.closing import cycle_close
from surveys.models import AuditEvent, Cycle, Organisation
from surveys.services.comments import (
    CommentsReleaseError,
    comments_release_due,
    comments_release_now,
)
from surveys.services.cycles import cycle_open
from surveys.tasks import comments_release_due_task
from tests.analytics.builders import MARCH, Org, cycle_run, org_build, standard_answers
from tests.factories import PersonFactory
from tests.surveys.helpers import team_with_people

pytestmark = pytest.mark.django_db
HR_EMAIL = "hr@example.com"
TODAY = timezone.localdate


@dataclass
class Reviewed:
    org: Org
    cycle: Cycle

    def every_unit(self) -> list[str]:
        return [ORGANISATION_ID, *(str(team.pk) for team in self.org.units.values())]


def review_days(days: int) -> None:
    Organisation.objects.filter(pk=Organisation.current().pk).update(comment_review_days=days)


def closed_today(*, days: int | None = None, aggregate: bool = True) -> Reviewed:
    """STANDARD answered in March, closed today (so the review window lies ahead) and aggregated."""
    org = org_build()
    if days is not None:
        review_days(days)
    cycle = cycle_run(org, standard_answers(org), month=MARCH, close=False).cycle
    cycle = cycle_close(cycle=cycle, today=TODAY()).cycle
    if aggregate:
        aggregate_cycle(cycle=cycle)
    cycle.refresh_from_db()
    return Reviewed(org=org, cycle=cycle)


def served(reviewed: Reviewed) -> list[str]:
    return [comment.text for comment in listed_comments(cycle=reviewed.cycle, unit_ids=reviewed.every_unit())]


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


def url(cycle: Cycle | str, name: str = "cycle_comments") -> str:
    label = cycle if isinstance(cycle, str) else cycle.label
    return reverse(f"programme:{name}", kwargs={"month": label})


@pytest.fixture
def reviewed() -> Reviewed:
    return closed_today()


@pytest.fixture
def hr_client(client: Client) -> Client:
    client.force_login(PersonFactory(email=HR_EMAIL, role="hr").user)
    return client


# --- the window: set at close, served only once released -----------------------------------------


def test_a_close_sets_the_release_date_review_days_ahead_and_the_door_holds_the_comments_back(reviewed):
    cycle = reviewed.cycle
    assert Organisation.current().comment_review_days == 3  # the default
    assert cycle.comments_release_on == TODAY() + dt.timedelta(days=3)
    assert cycle.comments_released_at is None
    # The job listed them (the review list) ...
    review = comments_in_review(cycle=cycle)
    assert review.listed and len(review.comments) == 28
    assert ReleasedComment.objects.filter(cycle=cycle).count() == 28
    # ... but no reader gets them while HR reviews.
    assert served(reviewed) == []
    assert not events("comments_released")


def test_released_comments_are_served_in_the_review_lists_order(reviewed):
    comments_release_now(cycle=reviewed.cycle, actor=HR_EMAIL)
    texts = served(reviewed)
    assert len(texts) == 28
    assert texts == [comment.text for comment in comments_in_review(cycle=reviewed.cycle).comments]


def test_with_zero_review_days_the_close_releases_them_at_once():
    reviewed = closed_today(days=0)
    assert reviewed.cycle.comments_release_on == TODAY()
    assert reviewed.cycle.comments_released_at is not None
    assert len(served(reviewed)) == 28
    [event] = events("comments_released")
    assert (event.actor, event.detail) == ("close", {"cycle": reviewed.cycle.label})


def test_a_close_dated_back_past_its_window_releases_at_once():
    team_with_people("Core", 6)
    cycle = cycle_open(month=MARCH, today=MARCH, send_mail=False).cycle
    closed_on = TODAY() - dt.timedelta(days=3)  # the window of 3 days ends today
    closed = cycle_close(cycle=cycle, today=closed_on).cycle
    assert closed.comments_release_on == TODAY() and closed.comments_released_at is not None
    assert [event.actor for event in events("comments_released")] == ["close"]


def test_the_review_days_in_force_at_close_are_the_ones_used(reviewed):
    review_days(10)
    reviewed.cycle.refresh_from_db()
    assert reviewed.cycle.comments_release_on == TODAY() + dt.timedelta(days=3)  # closed before the change
    team_with_people("Late", 5)
    cycle = cycle_open(month=dt.date(2026, 4, 1), today=dt.date(2026, 4, 1), send_mail=False).cycle
    assert cycle_close(cycle=cycle, today=TODAY()).cycle.comments_release_on == TODAY() + dt.timedelta(days=10)


def test_closing_twice_leaves_the_release_date_alone(reviewed):
    review_days(0)
    result = cycle_close(cycle=reviewed.cycle, today=TODAY())
    assert not result.closed_now
    reviewed.cycle.refresh_from_db()
    assert reviewed.cycle.comments_released_at is None


# --- the daily release ------------------------------------------------------------------------------


def test_the_due_release_acts_on_the_release_date_once_and_audits_the_schedule(reviewed):
    release_on = reviewed.cycle.comments_release_on
    assert comments_release_due(today=release_on - dt.timedelta(days=1)) == []
    assert served(reviewed) == []
    assert [cycle.label for cycle in comments_release_due(today=release_on)] == [reviewed.cycle.label]
    assert len(served(reviewed)) == 28
    assert comments_release_due(today=release_on) == []  # the next run finds nothing to do
    [event] = events("comments_released")
    assert (event.actor, event.detail) == ("schedule", {"cycle": reviewed.cycle.label})


def test_a_missed_day_is_caught_up_by_the_next_run(reviewed):
    later = reviewed.cycle.comments_release_on + dt.timedelta(days=4)
    assert [cycle.pk for cycle in comments_release_due(today=later)] == [reviewed.cycle.pk]


def test_the_due_release_leaves_open_cycles_and_released_ones_alone(reviewed):
    comments_release_now(cycle=reviewed.cycle, actor=HR_EMAIL)
    cycle_open(month=dt.date(2026, 4, 1), today=dt.date(2026, 4, 1), send_mail=False)
    assert comments_release_due(today=TODAY() + dt.timedelta(days=60)) == []
    assert len(events("comments_released")) == 1


def test_the_task_releases_what_is_due_and_a_second_run_does_nothing(reviewed, monkeypatch):
    monkeypatch.setattr(timezone, "localdate", lambda *args: reviewed.cycle.comments_release_on)
    assert comments_release_due_task.apply().get() == [reviewed.cycle.label]
    assert comments_release_due_task.apply().get() == []
    assert comments_release_due_task.acks_late and comments_release_due_task.reject_on_worker_lost
    assert len(events("comments_released")) == 1


# --- HR's release now ------------------------------------------------------------------------------


def test_release_now_is_audited_once_and_idempotent(reviewed):
    first = comments_release_now(cycle=reviewed.cycle, actor=HR_EMAIL)
    released_at = first.cycle.comments_released_at
    assert first.released_now and released_at is not None
    second = comments_release_now(cycle=reviewed.cycle, actor=HR_EMAIL)
    assert not second.released_now and second.cycle.comments_released_at == released_at
    [event] = events("comments_released")
    assert (event.actor, event.detail) == (HR_EMAIL, {"cycle": reviewed.cycle.label})  # no count, no text


def test_release_now_refuses_an_open_cycle_and_saves_nothing():
    team_with_people("Core", 6)
    cycle = cycle_open(month=MARCH, today=MARCH, send_mail=False).cycle
    with pytest.raises(CommentsReleaseError, match="still open: its comments can be reviewed and released only"):
        comments_release_now(cycle=cycle, actor=HR_EMAIL)
    cycle.refresh_from_db()
    assert cycle.comments_released_at is None and not events("comments_released")


def test_release_now_needs_an_actor(reviewed):
    with pytest.raises(ValueError, match="needs an actor"):
        comments_release_now(cycle=reviewed.cycle, actor=" ")
    reviewed.cycle.refresh_from_db()
    assert reviewed.cycle.comments_released_at is None


# --- the review page: who may see it ---------------------------------------------------------------


def test_the_routes_are_under_the_cycle():
    assert url("2026-03") == "/programme/cycles/2026-03/comments/"
    assert url("2026-03", "cycle_comments_release") == "/programme/cycles/2026-03/comments/release/"
    assert url("2026-03", "cycle_comment_redact") == "/programme/cycles/2026-03/comments/redact/"


@pytest.mark.parametrize("role", ["engineer", "manager"])
def test_anyone_but_hr_gets_404_and_changes_nothing(client, reviewed, role):
    client.force_login(PersonFactory(role=role).user)
    row = ReleasedComment.objects.filter(cycle=reviewed.cycle).first()
    assert client.get(url(reviewed.cycle)).status_code == 404
    assert client.post(url(reviewed.cycle, "cycle_comments_release"), {"release-confirm": "on"}).status_code == 404
    data = {"comment": str(row.pk), "confirm": "on"}
    assert client.post(url(reviewed.cycle, "cycle_comment_redact"), data).status_code == 404
    reviewed.cycle.refresh_from_db()
    assert reviewed.cycle.comments_released_at is None
    assert ReleasedComment.objects.filter(pk=row.pk).exists()
    assert not AuditEvent.objects.exists()


def test_a_superuser_without_a_roster_entry_and_anonymous_visitors_are_kept_out(client, reviewed, django_user_model):
    page = url(reviewed.cycle)
    response = client.get(page)
    assert response.status_code == 302 and response["Location"] == f"/accounts/login/?next={page}"
    assert client.post(url(reviewed.cycle, "cycle_comments_release"), {"release-confirm": "on"}).status_code == 302
    client.force_login(django_user_model.objects.create_superuser("op", "op@example.com", "pw"))
    assert client.get(page).status_code == 404
    reviewed.cycle.refresh_from_db()
    assert reviewed.cycle.comments_released_at is None


def test_an_unknown_or_malformed_month_is_404_for_hr(hr_client, reviewed):
    for month in ("2031-01", "march", "2026-3", "2026-13"):
        assert hr_client.get(f"/programme/cycles/{month}/comments/").status_code == 404
    assert hr_client.post("/programme/cycles/2031-01/comments/release/", {"release-confirm": "on"}).status_code == 404


def test_the_actions_take_post_only(hr_client, reviewed):
    assert hr_client.get(url(reviewed.cycle, "cycle_comments_release")).status_code == 405
    assert hr_client.get(url(reviewed.cycle, "cycle_comment_redact")).status_code == 405
    assert hr_client.post(url(reviewed.cycle)).status_code == 405


# --- the review page: what it shows ---------------------------------------------------------------


def test_the_page_shows_the_release_date_and_every_comment_at_its_listing_unit(hr_client, reviewed):
    response = hr_client.get(url(reviewed.cycle))
    assert response.status_code == 200
    page = response.content.decode()
    release_on = reviewed.cycle.comments_release_on
    assert f"released on {release_on:%Y-%m-%d}</strong>, unless you release them sooner" in page
    assert "Release the comments of 2026-03 now" in page
    # A labelled table: a caption, column headers, one row per comment with its listing unit.
    assert '<caption class="visually-hidden">Comments of 2026-03' in page
    for header in ("Number", "Listed at", "Comment", "Redact"):
        assert f'<th scope="col">{header}</th>' in page
    rows = re.findall(r"<tr>\s*<th scope=\"row\">(\d+)</th>\s*<td>([^<]*)</td>\s*<td>([^<]*)</td>", page)
    assert len(rows) == 28
    review = comments_in_review(cycle=reviewed.cycle).comments
    assert [(path, text) for _, path, text in rows] == [(comment.unit_path, comment.text) for comment in review]
    # At the comment threshold (10) each department lists its own teams' comments.
    for _, path, text in rows:
        assert path in ("Engineering", "Product") and f"from {path}/" in text
    # Every row's form has its own ids, and its checkbox its label.
    ids = re.findall(r'id="(redact-\d+-confirm)"', page)
    assert len(ids) == len(set(ids)) == 28
    assert '<label class="option" for="redact-1-confirm">' in page
    assert page.count('<button type="submit">Redact<span class="visually-hidden"> comment ') == 28


def test_the_readers_order_is_by_unit_then_the_drawn_position(reviewed):
    review = comments_in_review(cycle=reviewed.cycle).comments
    keys = [(comment.unit_path, comment.position) for comment in review]
    assert keys == sorted(keys)
    assert {comment.cycle for comment in review} == {"2026-03"}


def test_a_released_cycle_says_so_and_offers_no_release(hr_client, reviewed):
    comments_release_now(cycle=reviewed.cycle, actor=HR_EMAIL)
    page = hr_client.get(url(reviewed.cycle)).content.decode()
    assert f"released on {timezone.localdate():%Y-%m-%d}</strong>" in page
    assert "Release the comments of" not in page
    assert page.count("Redact<span") == 28  # redaction stays possible, to take one down


def test_an_open_cycle_says_its_comments_are_reviewed_after_it_closes(hr_client):
    team_with_people("Core", 6)
    cycle = cycle_open(month=MARCH, today=MARCH, send_mail=False).cycle
    response = hr_client.get(url(cycle))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Its comments can be reviewed after it closes." in page
    assert "<table" not in page and "Release the comments" not in page


def test_before_the_job_has_listed_them_the_page_says_so(hr_client):
    reviewed = closed_today(aggregate=False)
    page = hr_client.get(url(reviewed.cycle)).content.decode()
    assert "The comments have not been listed yet" in page
    assert "<table" not in page


# --- the review page: release now -----------------------------------------------------------------


def test_release_without_the_box_is_refused_with_the_fix(hr_client, reviewed):
    response = hr_client.post(url(reviewed.cycle, "cycle_comments_release"))
    assert response.status_code == 400
    page = response.content.decode()
    assert "The comments were not released" in page
    assert "Tick the box to confirm releasing the comments now, or leave them to their release date." in page
    assert 'href="#id_release-confirm"' in page and 'aria-invalid="true"' in page
    reviewed.cycle.refresh_from_db()
    assert reviewed.cycle.comments_released_at is None and not events("comments_released")


def test_release_now_from_the_page_releases_once_and_says_so(hr_client, reviewed):
    action = url(reviewed.cycle, "cycle_comments_release")
    response = hr_client.post(action, {"release-confirm": "on"}, follow=True)
    assert response.redirect_chain == [(url(reviewed.cycle), 302)]
    assert "The comments of 2026-03 are released: everyone who may see them can read them now." in (
        response.content.decode()
    )
    assert len(served(reviewed)) == 28
    again = hr_client.post(action, {"release-confirm": "on"}, follow=True).content.decode()
    assert "The comments of 2026-03 were already released: nothing changed." in again
    [event] = events("comments_released")
    assert event.actor == HR_EMAIL


def test_release_of_an_open_cycle_from_the_page_is_refused(hr_client):
    team_with_people("Core", 6)
    cycle = cycle_open(month=MARCH, today=MARCH, send_mail=False).cycle
    response = hr_client.post(url(cycle, "cycle_comments_release"), {"release-confirm": "on"})
    assert response.status_code == 409
    assert "can be reviewed and released only after it closes" in response.content.decode()
    assert not events("comments_released")


# --- the review page: redaction -------------------------------------------------------------------


def test_redacting_from_the_page_deletes_the_text_and_says_so(hr_client, reviewed):
    first = comments_in_review(cycle=reviewed.cycle).comments[0]
    response = hr_client.post(
        url(reviewed.cycle, "cycle_comment_redact"), {"comment": first.id, "confirm": "on"}, follow=True
    )
    assert response.redirect_chain == [(url(reviewed.cycle), 302)]
    page = response.content.decode()
    assert "The comment was redacted; its text is deleted." in page
    assert f"<td>{first.text}</td>" not in page
    assert page.count("Redact<span") == 27
    [event] = events("comment_redacted")
    assert (event.actor, event.detail) == (HR_EMAIL, {"cycle": "2026-03", "unit": first.unit_path})
    # Pressed again (a double click, a back button): nothing to do, and it says so.
    again = hr_client.post(url(reviewed.cycle, "cycle_comment_redact"), {"comment": first.id, "confirm": "on"})
    assert again.status_code == 302
    followed = hr_client.get(url(reviewed.cycle)).content.decode()
    assert "That comment was already redacted or is not listed (any more): nothing changed." in followed
    assert len(events("comment_redacted")) == 1


def test_redacting_without_the_box_marks_that_rows_box_and_deletes_nothing(hr_client, reviewed):
    third = comments_in_review(cycle=reviewed.cycle).comments[2]
    response = hr_client.post(url(reviewed.cycle, "cycle_comment_redact"), {"comment": third.id})
    assert response.status_code == 400
    page = response.content.decode()
    assert "No comment was redacted" in page
    assert "Tick the box to confirm redacting this comment, or leave it as it is." in page
    assert 'href="#redact-3-confirm"' in page  # the summary points at the third row's own box
    assert re.search(r'id="redact-3-confirm"[^>]*aria-invalid="true"', page)
    assert page.count('aria-invalid="true"') == 1
    assert ReleasedComment.objects.filter(pk=third.id).exists() and not events("comment_redacted")


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"confirm": "on"}, 400, "No comment was named to redact; reload the page and use that comment"),
        ({"comment": "nope", "confirm": "on"}, 400, "The comment to redact is not named by a valid id; reload the"),
        ({"comment": "' OR 1=1 --", "confirm": "on"}, 400, "The comment to redact is not named by a valid id"),
    ],
)
def test_a_missing_or_unreadable_id_is_refused_naming_the_fix(hr_client, reviewed, data, status, message):
    response = hr_client.post(url(reviewed.cycle, "cycle_comment_redact"), data)
    assert response.status_code == status
    assert message in response.content.decode()
    assert ReleasedComment.objects.filter(cycle=reviewed.cycle).count() == 28 and not events("comment_redacted")


def test_an_unknown_id_or_another_cycles_comment_says_already_redacted_or_not_found(hr_client, reviewed):
    team_with_people("Core", 6)
    april = cycle_open(month=dt.date(2026, 4, 1), today=dt.date(2026, 4, 1), send_mail=False).cycle
    some = comments_in_review(cycle=reviewed.cycle).comments[0]
    for month, comment in (("2026-03", "00000000-0000-4000-8000-00000000dead"), (april.label, some.id)):
        response = hr_client.post(
            url(month, "cycle_comment_redact"), {"comment": comment, "confirm": "on"}, follow=True
        )
        assert response.status_code == 200
        assert "already redacted or is not listed (any more): nothing changed" in response.content.decode()
    assert ReleasedComment.objects.filter(pk=some.id).exists() and not events("comment_redacted")


def test_an_unticked_redaction_of_a_comment_gone_since_says_it_is_not_listed(hr_client, reviewed):
    response = hr_client.post(
        url(reviewed.cycle, "cycle_comment_redact"), {"comment": "00000000-0000-4000-8000-00000000dead"}
    )
    assert response.status_code == 400
    assert "That comment was already redacted or is not listed (any more)" in response.content.decode()


# --- the programme's start page --------------------------------------------------------------------


def test_the_start_page_lists_the_comments_to_review_with_their_release_date(hr_client, reviewed):
    page = hr_client.get(reverse("programme:home")).content.decode()
    assert "<h2>Comments to review</h2>" in page
    release_on = reviewed.cycle.comments_release_on
    assert f'<a href="{url(reviewed.cycle)}">Comments of 2026-03</a>: released on {release_on:%Y-%m-%d}.' in page
    assert "In review<span" in page
    comments_release_now(cycle=reviewed.cycle, actor=HR_EMAIL)
    after = hr_client.get(reverse("programme:home")).content.decode()
    assert "No comments are waiting for review" in after
    assert f'<a href="{url(reviewed.cycle)}">Released<span class="visually-hidden">: comments of 2026-03' in after


# --- the settings page -----------------------------------------------------------------------------


def settings_data(**overrides: str) -> dict[str, str]:
    data = {
        "anonymity_threshold": "5",
        "comment_threshold": "10",
        "comment_review_days": "3",
        "engineers_see_team_report": "on",
        "hourly_cost": "75.00",
        "currency": "EUR",
        "pilot_cutoff": "5.0",
    }
    return {**data, **overrides}


def test_the_settings_page_edits_the_review_days_and_audits_the_change(hr_client):
    page = hr_client.get(reverse("programme:settings")).content.decode()
    assert 'name="comment_review_days" value="3"' in page
    assert '<label for="id_comment_review_days">Days to review comments after a cycle closes</label>' in page
    assert "It applies to cycles that close from now on." in page
    response = hr_client.post(reverse("programme:settings"), settings_data(comment_review_days="0"), follow=True)
    assert "Days to review comments after a cycle closes: changed from 3 to 0." in response.content.decode()
    assert Organisation.current().comment_review_days == 0
    [event] = events("organisation_setting_changed")
    assert (event.actor, event.detail) == (HR_EMAIL, {"field": "comment_review_days", "from": 3, "to": 0})


@pytest.mark.parametrize(
    ("posted", "message"),
    [
        ("31", "The days to review comments must be between 0 and 30; enter a value from 0 to 30."),
        ("-1", "The days to review comments must be between 0 and 30; enter a value from 0 to 30."),
        ("three", "The days to review comments must be a whole number from 0 to 30, such as 3."),
        ("", "Enter the days to review comments: a whole number from 0 to 30."),
    ],
)
def test_bad_review_days_are_refused_naming_the_field_and_nothing_is_saved(hr_client, posted, message):
    response = hr_client.post(
        reverse("programme:settings"), settings_data(comment_review_days=posted, anonymity_threshold="7")
    )
    assert response.status_code == 400
    assert response.context["form"].errors == {"comment_review_days": [message]}
    assert 'href="#id_comment_review_days"' in response.content.decode()
    organisation = Organisation.current()
    assert (organisation.comment_review_days, organisation.anonymity_threshold) == (3, 5)
    assert not AuditEvent.objects.exists()


def test_a_late_listing_starts_the_window_then_and_nothing_unlisted_is_released(reviewed, monkeypatch):
    """A job queued or failing past the release date must not release comments HR never saw."""
    from analytics.models import AggregationStage

    cycle = reviewed.cycle
    late = timezone.now() + dt.timedelta(days=5)
    AggregationStage.objects.filter(cycle=cycle, stage="comments").update(finished_at=late)
    listed_on = timezone.localtime(late).date()
    assert comments_release_due(today=cycle.comments_release_on) == []  # listed after the release date
    assert comments_release_due(today=listed_on + dt.timedelta(days=2)) == []
    assert comments_release_due(today=listed_on + dt.timedelta(days=3)) == [cycle]
    # Not listed at all (the comments stage undone): never released by the schedule.
    AggregationStage.objects.filter(cycle=cycle, stage="comments").delete()
    Cycle.objects.filter(pk=cycle.pk).update(comments_released_at=None)
    assert comments_release_due(today=listed_on + dt.timedelta(days=30)) == []
