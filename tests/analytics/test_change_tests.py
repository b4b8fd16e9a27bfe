"""Tests of change from stored sums, for many units at once: each must equal the same test run on
the raw scores by a reference implementation (statsmodels, scipy), unit by unit; and the flag
core's questions must be those tests asked of the right cells."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from pandas import testing as pd_testing
from scipy import stats as scipy_stats
from statsmodels.api import OLS, WLS, add_constant

from analytics.flags.history import OWN_SD, CycleCell, history_frame
from analytics.flags.questions import (
    SHIFT_FISHER,
    SHIFT_PERMUTATION,
    SHIFT_Z,
    TREND_CA,
    TREND_OLS,
    TREND_WLS,
    change_questions,
)
from analytics.stats import change as change_tests
from analytics.stats.estimates import mean_intervals_from_sums, mean_intervals_known_sd
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
    with pytest.raises(ValueError, match="alternative"):
        change_tests.wls_trend_known_variance([1], [1], [1], [1], [1], alternative="both")  # type: ignore[arg-type]


# --- R13: tests from published means, n and a known SD ----------------------------------------


def test_interval_sd_gives_back_the_sd_an_interval_was_computed_from():
    n = np.array([3, 5, 8, 13, 29, 30, 400])
    totals = n * 4.6
    for sd in (0.4, 1.0, 1.7):
        _, low, high = mean_intervals_known_sd(n, totals, sd)
        np.testing.assert_allclose(change_tests.interval_sd(n, low, high), sd, rtol=1e-12)
    scores = np.array([1.0, 7, 7, 7, 7, 4, 5])
    _, low, high = mean_intervals_from_sums(np.array([7]), np.array([scores.sum()]), np.array([(scores**2).sum()]))
    assert change_tests.interval_sd([7], low, high)[0] == pytest.approx(scores.std(ddof=1), rel=1e-12)
    assert np.isnan(change_tests.interval_sd([1, 4], [np.nan, np.nan], [np.nan, np.nan])).all()


def known_sd_units(rng: np.random.Generator, units: int, cycles: int = 6) -> list[tuple[np.ndarray, ...]]:
    """Per unit: cycle means, n and the organisation's SD of each cycle (a different one each)."""
    out = []
    for _ in range(units):
        n = rng.integers(5, 12, cycles).astype(float)
        sd = rng.uniform(0.6, 1.4, cycles)
        means = 5.0 + rng.uniform(-0.3, 0.2) * np.arange(cycles) + rng.normal(0, sd / np.sqrt(n))
        out.append((means, n, sd))
    return out


@pytest.mark.parametrize("alternative", ["less", "greater"])
def test_wls_trend_equals_statsmodels_wls_with_known_variance(alternative):
    rng = np.random.default_rng(21)
    units = known_sd_units(rng, 40)
    x = np.arange(6.0)
    sums = {name: [] for name in ("w", "w_x", "w_xx", "w_y", "w_xy")}
    for means, n, sd in units:
        w = n / sd**2
        for name, value in zip(sums, (w.sum(), w @ x, w @ x**2, w @ means, w @ (x * means)), strict=True):
            sums[name].append(value)
    fits = change_tests.wls_trend_known_variance(**{k: np.array(v) for k, v in sums.items()}, alternative=alternative)
    for unit, (means, n, sd) in enumerate(units):
        # Weights 1 / Var(mean) = n / SD^2 and a fixed scale of 1: the variances are known, not fitted.
        reference = WLS(means, add_constant(FIRST_INDEX + x), weights=n / sd**2).fit(cov_type="fixed scale")
        assert not reference.use_t  # a z test
        one_sided = reference.pvalues[1] / 2
        expected = one_sided if (reference.params[1] < 0) == (alternative == "less") else 1 - one_sided
        assert fits.slope[unit] == pytest.approx(reference.params[1], rel=1e-9)
        assert fits.stderr[unit] == pytest.approx(reference.bse[1], rel=1e-9)
        assert fits.p_value[unit] == pytest.approx(expected, rel=1e-7, abs=1e-12)


def test_wls_trend_flat_means_and_what_it_cannot_estimate():
    x = np.arange(6.0)
    w = np.full(6, 8 / 0.9**2)
    flat = np.full(6, 31 / 7)  # equal means: rounding noise must not become a slope
    fits = change_tests.wls_trend_known_variance(
        [w.sum(), w[:1].sum(), np.inf, np.nan], [w @ x, 0, np.inf, np.nan], [w @ x**2, 0, np.inf, np.nan],
        [w @ flat, w[0] * flat[0], np.inf, np.nan], [w @ (x * flat), 0, np.inf, np.nan], alternative="less",
    )  # fmt: skip
    assert (fits.slope[0], fits.p_value[0]) == (0.0, 0.5)
    assert np.isnan(fits.p_value[1:]).all()  # one cycle; an SD of 0; no SD


@pytest.mark.parametrize("alternative", ["less", "greater"])
def test_z_shift_equals_a_hand_computation(alternative):
    rng = np.random.default_rng(22)
    units = known_sd_units(rng, 30, cycles=4)
    columns = {name: [] for name in ("latest_n", "latest_total", "latest_variance", "previous_n", "previous_total",
                                     "previous_n_variance")}  # fmt: skip
    expected_z = []
    for means, n, sd in units:
        previous_mean = (n[:3] @ means[:3]) / n[:3].sum()  # pooled, weighted by n
        variance = sd[3] ** 2 / n[3] + sum((n[j] / n[:3].sum()) ** 2 * sd[j] ** 2 / n[j] for j in range(3))
        expected_z.append((means[3] - previous_mean) / math.sqrt(variance))
        for name, value in zip(columns, (n[3], n[3] * means[3], sd[3] ** 2, n[:3].sum(), n[:3] @ means[:3],
                                         n[:3] @ sd[:3] ** 2), strict=True):  # fmt: skip
            columns[name].append(value)
    tests = change_tests.z_shift_known_variance(**columns, alternative=alternative)
    np.testing.assert_allclose(tests.z, expected_z, rtol=1e-10)
    tail = scipy_stats.norm.cdf if alternative == "less" else scipy_stats.norm.sf
    np.testing.assert_allclose(tests.p_value, tail(expected_z), rtol=1e-9)


def test_z_shift_exact_and_untestable():
    tests = change_tests.z_shift_known_variance(
        [5, 5, 5, 0], [20, 25, 20, 0], [0, 0, np.nan, 1], [15, 15, 15, 15], [75, 75, 75, 75], [0, 0, 15, 15],
        alternative="less",
    )  # fmt: skip
    assert tests.p_value[0] == 0.0  # 4 against 5 with no spread anywhere: a certain fall
    assert tests.p_value[1] == 1.0
    assert np.isnan(tests.p_value[2:]).all()  # no SD; no latest answers


# --- the flag core's questions -------------------------------------------------------------------


def cell(offset: int, scores: np.ndarray) -> CycleCell:
    """An own-spread cell (its sum of squares and own t interval published), as n >= 30 are."""
    n, total, total_sq = np.array([scores.size]), np.array([scores.sum()]), np.array([(scores * scores).sum()])
    _, low, high = mean_intervals_from_sums(n, total, total_sq)
    low_, high_ = (None, None) if np.isnan(low[0]) else (float(low[0]), float(high[0]))
    return CycleCell(FIRST_INDEX + offset, f"c{offset:02d}", scores.size, float(scores.mean()), float(total[0]),
                     float(total_sq[0]), low_, high_, OWN_SD)  # fmt: skip


def small_cell(offset: int, scores: np.ndarray, sd: float) -> CycleCell:
    """A cell too small to show its spread (R13): no sum of squares, interval from the SD given."""
    mean, low, high = mean_intervals_known_sd(np.array([scores.size]), np.array([scores.sum()]), sd)
    return CycleCell(FIRST_INDEX + offset, f"c{offset:02d}", scores.size, float(mean[0]), float(scores.sum()),
                     math.nan, float(low[0]), float(high[0]), "organisation_sd")  # fmt: skip


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


def test_a_window_with_a_small_cell_is_tested_on_published_means_and_the_organisations_sd():
    rng = np.random.default_rng(17)
    safety = falling_history(rng, drop_per_cycle=0.2, cycles=7)
    sds = rng.uniform(0.7, 1.1, 7)  # the organisation's SD, cycle by cycle
    # "small": every cell small. "mixed": own-spread cells except the oldest of the trend window,
    # which makes the trend a known-SD test while the shift (the last four) stays individual-level.
    small = [("small", "psych_safety", small_cell(i, safety[i], sds[i])) for i in range(7)]
    mixed = [("mixed", "psych_safety", small_cell(1, safety[1], sds[1]))]
    mixed += [("mixed", "psych_safety", cell(i, safety[i])) for i in (0, 2, 3, 4, 5, 6)]
    questions = change_questions(history_frame(small + mixed), "c06").set_index(["unit", "test"])
    assert set(questions.index) == {("small", TREND_WLS), ("small", SHIFT_Z), ("mixed", TREND_WLS),
                                    ("mixed", SHIFT_PERMUTATION)}  # fmt: skip

    x = np.arange(6.0)
    for unit, rows in (("small", small), ("mixed", mixed)):
        window = sorted(rows, key=lambda r: r[2].index)[-6:]
        means = np.array([c.value for _, _, c in window])
        n = np.array([c.n for _, _, c in window], dtype=float)
        sd = np.array([(c.ci_high - c.ci_low) / 2 * math.sqrt(c.n) / scipy_stats.t.ppf(0.975, c.n - 1)
                       for _, _, c in window])  # fmt: skip
        reference = WLS(means, add_constant(x), weights=n / sd**2).fit(cov_type="fixed scale")
        trend = questions.loc[(unit, TREND_WLS)]
        assert trend["slope"] == pytest.approx(reference.params[1], rel=1e-9)
        assert trend["stderr"] == pytest.approx(reference.bse[1], rel=1e-9)
        assert trend["p_value"] == pytest.approx(scipy_stats.norm.cdf(reference.params[1] / reference.bse[1]))
        assert trend["respondents"] == n.sum()

    latest, previous = safety[6], [safety[i] for i in (3, 4, 5)]
    pooled = sum(p.sum() for p in previous) / sum(p.size for p in previous)
    variance = sds[6] ** 2 / latest.size + sum(p.size * sds[i] ** 2 for p, i in zip(previous, (3, 4, 5),
                                                                                      strict=True)) / sum(
        p.size for p in previous) ** 2  # fmt: skip
    z = (latest.mean() - pooled) / math.sqrt(variance)
    shift = questions.loc[("small", SHIFT_Z)]
    assert shift["z"] == pytest.approx(z, rel=1e-9)
    assert shift["p_value"] == pytest.approx(scipy_stats.norm.cdf(z), rel=1e-9)
    assert shift["previous_value"] == pytest.approx(pooled)
    welch = scipy_stats.ttest_ind(latest, np.concatenate(previous), equal_var=False, alternative="less").pvalue
    assert questions.loc[("mixed", SHIFT_PERMUTATION), "p_value"] == pytest.approx(welch, rel=1e-7)


def test_small_cells_answers_beyond_mean_and_n_change_no_question():
    """Two histories with the same published means, n and intervals and different answers (their
    spread differs) are asked exactly the same questions with exactly the same answers, even if
    a sum of squares were at hand (none is stored for such cells: this is the core's own guard)."""
    rng = np.random.default_rng(18)
    answers = falling_history(rng, drop_per_cycle=0.15, cycles=6)
    spread_out = [np.r_[s[:-2], s[-2] - 1 / 7, s[-1] + 1 / 7] for s in answers]  # same sum and n
    pressure = [rng.integers(1, 8, s.size).astype(float) for s in answers]
    histories, sums_of_squares = [], []
    for safety in (answers, spread_out):
        rows = [("team", "psych_safety", replace(small_cell(i, safety[i], 0.9), total_sq=float(safety[i] @ safety[i])))
                for i in range(6)]  # fmt: skip
        rows += [("team", "pressure", small_cell(i, pressure[i], 1.3)) for i in range(6)]
        frame = history_frame(rows)
        sums_of_squares.append(frame["total_sq"].to_numpy())
        histories.append(change_questions(frame, "c05"))
    assert not np.allclose(sums_of_squares[0][:6], sums_of_squares[1][:6])
    assert set(histories[0]["test"]) == {TREND_WLS, SHIFT_Z}
    pd_testing.assert_frame_equal(histories[0], histories[1])


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
