"""Tests of change for many units at once, from per-cycle sufficient statistics.

The flag stage asks the same few questions of every unit in the organisation (is safety falling
here, is the Pilot ratio rising there): at 10,000 units, one Python call per test was most of the
aggregation job. These functions take one array element per unit and answer them all in a few
numpy operations. Each is the textbook test, computed from the sums a published cell keeps (n,
sum, sum of squares), which determine it exactly; tests/analytics/test_change_tests.py checks every
one against statsmodels or scipy on raw data. Cells too small to show their own spread (ANONYMITY
R13) keep no sum of squares: their tests use the published means, n and the SD their interval
was computed from (the organisation's), by weighted least squares and a z test. The tests that
take raw values or p-values rather than sums (Theil-Sen, permutation, Benjamini-Hochberg) are in
:mod:`analytics.stats.robust`.

Conventions: ``alternative`` is "less" (the quantity falls: negative slope, latest below the
previous) or "greater"; a p-value is NaN where a test cannot be computed, and the caller decides
what that means.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import special  # type: ignore[import-untyped]
from scipy import stats as scipy_stats  # type: ignore[import-untyped]

OneSided = Literal["less", "greater"]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# Below this residual sum of squares a fit is exact (every score the same, or a perfect line):
# the usual formula would divide by a rounding-error standard error and return noise.
EXACT_FIT_SSE = 1e-12
# Sums of squares and differences of means computed from sums carry rounding error relative to
# their magnitude: this far below it, a spread or a difference is taken to be exactly zero, or
# rounding noise would decide the direction of a "certain" change in data where nothing varies.
RELATIVE_ZERO = 1e-12


def _floats(values: npt.ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def _check(alternative: str) -> None:
    if alternative not in ("less", "greater"):
        raise ValueError(f"alternative must be 'less' or 'greater'; got {alternative!r}")


def t_tail(t: npt.ArrayLike, df: npt.ArrayLike, alternative: OneSided) -> FloatArray:
    """One-sided p of a t statistic (scipy.special.stdtr is scipy.stats.t's CDF without its overhead)."""
    _check(alternative)
    t = _floats(t)
    return _floats(special.stdtr(df, t if alternative == "less" else -t))


def normal_tail(z: npt.ArrayLike, alternative: OneSided) -> FloatArray:
    _check(alternative)
    z = _floats(z)
    return _floats(special.ndtr(z if alternative == "less" else -z))


def _direction_p(difference: FloatArray, alternative: OneSided) -> FloatArray:
    """p of an exact result: 0 if it lies (strictly) in the alternative's direction, else 1."""
    towards = difference < 0 if alternative == "less" else difference > 0
    return np.where(towards, 0.0, 1.0)


class SlopeFits(NamedTuple):
    slope: FloatArray
    stderr: FloatArray
    p_value: FloatArray


def ols_trend(
    n: npt.ArrayLike,
    sum_x: npt.ArrayLike,
    sum_xx: npt.ArrayLike,
    sum_y: npt.ArrayLike,
    sum_yy: npt.ArrayLike,
    sum_xy: npt.ArrayLike,
    *,
    alternative: OneSided,
) -> SlopeFits:
    """OLS slope of individual scores y on the cycle index x, one-sided t test on n - 2 df.

    Every argument is a sum over a unit's respondents (n of them), which is what the fit on the
    raw scores needs. Keep x small (cycles counted from the unit's first one): months since year
    0 are ~24,000, and sum_xx - sum_x^2 / n would cancel eight digits of the slope away.

    NaN where the slope is not estimable (fewer than 3 respondents or a single cycle). An exact
    fit (every score equal, or a perfect line) has standard error 0 and p 0 or 1 by direction.
    """
    _check(alternative)
    n, sum_x, sum_xx = _floats(n), _floats(sum_x), _floats(sum_xx)
    sum_y, sum_yy, sum_xy = _floats(sum_y), _floats(sum_yy), _floats(sum_xy)
    with np.errstate(divide="ignore", invalid="ignore"):
        sxx = sum_xx - sum_x * sum_x / n
        syy = sum_yy - sum_y * sum_y / n
        estimable = (n >= 3) & (sxx > 0)
        # Every score the same: the slope is 0, not the rounding noise of sums of equal numbers.
        flat = syy <= RELATIVE_ZERO * np.maximum(1.0, sum_yy)
        sxy = np.where(flat, 0.0, sum_xy - sum_x * sum_y / n)
        sxy = np.where(np.abs(sxy) <= RELATIVE_ZERO * np.sqrt(sxx * np.maximum(syy, 0.0)), 0.0, sxy)
        slope = np.where(estimable, sxy / sxx, np.nan)
        sse = np.maximum(np.where(flat, 0.0, syy - slope * sxy), 0.0)
        exact = estimable & (sse <= EXACT_FIT_SSE)
        stderr = np.where(exact, 0.0, np.sqrt(sse / (n - 2) / sxx))
        stderr = np.where(estimable, stderr, np.nan)
        p = t_tail(slope / stderr, n - 2, alternative)
    p = np.where(exact, _direction_p(slope, alternative), p)
    return SlopeFits(slope, stderr, np.where(estimable, p, np.nan))


def welch(
    n1: npt.ArrayLike,
    sum1: npt.ArrayLike,
    sum_sq1: npt.ArrayLike,
    n2: npt.ArrayLike,
    sum2: npt.ArrayLike,
    sum_sq2: npt.ArrayLike,
    *,
    alternative: OneSided,
) -> FloatArray:
    """One-sided Welch t-test p of group 1's mean against group 2's, with Welch-Satterthwaite df.

    NaN where a group has fewer than 2 scores. With no variance in either group the difference
    is exact: p 0 or 1 by direction (1 when the means are equal).
    """
    _check(alternative)
    n1, sum1, sum_sq1 = _floats(n1), _floats(sum1), _floats(sum_sq1)
    n2, sum2, sum_sq2 = _floats(n2), _floats(sum2), _floats(sum_sq2)
    with np.errstate(divide="ignore", invalid="ignore"):
        testable = (n1 >= 2) & (n2 >= 2)
        m1, m2 = sum1 / n1, sum2 / n2
        w1 = _spread(sum_sq1, n1, m1) / (n1 - 1) / n1  # the variance of each mean
        w2 = _spread(sum_sq2, n2, m2) / (n2 - 1) / n2
        difference = m1 - m2
        difference = np.where(
            np.abs(difference) <= RELATIVE_ZERO * np.maximum(1.0, np.maximum(np.abs(m1), np.abs(m2))), 0.0, difference
        )
        se = np.sqrt(w1 + w2)
        df = (w1 + w2) ** 2 / (w1 * w1 / (n1 - 1) + w2 * w2 / (n2 - 1))
        p = t_tail(difference / se, df, alternative)
    p = np.where(se == 0, _direction_p(difference, alternative), p)
    return np.where(testable, p, np.nan)


def _spread(sum_sq: FloatArray, n: FloatArray, mean: FloatArray) -> FloatArray:
    """Sum of squared deviations from the sums, exactly 0 where it is only rounding error."""
    spread = sum_sq - n * mean * mean
    return np.where(spread <= RELATIVE_ZERO * np.maximum(1.0, sum_sq), 0.0, spread)


class TrendTests(NamedTuple):
    z: FloatArray
    p_value: FloatArray


# --- Tests from published means, n and a known SD (ANONYMITY R13) -----------------------------


def interval_sd(n: npt.ArrayLike, low: npt.ArrayLike, high: npt.ArrayLike, confidence: float = 0.95) -> FloatArray:
    """The SD a published mean's interval was computed from: it is mean +- t(n - 1) SD / sqrt(n)
    (analytics.stats.estimates), so SD = half-width sqrt(n) / t(n - 1). For a small cell that is
    the organisation's SD, which says nothing about the cell; for an own-spread cell its own.
    NaN where there is no interval (n < 2, or none published)."""
    n, low, high = _floats(n), _floats(low), _floats(high)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = special.stdtrit(np.where(n >= 2, n - 1, np.nan), 0.5 + confidence / 2)
        return _floats((high - low) / 2 * np.sqrt(n) / t)


def wls_trend_known_variance(
    w: npt.ArrayLike,
    w_x: npt.ArrayLike,
    w_xx: npt.ArrayLike,
    w_y: npt.ArrayLike,
    w_xy: npt.ArrayLike,
    *,
    alternative: OneSided,
) -> SlopeFits:
    """Weighted least-squares slope of cycle means y_i on the cycle index x_i, each mean's
    variance known (SD_i^2 / n_i), with weights w_i = n_i / SD_i^2; one-sided z test.

    Every argument is a sum over a unit's cycles: w = sum w_i, w_x = sum w_i x_i, w_xx = sum w_i
    x_i^2, w_y = sum w_i y_i, w_xy = sum w_i x_i y_i. The slope is sxy / sxx and, the variances
    being known rather than estimated from the residuals, its standard error 1 / sqrt(sxx) with
    sxx = w_xx - w_x^2 / w (statsmodels' WLS with weights w and a fixed scale of 1). Keep x small
    (see ols_trend). NaN where not estimable: fewer than two distinct cycles, or a weight that
    is not finite (an SD of 0 or none).
    """
    _check(alternative)
    w, w_x, w_xx, w_y, w_xy = _floats(w), _floats(w_x), _floats(w_xx), _floats(w_y), _floats(w_xy)
    with np.errstate(divide="ignore", invalid="ignore"):
        sxx = w_xx - w_x * w_x / w
        estimable = np.isfinite(w) & (w > 0) & (sxx > RELATIVE_ZERO * np.maximum(1.0, w_xx)) & np.isfinite(w_xy)
        sxy = w_xy - w_x * w_y / w
        # Equal means computed from sums leave rounding noise, not a slope.
        sxy = np.where(np.abs(sxy) <= RELATIVE_ZERO * np.maximum(1.0, np.abs(w_xy)), 0.0, sxy)
        slope = np.where(estimable, sxy / sxx, np.nan)
        stderr = np.where(estimable, 1.0 / np.sqrt(sxx), np.nan)
        p = normal_tail(slope / stderr, alternative)
    return SlopeFits(slope, stderr, np.where(estimable, p, np.nan))


def z_shift_known_variance(
    latest_n: npt.ArrayLike,
    latest_total: npt.ArrayLike,
    latest_variance: npt.ArrayLike,
    previous_n: npt.ArrayLike,
    previous_total: npt.ArrayLike,
    previous_n_variance: npt.ArrayLike,
    *,
    alternative: OneSided,
) -> TrendTests:
    """One-sided z test of the latest cycle's mean against the previous cycles' pooled mean
    (weighted by n: sum of totals over sum of n), the SDs known.

    ``latest_variance`` is SD_L^2 (per answer) and ``previous_n_variance`` sum n_j SD_j^2 over
    the previous cycles, so Var(latest mean) = SD_L^2 / n_L and Var(pooled mean) = sum n_j SD_j^2
    / (sum n_j)^2. NaN where a side has no answers or a variance is missing; with both variances
    0 the difference is exact: p 0 or 1 by direction.
    """
    _check(alternative)
    latest_n, latest_total, latest_variance = _floats(latest_n), _floats(latest_total), _floats(latest_variance)
    previous_n, previous_total = _floats(previous_n), _floats(previous_total)
    previous_n_variance = _floats(previous_n_variance)
    with np.errstate(divide="ignore", invalid="ignore"):
        testable = (latest_n > 0) & (previous_n > 0) & np.isfinite(latest_variance) & np.isfinite(previous_n_variance)
        m1, m2 = latest_total / latest_n, previous_total / previous_n
        difference = m1 - m2
        difference = np.where(
            np.abs(difference) <= RELATIVE_ZERO * np.maximum(1.0, np.maximum(np.abs(m1), np.abs(m2))), 0.0, difference
        )
        se = np.sqrt(latest_variance / latest_n + previous_n_variance / (previous_n * previous_n))
        z = np.where(se > 0, difference / se, np.nan)
        p = np.where(se > 0, normal_tail(z, alternative), _direction_p(difference, alternative))
    return TrendTests(np.where(testable, z, np.nan), np.where(testable, p, np.nan))


def cochran_armitage(
    n: npt.ArrayLike,
    successes: npt.ArrayLike,
    sum_ns: npt.ArrayLike,
    sum_nss: npt.ArrayLike,
    sum_xs: npt.ArrayLike,
    *,
    alternative: OneSided,
) -> TrendTests:
    """Cochran-Armitage test for a linear trend in proportions across cycles with scores s.

    Per unit: n trials and ``successes`` in all, sum_ns = sum n_i s_i, sum_nss = sum n_i s_i^2
    and sum_xs = sum x_i s_i over its cycles i. Armitage (1955) with the binomial variance under
    H0 (pooled p, denominator N), as R's prop.trend.test:

        T = sum x_i (s_i - s_bar),  Var(T) = p (1 - p) sum n_i (s_i - s_bar)^2,  z = T / sqrt(Var(T))

    Scores should start at 0 (see ols_trend). NaN where fewer than two distinct scores carry
    trials; z = 0 and p = 1 when every trial is a success or none is (nothing varies).
    """
    _check(alternative)
    n, successes = _floats(n), _floats(successes)
    sum_ns, sum_nss, sum_xs = _floats(sum_ns), _floats(sum_nss), _floats(sum_xs)
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = successes / n
        s_bar = sum_ns / n
        spread = sum_nss - n * s_bar * s_bar  # sum n_i (s_i - s_bar)^2
        testable = (n > 0) & (spread > EXACT_FIT_SSE * np.maximum(sum_nss, 1.0))
        varies = (pooled > 0) & (pooled < 1)
        z = (sum_xs - successes * s_bar) / np.sqrt(pooled * (1 - pooled) * spread)
    z = np.where(varies, z, 0.0)
    p = np.where(varies, normal_tail(z, alternative), 1.0)
    return TrendTests(np.where(testable, z, np.nan), np.where(testable, p, np.nan))


def fisher_one_sided(
    a_success: npt.ArrayLike,
    a_n: npt.ArrayLike,
    b_success: npt.ArrayLike,
    b_n: npt.ArrayLike,
    *,
    alternative: OneSided,
) -> FloatArray:
    """One-sided Fisher's exact test of proportion a against proportion b ("less": a's is lower).

    The p is a hypergeometric tail of a's successes given the table's margins, as
    scipy.stats.fisher_exact computes it one table at a time. A margin of 0 tests nothing: p 1.
    """
    _check(alternative)
    a_success, a_n = np.asarray(a_success, dtype=np.int64), np.asarray(a_n, dtype=np.int64)
    b_success, b_n = np.asarray(b_success, dtype=np.int64), np.asarray(b_n, dtype=np.int64)
    if np.any((a_success < 0) | (a_success > a_n) | (b_success < 0) | (b_success > b_n)):
        raise ValueError("need 0 <= successes <= n in both groups")
    total, successes = a_n + b_n, a_success + b_success
    if alternative == "less":
        p = scipy_stats.hypergeom.cdf(a_success, total, successes, a_n)
    else:
        p = scipy_stats.hypergeom.sf(a_success - 1, total, successes, a_n)
    degenerate = (a_n == 0) | (b_n == 0) | (successes == 0) | (successes == total)
    return np.where(degenerate, 1.0, np.minimum(_floats(p), 1.0))
