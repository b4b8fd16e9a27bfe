"""Estimates with 95% intervals for many cells at once, from the sums a cell keeps (n, sum, sum of
squares), and how a time ratio is put in words."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as scipy_stats  # type: ignore[import-untyped]

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]


def mean_intervals_from_sums(
    n: np.ndarray, total: np.ndarray, total_sq: np.ndarray, confidence: float = 0.95
) -> Arrays:
    """Means with t intervals from n, sum and sum of squares (the mergeable partials), for many
    cells at once. Same numbers as a t interval on the raw values (tests/analytics/reference_stats.py)."""
    n = n.astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(n > 0, total / n, np.nan)
        variance = np.clip((total_sq - n * mean * mean) / (n - 1), 0.0, None)
        t = scipy_stats.t.ppf(0.5 + confidence / 2, np.where(n >= 2, n - 1, np.nan))
        half = np.where(n >= 2, t * np.sqrt(variance / n), np.nan)
    return mean, mean - half, mean + half


def mean_intervals_known_sd(n: np.ndarray, total: np.ndarray, sd: float, confidence: float = 0.95) -> Arrays:
    """Means with intervals whose spread is given, not the cells' own (ANONYMITY R13): mean +-
    t(n - 1) sd / sqrt(n). A function of the mean and n alone, so it tells nothing more about a
    small cell. Student's t rather than z although sd comes from the whole organisation: the
    margin keeps coverage at 95% or more where a team's own SD is up to 1.1 times the
    organisation's (bench/interval_coverage.py; z gives 92.5% there, docs/decisions.md)."""
    n = n.astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(n > 0, total / n, np.nan)
        t = scipy_stats.t.ppf(0.5 + confidence / 2, np.where(n >= 2, n - 1, np.nan))
        half = np.where(n >= 2, t * sd / np.sqrt(n), np.nan)
    return mean, mean - half, mean + half


def wilson_intervals(successes: np.ndarray, n: np.ndarray, confidence: float = 0.95) -> Arrays:
    """Wilson score intervals for many cells at once; the same numbers as the one-cell Wilson
    interval of tests/analytics/reference_stats.py."""
    n = n.astype("float64")
    z = float(scipy_stats.norm.ppf(0.5 + confidence / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, successes / n, np.nan)
        denominator = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denominator
        half = z / denominator * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return p, np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def time_ratio_in_words(ratio: float, *, tolerance: float = 0.025) -> str:
    """0.75 -> "felt 25% less time"; 1.1 -> "felt 10% more time"; within +-2.5% -> "about the same"."""
    if not math.isfinite(ratio) or ratio <= 0:
        raise ValueError(f"a time ratio must be a positive number; got {ratio}")
    change = ratio - 1
    # The small epsilon keeps 0.975 and 1.025 (whose float differences from 1 are a hair above
    # 0.025) inside the "same" band the wording promises.
    if abs(change) <= tolerance + 1e-12:
        return "felt about the same time"
    # Round half up (not Python's round-half-even) so 0.125 reads 13%, as a reader would expect.
    percent = math.floor(abs(change) * 100 + 0.5 + 1e-9)
    return f"felt {percent}% {'less' if change < 0 else 'more'} time"
