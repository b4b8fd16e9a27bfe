"""The tests that take values or p-values rather than per-cycle sums: the Theil-Sen slope shown
beside a trend, the permutation test of a shift between two cycles, and Benjamini-Hochberg over
all of a cycle's tests. The vectorised tests from sufficient statistics are in
:mod:`analytics.stats.change`. No Django.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import stats as scipy_stats  # type: ignore[import-untyped]

from analytics.stats.change import BoolArray, FloatArray

Alternative = Literal["two-sided", "less", "greater"]


def _answered(values: npt.ArrayLike) -> FloatArray:
    """The values as a flat float array without the NaNs (skipped or not asked)."""
    array = np.asarray(values, dtype=np.float64).ravel()
    return array[~np.isnan(array)]


def _paired_finite(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    x_array = np.asarray(x, dtype=np.float64).ravel()
    y_array = np.asarray(y, dtype=np.float64).ravel()
    if x_array.shape != y_array.shape:
        raise ValueError(f"x and y must have the same length; got {x_array.size} and {y_array.size}")
    keep = ~(np.isnan(x_array) | np.isnan(y_array))
    return x_array[keep], y_array[keep]


def theil_sen_slope(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Theil-Sen slope (median of pairwise slopes; Theil 1950, Sen 1968), NaN pairs dropped.

    Shown beside a trend test on the cycle means as a robust description of the trend; NaN
    when fewer than 2 distinct x values remain.
    """
    x_array, y_array = _paired_finite(x, y)
    if np.unique(x_array).size < 2:
        return math.nan
    return float(scipy_stats.theilslopes(y_array, x_array).slope)


def shift_permutation_test(
    latest: npt.ArrayLike,
    previous: npt.ArrayLike,
    *,
    alternative: Alternative,
    n_resamples: int = 9999,
    random_state: int | np.random.Generator,
    stop_after_hits: int | None = None,
) -> float:
    """p-value of a permutation test on mean(latest) - mean(previous); NaN if a sample is empty.

    When there are no more than n_resamples ways to split the pooled answers (4 vs 6 is 210),
    scipy.stats.permutation_test enumerates every one: the exact p. Otherwise n_resamples random
    splits are drawn and p = (hits + 1) / (n_resamples + 1), which never gives p = 0 (Phipson &
    Smyth 2010). A random split only decides how many of each distinct score land in "latest",
    which is a multivariate hypergeometric draw from the pooled counts; with the mean difference a
    monotone function of the latest sample's sum, drawing those counts directly gives the same
    null distribution at a cost that grows with the number of distinct scores, not of answers
    (a thousandfold faster for a department). The seed makes a rerun publish the same p. Chosen
    over Brunner-Munzel, which returns NaN when the samples do not overlap: the sharpest drop.

    ``stop_after_hits=h`` samples sequentially (Besag & Clifford 1991): drawing stops once h
    resamples are at least as extreme as the observed one, and p = h / draws. Still a valid
    p-value; it spends the 9,999 draws only where p is small, which is where they matter.
    """
    latest_answered = _answered(latest)
    previous_answered = _answered(previous)
    if latest_answered.size == 0 or previous_answered.size == 0:
        return math.nan

    if min(latest_answered.size, previous_answered.size) == 1:
        # scipy refuses a one-answer sample; there are only size-of-pool splits, so enumerate them.
        return _single_answer_permutation_p(latest_answered, previous_answered, alternative)

    if math.comb(latest_answered.size + previous_answered.size, latest_answered.size) > n_resamples:
        return _sampled_permutation_p(
            latest_answered,
            previous_answered,
            alternative,
            n_resamples,
            np.random.default_rng(random_state),
            stop_after_hits,
        )

    def mean_difference(a: FloatArray, b: FloatArray, axis: int) -> FloatArray:
        return np.asarray(np.mean(a, axis=axis) - np.mean(b, axis=axis), dtype=np.float64)

    result = scipy_stats.permutation_test(
        (latest_answered, previous_answered),
        mean_difference,
        permutation_type="independent",
        vectorized=True,
        n_resamples=n_resamples,
        alternative=alternative,
        rng=random_state,
    )
    return float(result.pvalue)


def _sampled_permutation_p(
    latest: FloatArray,
    previous: FloatArray,
    alternative: Alternative,
    n_resamples: int,
    rng: np.random.Generator,
    stop_after_hits: int | None,
) -> float:
    """Monte Carlo permutation p from multivariate hypergeometric draws of the latest sample."""
    values, pooled_counts = np.unique(np.concatenate([latest, previous]), return_counts=True)
    observed = float(np.bincount(np.searchsorted(values, latest), minlength=values.size) @ values)
    # Equal sums reached through different counts can differ in the last bits: count them as ties.
    tolerance = 1e-9 * max(1.0, abs(observed))
    # "count" costs a step per pooled answer, "marginals" one per distinct score: the faster wins.
    method: Literal["count", "marginals"] = "count" if pooled_counts.sum() <= 200 else "marginals"
    batch = n_resamples if stop_after_hits is None else min(n_resamples, 500)
    low_hits = high_hits = drawn = 0
    while drawn < n_resamples:
        size = min(batch, n_resamples - drawn)
        null_sums = rng.multivariate_hypergeometric(pooled_counts, latest.size, size=size, method=method) @ values
        low, high = null_sums <= observed + tolerance, null_sums >= observed - tolerance
        if stop_after_hits is not None:
            # Besag-Clifford: stop at the draw that brings the deciding tail to h hits.
            tail = {"less": low, "greater": high}.get(alternative, low if low_hits <= high_hits else high)
            before = {"less": low_hits, "greater": high_hits}.get(alternative, min(low_hits, high_hits))
            running = before + np.cumsum(tail)
            reached = np.flatnonzero(running >= stop_after_hits)
            if reached.size:
                draws = drawn + int(reached[0]) + 1
                p_value = stop_after_hits / draws
                return float(min(1.0, 2 * p_value)) if alternative == "two-sided" else float(p_value)
        low_hits += int(np.count_nonzero(low))
        high_hits += int(np.count_nonzero(high))
        drawn += size
    p_less = (low_hits + 1) / (n_resamples + 1)
    p_greater = (high_hits + 1) / (n_resamples + 1)
    if alternative == "less":
        return float(p_less)
    if alternative == "greater":
        return float(p_greater)
    return float(min(1.0, 2 * min(p_less, p_greater)))


def _single_answer_permutation_p(latest: FloatArray, previous: FloatArray, alternative: Alternative) -> float:
    """Exact permutation p of mean(latest) - mean(previous) when one sample holds one answer."""
    pooled = np.concatenate([latest, previous])
    total = float(pooled.sum())
    size = pooled.size
    if latest.size == 1:
        # Each pooled answer in turn plays the one "latest" answer.
        differences = pooled - (total - pooled) / (size - 1)
    else:
        differences = (total - pooled) / (size - 1) - pooled
    observed = float(latest.mean() - previous.mean())
    # Means of the same answers computed in another order differ in the last bits: count those as ties.
    tolerance = 1e-9 * max(1.0, abs(observed))
    p_less = float(np.mean(differences <= observed + tolerance))
    p_greater = float(np.mean(differences >= observed - tolerance))
    if alternative == "less":
        return p_less
    if alternative == "greater":
        return p_greater
    return min(1.0, 2 * min(p_less, p_greater))


class FdrResult(NamedTuple):
    """A NamedTuple so callers can unpack `rejected, adjusted = benjamini_hochberg(...)`."""

    rejected: BoolArray
    adjusted: FloatArray


def benjamini_hochberg(p_values: npt.ArrayLike, q: float = 0.10) -> FdrResult:
    """Benjamini & Hochberg (1995) step-up procedure at false discovery rate q, by
    scipy.stats.false_discovery_control: a test is rejected where its adjusted p is <= q.

    NaN p-values (tests that could not be run) are not counted in m and are never rejected; their
    adjusted value is NaN.
    """
    p = np.asarray(p_values, dtype=np.float64).ravel()
    tested = ~np.isnan(p)
    if np.any((p[tested] < 0) | (p[tested] > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    adjusted = np.full(p.shape, np.nan)
    if tested.any():
        adjusted[tested] = scipy_stats.false_discovery_control(p[tested], method="bh")
    return FdrResult(rejected=np.where(tested, adjusted <= q, False), adjusted=adjusted)
