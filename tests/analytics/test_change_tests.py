"""Tests of change from stored sums, for many units at once: each must equal the same test run on
the raw scores by a reference implementation (statsmodels, scipy), unit by unit; and the flag
core's questions must be those tests asked of the right cells."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats
from statsmodels.api import OLS, add_constant

from analytics.flags.questions import (
    SHIFT_FISHER,
    SHIFT_PERMUTATION,
    TREND_CA,
    TREND_OLS,
    CycleCell,
    change_questions,
    history_frame,
)
from analytics.stats import change as change_tests
from tests.analytics import reference_stats as stats

FIRST_INDEX = 24300  # months since year 0, as the job stores a cycle's index


def falling_history(rng: np.random.Generator, *, drop_per_cycle: float, cycles: int = 6) -> list[np.ndarray]:
    """Construct scores (means of seven 1-7 items) of a team of 5-9 respondents, cycle by cycle."""
    return [
        np.clip(np.round(rng.normal(5.4 - drop_per_cycle * cycle, 1.0, size=rng.integers(5, 10)) * 7) / 7, 1, 7)
        for cycle in range(cycles)
    ]


def sums_of(histories: list[list[np.ndarray]]) -> dict[str, np.ndarray]:
    """The per-unit sums ols_trend takes, cycles counted from 0."""
    columns: dict[str, list[float]] = {name: [] for name in ("n", "sum_x", "sum_xx", "sum_y", "sum_yy", "sum_xy")}
    for history in histories:
        x = np.concatenate([np.full(len(scores), float(cycle)) for cycle, scores in enumerate(history)])
        y = np.concatenate(history)
        for name, value in zip(
            columns, (len(y), x.sum(), (x * x).sum(), y.sum(), (y * y).sum(), (x * y).sum()), strict=True
        ):
            columns[name].append(float(value))
    return {name: np.array(values) for name, values in columns.items()}


@pytest.mark.parametrize("alternative", ["less", "greater"])
def test_ols_trend_equals_the_fit_on_individual_scores_for_every_unit(alternative):
    rng = np.random.default_rng(11)
    histories = [falling_history(rng, drop_per_cycle=drop) for drop in rng.uniform(-0.2, 0.3, 40)]
    fits = change_tests.ols_trend(**sums_of(histories), alternative=alternative)
    for unit, history in enumerate(histories):
        x = np.concatenate([np.full(len(s), FIRST_INDEX + cycle) for cycle, s in enumerate(history)])
        y = np.concatenate(history)
        reference = OLS(y, add_constant(x - x.mean())).fit()
        one_sided = reference.pvalues[1] / 2
        expected_p = one_sided if (reference.params[1] < 0) == (alternative == "less") else 1 - one_sided
        assert fits.slope[unit] == pytest.approx(reference.params[1], rel=1e-9)
        assert fits.stderr[unit] == pytest.approx(reference.bse[1], rel=1e-7)
        assert fits.p_value[unit] == pytest.approx(expected_p, rel=1e-6, abs=1e-12)
        assert fits.p_value[unit] == pytest.approx(stats.ols_slope_test(x, y, alternative=alternative).p_value,
                                                   rel=1e-6, abs=1e-12)  # fmt: skip


def test_ols_trend_exact_fits_and_too_little_data():
    constant = [np.full(4, 5.0), np.full(3, 5.0), np.full(5, 5.0)]
    line = [np.full(4, 6.0), np.full(3, 5.0), np.full(5, 4.0)]
    one_cycle = [np.array([4.0, 5.0, 6.0])]
    two_people = [np.array([4.0]), np.array([5.0])]
    fits = change_tests.ols_trend(**sums_of([constant, line, one_cycle, two_people]), alternative="less")
    assert (fits.slope[0], fits.stderr[0], fits.p_value[0]) == (0.0, 0.0, 1.0)  # nothing changed
    assert fits.slope[1] == pytest.approx(-1.0)
    assert (fits.stderr[1], fits.p_value[1]) == (0.0, 0.0)  # a perfect fall is certain
    assert np.isnan(fits.p_value[2:]).all()  # one cycle; fewer than three respondents


@pytest.mark.parametrize("alternative", ["less", "greater"])
@pytest.mark.parametrize("score", [43 / 7, 31 / 7, 5.1, 2 / 3])
def test_nothing_changes_when_every_score_is_the_same(score, alternative):
    # Sums of equal non-representable numbers leave rounding noise in every cross-product: that
    # noise must not become a "certain" fall (p = 0) in a team where nobody's answer moved.
    constant = [np.full(size, score) for size in (8, 7, 9, 8, 6, 8)]
    fit = change_tests.ols_trend(**sums_of([constant]), alternative=alternative)
    assert (fit.slope[0], fit.p_value[0]) == (0.0, 1.0)
    latest, previous = constant[-1], np.concatenate(constant[-4:-1])
    p = change_tests.welch(
        [latest.size], [latest.sum()], [(latest**2).sum()], [previous.size], [previous.sum()], [(previous**2).sum()],
        alternative=alternative,
    )  # fmt: skip
    assert p[0] == 1.0


@pytest.mark.parametrize("alternative", ["less", "greater"])
def test_welch_equals_scipy_on_the_raw_scores_for_every_unit(alternative):
    rng = np.random.default_rng(12)
    histories = [falling_history(rng, drop_per_cycle=0.15, cycles=4) for _ in range(30)]
    latest = [h[-1] for h in histories]
    previous = [np.concatenate(h[:-1]) for h in histories]

    def sums(groups: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.array([g.size for g in groups]), np.array([g.sum() for g in groups]), np.array(
            [(g * g).sum() for g in groups])  # fmt: skip

    p = change_tests.welch(*sums(latest), *sums(previous), alternative=alternative)
    for unit in range(len(histories)):
        expected = scipy_stats.ttest_ind(latest[unit], previous[unit], equal_var=False, alternative=alternative)
        assert p[unit] == pytest.approx(expected.pvalue, rel=1e-7)


def test_welch_without_variance_or_with_one_score():
    p = change_tests.welch([3, 3, 1], [12, 15, 4], [48, 75, 16], [6, 6, 6], [30, 30, 30], [150, 150, 150],
                           alternative="less")  # fmt: skip
    assert p[0] == 0.0  # 4 against 5, nobody differs from their group: a certain fall
    assert p[1] == 1.0  # 5 against 5
    assert np.isnan(p[2])


def test_cochran_armitage_columns_equal_the_one_unit_test_and_statsmodels_z():
    rng = np.random.default_rng(13)
    totals = rng.integers(5, 12, size=(50, 6))
    successes = rng.binomial(totals, rng.uniform(0.1, 0.9, size=(50, 1)))
    scores = np.arange(6.0)
    for alternative in ("less", "greater"):
        tests = change_tests.cochran_armitage(
            totals.sum(axis=1), successes.sum(axis=1), totals @ scores, totals @ scores**2, successes @ scores,
            alternative=alternative,
        )  # fmt: skip
        for unit in range(50):
            one = stats.cochran_armitage_trend(successes[unit], totals[unit], alternative=alternative)
            assert tests.z[unit] == pytest.approx(one.z, rel=1e-10)
            assert tests.p_value[unit] == pytest.approx(one.p_value, rel=1e-10)
            expected_p = scipy_stats.norm.cdf(one.z) if alternative == "less" else scipy_stats.norm.sf(one.z)
            assert tests.p_value[unit] == pytest.approx(expected_p, rel=1e-10)


def test_cochran_armitage_columns_degenerate_units():
    tests = change_tests.cochran_armitage([15, 12], [0, 5], [15, 0], [25, 0], [0, 0], alternative="greater")
    assert (tests.z[0], tests.p_value[0]) == (0.0, 1.0)  # nobody succeeded: nothing varies
    assert np.isnan(tests.p_value[1])  # every trial at one score: no trend to test


@pytest.mark.parametrize("alternative", ["less", "greater"])
def test_fisher_columns_equal_scipys_fisher_exact(alternative):
    rng = np.random.default_rng(14)
    a_n, b_n = rng.integers(0, 15, 300), rng.integers(0, 40, 300)
    a, b = rng.binomial(a_n, 0.4), rng.binomial(b_n, 0.55)
    p = change_tests.fisher_one_sided(a, a_n, b, b_n, alternative=alternative)
    expected = [
        scipy_stats.fisher_exact([[x, n - x], [y, m - y]], alternative=alternative).pvalue
        for x, n, y, m in zip(a, a_n, b, b_n, strict=True)
    ]
    np.testing.assert_allclose(p, expected, rtol=1e-12, atol=1e-15)


def test_fisher_columns_refuse_impossible_counts():
    with pytest.raises(ValueError, match="successes"):
        change_tests.fisher_one_sided([6], [5], [1], [5], alternative="less")


def test_one_sided_alternative_is_checked():
    with pytest.raises(ValueError, match="alternative"):
        change_tests.welch([5], [20], [90], [5], [20], [90], alternative="two-sided")  # type: ignore[arg-type]


# --- the flag core's questions -------------------------------------------------------------------


def cell(offset: int, scores: np.ndarray) -> CycleCell:
    return CycleCell(FIRST_INDEX + offset, f"c{offset:02d}", scores.size, float(scores.mean()), float(scores.sum()),
                     float((scores * scores).sum()), None, None)  # fmt: skip


def test_questions_ask_each_test_of_the_right_cells():
    rng = np.random.default_rng(15)
    safety = falling_history(rng, drop_per_cycle=0.2, cycles=8)
    pilots = [rng.binomial(1, p, size=8).astype(float) for p in np.linspace(0.2, 0.6, 8)]
    # Unit "a": eight cycles, the fourth of them hidden (not published: not in the history).
    kept = [0, 1, 2, 4, 5, 6, 7]
    history = history_frame(
        [("a", "psych_safety", cell(i, safety[i])) for i in kept]
        + [("a", "pilot_ratio", cell(i, pilots[i])) for i in kept]  # fmt: skip
    )
    questions = change_questions(history, "c07").set_index(["metric", "kind", "test"])
    last6 = kept[-6:]

    ols = questions.loc[("psych_safety", "psych_safety_falling", TREND_OLS)]
    x = np.concatenate([np.full(safety[i].size, FIRST_INDEX + i) for i in last6])
    reference = stats.ols_slope_test(x, np.concatenate([safety[i] for i in last6]), alternative="less")
    assert ols["p_value"] == pytest.approx(reference.p_value, rel=1e-6)
    assert ols["slope"] == pytest.approx(reference.slope, rel=1e-9)  # the gap counts as a month
    assert ols["respondents"] == reference.n

    shift = questions.loc[("psych_safety", "psych_safety_falling", SHIFT_PERMUTATION)]
    previous = np.concatenate([safety[i] for i in (4, 5, 6)])  # the three published before c07
    welch = scipy_stats.ttest_ind(safety[7], previous, equal_var=False, alternative="less").pvalue
    assert shift["p_value"] == pytest.approx(welch, rel=1e-7)
    assert shift["previous_value"] == pytest.approx(previous.mean())

    for kind, alternative in (("pilot_ratio_falling", "less"), ("pilot_ratio_rising", "greater")):
        trend = questions.loc[("pilot_ratio", kind, TREND_CA)]
        one = stats.cochran_armitage_trend([pilots[i].sum() for i in last6], [8] * 6, scores=last6,
                                           alternative=alternative)  # fmt: skip
        assert trend["p_value"] == pytest.approx(one.p_value, rel=1e-10)
        fisher = questions.loc[("pilot_ratio", kind, SHIFT_FISHER)]
        prev = sum(pilots[i].sum() for i in (4, 5, 6))
        table = [[pilots[7].sum(), 8 - pilots[7].sum()], [prev, 24 - prev]]
        assert fisher["p_value"] == pytest.approx(scipy_stats.fisher_exact(table, alternative=alternative).pvalue)


def test_no_question_without_this_cycles_cell_or_enough_history():
    rng = np.random.default_rng(16)
    scores = falling_history(rng, drop_per_cycle=0.1, cycles=6)
    history = history_frame(
        [("hidden_now", "psych_safety", cell(i, scores[i])) for i in range(5)]  # c05 hidden
        + [("short", "psych_safety", cell(i, scores[i])) for i in (2, 3, 4, 5)]  # four published cycles
    )
    questions = change_questions(history, "c05")
    assert set(questions["unit"]) == {"short"}
    assert list(questions["test"]) == [SHIFT_PERMUTATION]  # a shift needs four cycles, a trend six
    assert change_questions(history_frame([]), "c05").empty
    assert math.isnan(change_questions(history, "c05")["slope"].iloc[0])
