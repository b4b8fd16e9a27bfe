"""Who sees what (analytics.reports.access, read by analytics.api.permissions): HR everything, a
manager the subtrees they manage and their own lineage, an engineer their own team's lineage, and
only that unit's own cells where its subtree holds units that are not theirs."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from analytics.job.run import aggregate_cycle
from analytics.published import ORGANISATION_ID, unit_cells
from analytics.reports.access import unit_visible, viewer_for
from surveys.models import Organisation, Person
from tests.analytics.api.conftest import client_for, person
from tests.analytics.builders import cycle_run, standard_answers

pytestmark = pytest.mark.django_db
ENGINEERING = {"Engineering", "Engineering/Alpha", "Engineering/Beta", "Engineering/Gamma"}


def paths(client, url="/api/v1/units/"):
    return [u["path"] for u in client.get(url).json()["results"]]


def walk(client, url):
    """Every page of a cells read, following `next`."""
    cells, pages = [], 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.json()
        body = response.json()
        cells.extend(body["results"])
        url, pages = body["next"], pages + 1
    return cells, pages


def test_a_manager_sees_what_they_manage_and_their_lineage(world, manager):
    assert paths(manager) == [
        "Our organisation",  # their own team's lineage
        "Engineering",
        "Engineering/Alpha",
        "Engineering/Beta",
        "Engineering/Gamma",
    ]


def test_a_manager_gets_404_for_another_department_and_for_a_unit_that_does_not_exist(world, manager):
    design = world.id("Product/Design")
    missing = str(uuid.uuid4())
    for url in ("/api/v1/cells/?unit={}", "/api/v1/flags/?unit={}", "/api/v1/comments/?unit={}"):
        other, absent = manager.get(url.format(design)), manager.get(url.format(missing))
        assert other.status_code == absent.status_code == 404
        assert other.json() == absent.json()  # the same body: existence is not confirmed
        assert other.json()["detail"].startswith("unit: ")
    # Flags and comments without a unit stay within what they may see.
    flags = manager.get("/api/v1/flags/").json()["results"]
    assert flags and not [f for f in flags if f["unit_path"].startswith("Product")]
    assert {f["unit_path"] for f in flags} <= {"Our organisation", *ENGINEERING}
    comments = manager.get("/api/v1/comments/").json()["results"]
    assert comments and {c["unit_path"] for c in comments} == {"Engineering"}


def test_a_manager_reads_the_subtree_they_manage(world, manager):
    engineering = world.id("Engineering")
    cells, _ = walk(manager, f"/api/v1/cells/?unit={engineering}&metric=responses")
    assert {c["unit_path"] for c in cells} == ENGINEERING
    assert {c["cycle"] for c in cells} == {"2026-03", "2026-04"}


def test_a_unit_seen_only_through_the_own_lineage_comes_alone(world, manager):
    """The organisation is on the manager's own lineage, not under what they manage: its subtree
    would hold Product, which is not theirs."""
    cells, _ = walk(manager, f"/api/v1/cells/?unit={ORGANISATION_ID}&metric=responses,psych_safety")
    assert {c["unit_id"] for c in cells} == {ORGANISATION_ID}
    assert len(cells) == 2 * 2  # two metrics, two cycles


def test_an_engineer_sees_only_their_lineage_and_cells_of_exactly_that_unit(world, engineer):
    assert paths(engineer) == ["Our organisation", "Engineering", "Engineering/Beta"]
    engineering = world.id("Engineering")
    cells, pages = walk(engineer, f"/api/v1/cells/?unit={engineering}")
    # The department alone, never its other teams (Alpha, Gamma).
    assert {c["unit_path"] for c in cells} == {"Engineering"}
    door = unit_cells(unit_id=engineering)
    assert [(c["cycle"], c["metric"], c["n"], c["value"]) for c in cells] == [
        (c.cycle, c.metric, c.n, c.value) for c in door
    ]
    assert pages == 2  # one cycle a page
    for sibling in ("Engineering/Alpha", "Engineering/Gamma", "Product"):
        assert engineer.get(f"/api/v1/cells/?unit={world.id(sibling)}").status_code == 404
        assert engineer.get(f"/api/v1/flags/?unit={world.id(sibling)}").status_code == 404
    own = engineer.get(f"/api/v1/cells/?unit={world.id('Engineering/Beta')}").json()["results"]
    assert own and {c["unit_path"] for c in own} == {"Engineering/Beta"}
    # Cells need a unit for anyone but HR.
    missing = engineer.get("/api/v1/cells/")
    assert missing.status_code == 400 and missing.json()["detail"].startswith("unit: required")
    assert all(f["unit_path"] in {"Our organisation", "Engineering", "Engineering/Beta"}
               for f in engineer.get("/api/v1/flags/").json()["results"])  # fmt: skip


def test_an_engineer_sees_nothing_when_the_organisation_hides_team_reports(world, engineer):
    Organisation.objects.update(engineers_see_team_report=False)
    assert engineer.get("/api/v1/me/").json()["engineers_see_team_report"] is False
    assert paths(engineer) == []
    assert engineer.get(f"/api/v1/cells/?unit={world.id('Engineering/Beta')}").status_code == 404
    assert engineer.get(f"/api/v1/flags/?unit={world.id('Engineering/Beta')}").status_code == 404
    assert engineer.get("/api/v1/flags/").json()["results"] == []
    assert engineer.get("/api/v1/comments/").json()["results"] == []


def test_every_unit_listed_is_one_the_access_rule_allows(world, hr, manager, engineer):
    for email in ("hr@example.com", "boss@example.com", "dev@example.com"):
        viewer = viewer_for(person_by_email(email).user)
        client = client_for(person_by_email(email))
        for unit in client.get("/api/v1/units/?cycle=2026-03").json()["results"]:
            assert unit_visible(viewer, cycle=world.march, unit_id=unit["unit_id"]) is not None


def test_a_page_of_an_earlier_cycle_is_withheld_where_the_unit_was_not_theirs_then(world):
    """Design moves under Engineering after April: a manager of Engineering sees May's Design,
    but March's and April's Design was Product's, so those pages come back empty."""
    design = world.org.units["Product/Design"]
    design.parent = world.org.units["Engineering"]
    design.save()
    world.org.respondents["Engineering/Design"] = world.org.respondents.pop("Product/Design")
    world.org.units["Engineering/Design"] = world.org.units.pop("Product/Design")
    may = cycle_run(world.org, standard_answers(world.org, label="may"), month=dt.date(2026, 5, 1)).cycle
    aggregate_cycle(cycle=may)
    boss = person(world, "boss2@example.com", team="Engineering/Alpha", role="manager", manages=("Engineering",))
    client = client_for(boss)
    cells, pages = walk(client, f"/api/v1/cells/?unit={design.pk}&metric=responses")
    assert {c["cycle"] for c in cells} == {"2026-05"} and pages == 3


def person_by_email(email):
    return Person.objects.get(email=email)
