"""The actions API: the action loop's services (surveys.services.actions) over REST, with their
rule for who reads (actions_visible_to) and who writes (manageable_unit_ids): 404 for what the
caller may not read, 403 where they may read but not change, every bad field named."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import transaction
from django.test import Client, override_settings
from knox.models import AuthToken

from surveys.models import Action, AuditEvent, Person, Role, Team
from surveys.services.actions import ActionInput, action_close, action_create
from surveys.services.cycles import cycle_open
from tests.analytics.api.conftest import World, client_for, person
from tests.analytics.builders import march_and_april, org_build

pytestmark = pytest.mark.django_db

LIST = "/api/v1/actions/"
TITLE = "Stop ranking people by AI use or pull-request count."  # a playbook suggestion
NOWHERE = "00000000-0000-4000-8000-00000000dead"
FIELDS = {
    "id", "unit_id", "unit_path", "metric", "flag_kind", "title", "from_playbook", "owner_id", "owner_name",
    "cycle", "check_back_month", "status", "outcome", "created_at", "closed_at", "can_change",
}  # fmt: skip


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The API tests' organisation (tests/analytics/api/conftest.py), built once for the module
    inside a transaction rolled back at its end, as tests/test_permission_matrix.py does: each
    test runs in a savepoint of it (pytest-django's ``db``), so what a request changes is undone
    after it. Only the organisation and its two published cycles are shared; the viewers and
    actions are made per test."""
    fast = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with django_db_blocker.unblock(), override_settings(PASSWORD_HASHERS=fast), transaction.atomic():
        org = org_build()
        march, april = march_and_april(org)
        yield World(org=org, march=march, april=april)
        transaction.set_rollback(True)


@pytest.fixture
def people(db, world) -> dict[str, Person]:
    return {
        "hr": person(world, "hr@example.com", team="Product/Research", role=Role.HR),
        # Manages Engineering (so Alpha, Beta and Gamma), sits on Beta.
        "manager": person(
            world, "boss@example.com", team="Engineering/Beta", role=Role.MANAGER, manages=("Engineering",)
        ),
        "manager_other": person(
            world, "plead@example.com", team="Product/Design", role=Role.MANAGER, manages=("Product",)
        ),
        "engineer": person(world, "alpha-dev@example.com", team="Engineering/Alpha"),  # of the action's team
        "engineer_beta": person(world, "beta-dev@example.com", team="Engineering/Beta"),  # same department
        "engineer_other": person(world, "design@example.com", team="Product/Design"),
    }


@pytest.fixture
def clients(people, django_user_model) -> dict[str, Client]:
    out = {role: client_for(viewer) for role, viewer in people.items()}
    out["admin"] = Client()
    out["admin"].force_login(django_user_model.objects.create_superuser("ops@example.com", "ops@example.com", "pw"))
    out["anonymous"] = Client()
    return out


def alpha_member(world) -> Person:
    return world.org.units["Engineering/Alpha"].members.order_by("email").first()


@pytest.fixture
def action(world, people) -> Action:
    """Open, on Engineering/Alpha, following April's results, checked back in June."""
    return action_create(
        actor=people["manager"],
        unit=world.org.units["Engineering/Alpha"],
        started_cycle=world.april,
        data=ActionInput(
            metric="psych_safety",
            flag_kind="psych_safety_low",
            title=TITLE,
            owner_id=alpha_member(world).pk,
            check_back_month=dt.date(2026, 6, 1),
        ),
    )


@pytest.fixture
def engineering_action(world, people) -> Action:
    """Open, on the Engineering department itself."""
    return action_create(
        actor=people["manager"],
        unit=world.org.units["Engineering"],
        started_cycle=world.april,
        data=ActionInput(
            metric="pilot_ratio",
            title="Pair AI-fluent engineers with others on real work.",
            owner_id=people["manager"].pk,
            check_back_month=dt.date(2026, 7, 1),
        ),
    )


def url(action: Action, suffix: str = "") -> str:
    return f"{LIST}{action.pk}/{suffix}"


def post_json(client: Client, path: str, body) -> object:
    return client.post(path, body, content_type="application/json")


def patch_json(client: Client, path: str, body) -> object:
    return client.patch(path, body, content_type="application/json")


def good_body(world, **changes) -> dict:
    body = {
        "unit": world.id("Engineering/Alpha"),
        "cycle": "2026-04",
        "metric": "psych_safety",
        "flag_kind": "psych_safety_low",
        "title": TITLE,
        "owner": alpha_member(world).pk,
        "check_back_month": "2026-06",
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


def audits(kind: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=kind).order_by("pk"))


def assert_json_refusal(response, code: int, starts: str) -> None:
    assert response.status_code == code, (response.status_code, response.content)
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["detail"].startswith(starts), response.json()


# --- reading -------------------------------------------------------------------------------------


def test_an_action_reads_with_every_field(world, clients, action):
    body = clients["manager"].get(url(action)).json()
    assert set(body) == FIELDS
    owner = alpha_member(world)
    assert body == {
        **body,
        "id": str(action.pk),
        "unit_id": world.id("Engineering/Alpha"),
        "unit_path": "Engineering/Alpha",
        "metric": "psych_safety",
        "flag_kind": "psych_safety_low",
        "title": TITLE,
        "from_playbook": True,
        "owner_id": owner.pk,
        "owner_name": owner.name,
        "cycle": "2026-04",
        "check_back_month": "2026-06",
        "status": "open",
        "outcome": "",
        "closed_at": None,
        "can_change": True,
    }
    assert clients["hr"].get(url(action)).json()["can_change"] is False  # HR reads, never records


# Who reads the Alpha action: HR, Engineering's manager, Alpha's own engineer (their team).
READS_ALPHA = {"hr", "manager", "engineer"}


@pytest.mark.parametrize(
    "role", ["hr", "manager", "manager_other", "engineer", "engineer_beta", "engineer_other", "admin", "anonymous"]
)
def test_reading_one_action_per_role(clients, action, role):
    response = clients[role].get(url(action))
    if role == "anonymous":
        assert_json_refusal(response, 401, "")
    elif role in READS_ALPHA:
        assert response.status_code == 200 and response.json()["id"] == str(action.pk)
    else:  # the same answer as an action that does not exist
        assert_json_refusal(response, 404, "id: no action with this id that you may see")
        assert response.json() == clients[role].get(f"{LIST}{uuid.uuid4()}/").json()


@pytest.mark.parametrize(
    ("role", "sees"),
    [
        ("hr", {"alpha", "engineering"}),
        ("manager", {"alpha", "engineering"}),
        ("engineer", {"alpha", "engineering"}),  # their team and the department above it
        ("engineer_beta", {"engineering"}),  # the department, not a sibling team
        ("manager_other", set()),
        ("engineer_other", set()),
        ("admin", set()),  # the operator reads no action
    ],
)
def test_the_list_holds_what_each_role_may_read(clients, action, engineering_action, role, sees):
    response = clients[role].get(LIST)
    assert response.status_code == 200
    ids = {item["id"] for item in response.json()["results"]}
    expected = {name for name, made in (("alpha", action), ("engineering", engineering_action)) if str(made.pk) in ids}
    assert expected == sees and len(ids) == len(sees)


def test_the_list_is_newest_first_and_filters_by_unit_and_status(world, clients, people, action, engineering_action):
    manager = clients["manager"]
    assert [item["id"] for item in manager.get(LIST).json()["results"]] == [
        str(engineering_action.pk),
        str(action.pk),
    ]
    alpha = manager.get(LIST, {"unit": world.id("Engineering/Alpha")}).json()["results"]
    assert [item["id"] for item in alpha] == [str(action.pk)]
    action_close(actor=people["manager"], action=action, outcome="We stopped the ranking; people said it helped.")
    assert [item["id"] for item in manager.get(LIST, {"status": "closed"}).json()["results"]] == [str(action.pk)]
    assert [item["id"] for item in manager.get(LIST, {"status": "open"}).json()["results"]] == [
        str(engineering_action.pk)
    ]


def test_list_filters_refuse_what_they_cannot_read(world, clients, action):
    assert_json_refusal(clients["manager"].get(LIST, {"status": "done"}), 400, "status: 'done' is not a status")
    assert_json_refusal(clients["manager"].get(LIST, {"unit": "alpha"}), 400, "unit: 'alpha' is not a unit id")
    assert_json_refusal(clients["manager"].get(LIST, {"owner": "1"}), 400, "owner: unknown query parameter")
    # Another department's unit, and a unit that does not exist: the same 404.
    other = clients["manager_other"].get(LIST, {"unit": world.id("Engineering/Alpha")})
    assert_json_refusal(other, 404, "unit: no unit with this id whose actions you may see")
    assert other.json() == clients["manager_other"].get(LIST, {"unit": NOWHERE}).json()
    assert_json_refusal(clients["hr"].get(LIST, {"unit": NOWHERE}), 404, "unit: no unit")
    assert_json_refusal(clients["anonymous"].get(LIST), 401, "")


# --- recording -----------------------------------------------------------------------------------


def test_a_manager_records_an_action_audited_by_their_token(world, people):
    _, token = AuthToken.objects.create(user=people["manager"].user)
    with_token = Client(HTTP_AUTHORIZATION=f"Token {token}")
    response = post_json(with_token, LIST, good_body(world))
    assert response.status_code == 201
    body = response.json()
    made = Action.objects.get(pk=body["id"])
    assert (made.unit.path, made.started_cycle, made.created_by) == (
        "Engineering/Alpha",
        world.april,
        people["manager"],
    )
    assert body["from_playbook"] is True and body["status"] == "open" and body["can_change"] is True
    [event] = audits("action_created")
    assert event.actor == "boss@example.com"
    assert event.detail == {"subject": TITLE, "team": "Engineering/Alpha", "action_id": body["id"]}


def test_the_owner_may_be_named_by_e_mail_address(world, clients):
    owner = alpha_member(world)
    response = post_json(clients["manager"], LIST, good_body(world, owner=owner.email.upper()))
    assert response.status_code == 201 and response.json()["owner_id"] == owner.pk


@pytest.mark.parametrize(
    ("role", "code", "starts"),
    [
        # May read Alpha's actions, may not record one: 403, saying who may.
        ("hr", 403, "unit: you may read Engineering/Alpha's actions but not record an action on it"),
        ("engineer", 403, "unit: you may read Engineering/Alpha's actions but not record an action on it"),
        # Not theirs to read at all: 404, as for a unit that does not exist.
        ("engineer_beta", 404, "unit: no unit with this id whose actions you may see"),
        ("manager_other", 404, "unit: no unit with this id whose actions you may see"),
        ("engineer_other", 404, "unit: no unit with this id whose actions you may see"),
        ("admin", 404, "unit: no unit with this id whose actions you may see"),
        ("anonymous", 401, ""),
    ],
)
def test_only_a_manager_of_the_unit_records(world, clients, role, code, starts):
    response = post_json(clients[role], LIST, good_body(world))
    assert_json_refusal(response, code, starts)
    assert not Action.objects.exists() and not audits("action_created")


def test_a_manager_of_another_unit_cannot_record_on_a_unit_that_does_not_exist_either(world, clients):
    assert_json_refusal(post_json(clients["manager"], LIST, good_body(world, unit=NOWHERE)), 404, "unit: no unit")
    # The refusal comes before the other fields: nothing about them is told.
    bad = good_body(world, unit=world.id("Product/Design"), title="", metric="nope")
    assert_json_refusal(post_json(clients["manager"], LIST, bad), 404, "unit: no unit")


@pytest.mark.parametrize(
    ("changes", "field", "starts"),
    [
        ({"unit": None}, "unit", "give the unit_id (a UUID) of a unit you manage"),
        ({"unit": "Engineering/Alpha"}, "unit", "not a unit id; use a unit_id (a UUID)"),
        ({"cycle": None}, "cycle", "give the published cycle (YYYY-MM)"),
        ({"cycle": "April"}, "cycle", "'April' is not a month; write it as YYYY-MM"),
        ({"cycle": "2031-01"}, "cycle", "2031-01 has no published results"),
        ({"metric": None}, "metric", "give the metric the action aims to move"),
        ({"metric": "happiness"}, "metric", "Unknown metric 'happiness': choose one of the report's metrics."),
        ({"flag_kind": "Psych Safety!"}, "flag_kind", "no flag 'Psych Safety!' on Engineering/Alpha in 2026-04;"),
        ({"flag_kind": "pressure_rising"}, "flag_kind", "no flag 'pressure_rising' on Engineering/Alpha in 2026-04;"),
        ({"title": "   "}, "title", "say what you will try"),
        ({"title": None}, "title", "say what you will try"),
        ({"title": "x" * 201}, "title", "Keep the title to 200 characters (it has 201)."),
        ({"owner": None}, "owner", "give the owner."),
        ({"owner": "someone"}, "owner", "give the owner's person id (a whole number) or e-mail address."),
        ({"owner": "nobody@example.com"}, "owner", "Choose an owner from the unit's people or its managers."),
        ({"check_back_month": None}, "check_back_month", "give the month to check back (YYYY-MM)"),
        ({"check_back_month": "2026-6"}, "check_back_month", "'2026-6' is not a month"),
        ({"check_back_month": "2026-04"}, "check_back_month", "Check back between 2026-05 and 2026-10"),
        ({"check_back_month": "2026-11"}, "check_back_month", "Check back between 2026-05 and 2026-10"),
        ({"priority": "high"}, "priority", "unknown field; this endpoint accepts unit, cycle, metric"),
    ],
)
def test_a_bad_field_is_named_with_its_fix_and_nothing_is_saved(world, clients, changes, field, starts):
    response = post_json(clients["manager"], LIST, good_body(world, **changes))
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["errors"][field].startswith(starts), body
    assert body["detail"].startswith(f"{field}: ") or f"; {field}: " in body["detail"]
    assert not Action.objects.exists() and not audits("action_created")


def test_an_owner_from_another_department_is_refused(world, clients):
    outsider = world.org.units["Product/Design"].members.order_by("email").first()
    response = post_json(clients["manager"], LIST, good_body(world, owner=outsider.pk))
    assert response.status_code == 400
    assert response.json()["errors"] == {"owner": "Choose an owner from the unit's people or its managers."}


def test_a_cycle_still_open_is_refused_naming_the_field(world, clients):
    cycle_open(month=dt.date(2026, 5, 1), today=dt.date(2026, 5, 1), send_mail=False)
    response = post_json(clients["manager"], LIST, good_body(world, cycle="2026-05", check_back_month="2026-07"))
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "cycle": "The 2026-05 cycle is still open: record an action on published results; pick a cycle from "
        "/api/v1/cycles/."
    }
    assert not Action.objects.exists()


def test_an_action_on_a_metric_alone_has_no_flag_kind(world, clients):
    response = post_json(clients["manager"], LIST, good_body(world, flag_kind=None, metric="pilot_ratio"))
    assert response.status_code == 201 and response.json()["flag_kind"] == ""
    assert post_json(clients["manager"], LIST, good_body(world, flag_kind="")).json()["flag_kind"] == ""


def test_a_unit_that_joined_after_the_cycle_cannot_follow_it(world, clients):
    delta = Team.objects.create(name="Delta", parent=world.org.units["Engineering"])
    response = post_json(clients["manager"], LIST, good_body(world, unit=str(delta.pk), flag_kind=None))
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "cycle": "Engineering/Delta has no results in 2026-04 (it was not in that cycle's tree); pick a later "
        "cycle from /api/v1/cycles/."
    }


def test_every_bad_field_is_told_at_once_in_the_documented_order(world, clients):
    response = post_json(clients["manager"], LIST, good_body(world, metric=None, owner="x", check_back_month="soon"))
    assert list(response.json()["errors"]) == ["metric", "owner", "check_back_month"]
    assert response.json()["detail"].count(": ") >= 3


# --- editing -------------------------------------------------------------------------------------


def test_a_manager_edits_title_owner_and_check_back(world, clients, people, action):
    response = patch_json(
        clients["manager"],
        url(action),
        {"title": "  Drop the   leaderboard  ", "owner": people["manager"].email, "check_back_month": "2026-08"},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["title"], body["from_playbook"]) == ("Drop the leaderboard", False)
    assert (body["owner_id"], body["check_back_month"]) == (people["manager"].pk, "2026-08")
    [event] = audits("action_updated")
    assert event.actor == "boss@example.com" and event.detail["fields"] == [
        "check_back_month",
        "from_playbook",
        "owner",
        "title",
    ]


@pytest.mark.parametrize(
    ("body", "field", "starts"),
    [
        ({"metric": "pressure"}, "metric", "an action keeps its metric"),
        ({"unit": NOWHERE}, "unit", "an action stays on its unit"),
        ({"status": "closed"}, "status", "close it with POST /api/v1/actions/<id>/close/"),
        ({"colour": "red"}, "colour", "unknown field; this endpoint accepts title, owner, check_back_month."),
        ({}, "body", "nothing to change; give at least one of title, owner, check_back_month."),
        ({"title": ""}, "title", "say what you will try"),
        ({"title": None}, "title", "give a title, or leave the field out."),
        ({"check_back_month": "2027-01"}, "check_back_month", "Check back between 2026-05 and 2026-10"),
        ({"owner": 10**9}, "owner", "Choose an owner from the unit's people or its managers."),
    ],
)
def test_a_bad_edit_is_named_and_changes_nothing(clients, action, body, field, starts):
    response = patch_json(clients["manager"], url(action), body)
    assert response.status_code == 400, response.json()
    assert response.json()["errors"][field].startswith(starts)
    fresh = Action.objects.get(pk=action.pk)
    assert (fresh.title, fresh.metric, fresh.owner_id, fresh.check_back_month) == (
        action.title,
        action.metric,
        action.owner_id,
        action.check_back_month,
    )
    assert not audits("action_updated")


@pytest.mark.parametrize(
    ("role", "code"),
    [
        ("hr", 403),
        ("engineer", 403),
        ("engineer_beta", 404),
        ("manager_other", 404),
        ("engineer_other", 404),
        ("admin", 404),
        ("anonymous", 401),
    ],
)
def test_only_a_manager_of_the_unit_changes_an_action(clients, action, role, code):
    requests = [
        patch_json(clients[role], url(action), {"title": "Something else"}),
        post_json(clients[role], url(action, "close/"), {"outcome": "Done."}),
        clients[role].delete(url(action)),
    ]
    for response in requests:
        if code == 403:
            assert_json_refusal(response, 403, "action: you may read Engineering/Alpha's actions but not change")
        elif code == 404:
            assert_json_refusal(response, 404, "id: no action with this id that you may see")
        else:
            assert_json_refusal(response, 401, "")
    fresh = Action.objects.get(pk=action.pk)
    assert (fresh.title, fresh.status) == (TITLE, "open")
    assert not AuditEvent.objects.filter(action__in=["action_updated", "action_closed", "action_deleted"]).exists()


def test_a_closed_action_cannot_be_edited(clients, people, action):
    action_close(actor=people["manager"], action=action, outcome="It worked.")
    response = patch_json(clients["manager"], url(action), {"title": "Again"})
    assert response.status_code == 400
    assert response.json()["errors"] == {"status": "This action is closed; record a new one to try something else."}


# --- closing and deleting -----------------------------------------------------------------------


def test_closing_needs_an_outcome_and_is_idempotent(clients, action):
    close = url(action, "close/")
    for body, starts in (({}, "Say in a sentence what happened"), ({"outcome": "  "}, "Say in a sentence")):
        refused = post_json(clients["manager"], close, body)
        assert refused.status_code == 400 and refused.json()["errors"]["outcome"].startswith(starts)
    too_long = post_json(clients["manager"], close, {"outcome": "x" * 501})
    assert too_long.json()["errors"] == {"outcome": "Keep the outcome to 500 characters (it has 501)."}
    assert Action.objects.get(pk=action.pk).status == "open"

    first = post_json(clients["manager"], close, {"outcome": "We stopped the ranking."})
    assert first.status_code == 200
    assert (first.json()["status"], first.json()["outcome"]) == ("closed", "We stopped the ranking.")
    assert first.json()["closed_at"] is not None
    # Again, even with other words: nothing changes, one audit event.
    again = post_json(clients["manager"], close, {"outcome": "Something else."})
    assert again.status_code == 200 and again.json() == first.json()
    assert len(audits("action_closed")) == 1 and audits("action_closed")[0].actor == "boss@example.com"


def test_close_refuses_other_fields(clients, action):
    response = post_json(clients["manager"], url(action, "close/"), {"outcome": "Done.", "status": "closed"})
    assert response.status_code == 400 and "status" in response.json()["errors"]
    assert Action.objects.get(pk=action.pk).status == "open"


def test_a_manager_deletes_an_open_action_and_a_closed_one_stays(clients, people, action, engineering_action):
    deleted = clients["manager"].delete(url(action))
    assert deleted.status_code == 204 and not Action.objects.filter(pk=action.pk).exists()
    [event] = audits("action_deleted")
    assert event.actor == "boss@example.com" and event.detail["team"] == "Engineering/Alpha"
    assert clients["manager"].get(url(action)).status_code == 404

    action_close(actor=people["manager"], action=engineering_action, outcome="Pairs formed; it helped.")
    kept = clients["manager"].delete(url(engineering_action))
    assert kept.status_code == 400
    assert kept.json()["errors"] == {"status": "A closed action is kept as the team's history and cannot be deleted."}
    assert Action.objects.filter(pk=engineering_action.pk).exists()
    assert len(audits("action_deleted")) == 1


def test_put_is_not_a_method_here(clients, action):
    assert clients["manager"].put(url(action), {}, content_type="application/json").status_code == 405


def test_a_malformed_id_is_the_apis_json_404(clients):
    assert_json_refusal(clients["manager"].get(f"{LIST}not-a-uuid/"), 404, "path: no such API endpoint")


def test_the_schema_documents_every_action_route():
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    expected = {
        ("/api/v1/actions/", "get"): {"200", "400", "401", "404"},
        ("/api/v1/actions/", "post"): {"201", "400", "401", "403", "404"},
        ("/api/v1/actions/{action_id}/", "get"): {"200", "401", "404"},
        ("/api/v1/actions/{action_id}/", "patch"): {"200", "400", "401", "403", "404"},
        ("/api/v1/actions/{action_id}/", "delete"): {"204", "400", "401", "403", "404"},
        ("/api/v1/actions/{action_id}/close/", "post"): {"200", "400", "401", "403", "404"},
    }
    for (path, method), statuses in expected.items():
        assert statuses <= set(paths[path][method]["responses"]), (path, method)
    assert "put" not in paths["/api/v1/actions/{action_id}/"]
