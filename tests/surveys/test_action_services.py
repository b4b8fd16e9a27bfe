"""The action loop's services (surveys.services.actions): who may act, what each field accepts and
refuses (a message per field that names the fix, nothing saved), the audit trail, races with a
close, and the readers the report, the invitation e-mail and the survey page use."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.flags.playbook import PLAYBOOK
from surveys.closing import cycle_close
from surveys.models import Action, AuditEvent, Organisation, Role, Team
from surveys.services.actions import (
    ActionInput,
    action_close,
    action_create,
    action_delete,
    action_owner_choices,
    action_update,
    actions_visible_to,
    manageable_unit_ids,
    month_add,
    months_between,
    open_action_titles,
    open_action_titles_by_team,
    team_and_ancestor_ids,
)
from surveys.services.cycles import cycle_open
from tests.factories import PersonFactory
from tests.surveys.helpers import team_with_people

pytestmark = pytest.mark.django_db
MARCH, APRIL = dt.date(2026, 3, 1), dt.date(2026, 4, 1)
SUGGESTION = PLAYBOOK["psych_safety"][0]


@pytest.fixture
def world():
    """Engineering (Alpha, Beta) and Product (Design); a manager of each department, HR, an engineer
    on Alpha; March closed, April open."""
    eng = Team.objects.create(name="Engineering")
    product = Team.objects.create(name="Product")
    alpha = team_with_people("Alpha", 3, parent=eng)
    beta = team_with_people("Beta", 2, parent=eng)
    design = team_with_people("Design", 2, parent=product)
    manager = PersonFactory(email="eng-lead@example.com", name="Erin Lead", role=Role.MANAGER, team=beta)
    manager.managed_teams.set([eng])
    other_manager = PersonFactory(email="product-lead@example.com", role=Role.MANAGER, team=design)
    other_manager.managed_teams.set([product])
    hr = PersonFactory(email="hr@example.com", role=Role.HR, team=design)
    engineer = PersonFactory(email="alpha@example.com", team=alpha)
    march = cycle_open(month=MARCH, today=MARCH, send_mail=False).cycle
    cycle_close(cycle=march, today=MARCH + dt.timedelta(days=15))
    march.refresh_from_db()
    april = cycle_open(month=APRIL, today=APRIL, send_mail=False).cycle
    return SimpleNamespace(**locals())


def data(**overrides) -> ActionInput:
    values = {
        "metric": "psych_safety",
        "flag_kind": "psych_safety_low",
        "title": SUGGESTION,
        "owner_id": None,
        "check_back_month": dt.date(2026, 6, 1),
    }
    values.update(overrides)
    return ActionInput(**values)


def create(world, **overrides) -> Action:
    overrides.setdefault("owner_id", world.manager.pk)
    return action_create(actor=world.manager, unit=world.alpha, started_cycle=world.march, data=data(**overrides))


# --- who may act -------------------------------------------------------------------------------


def test_a_manager_may_act_on_the_units_they_manage_and_everything_below(world):
    assert manageable_unit_ids(world.manager) == {str(world.eng.pk), str(world.alpha.pk), str(world.beta.pk)}
    assert manageable_unit_ids(world.other_manager) == {str(world.product.pk), str(world.design.pk)}
    for nobody in (world.engineer, world.hr, None):
        assert manageable_unit_ids(nobody) == set()
    world.manager.is_active = False
    assert manageable_unit_ids(world.manager) == set()


def test_only_a_manager_of_the_unit_records_changes_closes_or_deletes(world):
    for actor in (world.engineer, world.hr, world.other_manager, None):
        with pytest.raises(PermissionError):
            action_create(
                actor=actor, unit=world.alpha, started_cycle=world.march, data=data(owner_id=world.manager.pk)
            )
    assert not Action.objects.exists()
    action = create(world)
    for actor in (world.engineer, world.hr, world.other_manager):
        with pytest.raises(PermissionError):
            action_update(actor=actor, action=action, data=ActionInput(title="Something else"))
        with pytest.raises(PermissionError):
            action_close(actor=actor, action=action, outcome="done")
        with pytest.raises(PermissionError):
            action_delete(actor=actor, action=action)
    action.refresh_from_db()
    assert action.title == SUGGESTION and action.is_open


# --- create ------------------------------------------------------------------------------------


def test_create_saves_every_field_and_audits_it_without_a_figure(world):
    action = create(world, title=f"  {SUGGESTION}  ")
    assert (action.unit, action.metric, action.flag_kind, action.title) == (
        world.alpha,
        "psych_safety",
        "psych_safety_low",
        SUGGESTION,
    )
    assert action.from_playbook and action.owner == world.manager and action.created_by == world.manager
    assert (action.started_cycle, action.check_back_month, action.status) == (world.march, dt.date(2026, 6, 1), "open")
    event = AuditEvent.objects.get(action="action_created")
    assert event.actor == "eng-lead@example.com"
    assert event.detail == {"subject": SUGGESTION, "team": "Engineering/Alpha", "action_id": str(action.pk)}


def test_own_words_are_not_from_the_playbook_and_their_spaces_are_collapsed(world):
    action = create(world, title="Pair   on the\nflaky tests", flag_kind="")
    assert action.title == "Pair on the flaky tests" and not action.from_playbook and action.flag_kind == ""


def test_a_manager_above_the_team_and_the_teams_people_may_own_it(world):
    owners = action_owner_choices(world.alpha)
    emails = {person.email for person in owners}
    assert emails == {
        "alpha-0@example.com",
        "alpha-1@example.com",
        "alpha-2@example.com",
        "alpha@example.com",
        "eng-lead@example.com",
    }
    # The department's owners: its own people (none sit on it directly), everyone below, its manager.
    assert {p.email for p in action_owner_choices(world.eng)} >= emails | {"beta-0@example.com"}
    assert "product-lead@example.com" not in {p.email for p in action_owner_choices(world.eng)}
    action = create(world, owner_id=world.engineer.pk)
    assert action.owner == world.engineer


@pytest.mark.parametrize(
    ("field", "overrides", "message"),
    [
        ("metric", {"metric": None}, "Choose the metric the action aims to move"),
        ("metric", {"metric": ""}, "Choose the metric the action aims to move"),
        ("metric", {"metric": "happiness"}, "Unknown metric 'happiness'"),
        ("flag_kind", {"flag_kind": "Psych Safety!"}, "Unknown flag kind"),
        ("flag_kind", {"flag_kind": "x" * 49}, "Unknown flag kind"),
        ("title", {"title": "   "}, "Say what you will try"),
        ("title", {"title": None}, "Say what you will try"),
        ("title", {"title": "x" * 201}, "Keep the title to 200 characters (it has 201)"),
        ("owner", {"owner_id": "not-a-number"}, "Choose an owner from the unit's people or its managers"),
        ("owner", {"owner_id": 999_999}, "Choose an owner"),
        ("check_back_month", {"check_back_month": None}, "Choose the month to check back, from 2026-04 to 2026-09"),
        ("check_back_month", {"check_back_month": dt.date(2026, 3, 1)}, "Check back between 2026-04 and 2026-09"),
        ("check_back_month", {"check_back_month": dt.date(2026, 10, 1)}, "one to six months after the 2026-03"),
    ],
)
def test_a_wrong_field_is_refused_with_its_fix_and_nothing_is_saved(world, field, overrides, message):
    with pytest.raises(ValidationError) as refused:
        create(world, **overrides)
    assert set(refused.value.message_dict) == {field}
    assert message in refused.value.message_dict[field][0]
    assert not Action.objects.exists() and not AuditEvent.objects.filter(action__startswith="action_").exists()


def test_an_owner_from_another_department_or_who_left_is_refused(world):
    with pytest.raises(ValidationError, match="Choose an owner"):
        create(world, owner_id=world.other_manager.pk)
    world.engineer.is_active = False
    world.engineer.save()
    with pytest.raises(ValidationError, match="Choose an owner"):
        create(world, owner_id=world.engineer.pk)


def test_every_wrong_field_is_named_at_once(world):
    with pytest.raises(ValidationError) as refused:
        create(world, metric="", title="", owner_id="", check_back_month=None)
    assert set(refused.value.message_dict) == {"metric", "title", "owner", "check_back_month"}


def test_an_action_follows_closed_results_never_an_open_cycle(world):
    with pytest.raises(ValidationError) as refused:
        action_create(
            actor=world.manager,
            unit=world.alpha,
            started_cycle=world.april,
            data=data(owner_id=world.manager.pk, check_back_month=dt.date(2026, 5, 1)),
        )
    assert "still open" in refused.value.message_dict["cycle"][0]
    assert not Action.objects.exists()


def test_the_check_back_month_is_stored_as_the_first_of_its_month(world):
    action = create(world, check_back_month=dt.date(2026, 9, 17))
    assert action.check_back_month == dt.date(2026, 9, 1)


# --- update ------------------------------------------------------------------------------------


def test_update_changes_only_what_is_given_and_audits_which_fields(world):
    action = create(world)
    updated = action_update(
        actor=world.manager,
        action=action,
        data=ActionInput(title="Our own retro question", owner_id=world.engineer.pk),
    )
    assert updated.title == "Our own retro question" and not updated.from_playbook
    assert updated.owner == world.engineer and updated.check_back_month == dt.date(2026, 6, 1)
    event = AuditEvent.objects.get(action="action_updated")
    assert event.detail["fields"] == ["from_playbook", "owner", "title"]


def test_an_update_with_nothing_to_change_writes_nothing(world):
    action = create(world)
    assert action_update(actor=world.manager, action=action, data=ActionInput()) is action
    assert not AuditEvent.objects.filter(action="action_updated").exists()


def test_an_update_is_checked_like_a_create(world):
    action = create(world)
    with pytest.raises(ValidationError) as refused:
        action_update(actor=world.manager, action=action, data=ActionInput(title=" ", check_back_month=MARCH))
    assert set(refused.value.message_dict) == {"title", "check_back_month"}
    action.refresh_from_db()
    assert action.title == SUGGESTION


def test_a_closed_action_cannot_be_edited(world):
    action = action_close(actor=world.manager, action=create(world), outcome="Done.")
    with pytest.raises(ValidationError, match="closed"):
        action_update(actor=world.manager, action=action, data=ActionInput(title="Later"))


def test_an_edit_that_loses_a_race_with_a_close_changes_nothing(world):
    """The edit was read while open; a close wins in between: the closed action stays as closed."""
    action = create(world)
    stale = Action.objects.get(pk=action.pk)
    action_close(actor=world.manager, action=action, outcome="We stopped.")
    with pytest.raises(ValidationError, match="closed"):
        action_update(actor=world.manager, action=stale, data=ActionInput(title="Too late"))
    action.refresh_from_db()
    assert action.title == SUGGESTION and action.outcome == "We stopped."
    assert not AuditEvent.objects.filter(action="action_updated").exists()


# --- close -------------------------------------------------------------------------------------


def test_close_needs_a_short_outcome(world):
    action = create(world)
    with pytest.raises(ValidationError, match="Say in a sentence what happened"):
        action_close(actor=world.manager, action=action, outcome="   ")
    with pytest.raises(ValidationError, match=r"Keep the outcome to 500 characters \(it has 501\)"):
        action_close(actor=world.manager, action=action, outcome="x" * 501)
    action.refresh_from_db()
    assert action.is_open and action.outcome == ""


def test_close_records_the_outcome_once(world):
    action = action_close(actor=world.manager, action=create(world), outcome="  We stopped ranking.  ")
    assert (action.status, action.outcome) == ("closed", "We stopped ranking.") and action.closed_at is not None
    again = action_close(actor=world.manager, action=action, outcome="Something else")
    assert again.outcome == "We stopped ranking."
    assert AuditEvent.objects.filter(action="action_closed").count() == 1


def test_closing_an_action_deleted_in_the_meantime_says_so(world):
    action = create(world)
    Action.objects.filter(pk=action.pk).delete()
    with pytest.raises(ValidationError, match="deleted in the meantime"):
        action_close(actor=world.manager, action=action, outcome="Done.")


# --- delete ------------------------------------------------------------------------------------


def test_delete_removes_an_open_action_and_audits_it(world):
    action = create(world)
    action_delete(actor=world.manager, action=action)
    assert not Action.objects.exists()
    assert AuditEvent.objects.get(action="action_deleted").detail["subject"] == SUGGESTION


def test_a_closed_action_is_history_and_is_not_deleted(world):
    action = action_close(actor=world.manager, action=create(world), outcome="Done.")
    with pytest.raises(ValidationError, match="kept as the team's history"):
        action_delete(actor=world.manager, action=action)
    assert Action.objects.filter(pk=action.pk).exists()


def test_a_delete_that_loses_a_race_with_a_close_keeps_the_action_and_audits_nothing(world):
    action = create(world)
    stale = Action.objects.get(pk=action.pk)
    action_close(actor=world.manager, action=action, outcome="We stopped.")
    with pytest.raises(ValidationError, match="kept as the team's history"):
        action_delete(actor=world.manager, action=stale)
    assert Action.objects.filter(pk=action.pk, status="closed").exists()
    assert not AuditEvent.objects.filter(action="action_deleted").exists()


# --- readers -----------------------------------------------------------------------------------


def test_who_reads_which_actions(world):
    on_alpha = create(world)
    on_eng = action_create(
        actor=world.manager, unit=world.eng, started_cycle=world.march, data=data(owner_id=world.manager.pk)
    )
    on_beta = action_create(
        actor=world.manager, unit=world.beta, started_cycle=world.march, data=data(owner_id=world.manager.pk)
    )
    on_design = action_create(
        actor=world.other_manager,
        unit=world.design,
        started_cycle=world.march,
        data=data(owner_id=world.other_manager.pk),
    )

    def seen(person, is_hr=False):
        return set(actions_visible_to(person=person, is_hr=is_hr))

    assert seen(world.hr, is_hr=True) == {on_alpha, on_eng, on_beta, on_design}
    assert seen(world.manager) == {on_alpha, on_eng, on_beta}
    assert seen(world.engineer) == {on_alpha, on_eng}  # their team and the units above it
    assert seen(world.other_manager) == {on_design}
    assert seen(None) == set()
    # An organisation that hides team reports from engineers hides the actions too (they name the
    # metric and the flag); the team still hears the titles in its invitations.
    Organisation.objects.update(engineers_see_team_report=False)
    assert seen(world.engineer) == set()
    assert seen(world.manager) == {on_alpha, on_eng, on_beta}
    assert open_action_titles(team_ids=[world.alpha.pk]) == [on_alpha.title]
    Organisation.objects.update(engineers_see_team_report=True)
    world.engineer.is_active = False
    assert seen(world.engineer) == set()


def test_open_titles_are_newest_first_each_once_and_at_most_three(world):
    titles = ["One.", "Two.", "Three.", "Four."]
    for title in titles:
        create(world, title=title)
    create(world, title="Two.")  # the same title again, newest
    closed = create(world, title="Closed one.")
    action_close(actor=world.manager, action=closed, outcome="Done.")
    assert open_action_titles(team_ids=[world.alpha.pk]) == ["Two.", "Four.", "Three."]
    assert open_action_titles(team_ids=[world.alpha.pk], limit=10) == ["Two.", "Four.", "Three.", "One."]
    assert open_action_titles(team_ids=[world.beta.pk]) == []


def test_titles_by_team_include_the_units_above_in_a_query_per_level_and_one_more(world):
    create(world, title="On Alpha.")
    action_create(
        actor=world.manager,
        unit=world.eng,
        started_cycle=world.march,
        data=data(owner_id=world.manager.pk, title="On Engineering."),
    )
    mobile = Team.objects.create(name="Mobile", parent=world.alpha)  # a sub-team: three levels
    with CaptureQueriesContext(connection) as queries:
        titles = open_action_titles_by_team(
            team_ids=[
                world.alpha.pk,
                str(world.beta.pk),
                world.design.pk,
                mobile.pk,
                "00000000-0000-4000-8000-000000000000",
            ]
        )
    # The teams asked about, the departments above them (Alpha, above Mobile, was asked about
    # already), then the actions.
    assert len(queries) == 3
    assert titles[str(world.alpha.pk)] == ["On Engineering.", "On Alpha."]
    assert titles[str(mobile.pk)] == ["On Engineering.", "On Alpha."]
    assert titles[str(world.beta.pk)] == ["On Engineering."]
    assert titles[str(world.design.pk)] == []
    assert titles["00000000-0000-4000-8000-000000000000"] == []  # a team that is not there: nothing


def test_team_lineage_and_month_arithmetic(world):
    assert team_and_ancestor_ids(world.alpha) == [world.alpha.pk, world.eng.pk]
    assert month_add(dt.date(2026, 11, 1), 3) == dt.date(2027, 2, 1)
    assert month_add(dt.date(2026, 1, 1), -1) == dt.date(2025, 12, 1)
    assert months_between(dt.date(2026, 11, 1), dt.date(2027, 2, 1)) == 3


def test_the_closed_action_constraint_holds_in_the_database(world):
    """A closed action without an outcome cannot be stored, whatever writes it."""
    from django.db import IntegrityError, transaction

    action = create(world)
    with pytest.raises(IntegrityError), transaction.atomic():
        Action.objects.filter(pk=action.pk).update(status="closed", closed_at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC))
