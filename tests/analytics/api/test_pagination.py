"""Cursor pagination of /api/v1/cells/: 500 cells a page (not the client's choice), following
`next` walks every cell exactly once, in the door's fixed order, and the walk equals the door's
own full set."""

from __future__ import annotations

import pytest
from django.test import Client

from analytics.api import cells as api_cells
from analytics.job.run import aggregate_cycle
from analytics.published import ORGANISATION_ID, subtree_cells_page
from tests.analytics.builders import cycle_run, org_build, standard_answers
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db


def door_all(unit: str, **options) -> list:
    cells, cursor = [], None
    while True:
        page = subtree_cells_page(unit_id=unit, cursor=cursor, size=1000, **options)
        cells.extend(page.cells)
        if page.next_cursor is None:
            return cells
        cursor = page.next_cursor


def walk(client, url):
    cells, sizes = [], []
    while url:
        body = client.get(url).json()
        cells.extend(body["results"])
        sizes.append(len(body["results"]))
        url = body["next"]
    return cells, sizes


def key(cell) -> tuple:
    return (
        (cell["cycle"], cell["unit_id"], cell["metric"])
        if isinstance(cell, dict)
        else (cell.cycle, cell.unit_id, cell.metric)
    )


@pytest.mark.parametrize(("path", "size"), [("", 37), ("Engineering", 37), ("Engineering", 1), ("", 500)])
def test_walking_next_gives_the_doors_full_set_once_in_its_order(world, hr, monkeypatch, path, size):
    monkeypatch.setattr(api_cells, "PAGE_SIZE", size)
    unit = world.id(path)
    cells, sizes = walk(hr, f"/api/v1/cells/?unit={unit}")
    door = door_all(unit)
    assert [key(c) for c in cells] == [key(c) for c in door]  # same cells, same order, no repeats
    assert len({key(c) for c in cells}) == len(cells)
    assert max(sizes) <= size and len(sizes) >= len(door) // size
    by_key = {key(c): c for c in door}
    for cell in cells:
        expected = by_key[key(cell)]
        assert (cell["n"], cell["value"], cell["suppressed"]) == (expected.n, expected.value, expected.suppressed)


def test_the_next_link_keeps_the_query(world, hr):
    body = hr.get(f"/api/v1/cells/?unit={ORGANISATION_ID}&metric=responses,trust").json()
    assert body["next"].startswith("http://testserver/api/v1/cells/?")
    assert "metric=responses%2Ctrust" in body["next"] and "cursor=" in body["next"]
    second = hr.get(body["next"]).json()
    assert {c["cycle"] for c in second["results"]} == {"2026-04"}
    assert {c["metric"] for c in second["results"]} == {"responses", "trust"}


def test_a_page_holds_500_cells(db):
    """Twelve teams in two departments: 15 units of about 46 cells, more than a page in one cycle."""
    plan = [("Engineering" if i < 6 else "Product", f"T{i}", 5, 5) for i in range(12)]
    org = org_build(plan)
    aggregate_cycle(cycle=cycle_run(org, standard_answers(org)).cycle)
    client = Client()
    client.force_login(PersonFactory(role="hr").user)
    cells, sizes = walk(client, "/api/v1/cells/")
    assert sizes[0] == 500 and len(sizes) == 2
    assert [key(c) for c in cells] == [key(c) for c in door_all(ORGANISATION_ID)]
