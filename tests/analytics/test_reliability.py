"""Cronbach's alpha from mergeable sums equals the reference implementation on the raw answers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pingouin
import pytest

from analytics.core.partials import Partials, partials_compute
from analytics.stats.reliability import MIN_COMPLETE_CASES, organisation_alphas, reliability_partials
from tests.analytics.builders import V1_SCORING
from tests.analytics.reference_stats import cronbach_alpha

PS_ITEMS = list(V1_SCORING.constructs["psych_safety"])
REVERSED = {"ps1", "ps3", "ps5"}
UNREVERSED = dataclasses.replace(V1_SCORING, reverse_keys=frozenset())


def correlated_answers(respondents: int, *, seed: int, teams: int = 6) -> pd.DataFrame:
    """Wide answers whose items share a latent trait (so alpha is high), with some skipped items."""
    rng = np.random.default_rng(seed)
    trait = rng.normal(0, 1, size=respondents)
    wide = pd.DataFrame(index=pd.Index([f"r{i}" for i in range(respondents)], name="response_id"))
    for key in PS_ITEMS:
        raw = np.clip(np.round(4.5 + 1.2 * trait + rng.normal(0, 0.9, size=respondents)), 1, 7)
        wide[key] = 8 - raw if key in REVERSED else raw  # stored as answered: reversed items run the other way
    wide = wide.mask(rng.random(wide.shape) < 0.04)  # a few skipped items: not complete cases
    wide["team_id"] = [f"team-{i % teams}" for i in range(respondents)]
    return wide


def reverse_coded(wide: pd.DataFrame) -> pd.DataFrame:
    items = wide[PS_ITEMS].copy()
    for key in REVERSED:
        items[key] = 8 - items[key]
    return items


def test_alpha_from_sums_matches_pingouin_and_the_stats_module():
    wide = correlated_answers(400, seed=5)
    n, alpha = organisation_alphas(reliability_partials(wide, scoring=V1_SCORING), V1_SCORING)["psych_safety"]
    reference, _ = pingouin.cronbach_alpha(data=reverse_coded(wide), nan_policy="listwise")
    assert n == int(reverse_coded(wide).notna().all(axis=1).sum())
    assert alpha == pytest.approx(reference, abs=1e-10)
    assert alpha == pytest.approx(cronbach_alpha(reverse_coded(wide)), abs=1e-10)
    assert alpha > 0.8  # the items share one trait


def test_forgetting_the_reverse_keys_would_show_in_alpha():
    wide = correlated_answers(400, seed=5)
    _, right = organisation_alphas(reliability_partials(wide, scoring=V1_SCORING), V1_SCORING)["psych_safety"]
    _, wrong = organisation_alphas(reliability_partials(wide, scoring=UNREVERSED), V1_SCORING)["psych_safety"]
    assert wrong < 0.5 < right


def test_alpha_is_withheld_under_thirty_complete_cases():
    wide = correlated_answers(MIN_COMPLETE_CASES - 1, seed=2).dropna()
    n, alpha = organisation_alphas(reliability_partials(wide, scoring=V1_SCORING), V1_SCORING)["psych_safety"]
    assert n == len(wide) < MIN_COMPLETE_CASES and alpha is None
    assert organisation_alphas(pd.DataFrame(), V1_SCORING)["agency"] == (0, None)


def test_partials_split_by_team_merge_to_the_same_alpha():
    wide = correlated_answers(300, seed=9)
    long = (
        wide.reset_index()
        .melt(id_vars=["response_id", "team_id"], var_name="item", value_name="value")
        .dropna(subset=["value"])
    )
    whole = partials_compute(long, scoring=V1_SCORING, pilot_cutoff=5.0)
    halves = [
        partials_compute(long[long["team_id"].isin(teams)], scoring=V1_SCORING, pilot_cutoff=5.0)
        for teams in (["team-0", "team-1", "team-2"], ["team-3", "team-4", "team-5"])
    ]
    merged = Partials.merge(Partials.from_json(part.to_json()) for part in halves)
    expected = organisation_alphas(whole.reliability, V1_SCORING)["psych_safety"]
    n, alpha = organisation_alphas(merged.reliability, V1_SCORING)["psych_safety"]
    assert n == expected[0] and alpha == pytest.approx(expected[1], abs=1e-12)
