"""The door's page readers (analytics.published): one unit over cycles, a unit's children for a
heatmap, a subtree a page at a time, and flags. Each returns frozen records of published values
only, matching the stored cells, in at most three queries; a hidden cell is hidden; a cycle whose
k was raised after its aggregation is not served; a flag is served only while its cells are."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Mapping

import pytest

from analytics.core.disclosure import HIDDEN_TEXT
from analytics.core.tree import ORGANISATION
from analytics.job.run import aggregate_cycle
from analytics.models import Flag, MetricCell
from analytics.published import (
    CursorInvalid,
    PublishedCell,
    PublishedFlag,
    children_cells,
    organisation_flags,
    subtree_cells_page,
    unit_cells,
    unit_flags,
)
from surveys.models import Cycle
from tests.analytics.builders import K, cycle_run, org_build, standard_answers

pytestmark = pytest.mark.django_db
APRIL = dt.date(2026, 4, 1)
MAX_QUERIES = 3


@pytest.fixture
def org():
    return org_build()


@pytest.fixture
def cycles(org):
    """March and April, both aggregated; Alpha (8 respondents) answers the safety items unfavourably."""
    low = {"Engineering/Alpha": "low"}
    march = cycle_run(org, standard_answers(org, safety=low)).cycle
    aggregate_cycle(cycle=march)
    april = cycle_run(org, standard_answers(org, label="apr", safety=low), month=APRIL).cycle
    aggregate_cycle(cycle=april)
    return march, april


def stored(cycle: Cycle, unit: str) -> dict[str, MetricCell]:
    return {cell.metric: cell for cell in MetricCell.objects.filter(cycle=cycle, unit_id=unit)}


def assert_matches_storage(cell: PublishedCell, row: MetricCell) -> None:
    """Published: the stored numbers. Hidden: nothing but the public reason."""
    assert isinstance(cell, PublishedCell) and cell.k == K
    if row.published:
        assert (cell.n, cell.value, cell.ci_low, cell.ci_high) == (row.n, row.value, row.ci_low, row.ci_high)
        assert (cell.suppressed, cell.reason) == (False, "")
        assert cell.n >= K
    else:
        assert (cell.n, cell.value, cell.ci_low, cell.ci_high) == (None, None, None, None)
        assert (cell.suppressed, cell.reason) == (True, HIDDEN_TEXT)
        assert (cell.interval, cell.shrunk, cell.in_words, cell.invited, cell.low_response) == (None,) * 5


def test_records_are_frozen_and_carry_no_sums_or_raw_extra(org, cycles):
    cell = unit_cells(unit_id=org.id("Engineering/Alpha"), metrics=["psych_safety"])[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cell.value = 1.0  # type: ignore[misc]
    fields = {field.name for field in dataclasses.fields(PublishedCell)}
    assert not fields & {"total", "total_sq", "extra", "hidden_because", "published"}
    assert not hasattr(cell, "__dict__")  # slots


def test_one_unit_over_cycles_matches_storage_in_three_queries(org, cycles, django_assert_max_num_queries):
    march, april = cycles
    alpha = org.id("Engineering/Alpha")
    with django_assert_max_num_queries(MAX_QUERIES):
        cells = unit_cells(unit_id=alpha)
    expected = {(c.label, metric): row for c in cycles for metric, row in stored(c, alpha).items()}
    assert len(cells) == len(expected) and {(c.cycle, c.metric) for c in cells} == set(expected)
    for cell in cells:
        assert_matches_storage(cell, expected[(cell.cycle, cell.metric)])
        assert (cell.unit_path, cell.parent_path, cell.level) == ("Engineering/Alpha", "Engineering", "team")
    assert [c.cycle for c in cells] == sorted(c.cycle for c in cells)  # by cycle, then metric name
    # Typed notes, from what the job stored in extra.
    by_key = {(c.cycle, c.metric): c for c in cells}
    safety = by_key[("2026-03", "psych_safety")]
    assert safety.interval == expected[("2026-03", "psych_safety")].extra["interval"] == "organisation_sd"  # R13
    responses = by_key[("2026-03", "responses")]
    assert (responses.invited, responses.low_response) == (9, False) and responses.interval is None
    ratio = by_key[("2026-03", "time_ratio")]
    assert ratio.in_words == expected[("2026-03", "time_ratio")].extra["in_words"]
    pilot = expected[("2026-03", "pilot_ratio")]
    assert by_key[("2026-03", "pilot_ratio")].shrunk == pilot.extra.get("shrunk")


def test_a_range_of_cycles_and_a_set_of_metrics(org, cycles, django_assert_max_num_queries):
    alpha = org.id("Engineering/Alpha")
    with django_assert_max_num_queries(MAX_QUERIES):
        cells = unit_cells(unit_id=alpha, since=APRIL, metrics=["responses", "psych_safety"])
    assert [(c.cycle, c.metric) for c in cells] == [("2026-04", "responses"), ("2026-04", "psych_safety")]
    assert unit_cells(unit_id=alpha, until=dt.date(2026, 2, 1)) == []
    assert unit_cells(unit_id=uuid.uuid4()) == []  # not a unit: nothing, not an error
    with pytest.raises(ValueError, match="unit_id: 'Alpha' is not a unit id"):
        unit_cells(unit_id="Alpha")


def test_a_hidden_cell_comes_back_hidden_whatever_its_row_holds(org, cycles):
    march, _ = cycles
    gamma = org.id("Engineering/Gamma")
    # Hidden rows may hold no n or value (a check constraint), but nothing in the schema stops a
    # future writer leaving an interval or a note on one: the door must not pass it on.
    MetricCell.objects.filter(cycle=march, unit_id=gamma).update(ci_low=1.0, ci_high=2.0, extra={"shrunk": 0.5})
    cells = unit_cells(unit_id=gamma, until=march.month)
    assert cells and all(cell.suppressed for cell in cells)
    rows = stored(march, gamma)
    for cell in cells:
        assert not rows[cell.metric].published
        assert_matches_storage(cell, rows[cell.metric])


def test_children_for_a_heatmap(org, cycles, django_assert_max_num_queries):
    march, _ = cycles
    metrics = ["responses", "psych_safety", "trust"]
    with django_assert_max_num_queries(MAX_QUERIES):
        cells = children_cells(cycle=march, unit_id=org.id("Engineering"), metrics=metrics)
    teams = ["Engineering/Alpha", "Engineering/Beta", "Engineering/Gamma"]
    # Rows in path order, columns in the given order: never ordered by a value (R4).
    assert [(c.unit_path, c.metric) for c in cells] == [(t, m) for t in teams for m in metrics]
    for cell in cells:
        assert_matches_storage(cell, stored(march, cell.unit_id)[cell.metric])
    assert any(c.suppressed for c in cells) and any(not c.suppressed for c in cells)
    departments = children_cells(cycle=march, unit_id=ORGANISATION, metrics=["responses"])
    assert [(c.unit_path, c.parent_path) for c in departments] == [
        ("Engineering", "Our organisation"),
        ("Product", "Our organisation"),
    ]
    assert children_cells(cycle=march, unit_id=org.id("Engineering/Alpha"), metrics=metrics) == []  # a team


def walk(unit: str, size: int, **options) -> tuple[list[PublishedCell], int]:
    cells, cursor, pages = [], None, 0
    while True:
        page = subtree_cells_page(unit_id=unit, cursor=cursor, size=size, **options)
        assert len(page.cells) <= size
        cells.extend(page.cells)
        pages += 1
        if page.next_cursor is None:
            return cells, pages
        cursor = page.next_cursor


@pytest.mark.parametrize("path", ["Engineering", ""])
def test_a_subtree_page_by_page(org, cycles, path, django_assert_max_num_queries):
    subtree = {org.id(p) for p in org.units if p == path or p.startswith(path + "/")} if path else None
    expected = {
        (c.label, str(row.unit_id), row.metric): row
        for c in cycles
        for row in MetricCell.objects.filter(cycle=c)
        if subtree is None or str(row.unit_id) in subtree
    }
    with django_assert_max_num_queries(MAX_QUERIES):
        subtree_cells_page(unit_id=org.id(path), size=50)
    cells, pages = walk(org.id(path), size=37)
    keys = [(c.cycle, c.unit_id, c.metric) for c in cells]
    assert len(keys) == len(set(keys)) == len(expected) and set(keys) == set(expected)  # each cell once
    assert pages >= len(expected) // 37
    # A fixed order: cycle, then unit id (random UUIDs), then metric.
    assert keys == sorted(keys, key=lambda key: (key[0], uuid.UUID(key[1]), key[2]))
    for cell in cells:
        assert_matches_storage(cell, expected[(cell.cycle, cell.unit_id, cell.metric)])


def test_a_subtree_of_given_metrics_and_cycles(org, cycles, django_assert_max_num_queries):
    metrics = ["psych_safety", "responses"]
    cells, _ = walk(org.id("Engineering"), size=3, metrics=metrics, since=APRIL)
    assert {(c.cycle, c.metric) for c in cells} == {("2026-04", m) for m in metrics}
    assert len(cells) == 2 * 4  # Engineering and its three teams


def test_bad_cursors_and_sizes_are_refused_with_the_fix():
    with pytest.raises(CursorInvalid, match="start again without it"):
        subtree_cells_page(unit_id=ORGANISATION, cursor="not-a-cursor")
    with pytest.raises(ValueError, match="size: a page holds 1 to 1000 cells; got 0"):
        subtree_cells_page(unit_id=ORGANISATION, size=0)


def test_a_cycle_whose_k_was_raised_is_not_served_by_any_reader(org, cycles):
    march, april = cycles
    alpha = org.id("Engineering/Alpha")
    assert unit_flags(cycle=april, unit_id=alpha)
    Cycle.objects.filter(pk=march.pk).update(k=9)  # raised after close (R3), not aggregated again yet
    assert {c.cycle for c in unit_cells(unit_id=alpha)} == {"2026-04"}
    assert children_cells(cycle=march, unit_id=org.id("Engineering"), metrics=["responses"]) == []
    assert {c.cycle for c in walk(ORGANISATION, size=200)[0]} == {"2026-04"}
    assert unit_flags(cycle=march, unit_id=alpha) == [] and organisation_flags(cycle=march) == []
    # April's trend flags look back on March, whose cells may now be hidden: not served either.
    assert unit_flags(cycle=april, unit_id=alpha) == [] and organisation_flags(cycle=april) == []


def thawed(value):
    if isinstance(value, Mapping):
        return {key: thawed(item) for key, item in value.items()}
    return [thawed(item) for item in value] if isinstance(value, tuple) else value


def test_flags_are_frozen_records_in_at_most_three_queries(org, cycles, django_assert_max_num_queries):
    _, april = cycles
    alpha = org.id("Engineering/Alpha")
    with django_assert_max_num_queries(MAX_QUERIES):
        flags = organisation_flags(cycle=april)
    assert flags and all(isinstance(f, PublishedFlag) and f.severity == "flag" for f in flags)
    assert ("psych_safety_low", alpha, "Engineering/Alpha") in {(f.kind, f.unit_id, f.unit_path) for f in flags}
    with django_assert_max_num_queries(MAX_QUERIES):
        own = unit_flags(cycle=april, unit_id=alpha)
    stored_flags = Flag.objects.filter(cycle=april, unit_id=alpha)
    assert {(f.kind, f.test, f.p_value) for f in own} == {(f.kind, f.test, f.p_value) for f in stored_flags}
    flag = own[0]
    row = stored_flags.get(kind=flag.kind, test=flag.test)
    assert (thawed(flag.numbers), flag.method, flag.explanation) == (row.numbers, row.method, row.explanation)
    with pytest.raises(TypeError):
        flag.numbers["n"] = 1  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        flag.severity = "watch"  # type: ignore[misc]


def test_a_flag_whose_input_cell_is_hidden_is_not_served(org, cycles):
    """trust_use_gap is computed from the daily-use share as well as trust: both must be published."""
    _, april = cycles
    cells = stored(april, ORGANISATION)
    assert cells["trust"].published and cells["daily_use_share"].published
    Flag.objects.create(
        cycle=april, unit_id=ORGANISATION, kind="trust_use_gap", metric="trust", test="level",
        severity=Flag.Severity.FLAG, numbers={"trust_mean": 2.0}, method="", explanation="",
    )  # fmt: skip
    assert "trust_use_gap" in {f.kind for f in unit_flags(cycle=april, unit_id=ORGANISATION)}
    hide(cells["daily_use_share"])
    assert "trust_use_gap" not in {f.kind for f in unit_flags(cycle=april, unit_id=ORGANISATION)}
    assert "trust_use_gap" not in {f.kind for f in organisation_flags(cycle=april)}
    alpha = org.id("Engineering/Alpha")
    assert [f for f in unit_flags(cycle=april, unit_id=alpha) if f.metric == "psych_safety"]
    hide(stored(april, alpha)["psych_safety"])  # the flag's own cell
    assert not [f for f in unit_flags(cycle=april, unit_id=alpha) if f.metric == "psych_safety"]


def hide(cell: MetricCell) -> None:
    MetricCell.objects.filter(pk=cell.pk).update(published=False, n=None, value=None, ci_low=None, ci_high=None)
