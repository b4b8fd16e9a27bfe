"""The statistical core of the change flags (PRODUCT.md, "What reports flag"), without the database.

analytics.flags reads published cells and histograms and stores flags; everything in between (which
tests run on a unit's history, the Welch screen and the permutation refinement, Benjamini-Hochberg
per family, flag or "worth watching") lives here, as pure functions over :class:`CycleCell`
histories. Keeping it free of Django lets the test suite run the very same decision logic on
thousands of simulated histories to measure its false-alarm rate and power.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from scipy import special

from analytics.playbook import PLAYBOOK
from analytics.stats import (
    Alternative,
    benjamini_hochberg,
    cochran_armitage_trend,
    fisher_exact_test,
    shift_permutation_test,
    theil_sen_slope,
)

Q: Final = 0.10
WATCH_P: Final = 0.05
PRESSURE_HIGH_LINE: Final = 5.0
TREND_CYCLES: Final = 6  # PRODUCT.md: OLS over the last 6 published cycles; fewer means no trend flag
SHIFT_PREVIOUS: Final = 3  # the latest cycle against the previous three pooled
# A permutation p is computed exactly or by Monte Carlo only where it can matter: where Welch's
# t-test gives p >= SCREEN_P the permutation p cannot come near q = .10 or .05 either (both
# estimate the same tail), so that p stands in; above PERMUTATION_MAX_N respondents the Monte
# Carlo permutation distribution is the t distribution's to three decimals and Welch is used.
SCREEN_P: Final = 0.25
HISTORY_WINDOW: Final = 12  # cycles looked back for a unit's last six published ones
PERMUTATION_MAX_N: Final = 4000
PERMUTATION_RESAMPLES: Final = 9999
# Sequential sampling (Besag & Clifford): a p far above the lines stops after a few hundred draws.
PERMUTATION_STOP_AFTER_HITS: Final = 50

# Severities, equal to analytics.models.Flag.Severity's values (a TextChoices is a str).
FLAG: Final = "flag"
WATCH: Final = "watch"

CHANGE_METRICS = ("psych_safety", "pressure", "pilot_ratio", "workslop_prevalence")
CHANGE_SPECS: dict[str, list[tuple[str, Alternative, str, str]]] = {
    # metric: [(kind, alternative, playbook, what it means)]
    "psych_safety": [("psych_safety_falling", "less", "psych_safety", "psychological safety is falling")],
    "pressure": [("pressure_rising", "greater", "capability_trap", "pressure to use AI is rising")],
    "pilot_ratio": [
        ("pilot_ratio_falling", "less", "pilot_ratio", "the Pilot ratio is falling"),
        ("pilot_ratio_rising", "greater", "pilot_ratio", "the Pilot ratio is rising"),
    ],
    "workslop_prevalence": [("workslop_rising", "greater", "workslop", "workslop received is rising")],
}
MEAN_METRICS = {"psych_safety", "pressure"}
# Rising pressure on its own is not one of PRODUCT.md's flags: it feeds the capability trap.
INTERNAL_KINDS = {"pressure_rising"}

#: Raw scores of one published cell: (unit id, metric, cycle label) -> the answers it summarises.
ScoresLookup = Callable[[str, str, str], npt.NDArray[np.float64]]


@dataclass
class CycleCell:
    index: int  # months since year 0: keeps gaps between cycles honest in a slope
    label: str
    n: int
    value: float
    total: float
    total_sq: float
    ci_low: float | None
    ci_high: float | None


@dataclass
class Candidate:
    unit_id: str
    kind: str
    metric: str
    test: str
    p_value: float | None
    numbers: dict[str, Any]
    method: str
    explanation: str
    actions: list[str]
    # (metric, test), as PRODUCT defines a family: a falling and a rising test of one metric share
    # one false-discovery budget. None: a level check, not corrected.
    family: tuple[str, str] | None
    severity: str = ""
    # The cells a trend was fitted on: the Theil-Sen slope shown beside it is computed from them
    # only for what ends up flagged or watched (it decides nothing and is slow for 10,000 units).
    trend_cells: list[CycleCell] = field(default_factory=list, repr=False)


def ols_from_sums(cells: Iterable[CycleCell], *, alternative: str) -> tuple[float, float, float, int] | None:
    """OLS slope of individual scores on the cycle index, one-sided p, from per-cycle n, sum and
    sum of squares (exactly the fit on the individual scores; analytics.stats.ols_slope_test is
    the same test on raw arrays and the tests check they agree)."""
    cells = list(cells)
    n = sum(c.n for c in cells)
    if n < 3 or len({c.index for c in cells}) < 2:
        return None
    # Months since year 0 are ~24,000: shift them to start at 0, or sxx - sx^2/n cancels away
    # eight digits of the slope.
    origin = min(c.index for c in cells)
    sx = sum(c.n * (c.index - origin) for c in cells)
    sxx = sum(c.n * (c.index - origin) ** 2 for c in cells)
    sy = sum(c.total for c in cells)
    syy = sum(c.total_sq for c in cells)
    sxy = sum((c.index - origin) * c.total for c in cells)
    sxx_c = sxx - sx * sx / n
    slope = (sxy - sx * sy / n) / sxx_c
    sse = max(syy - sy * sy / n - slope * (sxy - sx * sy / n), 0.0)
    if sse <= 1e-12:
        return slope, 0.0, (0.0 if (slope < 0) == (alternative == "less") and slope != 0 else 1.0), n
    stderr = math.sqrt(sse / (n - 2) / sxx_c)
    t = slope / stderr
    p = float(special.stdtr(n - 2, t if alternative == "less" else -t))
    return slope, stderr, p, n


def welch_p(latest: CycleCell, previous: list[CycleCell], alternative: str) -> float:
    """One-sided Welch t-test p of the latest cycle against the previous ones pooled, from sums."""
    n1, n2 = latest.n, sum(c.n for c in previous)
    if n1 < 2 or n2 < 2:
        return math.nan
    m1, m2 = latest.total / n1, sum(c.total for c in previous) / n2
    v1 = max((latest.total_sq - n1 * m1 * m1) / (n1 - 1), 0.0)
    v2 = max((sum(c.total_sq for c in previous) - n2 * m2 * m2) / (n2 - 1), 0.0)
    se = math.sqrt(v1 / n1 + v2 / n2)
    if se == 0:
        return 1.0 if (m1 - m2 == 0) else (0.0 if (m1 < m2) == (alternative == "less") else 1.0)
    t = (m1 - m2) / se
    df = (v1 / n1 + v2 / n2) ** 2 / (
        ((v1 / n1) ** 2 / (n1 - 1) if v1 else 0.0) + ((v2 / n2) ** 2 / (n2 - 1) if v2 else 0.0) or 1e-12
    )
    return float(special.stdtr(df, t if alternative == "less" else -t))


# --- candidates --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Question:
    """One directional question asked of one unit's metric, e.g. "is safety falling in Payments?"."""

    unit: str
    path: str
    metric: str
    kind: str
    alternative: Alternative
    playbook: str
    meaning: str

    def answer(
        self, test: str, p: float | None, numbers: dict[str, Any], method: str, explanation: str,
        trend_cells: list[CycleCell] | None = None,
    ) -> Candidate:  # fmt: skip
        sentence = f"In {self.path}, {self.meaning}: {explanation}"
        return Candidate(
            self.unit, self.kind, self.metric, test, p, numbers, method, sentence, PLAYBOOK[self.playbook][:3],
            (self.metric, test), trend_cells=trend_cells or [],
        )  # fmt: skip


def change_candidates(
    unit: str, path: str, by_metric: Mapping[str, list[CycleCell]], latest: Mapping[str, CycleCell]
) -> list[Candidate]:
    """Trend and shift tests of one unit. ``by_metric`` holds its published cells, oldest first;
    ``latest`` those of the cycle being flagged (a metric missing there is hidden: no test)."""
    out: list[Candidate | None] = []
    for metric, specs in CHANGE_SPECS.items():
        cells = by_metric.get(metric, [])
        if metric not in latest:
            continue  # this cycle's cell is hidden: no flag may come from it
        last6 = cells[-TREND_CYCLES:]
        for kind, alternative, playbook, meaning in specs:
            question = _Question(unit, path, metric, kind, alternative, playbook, meaning)
            if len(last6) == TREND_CYCLES:
                out.append(_trend_candidate(question, last6))
            if len(cells) >= SHIFT_PREVIOUS + 1:
                out.append(_shift_candidate(question, cells))
    return [c for c in out if c is not None]


def _trend_candidate(question: _Question, cells: list[CycleCell]) -> Candidate | None:
    metric, alternative = question.metric, question.alternative
    means = [c.value for c in cells]
    numbers: dict[str, Any] = {
        "cycles": [c.label for c in cells],
        "means": [round(v, 4) for v in means],
        "n": [c.n for c in cells],
    }
    if metric in MEAN_METRICS:
        fit = ols_from_sums(cells, alternative=alternative)
        if fit is None:
            return None
        slope, stderr, p, n = fit
        numbers.update(ols_slope_per_month=round(slope, 4), stderr=round(stderr, 4), respondents=n)
        method = (
            f"One-sided OLS slope of {n} individual scores on the cycle index over the last {len(cells)} published "
            "cycles; Theil\u2013Sen slope of the cycle means shown beside it."
        )
        test = "trend_ols"
    else:
        result = cochran_armitage_trend(
            [int(round(c.total)) for c in cells],
            [c.n for c in cells],
            scores=[float(c.index) for c in cells],
            alternative=alternative,
        )
        if result is None:
            return None
        p = result.p_value
        numbers.update(z=round(result.z, 4), successes=[int(round(c.total)) for c in cells])
        method = f"One-sided Cochran\u2013Armitage trend test over the last {len(cells)} published cycles."
        test = "trend_cochran_armitage"
    explanation = (
        f"across the last {len(cells)} published cycles ({cells[0].label} to {cells[-1].label}) "
        f"the cycle values went {fmt(means[0], metric)} \u2192 {fmt(means[-1], metric)}."
    )
    return question.answer(test, p, numbers, method, explanation, trend_cells=cells)


def _shift_candidate(question: _Question, cells: list[CycleCell]) -> Candidate | None:
    metric, alternative = question.metric, question.alternative
    latest, previous = cells[-1], cells[-1 - SHIFT_PREVIOUS : -1]
    numbers: dict[str, Any] = {
        "latest": {"cycle": latest.label, "value": round(latest.value, 4), "n": latest.n},
        "previous": {"cycles": [c.label for c in previous], "n": sum(c.n for c in previous)},
    }
    if metric in MEAN_METRICS:
        # The Welch p screens; permutation_refine replaces it where it can matter.
        p = welch_p(latest, previous, alternative)
        numbers["previous"]["value"] = round(sum(c.total for c in previous) / max(sum(c.n for c in previous), 1), 4)
        method = "Permutation test of the difference in means, latest cycle against the previous three pooled."
        test = "shift_permutation"
    else:
        prev_success, prev_n = int(round(sum(c.total for c in previous))), sum(c.n for c in previous)
        result = fisher_exact_test(int(round(latest.total)), latest.n, prev_success, prev_n, alternative=alternative)
        p = result.p_value
        numbers["previous"]["value"] = round(prev_success / prev_n, 4) if prev_n else None
        method = "Fisher's exact test, latest cycle against the previous three pooled."
        test = "shift_fisher"
    explanation = (
        f"{latest.label} was {fmt(latest.value, metric)} against "
        f"{fmt(numbers['previous']['value'], metric)} over the three cycles before."
    )
    return question.answer(test, p, numbers, method, explanation)


# --- permutation refinement and false discovery rate -------------------------------------------


def permutation_wanted(candidates: Iterable[Candidate]) -> list[Candidate]:
    """The shift candidates whose Welch screening p may be replaced by a permutation p (SCREEN_P)."""
    return [
        c
        for c in candidates
        if c.test == "shift_permutation"
        and c.p_value is not None
        and not math.isnan(c.p_value)
        and c.p_value < SCREEN_P
        and c.numbers["latest"]["n"] + c.numbers["previous"]["n"] <= PERMUTATION_MAX_N
    ]


def permutation_refine(
    candidates: list[Candidate], scores: ScoresLookup, *, seed: int, n_resamples: int = PERMUTATION_RESAMPLES
) -> None:
    """Replaces the Welch screening p by the permutation p where it can matter (see SCREEN_P).

    ``scores`` gives the raw answers of a cell (the database keeps them as histograms). One seed
    for every test keeps a rerun of the job publishing the same p.
    """
    wanted = permutation_wanted(candidates)
    refined = {id(c) for c in wanted}
    for c in candidates:
        if c.test == "shift_permutation" and id(c) not in refined:
            # Says what this p really is: the screening test's, not a permutation test's.
            c.method += " (Welch's t-test where the permutation p could not matter or n is large.)"
    for c in wanted:
        alternative: Alternative = "less" if c.kind.endswith("falling") else "greater"
        latest = scores(c.unit_id, c.metric, c.numbers["latest"]["cycle"])
        previous = np.concatenate([scores(c.unit_id, c.metric, label) for label in c.numbers["previous"]["cycles"]])
        if len(latest) and len(previous):
            c.p_value = shift_permutation_test(
                latest,
                previous,
                alternative=alternative,
                n_resamples=n_resamples,
                random_state=seed,
                stop_after_hits=PERMUTATION_STOP_AFTER_HITS,
            )


def expand_histogram(counts: list[list[float]] | None) -> npt.NDArray[np.float64]:
    """Raw scores from a stored histogram, [[value, count], ...]."""
    if not counts:
        return np.array([], dtype=float)
    values, repeats = zip(*counts, strict=True)
    return np.repeat(np.asarray(values, dtype=float), np.asarray(repeats, dtype=int))


def apply_benjamini_hochberg(candidates: list[Candidate]) -> None:
    """Severity of every change candidate: FLAG if it survives BH at Q within its family (one metric x
    one test, across the units given), WATCH if it does not but p < WATCH_P."""
    families: dict[tuple[str, str], list[Candidate]] = defaultdict(list)
    for c in candidates:
        if c.family is not None:
            families[c.family].append(c)
    for members in families.values():
        p_values = np.array([np.nan if c.p_value is None else c.p_value for c in members], dtype=float)
        rejected, adjusted = benjamini_hochberg(p_values, q=Q)
        for c, survived, q_value in zip(members, rejected, adjusted, strict=True):
            c.numbers["q_value"] = None if math.isnan(q_value) else round(float(q_value), 4)
            if survived:
                c.severity = FLAG
            elif c.p_value is not None and c.p_value < WATCH_P:
                c.severity = WATCH
                c.explanation += (
                    " Not strong enough to count as a flag once every team's result is weighed: worth watching."
                )
        for c in members:
            c.method += f" Benjamini\u2013Hochberg at q = {Q:.2f} across the {len(members)} units tested."


def change_flags_decide(
    candidates: list[Candidate], scores: ScoresLookup, *, seed: int, n_resamples: int = PERMUTATION_RESAMPLES
) -> None:
    """Permutation refinement, then Benjamini-Hochberg: sets every change candidate's severity."""
    permutation_refine(candidates, scores, seed=seed, n_resamples=n_resamples)
    apply_benjamini_hochberg(candidates)
    for c in candidates:
        if c.trend_cells and c.severity:
            c.numbers["theil_sen_slope_per_cycle"] = theil_sen_per_cycle(c.trend_cells)


# --- compound flags ---------------------------------------------------------------------------


def capability_trap(
    candidates: list[Candidate], history: Mapping[str, Mapping[str, list[CycleCell]]], label: str
) -> None:
    """Pressure rising (p < .05 by trend or shift) or its interval above 5.0, while psychological
    safety falls (a flag that survived BH) in the cycle ``label``. Carries the severity of the safety
    flag. Run after :func:`change_flags_decide`."""
    falling = {c.unit_id: c for c in candidates if c.kind == "psych_safety_falling" and c.severity == FLAG}
    rising = {
        c.unit_id for c in candidates if c.kind == "pressure_rising" and c.p_value is not None and c.p_value < WATCH_P
    }
    for unit, safety in falling.items():
        pressure_cells = history.get(unit, {}).get("pressure", [])
        latest = pressure_cells[-1] if pressure_cells and pressure_cells[-1].label == label else None
        high = latest is not None and latest.ci_low is not None and latest.ci_low > PRESSURE_HIGH_LINE
        if unit in rising or high:
            reason = (
                "pressure to use AI is rising" if unit in rising else "pressure to use AI is high (interval above 5.0)"
            )
            candidates.append(
                Candidate(
                    unit,
                    "capability_trap",
                    "pressure",
                    "compound",
                    None,
                    {
                        "psych_safety": safety.numbers,
                        "pressure_latest": None if latest is None else round(latest.value, 3),
                    },
                    "Psychological safety falling (flag after Benjamini\u2013Hochberg) together with pressure rising "
                    "(p < .05) or its 95% interval above 5.0.",
                    f"{safety.explanation.split(':')[0]}, and {reason}: the capability-trap pattern.",
                    PLAYBOOK["capability_trap"][:3],
                    None,
                    FLAG,
                )
            )


# --- formatting --------------------------------------------------------------------------------


def theil_sen_per_cycle(cells: list[CycleCell]) -> float | None:
    slope = theil_sen_slope([c.index for c in cells], [c.value for c in cells])
    return None if math.isnan(slope) else round(slope, 4)


def fmt(value: float | None, metric: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if metric in MEAN_METRICS:
        return f"{value:.2f}"
    return f"{value:.0%}"
