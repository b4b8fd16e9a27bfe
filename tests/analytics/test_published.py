"""The one door (ANONYMITY R6): what analytics.published hands to pages, the API and exports.
A hidden cell comes back with nothing but the public reason (R4), only closed and aggregated
cycles are served (R8), and flags, being derived from cells, never speak for a hidden cell."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

import analytics.flags.stage
from analytics.job.run import aggregate_cycle
from analytics.models import Flag, MetricCell
from analytics.published import HIDDEN_TEXT, aggregated_cycles, organisation_flags, published_cells, unit_flags
from surveys.models import Cycle
from tests.analytics.builders import K, cells_by, cycle_run, org_build, standard_answers

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    return org_build()


@pytest.fixture
def aggregated(org):
    """March, with Alpha (8 respondents) answering the safety items unfavourably: flagged "low"."""
    submitted = cycle_run(org, standard_answers(org, safety={"Engineering/Alpha": "low"}))
    aggregate_cycle(cycle=submitted.cycle)
    return submitted


def test_hidden_cells_come_back_with_no_numbers_in_a_fixed_order(org, aggregated):
    # Hidden rows may hold no n or value (a check constraint), but nothing in the schema stops a
    # future writer leaving an interval on one: the door must not pass it on.
    gamma = MetricCell.objects.get(cycle=aggregated.cycle, unit_id=org.id("Engineering/Gamma"), metric="psych_safety")
    MetricCell.objects.filter(pk=gamma.pk).update(ci_low=1.0, ci_high=2.0)
    cells = list(published_cells(cycles=[aggregated.cycle]))
    assert len(cells) == MetricCell.objects.filter(cycle=aggregated.cycle).count()
    hidden = [cell for cell in cells if cell.suppressed]
    assert len(hidden) == MetricCell.objects.filter(cycle=aggregated.cycle, published=False).count() > 0
    for cell in hidden:
        assert (cell.n, cell.value, cell.ci_low, cell.ci_high, cell.reason) == (None, None, None, None, HIDDEN_TEXT)
    for cell in cells:
        if not cell.suppressed:  # a published value may still be empty (a Pilot ratio with no AI users)
            assert cell.n >= K and cell.reason == "", cell
    assert all(c.value is not None for c in cells if c.metric == "psych_safety" and not c.suppressed)
    # Ordered by unit path and metric: never by a value (R4: an order can bound a hidden value).
    assert [(c.unit_path, c.metric) for c in cells] == sorted((c.unit_path, c.metric) for c in cells)


def test_only_closed_and_aggregated_cycles_are_served(org, aggregated):
    never_aggregated = cycle_run(org, standard_answers(org, label="apr"), month=dt.date(2026, 4, 1)).cycle
    still_open = cycle_run(org, standard_answers(org, label="may"), month=dt.date(2026, 5, 1), close=False).cycle
    # Rows for an open cycle can only come from a bug or a hand edit; the door ignores them (R8).
    MetricCell.objects.create(cycle=still_open, unit_id=uuid.UUID(int=0), metric="psych_safety", published=False)
    assert aggregated_cycles() == [aggregated.cycle]
    aggregate_cycle(cycle=never_aggregated)
    assert aggregated_cycles() == [aggregated.cycle, never_aggregated]  # oldest first
    assert Cycle.objects.count() == 3


def test_flags_come_only_from_published_cells(org, aggregated):
    flags = organisation_flags(cycle=aggregated.cycle)
    alpha = org.id("Engineering/Alpha")
    assert ("psych_safety_low", alpha) in {(f.kind, str(f.unit_id)) for f in flags}
    for flag in Flag.objects.filter(cycle=aggregated.cycle):
        assert cells_by(aggregated.cycle, flag.metric)[str(flag.unit_id)].published, flag
    # "Worth watching" stays in the unit's own report, never in organisation views.
    Flag.objects.create(cycle=aggregated.cycle, unit_id=alpha, kind="psych_safety_falling", metric="psych_safety",
                        test="shift_permutation", severity=Flag.Severity.WATCH, method="", explanation="")  # fmt: skip
    assert "psych_safety_falling" not in {f.kind for f in organisation_flags(cycle=aggregated.cycle)}
    assert "psych_safety_falling" in {f.kind for f in unit_flags(cycle=aggregated.cycle, unit_id=uuid.UUID(alpha))}


def test_a_flag_of_a_cell_that_is_now_hidden_is_not_served(org, aggregated, monkeypatch):
    """R3 lets k be raised after the fact, and raising it re-runs disclosure. If that rerun writes
    the cells (Alpha's 8 respondents are now below k = 9) and then dies before the flags stage,
    last run's flag for Alpha must not survive: it quotes Alpha's mean, interval and n.
    R4: a derived output of a hidden cell must not be served. Two defences: the cells stage
    drops the cycle's flags, and the door serves a flag only while its cells are published."""
    alpha = org.id("Engineering/Alpha")
    stale = list(Flag.objects.filter(cycle=aggregated.cycle, unit_id=alpha))
    assert stale
    Cycle.objects.filter(pk=aggregated.cycle.pk).update(k=9)
    aggregated.cycle.refresh_from_db()

    def crash(**kwargs):
        raise ConnectionError("worker lost")

    monkeypatch.setattr(analytics.flags.stage, "flags_compute_for_cycle", crash)
    with pytest.raises(ConnectionError):
        aggregate_cycle(cycle=aggregated.cycle)
    assert not cells_by(aggregated.cycle, "psych_safety")[alpha].published
    assert not Flag.objects.filter(cycle=aggregated.cycle).exists()  # dropped with the old cells

    # Even a stale row put back by hand (a restore, a bug elsewhere) is not served by the door.
    for flag in stale:
        flag.pk = None
        flag.save()
    served = organisation_flags(cycle=aggregated.cycle) + unit_flags(cycle=aggregated.cycle, unit_id=uuid.UUID(alpha))
    assert served == []
