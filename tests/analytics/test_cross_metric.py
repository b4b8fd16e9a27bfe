"""Suppression across metrics: no hidden cell can be recomputed from two published ones (R4)."""

from __future__ import annotations

import pandas as pd
import pytest

from analytics.core.cells import cells_compute
from analytics.core.partials import Partials
from analytics.job.run import aggregate_cycle, cycle_partials, fanout_team_groups, organisation_tree
from analytics.models import MetricCell
from tests.analytics.builders import V1_SCORING
from tests.analytics.test_tasks import closed_cycle_with_three_departments

K = 5


def published_by_metric(cycle) -> dict[str, dict[str, int]]:
    rows = MetricCell.objects.filter(cycle=cycle, published=True).values_list("metric", "unit_id", "n")
    table: dict[str, dict[str, int]] = {}
    for metric, unit, n in rows:
        table.setdefault(metric, {})[str(unit)] = n
    return table


@pytest.fixture(params=[3, 4, 5])
def published(request, db) -> dict[str, dict[str, int]]:
    """Published (metric -> unit -> n) of an aggregated cycle, for three random organisations."""
    cycle = closed_cycle_with_three_departments(seed=request.param)
    aggregate_cycle(cycle=cycle)
    return published_by_metric(cycle)


def test_pilots_among_respondents_never_outlive_a_hidden_pilot_ratio(published):
    # Pilots among respondents x n, divided by the AI-user count from the AI-user share, is the
    # Pilot ratio: where that is hidden, the Pilot share of respondents must be hidden too.
    assert set(published.get("pilot_share_of_respondents", {})) <= set(published.get("pilot_ratio", {}))


def test_three_bin_splits_of_one_item_need_2k(published):
    # AI-user share and daily share split use1 into never / some / daily; trust and distrust
    # shares split trust1 into three; the four usage modes are a four-way split. Those are
    # distributions: n >= 2k.
    metrics = ("daily_use_share", "distrust_share", "use_daily", "use_weekly", "mode_low_agency_low_optimism")
    for metric in metrics:
        assert all(n >= 2 * K for n in published.get(metric, {}).values()), metric


def test_figures_that_others_determine_are_published_exactly_where_those_are(published):
    # R14: use "never" is one minus the AI-user share, the Pilot quadrant is the Pilot ratio.
    assert published.get("use_never", {}) == published.get("ai_user_share", {})
    assert set(published.get("mode_pilot", {})) == set(published.get("pilot_ratio", {}))


@pytest.mark.django_db
def test_a_fan_out_part_without_respondents_merges_cleanly():
    cycle = closed_cycle_with_three_departments()
    tree = organisation_tree()
    groups = fanout_team_groups(tree, min_teams=0)
    parts = [cycle_partials(cycle, team_ids=set(group)) for group in groups]
    empty = cycle_partials(cycle, team_ids={"00000000-0000-0000-0000-00000000abcd"})
    assert empty.respondents.sum() == 0
    merged = Partials.merge(Partials.from_json(part.to_json()) for part in [*parts, empty])
    with_empty = cells_compute(merged, tree, scoring=V1_SCORING, invited={}, k=K, hourly_cost=80.0).cells
    without = cells_compute(Partials.merge(parts), tree, scoring=V1_SCORING, invited={}, k=K, hourly_cost=80.0).cells
    pd.testing.assert_frame_equal(with_empty.drop(columns="extra"), without.drop(columns="extra"), rtol=1e-12)
