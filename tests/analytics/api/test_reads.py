"""Each endpoint's happy path on real aggregated data: what the door publishes, nothing else."""

from __future__ import annotations

import pytest

from analytics.api.params import METRIC_NAMES
from analytics.core.disclosure import HIDDEN_TEXT
from analytics.models import Flag
from analytics.published import (
    ORGANISATION_ID,
    listed_comments,
    organisation_flags,
    unit_cells,
    unit_flags,
    units_under,
)

pytestmark = pytest.mark.django_db

CELL_FIELDS = {
    "cycle", "k", "unit_id", "unit_path", "parent_path", "level", "metric", "n", "value", "ci_low", "ci_high",
    "suppressed", "reason", "interval", "shrunk", "in_words", "invited", "low_response", "alpha_items",
    "alpha_warn", "why_empty",
}  # fmt: skip


def test_me_says_who_and_what(world, manager, hr):
    me = manager.get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json() == {
        "email": "boss@example.com",
        "role": "manager",
        "team_path": "Engineering/Alpha",
        "managed_unit_ids": [world.id("Engineering")],
        "engineers_see_team_report": True,
    }
    assert hr.get("/api/v1/me/").json()["role"] == "hr"


def test_cycles_are_the_served_months_in_order(world, hr):
    body = hr.get("/api/v1/cycles/").json()
    assert [(c["cycle"], c["k"]) for c in body["results"]] == [("2026-03", 5), ("2026-04", 5)]
    first = body["results"][0]
    assert set(first) == {"cycle", "k", "closes_on", "closed_on"}
    assert first["closes_on"] == world.march.closes_on.isoformat()
    assert first["closed_on"] == world.march.closed_on.isoformat()


def test_hr_sees_the_whole_tree_in_depth_then_path_order(world, hr):
    body = hr.get("/api/v1/units/").json()
    assert body["cycle"] == "2026-04"  # the latest by default
    paths = [(u["depth"], u["path"]) for u in body["results"]]
    assert paths == [
        (0, "Our organisation"),
        (1, "Engineering"),
        (1, "Product"),
        (2, "Engineering/Alpha"),
        (2, "Engineering/Beta"),
        (2, "Engineering/Gamma"),
        (2, "Product/Design"),
        (2, "Product/Research"),
    ]
    alpha = next(u for u in body["results"] if u["path"] == "Engineering/Alpha")
    assert alpha == {
        "unit_id": world.id("Engineering/Alpha"),
        "parent_id": world.id("Engineering"),
        "path": "Engineering/Alpha",
        "name": "Alpha",
        "level": "team",
        "depth": 2,
    }
    assert hr.get("/api/v1/units/?cycle=2026-03").json()["cycle"] == "2026-03"


def test_cells_of_a_team_match_the_door_and_hidden_ones_carry_no_numbers(world, hr):
    gamma = world.id("Engineering/Gamma")
    body = hr.get(f"/api/v1/cells/?unit={gamma}").json()
    assert body["next"] is not None  # one page per cycle at most: March, then April
    cells = body["results"]
    door = [c for c in unit_cells(unit_id=gamma) if c.cycle == "2026-03"]
    assert {(c["cycle"], c["metric"]) for c in cells} == {(c.cycle, c.metric) for c in door}
    assert cells and all(set(cell) == CELL_FIELDS for cell in cells)
    # Gamma (3 respondents, k = 5) is hidden: every cell says so and carries no number.
    for cell in cells:
        assert cell["suppressed"] is True and cell["reason"] == HIDDEN_TEXT
        assert [cell[f] for f in ("n", "value", "ci_low", "ci_high", "shrunk", "invited")] == [None] * 6


def test_published_cells_carry_the_doors_numbers(world, hr):
    alpha = world.id("Engineering/Alpha")
    body = hr.get(f"/api/v1/cells/?unit={alpha}&since=2026-04&metric=psych_safety,responses").json()
    door = unit_cells(unit_id=alpha, since=world.april.month, metrics=["psych_safety", "responses"])
    assert body["next"] is None  # one cycle in range: one page
    got = [(c["metric"], c["n"], c["value"], c["ci_low"], c["ci_high"], c["suppressed"]) for c in body["results"]]
    assert got == [(c.metric, c.n, c.value, c.ci_low, c.ci_high, c.suppressed) for c in door]
    assert all(not c["suppressed"] and c["n"] >= 5 for c in body["results"])


def test_hr_reads_the_organisations_subtree_by_default(world, hr):
    body = hr.get("/api/v1/cells/?metric=responses&since=2026-04").json()
    tree = units_under(cycle=world.april, roots=[ORGANISATION_ID])
    assert {c["unit_path"] for c in body["results"]} == {u.path for u in tree}


def test_a_units_flags_include_worth_watching_and_match_the_door(world, hr):
    alpha = world.id("Engineering/Alpha")
    body = hr.get(f"/api/v1/flags/?unit={alpha}").json()
    door = unit_flags(cycle=world.april, unit_id=alpha)
    assert body["cycle"] == "2026-04" and door
    assert [(f["kind"], f["test"], f["severity"], f["p_value"]) for f in body["results"]] == [
        (f.kind, f.test, f.severity, f.p_value) for f in door
    ]
    first = body["results"][0]
    assert first["numbers"] == _thawed(door[0].numbers) and first["actions"] == list(door[0].actions)


def test_flags_without_a_unit_are_flags_only_never_watch(world, hr):
    alpha = world.id("Engineering/Alpha")
    # A "worth watching" result on a published cell: shown in Alpha's own flags only.
    Flag.objects.create(
        cycle=world.april, unit_id=alpha, kind="workslop_rising", metric="psych_safety", test="trend",
        severity=Flag.Severity.WATCH, numbers={"n": 8}, method="m", explanation="e",
    )  # fmt: skip
    own = hr.get(f"/api/v1/flags/?unit={alpha}").json()["results"]
    assert ("workslop_rising", "watch") in {(f["kind"], f["severity"]) for f in own}
    body = hr.get("/api/v1/flags/").json()
    assert body["results"] and {f["severity"] for f in body["results"]} == {"flag"}
    assert [(f["unit_id"], f["kind"], f["test"]) for f in body["results"]] == [
        (f.unit_id, f.kind, f.test) for f in organisation_flags(cycle=world.april)
    ]


def test_comments_carry_only_cycle_unit_and_text(world, hr):
    body = hr.get("/api/v1/comments/").json()
    assert body["cycle"] == "2026-04"
    assert body["results"], "both departments list their comments at the threshold of 10"
    assert all(set(c) == {"cycle", "unit_id", "unit_path", "text"} for c in body["results"])
    everywhere = [u.unit_id for u in units_under(cycle=world.april, roots=[ORGANISATION_ID])]
    door = listed_comments(cycle=world.april, unit_ids=everywhere)
    assert [(c["unit_id"], c["unit_path"], c["text"]) for c in body["results"]] == [
        (c.unit_id, c.unit_path, c.text) for c in door
    ]
    assert {c["unit_path"] for c in body["results"]} == {"Engineering", "Product"}
    engineering = hr.get(f"/api/v1/comments/?unit={world.id('Engineering')}&cycle=2026-03").json()
    assert engineering["cycle"] == "2026-03" and engineering["results"]
    assert {c["unit_path"] for c in engineering["results"]} == {"Engineering"}
    assert all(c["cycle"] == "2026-03" and "apr" not in c["text"] for c in engineering["results"])


def test_an_operator_without_a_roster_entry_sees_no_report(world, client, django_user_model):
    admin = django_user_model.objects.create_superuser("ops", "ops@example.com", "pw")
    client.force_login(admin)
    assert client.get("/api/v1/me/").json()["role"] == "operator"
    assert client.get("/api/v1/units/").json()["results"] == []
    assert client.get("/api/v1/flags/").json()["results"] == []
    assert client.get(f"/api/v1/cells/?unit={ORGANISATION_ID}").status_code == 404


def _thawed(value):
    if hasattr(value, "items"):
        return {key: _thawed(item) for key, item in value.items()}
    return [_thawed(item) for item in value] if isinstance(value, tuple) else value


def test_every_stored_metric_is_one_the_metric_parameter_accepts(world, hr):
    """`metric=` is checked against the catalogue: a metric the job writes but the API refused
    would be unreachable by name."""
    stored = {c.metric for c in unit_cells(unit_id=ORGANISATION_ID)} | {
        c.metric for c in unit_cells(unit_id=world.id("Engineering/Alpha"))
    }
    assert stored <= set(METRIC_NAMES)
    body = hr.get(f"/api/v1/cells/?unit={ORGANISATION_ID}&since=2026-04&metric={','.join(sorted(stored))}")
    assert body.status_code == 200 and {c["metric"] for c in body.json()["results"]} == stored
