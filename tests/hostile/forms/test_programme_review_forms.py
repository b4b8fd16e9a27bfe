"""Fuzzing HR's comment review forms (release now, redact one) and the audit log's filters, on
the page and as CSV (surveys/programme/comments_* and audit_*).

Properties: never a 5xx; a refused post or filter is a 4xx with the form's own messages at their
fields (or an alert that says what has no field) and stores nothing: listed and anonymous
comments, the cycle's release, audit events as before. The audit filters never store anything
but the CSV's own audit event."""

from __future__ import annotations

import uuid

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from analytics.job.run import aggregate_cycle
from analytics.models import ReleasedComment
from surveys.anonymous.models import Comment
from surveys.closing import cycle_close
from surveys.models import AuditEvent, Cycle
from surveys.programme.audit_forms import ACTOR_MAX
from tests.analytics.builders import MARCH, cycle_run, org_build, standard_answers
from tests.hostile.forms.conftest import HR_EMAIL
from tests.hostile.forms.fuzzing import (
    assert_errors_shown,
    assert_not_server_error,
    fuzz,
    judge_post,
    post,
    rolled_back,
)
from tests.hostile.forms.strategies import dates_as_text, form_pairs, hostile_text, numbers_as_text, salted, ticks

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture(scope="module")
def reviewed(postgres_for_module, django_db_setup, django_db_blocker) -> Cycle:
    """March answered by the standard organisation, closed today (so its comments wait in review
    for three days) and aggregated: built once for the module inside a transaction rolled back at
    its end; each test runs in a savepoint of it."""
    with django_db_blocker.unblock(), transaction.atomic():
        org = org_build()
        cycle = cycle_run(org, standard_answers(org), month=MARCH, close=False).cycle
        cycle = cycle_close(cycle=cycle, today=timezone.localdate()).cycle
        aggregate_cycle(cycle=cycle)
        cycle.refresh_from_db()
        yield cycle
        transaction.set_rollback(True)


def review_state(cycle: Cycle) -> tuple[object, ...]:
    return (
        AuditEvent.objects.count(),
        tuple(ReleasedComment.objects.order_by("pk").values_list("pk", "text")),
        tuple(Comment.objects.order_by("pk").values_list("pk", "text")),
        Cycle.objects.filter(pk=cycle.pk).values_list("comments_release_on", "comments_released_at").get(),
    )


def comment_ids(draw_from: str) -> st.SearchStrategy[str]:
    """Ways to name a comment: the real id (in the spellings uuid.UUID also reads), another
    cycle's or nobody's uuid, and hostile text."""
    real = uuid.UUID(draw_from)
    return st.one_of(
        st.sampled_from([str(real), str(real).upper(), f"{{{real}}}", real.urn, real.hex, f" {real} ", f"{real}\x00"]),
        st.uuids().map(str),
        salted(str(real)),
        hostile_text(40),
    )


@fuzz(max_examples=60)
@given(data=st.data())
def test_the_redact_form_redacts_a_listed_comment_or_changes_nothing(hr_client, reviewed, data):
    listed = [str(pk) for pk in ReleasedComment.objects.filter(cycle=reviewed).values_list("pk", flat=True)]
    target = data.draw(st.sampled_from(listed), label="target")
    valid, hostile = {"comment": target, "confirm": "on"}, {"comment": comment_ids(target), "confirm": ticks()}
    pairs = data.draw(form_pairs(valid, hostile, focus=["comment"]), label="pairs")
    url = reverse("programme:cycle_comment_redact", kwargs={"month": reviewed.label})
    with rolled_back(hr_client):
        before = review_state(reviewed)
        response = post(hr_client, url, pairs, multipart=data.draw(st.booleans(), label="multipart"))
        if judge_post(response, before=before, after=review_state(reviewed), form_keys=["error_form"]):
            posted = dict(pairs).get("comment", "")
            try:
                named = str(uuid.UUID(posted.strip()))
            except ValueError:
                named = ""
            if named == target and dict(pairs).get("confirm"):
                assert not ReleasedComment.objects.filter(pk=target).exists()  # redacted, and only it
                assert len(review_state(reviewed)[1]) == len(before[1]) - 1
            else:  # an id nobody lists: said so, nothing changed
                assert review_state(reviewed) == before


@fuzz(max_examples=25)
@given(pairs=form_pairs({"release-confirm": "on"}, {"release-confirm": ticks()}), multipart=st.booleans())
def test_the_release_form_releases_once_or_changes_nothing(hr_client, reviewed, pairs, multipart):
    url = reverse("programme:cycle_comments_release", kwargs={"month": reviewed.label})
    with rolled_back(hr_client):
        before = review_state(reviewed)
        response = post(hr_client, url, pairs, multipart=multipart)
        if judge_post(response, before=before, after=review_state(reviewed), form_keys=["release_form", "error_form"]):
            reviewed.refresh_from_db()
            assert reviewed.comments_released_at is not None
            assert AuditEvent.objects.count() == before[0] + 1  # one release, audited once


# --- the audit log's filters ---------------------------------------------------------------------

FILTERS_VALID = {"kind": "comments_released", "actor": HR_EMAIL, "date_from": "2026-01-01", "date_to": "2026-12-31"}
FILTERS_HOSTILE = {
    "kind": st.one_of(st.sampled_from(["", "no_such_kind", "comments_released\x00"]), hostile_text(30)),
    "actor": st.one_of(hostile_text(60), salted(HR_EMAIL), st.just("a" * (ACTOR_MAX + 1))),
    "date_from": dates_as_text(),
    "date_to": dates_as_text(),
}
filters = form_pairs(FILTERS_VALID, FILTERS_HOSTILE, focus=["actor"])
pages = st.one_of(st.none(), numbers_as_text(), st.sampled_from(["last", "0", "-1", "99999999999999999999"]))


def _query(pairs: list[tuple[str, str]], page: str | None) -> list[tuple[str, str]]:
    return [*pairs, ("page", page)] if page is not None else pairs


@fuzz(max_examples=80)
@given(pairs=filters, page=pages)
def test_the_audit_filters_show_events_or_say_which_filter_to_fix(hr_client, reviewed, pairs, page):
    with rolled_back(hr_client):
        before = AuditEvent.objects.count()
        response = hr_client.get(reverse("programme:audit"), _query(pairs, page))
        assert_not_server_error(response)
        assert response.status_code in (200, 400), response.status_code
        assert AuditEvent.objects.count() == before  # reading the log writes nothing
        if response.status_code == 400:
            assert_errors_shown(response, response.context["form"])


@fuzz(max_examples=40)
@given(pairs=filters)
def test_the_audit_csv_is_a_file_audited_once_or_the_form_with_its_messages(hr_client, reviewed, pairs):
    with rolled_back(hr_client):
        before = AuditEvent.objects.count()
        response = hr_client.get(reverse("programme:audit_csv"), pairs)
        assert_not_server_error(response)
        if response.status_code == 200:
            assert response["Content-Type"].startswith("text/csv")
            content = b"".join(response.streaming_content if response.streaming else [response.content])
            assert content.decode("utf-8").startswith("\ufeffat,actor,action")  # UTF-8, with Excel's BOM
            exported = AuditEvent.objects.order_by("-pk").first()
            assert AuditEvent.objects.count() == before + 1 and exported.action == "audit_log_exported"
        else:
            assert response.status_code == 400 and AuditEvent.objects.count() == before
            assert_errors_shown(response, response.context["form"])


def test_the_far_dates_the_filter_refuses_are_stated(hr_client, reviewed):
    """The range the date filters take, as numbers: 2000-01-01 to 2999-12-31."""
    response = hr_client.get(reverse("programme:audit"), {"date_from": "1999-12-31", "date_to": "3000-01-01"})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert errors["date_from"] == ["From date: choose a date between 2000-01-01 and 2999-12-31."]
    assert errors["date_to"] == ["To date: choose a date between 2000-01-01 and 2999-12-31."]
