"""The flag stage tests from stored sums; they must equal the same tests on the raw scores."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats
from statsmodels.api import OLS, add_constant

from analytics import stats
from analytics.flag_tests import CycleCell, ols_from_sums, welch_p


def cells_from(scores_by_cycle: list[np.ndarray], first_index: int = 24300) -> list[CycleCell]:
    return [
        CycleCell(
            index=first_index + offset,
            label=f"c{offset}",
            n=len(scores),
            value=float(np.mean(scores)),
            total=float(np.sum(scores)),
            total_sq=float(np.sum(scores**2)),
            ci_low=None,
            ci_high=None,
        )
        for offset, scores in enumerate(scores_by_cycle)
    ]


def falling_history(seed: int, *, drop_per_cycle: float, gap_after: int | None = None) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        np.clip(np.round(rng.normal(5.4 - drop_per_cycle * cycle, 1.0, size=rng.integers(5, 10)) * 7) / 7, 1, 7)
        for cycle in range(6)
    ]


@pytest.mark.parametrize("alternative", ["less", "greater"])
@pytest.mark.parametrize(("seed", "drop"), [(1, 0.25), (2, 0.0), (3, -0.1)])
def test_ols_from_sums_equals_the_fit_on_individual_scores(seed, drop, alternative):
    history = falling_history(seed, drop_per_cycle=drop)
    cells = cells_from(history)
    x = np.concatenate([np.full(len(scores), cell.index) for scores, cell in zip(history, cells, strict=True)])
    y = np.concatenate(history)
    slope, stderr, p_value, n = ols_from_sums(cells, alternative=alternative)
    raw = stats.ols_slope_test(x, y, alternative=alternative)
    fit = OLS(y, add_constant(x - x.mean())).fit()
    assert n == raw.n == len(y)
    assert slope == pytest.approx(raw.slope, rel=1e-9) == pytest.approx(fit.params[1], rel=1e-9)
    assert stderr == pytest.approx(fit.bse[1], rel=1e-7)
    assert p_value == pytest.approx(raw.p_value, rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("alternative", ["less", "greater"])
@pytest.mark.parametrize("seed", [4, 5, 6])
def test_welch_from_sums_equals_scipy_on_the_raw_scores(seed, alternative):
    history = falling_history(seed, drop_per_cycle=0.15)
    cells = cells_from(history)
    latest, previous = history[-1], np.concatenate(history[-4:-1])
    expected = scipy_stats.ttest_ind(latest, previous, equal_var=False, alternative=alternative).pvalue
    assert welch_p(cells[-1], cells[-4:-1], alternative) == pytest.approx(expected, rel=1e-7)


def test_too_little_data_gives_no_test():
    one_cycle = cells_from([np.array([4.0, 5.0, 6.0])])
    assert ols_from_sums(one_cycle, alternative="less") is None
    assert np.isnan(welch_p(one_cycle[0], cells_from([np.array([5.0])]), "less"))
