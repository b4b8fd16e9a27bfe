"""Reference statistics: one-unit, raw-answer versions of what the job computes from sums.

The job (analytics.stats, analytics.core) works column-wise on sufficient statistics of many cells
at once. These plain functions over arrays of individual answers are the oracle it is checked
against (tests/analytics/test_stats.py checks each of them in turn against statsmodels, pingouin,
pymannkendall or scipy on fixed data). The job never calls them.

Conventions:
- NaN means "not answered" and is dropped before computing, so each metric has its own n.
- Too little data is answered with NaN intervals or None, never with an exception.
- One-sided alternatives name the direction of the *first* sample or of the slope:
  "less" = the latest cycle is lower / the trend falls; "greater" = higher / rises.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

# Neither ships type information and the stub packages are not dev dependencies (yet), so both
# are typed as Any here; every value they return is converted to a plain float/int/ndarray
# before it leaves this module.
import pandas as pd  # type: ignore[import-untyped]
from scipy import special  # type: ignore[import-untyped]
from scipy import stats as scipy_stats  # type: ignore[import-untyped]

from analytics.stats import change as change_tests
from analytics.stats.robust import _paired_finite

Alternative = Literal["two-sided", "less", "greater"]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# Usage-mode labels (PRODUCT.md "AI usage mode"). A Passenger is an AI user who is not a Pilot;
# the three passenger quadrants keep the prefix so `mode.startswith("passenger")` is all a
# caller needs to tell them apart from Pilots.
PILOT: Final = "pilot"
PASSENGER_HIGH_AGENCY_LOW_OPTIMISM: Final = "passenger_high_agency_low_optimism"
PASSENGER_LOW_AGENCY_HIGH_OPTIMISM: Final = "passenger_low_agency_high_optimism"
PASSENGER_LOW_AGENCY_LOW_OPTIMISM: Final = "passenger_low_agency_low_optimism"
USAGE_MODES: Final = (
    PILOT,
    PASSENGER_HIGH_AGENCY_LOW_OPTIMISM,
    PASSENGER_LOW_AGENCY_HIGH_OPTIMISM,
    PASSENGER_LOW_AGENCY_LOW_OPTIMISM,
)


@dataclass(frozen=True, slots=True)
class Estimate:
    """A point estimate with its interval; the interval is NaN when n is too small for one."""

    n: int
    value: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class SlopeTest:
    n: int
    slope: float
    stderr: float
    p_value: float


@dataclass(frozen=True, slots=True)
class FisherTest:
    odds_ratio: float
    p_value: float


@dataclass(frozen=True, slots=True)
class TrendTest:
    z: float
    p_value: float


@dataclass(frozen=True, slots=True)
class ThreeBins:
    unfavourable: int
    neutral: int
    favourable: int

    @property
    def n(self) -> int:
        return self.unfavourable + self.neutral + self.favourable


class PilotCount(NamedTuple):
    pilots: int
    ai_users: int


def _answered(values: npt.ArrayLike) -> FloatArray:
    """The values as a flat float array without the NaNs (skipped or not asked)."""
    array = np.asarray(values, dtype=np.float64).ravel()
    return array[~np.isnan(array)]


def _check_scale(values: FloatArray, scale_min: float, scale_max: float) -> None:
    # Reverse-coding or binning an out-of-range value would silently produce a plausible-looking
    # wrong score, so bad input (e.g. a 5-point item treated as 7-point) stops the job instead.
    if values.size and (values.min() < scale_min or values.max() > scale_max):
        raise ValueError(
            f"values must lie on the {scale_min:g}..{scale_max:g} scale; got {values.min():g}..{values.max():g}"
        )


# --- Scores -----------------------------------------------------------------------------------


def reverse_code(values: npt.ArrayLike, *, scale_min: int = 1, scale_max: int = 7) -> FloatArray:
    """Mirror answers on the scale (7 -> 1 on 1..7). NaN stays NaN.

    A pandas Series comes back as an ndarray of the same length and order; wrap it again with the
    Series' index if needed (construct_scores does this for you).
    """
    array = np.asarray(values, dtype=np.float64)
    _check_scale(array[~np.isnan(array)], scale_min, scale_max)
    return (scale_min + scale_max) - array


def construct_scores(
    answers: pd.DataFrame,
    *,
    constructs: Mapping[str, Sequence[str]],
    reverse_keys: Collection[str],
    scale_min: int = 1,
    scale_max: int = 7,
    min_items_fraction: float = 0.5,
) -> pd.DataFrame:
    """Per-response construct scores: the mean of the answered items after reverse-coding.

    `answers` has one row per response and one column per item key (NaN = skipped or not asked).
    Reverse-coding is decided by the item *key* (`reverse_keys`), never by column position, so a
    reordered instrument cannot flip a score. A score needs at least `min_items_fraction` of the
    construct's items answered (0.5 of 7 items = 4 items), otherwise it is NaN: the usual
    "prorated mean" rule for scales with skipped items.
    """
    if not 0 < min_items_fraction <= 1:
        raise ValueError(f"min_items_fraction must be in (0, 1]; got {min_items_fraction}")
    scores = {}
    for name, keys in constructs.items():
        keys = list(keys)
        if not keys:
            raise ValueError(f"construct {name!r} has no items")
        missing = [key for key in keys if key not in answers.columns]
        if missing:
            raise KeyError(f"construct {name!r} needs item columns {missing} that the answers do not have")
        items = answers[keys].astype(np.float64)
        for key in keys:
            if key in reverse_keys:
                items[key] = reverse_code(items[key].to_numpy(), scale_min=scale_min, scale_max=scale_max)
            else:
                _check_scale(_answered(items[key].to_numpy()), scale_min, scale_max)
        answered = items.notna().sum(axis=1)
        # The mean of the answered items only; rows below the threshold are blanked afterwards.
        score = items.mean(axis=1, skipna=True)
        scores[name] = score.where(answered >= min_items_fraction * len(keys))
    return pd.DataFrame(scores, index=answers.index, columns=list(constructs))


def favourable_share(values: npt.ArrayLike, *, threshold: float = 5) -> float:
    """Share of answers at or above `threshold` (5 on a 7-point scale), NaNs dropped.

    Pass reverse-coded values for reverse-keyed items. NaN when nobody answered.
    """
    answered = _answered(values)
    if answered.size == 0:
        return math.nan
    return float(np.mean(answered >= threshold))


def to_0_100(mean: float, scale_min: float = 1, scale_max: float = 7) -> float:
    """Rescale a mean on scale_min..scale_max to 0..100 (4 on 1..7 -> 50)."""
    return (mean - scale_min) / (scale_max - scale_min) * 100


def three_bins(values: npt.ArrayLike, *, scale_max: int = 7) -> ThreeBins:
    """Counts of unfavourable / neutral / favourable answers on an odd 1..scale_max scale.

    7 points: 1-3, 4, 5-7. 5 points (trust1): 1-2, 3, 4-5. The neutral bin is the midpoint.
    Pass reverse-coded values for reverse-keyed items.
    """
    if scale_max < 3 or scale_max % 2 == 0:
        raise ValueError(f"three bins need an odd scale of 3 or more points; got 1..{scale_max}")
    answered = _answered(values)
    _check_scale(answered, 1, scale_max)
    midpoint = (scale_max + 1) / 2
    return ThreeBins(
        unfavourable=int(np.sum(answered < midpoint)),
        neutral=int(np.sum(answered == midpoint)),
        favourable=int(np.sum(answered > midpoint)),
    )


# --- Intervals --------------------------------------------------------------------------------


def mean_interval(values: npt.ArrayLike, confidence: float = 0.95) -> Estimate:
    """Mean with its Student-t interval, NaNs dropped; the interval is NaN below n = 2."""
    answered = _answered(values)
    n = int(answered.size)
    if n == 0:
        return Estimate(n=0, value=math.nan, low=math.nan, high=math.nan)
    mean = float(np.mean(answered))
    if n < 2:
        return Estimate(n=n, value=mean, low=math.nan, high=math.nan)
    standard_error = float(np.std(answered, ddof=1)) / math.sqrt(n)
    half_width = float(scipy_stats.t.ppf(0.5 + confidence / 2, df=n - 1)) * standard_error
    return Estimate(n=n, value=mean, low=mean - half_width, high=mean + half_width)


def geometric_mean_interval(ratios: npt.ArrayLike, confidence: float = 0.95) -> Estimate:
    """Geometric mean of time ratios with the interval exp(t interval of mean log r).

    Ratios are multiplicative (0.5 and 2 are symmetric around "no change"), so they are averaged
    on the log scale, as METR (2025) does for its time ratios; the back-transformed interval is
    asymmetric around the geometric mean, as it should be.
    """
    answered = _answered(ratios)
    if np.any(answered <= 0):
        raise ValueError("time ratios must be positive (time with AI / time without)")
    on_log_scale = mean_interval(np.log(answered), confidence)
    return Estimate(
        n=on_log_scale.n,
        value=math.exp(on_log_scale.value),
        low=math.exp(on_log_scale.low),
        high=math.exp(on_log_scale.high),
    )


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> Estimate:
    """Proportion with the Wilson (1927) score interval; NaN for n = 0.

    Chosen over the Wald interval because small teams routinely have 0% or 100% Pilots, where
    Wald collapses to a zero-width interval and Wilson does not (Brown, Cai & DasGupta 2001).
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n; got successes={successes}, n={n}")
    if n == 0:
        return Estimate(n=0, value=math.nan, low=math.nan, high=math.nan)
    z = float(scipy_stats.norm.ppf(0.5 + confidence / 2))
    proportion = successes / n
    denominator = 1 + z**2 / n
    centre = (proportion + z**2 / (2 * n)) / denominator
    half_width = z / denominator * math.sqrt(proportion * (1 - proportion) / n + z**2 / (4 * n**2))
    # Clipped because rounding can put the bound a hair outside [0, 1] at 0% or 100%.
    return Estimate(n=n, value=proportion, low=max(0.0, centre - half_width), high=min(1.0, centre + half_width))


# --- Empirical Bayes --------------------------------------------------------------------------


# --- Trend and shift tests --------------------------------------------------------------------


def _t_p_value(t: float, df: int, alternative: Alternative) -> float:
    # scipy.special.stdtr is the Student t CDF behind scipy.stats.t, without its per-call overhead
    # (the flag stage calls this tens of thousands of times per cycle).
    if alternative == "less":
        return float(special.stdtr(df, t))
    if alternative == "greater":
        return float(special.stdtr(df, -t))
    return float(2 * special.stdtr(df, -abs(t)))


def ols_slope_test(cycle_index: npt.ArrayLike, scores: npt.ArrayLike, *, alternative: Alternative) -> SlopeTest | None:
    """OLS slope of individual scores on the cycle index, with a t test on n - 2 df.

    One row per response (not per cycle mean), so a cycle with more answers weighs more and the
    test has the power of every response. Answers cannot be linked across months, so person
    effects stay in the residual: with a stable team they are orthogonal to time, which only
    inflates the standard error, i.e. the test is conservative (PRODUCT.md "Trend").

    None when the slope is not estimable: fewer than 3 responses or fewer than 2 distinct cycles.
    When every score is identical the slope is 0 and p is 1 (no evidence of any change): the
    usual formula would divide 0 by a rounding-error standard error and return noise.
    """
    x, y = _paired_finite(cycle_index, scores)
    n = int(x.size)
    if n < 3 or np.unique(x).size < 2:
        return None
    if np.ptp(y) == 0:
        return SlopeTest(n=n, slope=0.0, stderr=0.0, p_value=1.0)
    x_centred = x - x.mean()
    y_centred = y - y.mean()
    sxx = float(np.sum(x_centred**2))
    slope = float(np.sum(x_centred * y_centred)) / sxx
    residuals = y_centred - slope * x_centred
    stderr = math.sqrt(float(np.sum(residuals**2)) / (n - 2) / sxx)
    if stderr == 0:
        # A perfect straight line: the direction is certain.
        t = math.copysign(math.inf, slope)
    else:
        t = slope / stderr
    return SlopeTest(n=n, slope=slope, stderr=stderr, p_value=_t_p_value(t, n - 2, alternative))


def fisher_exact_test(a_success: int, a_n: int, b_success: int, b_n: int, *, alternative: Alternative) -> FisherTest:
    """Fisher's exact test of two proportions (a = latest cycle, b = previous cycles pooled).

    "less" asks whether a's proportion is lower than b's (the odds ratio of a vs b is below 1).
    """
    for successes, n, name in ((a_success, a_n, "a"), (b_success, b_n, "b")):
        if n < 0 or not 0 <= successes <= n:
            raise ValueError(f"need 0 <= {name}_success <= {name}_n; got {successes} of {n}")
    table = [[a_success, a_n - a_success], [b_success, b_n - b_success]]
    if alternative == "two-sided":
        odds_ratio, p_value = scipy_stats.fisher_exact(table, alternative=alternative)
        return FisherTest(odds_ratio=float(odds_ratio), p_value=float(p_value))
    successes, total = a_success + b_success, a_n + b_n
    failures_a, failures_b = a_n - a_success, b_n - b_success
    if 0 in (a_n, b_n, successes, total - successes):
        odds_ratio = math.nan  # as scipy: a margin of 0 tests nothing
    else:
        odds_ratio = a_success * failures_b / (failures_a * b_success) if failures_a and b_success else math.inf
    p_value = change_tests.fisher_one_sided(a_success, a_n, b_success, b_n, alternative=alternative)
    return FisherTest(odds_ratio=float(odds_ratio), p_value=float(p_value))


def cochran_armitage_trend(
    successes: Sequence[int],
    totals: Sequence[int],
    *,
    scores: Sequence[float] | None = None,
    alternative: Alternative,
) -> TrendTest | None:
    """Cochran-Armitage test for a linear trend in proportions across ordered groups (cycles).

    Armitage (1955), with the binomial variance under H0 (pooled p, denominator N), which is the
    textbook form and what R's prop.trend.test computes:

        T = sum x_i (s_i - s_bar),   s_bar = sum n_i s_i / N
        Var(T) = p (1 - p) sum n_i (s_i - s_bar)^2,   z = T / sqrt(Var(T))

    z > 0 means the proportion rises with the score. The permutation (hypergeometric) variance,
    as in statsmodels' linear-by-linear test, is this one times N / (N - 1). Scores default to
    0, 1, ..., k - 1 (equally spaced cycles).

    None when fewer than 2 groups with different scores have any trials. If every trial is a
    success (or none is), z = 0 and p = 1: no variation, no evidence of a trend.
    """
    x = np.asarray(successes, dtype=np.float64)
    n = np.asarray(totals, dtype=np.float64)
    s = np.arange(x.size, dtype=np.float64) if scores is None else np.asarray(scores, dtype=np.float64)
    if not x.shape == n.shape == s.shape:
        raise ValueError(f"successes, totals and scores must have the same length; got {x.size}, {n.size}, {s.size}")
    if np.any(n < 0) or np.any(x < 0) or np.any(x > n):
        raise ValueError("need 0 <= successes <= totals in every group")
    observed = n > 0
    if np.unique(s[observed]).size < 2:
        return None
    s = s - s[observed].min()  # scores from 0, as the column form wants them (it is shift-invariant)
    one_sided: Literal["less", "greater"] = "greater" if alternative == "greater" else "less"
    result = change_tests.cochran_armitage(
        n.sum(), x.sum(), np.sum(n * s), np.sum(n * s * s), np.sum(x * s), alternative=one_sided
    )
    z, p_value = float(result.z), float(result.p_value)
    if alternative == "two-sided":
        p_value = float(2 * special.ndtr(-abs(z)))
    return TrendTest(z=z, p_value=p_value)


# --- Multiple testing -------------------------------------------------------------------------


# --- Reliability ------------------------------------------------------------------------------


def cronbach_alpha(items: pd.DataFrame, *, min_respondents: int = 30) -> float | None:
    """Cronbach's (1951) alpha over complete cases: k/(k-1) * (1 - sum var(item) / var(total)).

    Pass items already reverse-coded (reverse_code), otherwise alpha is meaningless. Only
    respondents who answered every item count (listwise deletion). None when fewer than
    `min_respondents` complete cases remain (alpha is too unstable below ~30) or the totals have
    no variance (alpha is undefined).
    """
    if items.shape[1] < 2:
        raise ValueError(f"Cronbach's alpha needs at least 2 items; got {items.shape[1]}")
    complete = items.dropna(axis=0, how="any").to_numpy(dtype=np.float64)
    if complete.shape[0] < max(min_respondents, 2):
        return None
    k = int(complete.shape[1])
    total_variance = float(np.var(complete.sum(axis=1), ddof=1))
    if total_variance == 0:
        return None
    item_variances = float(np.sum(np.var(complete, axis=0, ddof=1)))
    return k / (k - 1) * (1 - item_variances / total_variance)


# --- Pilots and Passengers --------------------------------------------------------------------


def usage_modes(agency_mean: npt.ArrayLike, optimism_mean: npt.ArrayLike, *, cutoff: float = 5.0) -> pd.Series:
    """Each respondent's usage mode from their agency and optimism means (inspired by BetterUp).

    Pilot = agency >= cutoff and optimism >= cutoff; the other three quadrants are Passengers
    (see USAGE_MODES). NaN when either mean is missing: non-users, who are not asked, and AI
    users who skipped too many items, who therefore fall outside the Pilot ratio too.

    Returns a categorical Series with all four modes as categories, so value_counts() also lists
    the quadrants nobody is in. A Series input keeps its index.
    """
    index = agency_mean.index if isinstance(agency_mean, pd.Series) else None
    agency = np.asarray(agency_mean, dtype=np.float64).ravel()
    optimism = np.asarray(optimism_mean, dtype=np.float64).ravel()
    if agency.shape != optimism.shape:
        raise ValueError(f"agency and optimism must have the same length; got {agency.size} and {optimism.size}")
    high_agency = agency >= cutoff
    high_optimism = optimism >= cutoff
    labels = np.select(
        [high_agency & high_optimism, high_agency, high_optimism],
        [PILOT, PASSENGER_HIGH_AGENCY_LOW_OPTIMISM, PASSENGER_LOW_AGENCY_HIGH_OPTIMISM],
        default=PASSENGER_LOW_AGENCY_LOW_OPTIMISM,
    ).astype(object)
    labels[np.isnan(agency) | np.isnan(optimism)] = None
    return pd.Series(pd.Categorical(labels, categories=USAGE_MODES), index=index, name="usage_mode")


def pilot_ratio(modes: pd.Series) -> PilotCount:
    """(Pilots, AI users with a mode): the Pilot ratio's numerator and denominator."""
    known = modes.dropna()
    return PilotCount(pilots=int((known == PILOT).sum()), ai_users=int(known.size))


# --- Simulation -------------------------------------------------------------------------------


def simulate_team_scores(
    rng: np.random.Generator,
    *,
    team_size: int,
    cycles: int,
    drop_per_cycle: float = 0.0,
    person_sd: float = 0.8,
    noise_sd: float = 0.7,
    start_mean: float = 5.0,
) -> pd.DataFrame:
    """Individual psychological-safety scores of a stable team over cycles 0..cycles-1.

    Each person has a lasting effect (person_sd) plus fresh noise each cycle (noise_sd); the team
    mean falls by drop_per_cycle each cycle (a 1.0-point fall over 6 cycles is 0.2 per cycle).
    Scores are clipped to the 1..7 scale. Used to check the power and false-alarm rate of the
    trend flag, and as demo data.
    """
    person_effect = rng.normal(0.0, person_sd, size=team_size)
    cycle = np.repeat(np.arange(cycles), team_size)
    person = np.tile(np.arange(team_size), cycles)
    raw = start_mean - drop_per_cycle * cycle + person_effect[person] + rng.normal(0.0, noise_sd, size=cycle.size)
    return pd.DataFrame({"cycle": cycle, "score": np.clip(raw, 1.0, 7.0)})
