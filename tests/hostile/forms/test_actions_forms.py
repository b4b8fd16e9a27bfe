"""Fuzzing the action loop's forms (analytics/reports/actions_forms.py and actions_views.py): a
manager records an action (from a flag's suggestions or in their own words), edits it, closes it
with an outcome, deletes it.

Properties: never a 5xx; a refused form is a 400 with its messages at the fields they name and no
action or audit event written; an accepted one stores a title that is one line of plain text and
an outcome that is plain text (config.text_input: no control characters, no direction controls)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from analytics.published import organisation_flags
from config.text_input import text_problem
from surveys.models import Action, AuditEvent, Cycle, Person, Role
from surveys.services.actions import ActionInput, action_create
from tests.analytics.builders import march_and_april, org_build
from tests.factories import PersonFactory
from tests.hostile.forms.fuzzing import assert_pages_render, fuzz, judge_post, post, rolled_back
from tests.hostile.forms.strategies import form_pairs, hostile_text, salted, ticks

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

FLAG_KIND = "psych_safety_low"  # Alpha answers the safety items unfavourably (tests.analytics.builders)
TITLE = "Pair on the flaky tests."
OUTCOME = "We stopped: it did not fit.\nThe team prefers reviews."


class World:
    def __init__(self) -> None:
        org = org_build()
        _, self.april = march_and_april(org)
        self.alpha = org.units["Engineering/Alpha"]
        self.manager = PersonFactory(
            email="eng-lead@example.com", role=Role.MANAGER, team=org.units["Engineering/Beta"]
        )
        self.manager.managed_teams.set([org.units["Engineering"]])
        flag = next(
            f for f in organisation_flags(cycle=self.april) if f.unit_id == str(self.alpha.pk) and f.kind == FLAG_KIND
        )
        self.suggestions = list(flag.actions)
        self.action = action_create(
            actor=self.manager,
            unit=self.alpha,
            started_cycle=self.april,
            data=ActionInput(
                metric="psych_safety", title=TITLE, owner_id=self.manager.pk, check_back_month=dt.date(2026, 6, 1)
            ),
        )


@pytest.fixture(scope="module")
def world(postgres_for_module, django_db_setup, django_db_blocker) -> World:
    """Two aggregated cycles, Engineering's manager and one open action on Alpha: built once for
    the module inside a transaction rolled back at its end; each test runs in a savepoint of it."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield World()
        transaction.set_rollback(True)


@pytest.fixture
def manager_client(client, world, require_postgres):
    client.force_login(world.manager.user)
    return client


def actions_state() -> tuple[object, ...]:
    fields = ("pk", "title", "outcome", "status", "owner_id", "check_back_month", "metric", "flag_kind")
    return AuditEvent.objects.count(), tuple(Action.objects.order_by("pk").values_list(*fields))


def assert_stored_text_plain(client, world: World) -> None:
    """Every action's title is one line of plain text and its outcome plain text, and the unit's
    report, which shows them to the team, renders."""
    for title, outcome in Action.objects.values_list("title", "outcome"):
        assert text_problem(title, multiline=False) is None, repr(title)
        assert text_problem(outcome, multiline=True) is None, repr(outcome)
    assert_pages_render(client, reverse("reports:unit", kwargs={"unit_id": world.alpha.pk}))


owners = st.one_of(st.sampled_from(["", "0", "-1", "999999999", "abc", "1 OR 1=1"]), hostile_text(20))
months = st.one_of(
    st.sampled_from(["2026-04", "2026-11", "2026-7", "2026-07-01", "0000-00", "9999-12"]), hostile_text(12)
)
titles = st.one_of(hostile_text(80), salted(TITLE), st.just("t" * 201))


def _new_form(world: World, own_words: bool) -> dict[str, str]:
    return {
        "cycle": world.april.label,
        "flag_kind": FLAG_KIND,
        "suggestion": "own" if own_words else "1",
        "own_title": TITLE if own_words else "",
        "metric": "psych_safety",
        "owner": str(world.manager.pk),
        "check_back_month": "2026-07",
    }


NEW_HOSTILE = {
    "cycle": st.one_of(st.sampled_from(["2026-03", "2026-05", ""]), hostile_text(12)),
    "flag_kind": st.one_of(st.sampled_from(["", "no_such_flag", FLAG_KIND.upper()]), hostile_text(20)),
    "suggestion": st.one_of(st.sampled_from(["0", "2", "99", "-1", "own", "OWN", "1.0", ""]), hostile_text(10)),
    "own_title": titles,
    "metric": st.one_of(st.sampled_from(["", "responses", "nope"]), hostile_text(20)),
    "owner": owners,
    "check_back_month": months,
}


@fuzz(max_examples=120)
@given(data=st.data())
def test_recording_an_action_stores_plain_text_or_refuses_at_the_fields(manager_client, world, data):
    valid = _new_form(world, own_words=data.draw(st.booleans(), label="own_words"))
    pairs = data.draw(form_pairs(valid, NEW_HOSTILE, focus=["own_title"]), label="pairs")
    url = reverse("reports:action_new", kwargs={"unit_id": world.alpha.pk})
    with rolled_back(manager_client):
        before = actions_state()
        response = post(manager_client, url, pairs, multipart=data.draw(st.booleans(), label="multipart"))
        if judge_post(response, before=before, after=actions_state()):
            assert Action.objects.count() == len(before[1]) + 1
            assert_stored_text_plain(manager_client, world)


EDIT_HOSTILE = {"title": titles, "owner": owners, "check_back_month": months}


@fuzz(max_examples=70)
@given(data=st.data())
def test_editing_an_action_stores_plain_text_or_refuses_at_the_fields(manager_client, world, data):
    valid = {"title": TITLE + " Twice a week.", "owner": str(world.manager.pk), "check_back_month": "2026-08"}
    pairs = data.draw(form_pairs(valid, EDIT_HOSTILE, focus=["title"]), label="pairs")
    url = reverse("reports:action_edit", kwargs={"action_id": world.action.pk})
    with rolled_back(manager_client):
        before = actions_state()
        response = post(manager_client, url, pairs, multipart=data.draw(st.booleans(), label="multipart"))
        if judge_post(response, before=before, after=actions_state()):
            assert_stored_text_plain(manager_client, world)


CLOSE_VALID = {"outcome": OUTCOME, "confirm": "on"}
CLOSE_HOSTILE = {"outcome": st.one_of(hostile_text(120), salted(OUTCOME), st.just("o" * 501)), "confirm": ticks()}


@fuzz(max_examples=50)
@given(pairs=form_pairs(CLOSE_VALID, CLOSE_HOSTILE, focus=["outcome"]), multipart=st.booleans())
def test_closing_an_action_stores_a_plain_outcome_or_refuses_at_the_fields(manager_client, world, pairs, multipart):
    url = reverse("reports:action_close", kwargs={"action_id": world.action.pk})
    with rolled_back(manager_client):
        before = actions_state()
        response = post(manager_client, url, pairs, multipart=multipart)
        if judge_post(response, before=before, after=actions_state()):
            assert Action.objects.get(pk=world.action.pk).status == "closed"
            assert_stored_text_plain(manager_client, world)


@fuzz(max_examples=20)
@given(pairs=form_pairs({"confirm": "on"}, {"confirm": ticks()}), multipart=st.booleans())
def test_deleting_an_action_needs_the_box_or_changes_nothing(manager_client, world, pairs, multipart):
    url = reverse("reports:action_delete", kwargs={"action_id": world.action.pk})
    with rolled_back(manager_client):
        before = actions_state()
        response = post(manager_client, url, pairs, multipart=multipart)
        if judge_post(response, before=before, after=actions_state()):
            assert not Action.objects.filter(pk=world.action.pk).exists()


def test_the_world_is_what_the_forms_expect(world):
    """The fixtures the properties above rely on: a flag with suggestions to choose from, an open
    action to change, and April as the newest published cycle (the new-action form's cycle)."""
    assert len(world.suggestions) >= 2
    assert Action.objects.get(pk=world.action.pk).is_open
    assert Cycle.objects.order_by("-month").first() == world.april
    assert Person.objects.filter(pk=world.manager.pk, role=Role.MANAGER).exists()


@pytest.mark.parametrize("title", [TITLE + "\x1c", "\x1f" + TITLE, TITLE + "\x85", TITLE + "\x0b"])
def test_a_control_character_at_either_end_of_a_title_is_refused_not_trimmed(manager_client, world, title):
    """Django's CharField strips every kind of whitespace before validators run, U+001C-U+001F and
    NEL among it; the posted text is what is checked, so those are refused, not dropped."""
    url = reverse("reports:action_edit", kwargs={"action_id": world.action.pk})
    with rolled_back(manager_client):
        before = actions_state()
        response = manager_client.post(
            url, {"title": title, "owner": str(world.manager.pk), "check_back_month": "2026-08"}
        )
        assert response.status_code == 400
        assert "What you will try holds a character that cannot be stored: remove the control character" in (
            response.content.decode()
        )
        assert actions_state() == before


def test_spaces_at_the_ends_of_a_title_are_trimmed(manager_client, world):
    url = reverse("reports:action_edit", kwargs={"action_id": world.action.pk})
    with rolled_back(manager_client):
        response = manager_client.post(
            url, {"title": "\u00a0 Pair daily.\t", "owner": str(world.manager.pk), "check_back_month": "2026-08"}
        )
        assert response.status_code == 302
        assert Action.objects.get(pk=world.action.pk).title == "Pair daily."
