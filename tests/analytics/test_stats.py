"""analytics/stats.py checked against reference implementations on fixed data.

References (dev-only): statsmodels (t and Wilson intervals, OLS, BH, linear-by-linear test),
pingouin (Cronbach's alpha), pymannkendall (Sen's slope), scipy distributions used directly
(hypergeometric, beta-binomial likelihood), and brute-force enumeration written here.
"""

from __future__ import annotations

import ast
import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pingouin
import pymannkendall
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize
from scipy import stats as scipy_stats
from statsmodels.api import OLS, add_constant
from statsmodels.stats.contingency_tables import Table
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.weightstats import DescrStatsW

from analytics.stats import change as change_tests
from analytics.stats import estimates, robust, shrinkage
from tests.analytics import reference_stats as stats
from tests.analytics.reference_stats import (
    PASSENGER_HIGH_AGENCY_LOW_OPTIMISM,
    PASSENGER_LOW_AGENCY_HIGH_OPTIMISM,
    PASSENGER_LOW_AGENCY_LOW_OPTIMISM,
    PILOT,
)

# Psychological-safety answers of 8 respondents, with skips (NaN), in instrument order.
PS_ITEMS = ["ps1", "ps2", "ps3", "ps4", "ps5", "ps6", "ps7"]
PS_REVERSED = {"ps1", "ps3", "ps5"}
PS_ANSWERS = pd.DataFrame(
    [
        [2, 6, 1, 5, 2, 6, 7],
        [7, 1, 6, 2, 7, 3, 1],
        [4, 4, 4, 4, 4, 4, 4],
        [1, 7, np.nan, 7, np.nan, np.nan, 6],  # 4 of 7 answered: scored
        [np.nan, 5, np.nan, np.nan, 3, np.nan, 6],  # 3 of 7 answered: below half, NaN
        [3, 5, 2, 6, 1, 5, 5],
        [5, 3, 5, 3, 6, 2, 4],
        [np.nan] * 7,
    ],
    columns=PS_ITEMS,
    index=[f"r{i}" for i in range(8)],
)

SCORES = np.array([5.1, 4.3, 6.0, 3.9, 5.5, 4.8, 6.4, 2.9, 5.0, 4.4, np.nan, 5.7])


@pytest.mark.parametrize("module", [change_tests, estimates, shrinkage])
def test_statistics_modules_import_no_dev_only_reference(module):
    """The runtime statistics use numpy and scipy only (plus the standard library): never the
    dev-only references (statsmodels, pingouin, pymannkendall) they are checked against.
    import-linter separately keeps Django out of every pure package."""
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= {"__future__", "math", "collections", "dataclasses", "typing", "numpy", "scipy"}


# --- Scores -----------------------------------------------------------------------------------


def test_reverse_code_mirrors_the_scale_and_keeps_nan():
    np.testing.assert_array_equal(stats.reverse_code([1, 4, 7, np.nan]), [7, 4, 1, np.nan])
    np.testing.assert_array_equal(stats.reverse_code([1, 3, 5], scale_max=5), [5, 3, 1])


def test_reverse_code_refuses_values_off_the_scale():
    with pytest.raises(ValueError, match="1..5"):
        stats.reverse_code([1, 7], scale_max=5)


def test_construct_scores_match_a_hand_computation():
    scores = stats.construct_scores(PS_ANSWERS, constructs={"ps": PS_ITEMS}, reverse_keys=PS_REVERSED)
    expected = []
    for _, row in PS_ANSWERS.iterrows():
        coded = [8 - row[key] if key in PS_REVERSED else row[key] for key in PS_ITEMS]
        answered = [value for value in coded if not math.isnan(value)]
        expected.append(sum(answered) / len(answered) if len(answered) >= 3.5 else math.nan)
    assert list(scores.index) == list(PS_ANSWERS.index)
    np.testing.assert_allclose(scores["ps"].to_numpy(), expected)
    assert scores.loc["r0", "ps"] == pytest.approx((6 + 6 + 7 + 5 + 6 + 6 + 7) / 7)  # ps1, ps3, ps5 reversed
    assert scores.loc["r3", "ps"] == pytest.approx((7 + 7 + 7 + 6) / 4)
    assert math.isnan(scores.loc["r4", "ps"])
    assert math.isnan(scores.loc["r7", "ps"])


def test_construct_scores_reverse_by_key_not_by_column_position():
    shuffled = PS_ANSWERS[["ps7", "ps3", "ps1", "ps6", "ps2", "ps5", "ps4"]]
    constructs = {"ps": PS_ITEMS}
    pd.testing.assert_frame_equal(
        stats.construct_scores(shuffled, constructs=constructs, reverse_keys=PS_REVERSED),
        stats.construct_scores(PS_ANSWERS, constructs=constructs, reverse_keys=PS_REVERSED),
    )


def test_construct_scores_several_constructs_and_thresholds():
    answers = pd.DataFrame(
        {
            "ag1": [7, 6, np.nan],
            "ag2": [6, np.nan, np.nan],
            "ag3": [5, np.nan, 4],
            "ag4": [1, 2, np.nan],
            "op1": [6, np.nan, 3],
            "op2": [np.nan, np.nan, 2],
        }
    )
    scores = stats.construct_scores(
        answers,
        constructs={"agency": ["ag1", "ag2", "ag3", "ag4"], "optimism": ["op1", "op2"]},
        reverse_keys={"ag4"},
    )
    assert list(scores.columns) == ["agency", "optimism"]
    np.testing.assert_allclose(scores["agency"], [(7 + 6 + 5 + 7) / 4, (6 + 6) / 2, np.nan])
    np.testing.assert_allclose(scores["optimism"], [6, np.nan, 2.5])
    strict = stats.construct_scores(
        answers, constructs={"agency": ["ag1", "ag2", "ag3", "ag4"]}, reverse_keys={"ag4"}, min_items_fraction=1.0
    )
    np.testing.assert_allclose(strict["agency"], [6.25, np.nan, np.nan])


def test_construct_scores_names_the_missing_item():
    with pytest.raises(KeyError, match="ps8"):
        stats.construct_scores(PS_ANSWERS, constructs={"ps": [*PS_ITEMS, "ps8"]}, reverse_keys=PS_REVERSED)


def test_favourable_share_and_0_100():
    assert stats.favourable_share([5, 4, 7, np.nan, 2, 6]) == pytest.approx(3 / 5)
    assert math.isnan(stats.favourable_share([np.nan]))
    assert stats.favourable_share([4, 5, 3], threshold=4) == pytest.approx(2 / 3)  # % trust on 1..5
    assert stats.to_0_100(1) == 0
    assert stats.to_0_100(4) == 50
    assert stats.to_0_100(7) == 100
    assert stats.to_0_100(4, scale_min=1, scale_max=5) == 75


def test_three_bins_on_seven_and_five_point_scales():
    assert stats.three_bins([1, 2, 3, 4, 4, 5, 6, 7, 7, np.nan]) == stats.ThreeBins(3, 2, 4)
    assert stats.three_bins([1, 2, 3, 3, 4, 5, np.nan], scale_max=5) == stats.ThreeBins(2, 2, 2)
    assert stats.three_bins([]).n == 0
    # A reverse-keyed item is binned after reverse-coding: "7 = it is held against you" is unfavourable.
    assert stats.three_bins(stats.reverse_code([7, 6, 1])) == stats.ThreeBins(2, 0, 1)
    with pytest.raises(ValueError):
        stats.three_bins([6], scale_max=5)


# --- Intervals --------------------------------------------------------------------------------


@pytest.mark.parametrize("confidence", [0.90, 0.95, 0.99])
def test_mean_interval_matches_statsmodels_and_scipy(confidence):
    result = stats.mean_interval(SCORES, confidence)
    answered = SCORES[~np.isnan(SCORES)]
    low, high = DescrStatsW(answered).tconfint_mean(alpha=1 - confidence)
    scipy_low, scipy_high = scipy_stats.t.interval(
        confidence, df=answered.size - 1, loc=answered.mean(), scale=scipy_stats.sem(answered)
    )
    assert result.n == 11
    assert result.value == pytest.approx(answered.mean())
    assert (result.low, result.high) == pytest.approx((low, high), rel=1e-12)
    assert (result.low, result.high) == pytest.approx((scipy_low, scipy_high), rel=1e-12)


def test_mean_interval_small_samples():
    one = stats.mean_interval([4.0, np.nan])
    assert (one.n, one.value) == (1, 4.0)
    assert math.isnan(one.low) and math.isnan(one.high)
    none = stats.mean_interval([np.nan])
    assert none.n == 0 and math.isnan(none.value)


def test_geometric_mean_interval_is_the_back_transformed_log_interval():
    ratios = np.array([0.5, 0.75, 0.9, 1.0, 1.1, 0.75, 0.33, 1.25, np.nan])
    result = stats.geometric_mean_interval(ratios)
    logs = np.log(ratios[~np.isnan(ratios)])
    low, high = DescrStatsW(logs).tconfint_mean(alpha=0.05)
    assert result.n == 8
    assert result.value == pytest.approx(scipy_stats.gmean(ratios[~np.isnan(ratios)]))
    assert (result.low, result.high) == pytest.approx((math.exp(low), math.exp(high)))
    assert result.low < result.value < result.high
    with pytest.raises(ValueError):
        stats.geometric_mean_interval([0.5, 0.0])


@pytest.mark.parametrize(
    ("ratio", "words"),
    [
        (0.33, "felt 67% less time"),
        (0.5, "felt 50% less time"),
        (0.75, "felt 25% less time"),
        (0.8, "felt 20% less time"),
        (0.9, "felt 10% less time"),
        (0.975, "felt about the same time"),
        (1.0, "felt about the same time"),
        (1.02, "felt about the same time"),
        (1.025, "felt about the same time"),
        (1.03, "felt 3% more time"),
        (1.1, "felt 10% more time"),
        (1.19, "felt 19% more time"),
        (1.5, "felt 50% more time"),
    ],
)
def test_time_ratio_in_words(ratio, words):
    assert estimates.time_ratio_in_words(ratio) == words


def test_time_ratio_in_words_refuses_nonsense():
    for bad in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError):
            estimates.time_ratio_in_words(bad)


@pytest.mark.parametrize(("successes", "n"), [(0, 1), (0, 8), (1, 8), (3, 8), (8, 8), (28, 100), (5, 13), (40, 40)])
@pytest.mark.parametrize("confidence", [0.90, 0.95])
def test_wilson_interval_matches_statsmodels(successes, n, confidence):
    result = stats.wilson_interval(successes, n, confidence)
    low, high = proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
    assert result.value == pytest.approx(successes / n)
    assert result.low == pytest.approx(low, abs=1e-12)
    assert result.high == pytest.approx(high, abs=1e-12)
    assert 0 <= result.low <= result.value <= result.high <= 1


def test_wilson_interval_edge_cases():
    empty = stats.wilson_interval(0, 0)
    assert empty.n == 0 and math.isnan(empty.low)
    with pytest.raises(ValueError):
        stats.wilson_interval(5, 4)


# --- Empirical Bayes --------------------------------------------------------------------------

PILOTS = np.array([1, 2, 5, 0, 6, 12, 3, 30, 9, 4])
AI_USERS = np.array([8, 6, 9, 5, 10, 40, 12, 60, 15, 7])


def moment_rho_by_definition(x: np.ndarray, n: np.ndarray) -> float:
    """Solve E[S](rho) = S with E[S] written out from the beta-binomial variances, not the closed form.

    Var(p_i) = pi(1-pi)(1 + (n_i-1) rho)/n_i; p_bar = sum n_i p_i / N; and for n-weighted squares
    E sum n_i (p_i - p_bar)^2 = sum n_i Var(p_i) - N Var(p_bar), with pi(1-pi) estimated by p_bar(1-p_bar).
    """
    total = n.sum()
    p_bar = x.sum() / total
    noise = p_bar * (1 - p_bar)
    observed_s = np.sum(n * (x / n - p_bar) ** 2)

    def expected_s(rho: float) -> float:
        var_p = [noise * (1 + (n_i - 1) * rho) / n_i for n_i in n]
        var_p_bar = sum(n_i**2 * v for n_i, v in zip(n, var_p, strict=True)) / total**2
        return sum(n_i * v for n_i, v in zip(n, var_p, strict=True)) - total * var_p_bar

    return optimize.brentq(lambda rho: expected_s(rho) - observed_s, -0.5, 50)


def test_shrinkage_moment_estimator_matches_the_definition():
    result = shrinkage.beta_binomial_shrinkage(PILOTS, AI_USERS)
    rho = moment_rho_by_definition(PILOTS.astype(float), AI_USERS.astype(float))
    assert 0 < rho < 1
    strength = result.alpha + result.beta
    assert 1 / (strength + 1) == pytest.approx(rho, rel=1e-9)
    assert result.prior_mean == pytest.approx(PILOTS.sum() / AI_USERS.sum())
    np.testing.assert_allclose(result.estimates, (PILOTS + result.alpha) / (AI_USERS + strength))


def test_shrinkage_lies_between_raw_and_pooled():
    result = shrinkage.beta_binomial_shrinkage(PILOTS, AI_USERS)
    raw = PILOTS / AI_USERS
    pooled = PILOTS.sum() / AI_USERS.sum()
    low, high = np.minimum(raw, pooled), np.maximum(raw, pooled)
    assert np.all((low - 1e-12 <= result.estimates) & (result.estimates <= high + 1e-12))
    # Strictly shrunk: the prior is finite and no unit sits exactly on the pooled proportion.
    assert np.all(np.abs(result.estimates - pooled) < np.abs(raw - pooled))


def test_bigger_units_shrink_less():
    result = shrinkage.beta_binomial_shrinkage([2, 20, 5, 1, 9], [4, 40, 7, 6, 10])
    small, large = result.estimates[:2]  # both 50% raw
    pooled = result.prior_mean
    assert abs(large - 0.5) < abs(small - 0.5)
    assert abs(large - pooled) > abs(small - pooled)


def test_identical_units_get_the_pooled_proportion():
    result = shrinkage.beta_binomial_shrinkage([3, 3, 3, 3], [10, 10, 10, 10])
    np.testing.assert_allclose(result.estimates, 0.3)
    assert result.alpha + result.beta == shrinkage.MAX_PRIOR_STRENGTH


def test_less_variation_than_binomial_noise_pools_fully():
    # Raw 40%, 50%, 45%, 55% on 20 each: far less spread than 20-trial binomial noise gives.
    result = shrinkage.beta_binomial_shrinkage([8, 10, 9, 11], [20, 20, 20, 20])
    np.testing.assert_allclose(result.estimates, 38 / 80, atol=1e-4)


def test_shrinkage_edge_cases():
    # A unit without AI users gets the prior mean; all-zero data stays at zero.
    with_empty = shrinkage.beta_binomial_shrinkage([1, 5, 0], [10, 10, 0])
    assert with_empty.estimates[2] == pytest.approx(with_empty.prior_mean)
    np.testing.assert_allclose(shrinkage.beta_binomial_shrinkage([0, 0, 0], [5, 8, 3]).estimates, 0)
    # One unit: nothing to compare with, its own proportion is the pooled one.
    np.testing.assert_allclose(shrinkage.beta_binomial_shrinkage([3], [8]).estimates, 3 / 8)
    # Complete separation (every unit 0% or 100%): the prior has next to no weight.
    separated = shrinkage.beta_binomial_shrinkage([0, 10, 0, 10], [10, 10, 10, 10])
    np.testing.assert_allclose(separated.estimates, [0, 1, 0, 1], atol=1e-6)
    with pytest.raises(ValueError):
        shrinkage.beta_binomial_shrinkage([3], [2])
    with pytest.raises(ValueError):
        shrinkage.beta_binomial_shrinkage([0], [0])


def test_shrinkage_prior_agrees_with_a_maximum_likelihood_fit_on_a_large_sample():
    rng = np.random.default_rng(20250601)
    true_alpha, true_beta = 3.0, 7.0  # mean 0.30, rho = 1/11
    trials = rng.integers(5, 41, size=3000)
    successes = rng.binomial(trials, rng.beta(true_alpha, true_beta, size=trials.size))

    def negative_log_likelihood(log_params: np.ndarray) -> float:
        a, b = np.exp(log_params)
        return -float(np.sum(scipy_stats.betabinom.logpmf(successes, trials, a, b)))

    fit = optimize.minimize(negative_log_likelihood, x0=np.log([1.0, 1.0]), method="Nelder-Mead")
    ml_alpha, ml_beta = np.exp(fit.x)
    result = shrinkage.beta_binomial_shrinkage(successes, trials)
    print(
        f"\nbeta prior, true / ML / moments: mean {0.3:.3f} / {ml_alpha / (ml_alpha + ml_beta):.3f} / "
        f"{result.prior_mean:.3f}; rho {1 / 11:.4f} / {1 / (ml_alpha + ml_beta + 1):.4f} / "
        f"{1 / (result.alpha + result.beta + 1):.4f}"
    )
    assert fit.success
    assert result.prior_mean == pytest.approx(ml_alpha / (ml_alpha + ml_beta), abs=0.01)
    assert 1 / (result.alpha + result.beta + 1) == pytest.approx(1 / (ml_alpha + ml_beta + 1), abs=0.015)
    assert 1 / (result.alpha + result.beta + 1) == pytest.approx(1 / 11, abs=0.02)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.integers(min_value=1, max_value=60).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
        min_size=1,
        max_size=30,
    )
)
def test_shrinkage_always_between_raw_and_pooled(units):
    successes = np.array([x for x, _ in units])
    trials = np.array([n for _, n in units])
    result = shrinkage.beta_binomial_shrinkage(successes, trials)
    raw = successes / trials
    pooled = successes.sum() / trials.sum()
    assert result.prior_mean == pytest.approx(pooled)
    assert np.all(np.minimum(raw, pooled) - 1e-9 <= result.estimates)
    assert np.all(result.estimates <= np.maximum(raw, pooled) + 1e-9)


# --- Trend and shift tests --------------------------------------------------------------------

CYCLE = np.repeat(np.arange(6), 5).astype(float)
TREND_SCORES = np.array(
    [
        *[5.9, 6.1, 5.0, 4.6, 6.3],
        *[5.7, 5.3, 6.0, 4.1, 5.4],
        *[5.4, 5.9, 4.3, 5.0, 5.6],
        *[4.7, 5.6, 4.4, 5.3, 4.0],
        *[5.1, 4.3, 4.6, 3.9, 5.4],
        *[4.0, 4.9, 4.4, 3.6, 5.0],
    ]
)


def statsmodels_one_sided(x, y, alternative):
    fit = OLS(y, add_constant(x)).fit()
    slope, t, two_sided = fit.params[1], fit.tvalues[1], fit.pvalues[1]
    if alternative == "two-sided":
        return slope, fit.bse[1], two_sided
    in_direction = t < 0 if alternative == "less" else t > 0
    return slope, fit.bse[1], two_sided / 2 if in_direction else 1 - two_sided / 2


@pytest.mark.parametrize("alternative", ["less", "greater", "two-sided"])
def test_ols_slope_test_matches_statsmodels(alternative):
    result = stats.ols_slope_test(CYCLE, TREND_SCORES, alternative=alternative)
    slope, stderr, p_value = statsmodels_one_sided(CYCLE, TREND_SCORES, alternative)
    assert result is not None
    assert result.n == 30
    assert result.slope == pytest.approx(slope, rel=1e-10)
    assert result.stderr == pytest.approx(stderr, rel=1e-10)
    assert result.p_value == pytest.approx(p_value, rel=1e-8)


def test_ols_slope_test_drops_nan_and_handles_unestimable_slopes():
    with_gaps = stats.ols_slope_test([*CYCLE, 6, np.nan], [*TREND_SCORES, np.nan, 3.0], alternative="less")
    assert with_gaps == stats.ols_slope_test(CYCLE, TREND_SCORES, alternative="less")
    assert stats.ols_slope_test([0, 1], [5, 4], alternative="less") is None
    assert stats.ols_slope_test([2, 2, 2, 2], [5, 4, 3, 6], alternative="less") is None
    # Nobody moved: no evidence of change, and no rounding-noise p-value.
    flat = stats.ols_slope_test(CYCLE, np.full(CYCLE.size, 30 / 7), alternative="less")
    assert flat == stats.SlopeTest(n=30, slope=0.0, stderr=0.0, p_value=1.0)


def test_theil_sen_slope_matches_pymannkendall_on_equally_spaced_data():
    means = np.array([5.6, 5.3, 5.4, 4.8, 4.7, 4.4])
    expected = pymannkendall.sens_slope(means).slope
    assert robust.theil_sen_slope(np.arange(6), means) == pytest.approx(expected)
    pairwise = [(means[j] - means[i]) / (j - i) for i, j in itertools.combinations(range(6), 2)]
    assert robust.theil_sen_slope(np.arange(6), means) == pytest.approx(np.median(pairwise))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_theil_sen_slope_equals_scipys_on_unsorted_x_with_ties(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 8, 12).astype(float)
    y = rng.normal(5, 1, 12)
    assert robust.theil_sen_slope(x, y) == pytest.approx(scipy_stats.theilslopes(y, x).slope, rel=1e-12)


def test_theil_sen_slope_with_gaps():
    assert robust.theil_sen_slope([0, 1, 2, 3], [4.0, np.nan, 3.0, 2.5]) == pytest.approx(
        np.median([(3.0 - 4.0) / 2, (2.5 - 4.0) / 3, (2.5 - 3.0) / 1])
    )
    assert math.isnan(robust.theil_sen_slope([1, 1], [3.0, 4.0]))


def brute_force_permutation_p(latest, previous, alternative):
    """Exact p by enumerating every way to choose which pooled answers are 'latest'."""
    pooled = np.concatenate([latest, previous])
    observed = np.mean(latest) - np.mean(previous)
    differences = []
    for chosen in itertools.combinations(range(pooled.size), len(latest)):
        mask = np.zeros(pooled.size, dtype=bool)
        mask[list(chosen)] = True
        differences.append(pooled[mask].mean() - pooled[~mask].mean())
    differences = np.array(differences)
    tolerance = 1e-9
    p_less = np.mean(differences <= observed + tolerance)
    p_greater = np.mean(differences >= observed - tolerance)
    return {"less": p_less, "greater": p_greater, "two-sided": min(1.0, 2 * min(p_less, p_greater))}[alternative]


@pytest.mark.parametrize("alternative", ["less", "greater", "two-sided"])
@pytest.mark.parametrize(
    ("latest", "previous"),
    [
        ([3.0, 4.0, 2.5], [5.0, 4.5, 6.0, 5.5]),
        ([4.0, 5.0, 4.0, 3.0], [5.0, 4.0, 6.0, 5.0, 4.0, 6.0]),  # ties
        ([6.0], [2.0, 3.0, 4.0, 5.0, 6.5]),
        ([1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0, 7.0]),  # no overlap: the sharpest drop
    ],
)
def test_shift_permutation_test_is_exact_on_tiny_samples(latest, previous, alternative):
    p_value = robust.shift_permutation_test(latest, previous, alternative=alternative, random_state=1)
    assert p_value == pytest.approx(brute_force_permutation_p(latest, previous, alternative))


def test_shift_permutation_test_monte_carlo_is_close_to_exact_and_reproducible():
    rng = np.random.default_rng(7)
    latest = np.round(rng.normal(4.6, 1.0, size=8), 1)
    previous = np.round(rng.normal(5.2, 1.0, size=10), 1)  # C(18, 8) = 43,758 splits > 9,999
    exact = brute_force_permutation_p(latest, previous, "less")
    first = robust.shift_permutation_test(latest, previous, alternative="less", random_state=123)
    again = robust.shift_permutation_test(latest, previous, alternative="less", random_state=123)
    print(f"\npermutation p: exact {exact:.4f}, Monte Carlo (9,999 resamples) {first:.4f}")
    assert first == again
    assert first == pytest.approx(exact, abs=0.015)


def test_sequential_permutation_stops_early_yet_agrees_with_the_exact_p():
    rng = np.random.default_rng(7)
    latest = np.round(rng.normal(4.9, 1.0, size=8), 1)
    previous = np.round(rng.normal(5.2, 1.0, size=10), 1)
    exact = brute_force_permutation_p(latest, previous, "less")
    sequential = robust.shift_permutation_test(latest, previous, alternative="less", random_state=3, stop_after_hits=50)
    assert 0.05 < exact and sequential == pytest.approx(exact, abs=0.06)
    # A sharp drop never reaches 50 hits: all 9,999 draws are used and p is as small as without
    # stopping (one split in C(18, 8) = 43,758 is as extreme, so a hit or two may occur).
    drop = robust.shift_permutation_test(latest - 3, previous, alternative="less", random_state=3, stop_after_hits=50)
    assert drop <= 3 / 10_000


def test_shift_permutation_test_needs_both_samples():
    assert math.isnan(robust.shift_permutation_test([], [4.0, 5.0], alternative="less", random_state=0))
    assert math.isnan(robust.shift_permutation_test([4.0, np.nan], [np.nan], alternative="less", random_state=0))


@pytest.mark.parametrize(
    ("a_success", "a_n", "b_success", "b_n"), [(2, 10, 14, 24), (3, 4, 1, 4), (0, 6, 9, 20), (5, 5, 3, 15)]
)
def test_fisher_exact_test_matches_the_hypergeometric_tails(a_success, a_n, b_success, b_n):
    # Given the margins, a_success ~ Hypergeom(population a_n + b_n, successes a_s + b_s, draws a_n).
    null = scipy_stats.hypergeom(a_n + b_n, a_success + b_success, a_n)
    lower = stats.fisher_exact_test(a_success, a_n, b_success, b_n, alternative="less")
    upper = stats.fisher_exact_test(a_success, a_n, b_success, b_n, alternative="greater")
    assert lower.p_value == pytest.approx(null.cdf(a_success))
    assert upper.p_value == pytest.approx(null.sf(a_success - 1))


def test_fisher_exact_test_on_fishers_tea_tasting():
    # Fisher (1935): 3 of 4 cups right; one-sided p = 17/70.
    result = stats.fisher_exact_test(3, 4, 1, 4, alternative="greater")
    assert result.p_value == pytest.approx(17 / 70)
    assert result.odds_ratio == pytest.approx(9.0)


def cochran_armitage_by_hand(successes, totals, scores):
    """Armitage (1955) as printed in Agresti, Categorical Data Analysis, sec. 5.3.5 (binomial variance)."""
    x, n, s = (np.asarray(v, dtype=float) for v in (successes, totals, scores))
    big_n = n.sum()
    p = x.sum() / big_n
    s_bar = (n * s).sum() / big_n
    return (x * (s - s_bar)).sum() / math.sqrt(p * (1 - p) * (n * (s - s_bar) ** 2).sum())


SMOKERS = [83, 90, 129, 70]
PATIENTS = [86, 93, 136, 82]


def test_cochran_armitage_reproduces_rs_prop_trend_test_example():
    # R's ?prop.trend.test example: X-squared = 8.2249, df = 1, p-value = 0.004132.
    result = stats.cochran_armitage_trend(SMOKERS, PATIENTS, alternative="two-sided")
    assert result is not None
    assert result.z**2 == pytest.approx(8.2249, abs=5e-5)
    assert result.p_value == pytest.approx(0.004132, abs=5e-7)
    assert result.z < 0  # the proportion of smokers falls in the last group


@pytest.mark.parametrize(
    ("successes", "totals", "scores"),
    [
        (SMOKERS, PATIENTS, None),
        ([3, 4, 2, 2, 1, 1], [8, 8, 7, 8, 6, 8], None),
        ([5, 6, 9, 12], [20, 18, 22, 21], [1, 2, 4, 8]),
    ],
)
@pytest.mark.parametrize("alternative", ["less", "greater", "two-sided"])
def test_cochran_armitage_matches_hand_formula_and_statsmodels(successes, totals, scores, alternative):
    result = stats.cochran_armitage_trend(successes, totals, scores=scores, alternative=alternative)
    score_values = np.arange(len(successes)) if scores is None else np.asarray(scores, dtype=float)
    z = cochran_armitage_by_hand(successes, totals, score_values)
    assert result is not None
    assert result.z == pytest.approx(z, rel=1e-12)
    expected_p = {
        "less": scipy_stats.norm.cdf(z),
        "greater": scipy_stats.norm.sf(z),
        "two-sided": 2 * scipy_stats.norm.sf(abs(z)),
    }[alternative]
    assert result.p_value == pytest.approx(expected_p, rel=1e-10)

    # statsmodels' linear-by-linear test uses the permutation variance (denominator N - 1), so its
    # z is ours times sqrt((N - 1) / N). Rows: success then failure, scored so z > 0 = rising.
    table = np.vstack([successes, np.subtract(totals, successes)])
    reference = Table(table).test_ordinal_association(row_scores=np.array([1, 0]), col_scores=score_values)
    total = sum(totals)
    assert result.z * math.sqrt((total - 1) / total) == pytest.approx(reference.zscore, rel=1e-10)


def test_cochran_armitage_degenerate_inputs():
    assert stats.cochran_armitage_trend([3, 0], [5, 0], alternative="less") is None
    assert stats.cochran_armitage_trend([0, 0, 0], [4, 5, 6], alternative="less") == stats.TrendTest(0.0, 1.0)
    with pytest.raises(ValueError):
        stats.cochran_armitage_trend([1, 2], [3], alternative="less")


# --- Multiple testing -------------------------------------------------------------------------


@pytest.mark.parametrize("q", [0.05, 0.10, 0.25])
def test_benjamini_hochberg_matches_statsmodels_and_ignores_nan(q):
    rng = np.random.default_rng(3)
    p_values = np.concatenate([rng.uniform(0, 1, 30), rng.uniform(0, 0.01, 8), [np.nan] * 5, [0.0, 1.0]])
    rng.shuffle(p_values)
    rejected, adjusted = robust.benjamini_hochberg(p_values, q=q)
    tested = ~np.isnan(p_values)
    reference_rejected, reference_adjusted, _, _ = multipletests(p_values[tested], alpha=q, method="fdr_bh")
    np.testing.assert_array_equal(rejected[tested], reference_rejected)
    np.testing.assert_allclose(adjusted[tested], reference_adjusted, rtol=1e-12)
    assert not rejected[~tested].any()
    assert np.isnan(adjusted[~tested]).all()
    assert rejected.any() and not rejected.all()


def test_benjamini_hochberg_step_up_and_boundaries():
    # Only the 4th smallest is under its line (4 * 0.1 / 5 = 0.08), so the step-up rejects all four.
    rejected, adjusted = robust.benjamini_hochberg([0.021, 0.07, 0.071, 0.08, 0.9], q=0.10)
    np.testing.assert_array_equal(rejected, [True, True, True, True, False])
    np.testing.assert_allclose(adjusted, [0.1, 0.1, 0.1, 0.1, 0.9])
    assert multipletests([0.021, 0.07, 0.071, 0.08, 0.9], alpha=0.10, method="fdr_bh")[0].tolist() == rejected.tolist()
    none, none_adjusted = robust.benjamini_hochberg([np.nan, np.nan])
    assert not none.any() and np.isnan(none_adjusted).all()
    with pytest.raises(ValueError):
        robust.benjamini_hochberg([0.5, 1.5])


# --- Reliability ------------------------------------------------------------------------------


def correlated_items(rng: np.random.Generator, respondents: int, items: int = 7) -> pd.DataFrame:
    trait = rng.normal(0, 1, size=(respondents, 1))
    answers = np.clip(np.round(4.5 + trait + rng.normal(0, 1.0, size=(respondents, items))), 1, 7)
    return pd.DataFrame(answers, columns=[f"i{j}" for j in range(items)])


def test_cronbach_alpha_matches_pingouin_listwise():
    rng = np.random.default_rng(11)
    items = correlated_items(rng, 120)
    items = items.mask(rng.uniform(size=items.shape) < 0.04)  # scattered skips
    expected, _ = pingouin.cronbach_alpha(data=items, nan_policy="listwise")
    result = stats.cronbach_alpha(items)
    assert result is not None
    assert result == pytest.approx(expected, rel=1e-12)
    assert 0.6 < result < 0.95


def test_cronbach_alpha_needs_enough_complete_respondents():
    rng = np.random.default_rng(12)
    items = correlated_items(rng, 31)
    assert stats.cronbach_alpha(items) is not None
    items.iloc[0, 0] = np.nan  # 30 complete cases left
    assert stats.cronbach_alpha(items) is not None
    items.iloc[1, 3] = np.nan  # 29
    assert stats.cronbach_alpha(items) is None
    assert stats.cronbach_alpha(items, min_respondents=10) == pytest.approx(
        pingouin.cronbach_alpha(data=items, nan_policy="listwise")[0]
    )
    assert stats.cronbach_alpha(pd.DataFrame({"a": [4.0] * 40, "b": [4.0] * 40})) is None


# --- Pilots and Passengers --------------------------------------------------------------------


def test_usage_modes_quadrants_and_missing():
    agency = pd.Series([5.0, 6.5, 4.75, 3.0, np.nan, 5.0, 7.0], index=list("abcdefg"))
    optimism = [5.0, 4.5, 6.0, 2.0, 6.0, np.nan, 4.99]
    modes = stats.usage_modes(agency, optimism)
    assert list(modes.index) == list("abcdefg")
    assert modes.tolist()[:4] == [
        PILOT,  # exactly on the cut-off counts as high
        PASSENGER_HIGH_AGENCY_LOW_OPTIMISM,
        PASSENGER_LOW_AGENCY_HIGH_OPTIMISM,
        PASSENGER_LOW_AGENCY_LOW_OPTIMISM,
    ]
    assert modes.isna().tolist() == [False, False, False, False, True, True, False]
    assert modes["g"] == PASSENGER_HIGH_AGENCY_LOW_OPTIMISM
    assert modes.value_counts().reindex(stats.USAGE_MODES).tolist() == [1, 2, 1, 1]
    assert stats.pilot_ratio(modes) == (1, 5)
    assert stats.usage_modes([4.5], [4.5], cutoff=4.5).tolist() == [PILOT]


def test_pilot_ratio_of_nobody():
    assert stats.pilot_ratio(stats.usage_modes([np.nan], [np.nan])) == stats.PilotCount(pilots=0, ai_users=0)


# --- Simulation and the trend flag's power ----------------------------------------------------


def test_simulate_team_scores_shape_and_range():
    team = stats.simulate_team_scores(np.random.default_rng(1), team_size=8, cycles=6, drop_per_cycle=0.2)
    assert list(team.columns) == ["cycle", "score"]
    assert len(team) == 48
    assert team["cycle"].value_counts().tolist() == [8] * 6
    assert team["score"].between(1, 7).all()
    # Stable person effects: the same person's scores correlate across cycles.
    people = np.random.default_rng(2)
    big = stats.simulate_team_scores(people, team_size=400, cycles=2, noise_sd=0.5)
    first, second = big["score"].to_numpy().reshape(2, 400)
    assert np.corrcoef(first, second)[0, 1] > 0.5


def trend_flag_rate(rng: np.random.Generator, *, teams: int, drop_over_six: float, alpha: float) -> float:
    caught = 0
    for _ in range(teams):
        team = stats.simulate_team_scores(rng, team_size=8, cycles=6, drop_per_cycle=drop_over_six / 5)
        result = stats.ols_slope_test(team["cycle"], team["score"], alternative="less")
        assert result is not None
        caught += result.p_value < alpha
    return caught / teams


def test_trend_test_power_and_false_alarms_on_simulated_teams():
    """PRODUCT.md "Trend": a team of 8 falling 1.0 point over 6 cycles is caught about 85% of the time."""
    rng = np.random.default_rng(20250612)
    power = trend_flag_rate(rng, teams=400, drop_over_six=1.0, alpha=0.05)
    false_alarms = trend_flag_rate(rng, teams=400, drop_over_six=0.0, alpha=0.05)
    strict_power = trend_flag_rate(rng, teams=400, drop_over_six=1.5, alpha=0.05 / 40)
    print(
        f"\nOLS slope test, teams of 8 over 6 cycles, one-sided: 1.0-point fall caught {power:.1%} at alpha .05; "
        f"no change flagged {false_alarms:.1%}; 1.5-point fall caught {strict_power:.1%} at p < .00125"
    )
    assert 0.70 <= power <= 0.95
    assert false_alarms <= 0.07


def test_one_sided_fisher_equals_scipy_on_many_random_tables():
    """The one-sided p is summed from log-probabilities for speed; scipy is the reference."""
    rng = np.random.default_rng(3)
    for _ in range(400):
        a_n, b_n = int(rng.integers(0, 60)), int(rng.integers(0, 200))
        a, b = int(rng.integers(0, a_n + 1)), int(rng.integers(0, b_n + 1))
        for alternative in ("less", "greater"):
            ours = stats.fisher_exact_test(a, a_n, b, b_n, alternative=alternative)
            odds_ratio, p_value = scipy_stats.fisher_exact([[a, a_n - a], [b, b_n - b]], alternative=alternative)
            assert ours.p_value == pytest.approx(p_value, abs=1e-11)
            assert ours.odds_ratio == pytest.approx(odds_ratio, nan_ok=True)
