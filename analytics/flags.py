"""Flags (PRODUCT.md, "What reports flag"), computed from published cells only.

Every test uses only cycles in which that unit's metric was published (R4), so a flag can never
reveal a hidden value. Change tests are grouped into families (one metric x one test x one
cycle, across all units) and a result is a *flag* only if it survives Benjamini-Hochberg at
q = 0.10 within its family; a p < .05 that does not survive is "worth watching" (the unit's own
report only). Level checks (an interval wholly below a line) are not tests of change and are not
corrected.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

from analytics.models import CellHistogram, Flag, MetricCell, UnitSnapshot
from analytics.playbook import PLAYBOOK
from analytics.rollup import OrgTree
from analytics.stats import (
    Alternative,
    benjamini_hochberg,
    cochran_armitage_trend,
    fisher_exact_test,
    shift_permutation_test,
    theil_sen_slope,
)
from surveys.models import Cycle

Q = 0.10
WATCH_P = 0.05
TREND_CYCLES = 6  # PRODUCT.md: OLS over the last 6 published cycles; fewer means no trend flag
SHIFT_PREVIOUS = 3  # the latest cycle against the previous three pooled
HISTORY_WINDOW = 12  # cycles looked back for a unit's last six published ones
PS_LOW_LINE = 5.0
PRESSURE_HIGH_LINE = 5.0
TRUST_MIDPOINT = 3.0
LOW_RESPONSE_PERCENT = 50.0
# A permutation p is computed exactly or by Monte Carlo only where it can matter: where Welch's
# t-test gives p >= SCREEN_P the permutation p cannot come near q = .10 or .05 either (both
# estimate the same tail), so that p stands in; above PERMUTATION_MAX_N respondents the Monte
# Carlo permutation distribution is the t distribution's to three decimals and Welch is used.
SCREEN_P = 0.25
PERMUTATION_MAX_N = 4000
PERMUTATION_RESAMPLES = 9999

INTERNAL_KINDS = {"pressure_rising"}
CHANGE_METRICS = ("psych_safety", "pressure", "pilot_ratio", "workslop_prevalence")
LEVEL_METRICS = ("psych_safety", "pressure", "trust", "daily_use_share", "responses", "ai_user_share")


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
    family: tuple[str, str] | None  # None: a level check, not corrected
    severity: str = ""


def flags_compute_for_cycle(*, cycle: Cycle, tree: OrgTree) -> int:
    """Computes and stores this cycle's flags; returns how many rows (flags and watches) it wrote."""
    Flag.objects.filter(cycle=cycle).delete()
    history = _published_history(cycle)
    paths = dict(UnitSnapshot.objects.filter(cycle=cycle).values_list("unit_id", "path"))
    candidates: list[Candidate] = []
    for unit, by_metric in history.items():
        path = paths.get(_uuid(unit), unit)
        latest = {metric: cells[-1] for metric, cells in by_metric.items() if cells and cells[-1].label == cycle.label}
        candidates.extend(_change_candidates(cycle, unit, path, by_metric, latest))
        candidates.extend(_level_candidates(unit, path, latest))
    _permutation_refine(cycle, candidates)
    _apply_benjamini_hochberg(candidates)
    _capability_trap(candidates, history, cycle)
    # Rising pressure on its own is not one of PRODUCT.md's flags: it feeds the capability trap.
    kept = [c for c in candidates if c.severity and c.kind not in INTERNAL_KINDS]
    Flag.objects.bulk_create(
        (
            Flag(
                cycle=cycle,
                unit_id=_uuid(c.unit_id),
                kind=c.kind,
                metric=c.metric,
                test=c.test,
                severity=c.severity,
                p_value=c.p_value,
                numbers=c.numbers,
                method=c.method,
                explanation=c.explanation,
                actions=c.actions,
            )
            for c in kept
        ),
        batch_size=2000,
    )
    return len(kept)


def _uuid(unit: str) -> uuid.UUID:
    return uuid.UUID(unit)


def _published_history(cycle: Cycle) -> dict[str, dict[str, list[CycleCell]]]:
    """unit -> metric -> published cells of the last HISTORY_WINDOW cycles up to this one, in order."""
    cycles = list(
        Cycle.objects.filter(month__lte=cycle.month, status=Cycle.Status.CLOSED).order_by("-month")[:HISTORY_WINDOW]
    )
    labels = {c.pk: (c.month.year * 12 + c.month.month, c.label) for c in cycles}
    rows = MetricCell.objects.filter(
        cycle_id__in=labels, published=True, metric__in=set(CHANGE_METRICS) | set(LEVEL_METRICS)
    ).values_list("cycle_id", "unit_id", "metric", "n", "value", "total", "total_sq", "ci_low", "ci_high")
    history: dict[str, dict[str, list[CycleCell]]] = defaultdict(lambda: defaultdict(list))
    for cycle_id, unit_id, metric, n, value, total, total_sq, low, high in rows.iterator(chunk_size=20000):
        index, label = labels[cycle_id]
        history[str(unit_id)][metric].append(
            CycleCell(
                index, label, n or 0, value if value is not None else math.nan, total or 0.0, total_sq or 0.0, low, high
            )
        )
    for by_metric in history.values():
        for cells in by_metric.values():
            cells.sort(key=lambda cell: cell.index)
    return history


# --- change tests ------------------------------------------------------------------------------


def ols_from_sums(cells: Iterable[CycleCell], *, alternative: str) -> tuple[float, float, float, int] | None:
    """OLS slope of individual scores on the cycle index, one-sided p, from per-cycle n, sum and
    sum of squares (exactly the fit on the individual scores; analytics.stats.ols_slope_test is
    the same test on raw arrays and the tests check they agree)."""
    cells = list(cells)
    n = sum(c.n for c in cells)
    if n < 3 or len({c.index for c in cells}) < 2:
        return None
    sx = sum(c.n * c.index for c in cells)
    sxx = sum(c.n * c.index * c.index for c in cells)
    sy = sum(c.total for c in cells)
    syy = sum(c.total_sq for c in cells)
    sxy = sum(c.index * c.total for c in cells)
    sxx_c = sxx - sx * sx / n
    slope = (sxy - sx * sy / n) / sxx_c
    sse = max(syy - sy * sy / n - slope * (sxy - sx * sy / n), 0.0)
    if sse <= 1e-12:
        return slope, 0.0, (0.0 if (slope < 0) == (alternative == "less") and slope != 0 else 1.0), n
    stderr = math.sqrt(sse / (n - 2) / sxx_c)
    t = slope / stderr
    p = float(scipy_stats.t.cdf(t, n - 2) if alternative == "less" else scipy_stats.t.sf(t, n - 2))
    return slope, stderr, p, n


def _welch_p(latest: CycleCell, previous: list[CycleCell], alternative: str) -> float:
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
    return float(scipy_stats.t.cdf(t, df) if alternative == "less" else scipy_stats.t.sf(t, df))


CHANGE_SPECS = {
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


def _change_candidates(
    cycle: Cycle, unit: str, path: str, by_metric: Mapping[str, list[CycleCell]], latest: Mapping[str, CycleCell]
) -> list[Candidate]:
    out: list[Candidate | None] = []
    for metric, specs in CHANGE_SPECS.items():
        cells = by_metric.get(metric, [])
        if metric not in latest:
            continue  # this cycle's cell is hidden: no flag may come from it
        last6 = cells[-TREND_CYCLES:]
        for kind, alternative, playbook, meaning in specs:
            if len(last6) == TREND_CYCLES:
                out.append(_trend_candidate(unit, path, metric, kind, alternative, playbook, meaning, last6))
            if len(cells) >= SHIFT_PREVIOUS + 1:
                out.append(_shift_candidate(unit, path, metric, kind, alternative, playbook, meaning, cells))
    return [c for c in out if c is not None]


def _trend_candidate(
    unit: str, path: str, metric: str, kind: str, alternative: str, playbook: str, meaning: str, cells: list[CycleCell]
) -> Candidate | None:
    means = [c.value for c in cells]
    numbers: dict[str, Any] = {
        "cycles": [c.label for c in cells],
        "means": [round(v, 4) for v in means],
        "n": [c.n for c in cells],
        "theil_sen_slope_per_cycle": _theil_sen_per_cycle(cells),
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
            alternative=alternative,  # type: ignore[arg-type]
        )
        if result is None:
            return None
        p = result.p_value
        numbers.update(z=round(result.z, 4), successes=[int(round(c.total)) for c in cells])
        method = f"One-sided Cochran\u2013Armitage trend test over the last {len(cells)} published cycles."
        test = "trend_cochran_armitage"
    explanation = (
        f"In {path}, {meaning}: across the last {len(cells)} published cycles ({cells[0].label} to {cells[-1].label}) "
        f"the cycle values went {_fmt(means[0], metric)} \u2192 {_fmt(means[-1], metric)}."
    )
    return Candidate(unit, kind, metric, test, p, numbers, method, explanation, PLAYBOOK[playbook][:3], (kind, test))


def _shift_candidate(
    unit: str, path: str, metric: str, kind: str, alternative: str, playbook: str, meaning: str, cells: list[CycleCell]
) -> Candidate | None:
    latest, previous = cells[-1], cells[-1 - SHIFT_PREVIOUS : -1]
    numbers: dict[str, Any] = {
        "latest": {"cycle": latest.label, "value": round(latest.value, 4), "n": latest.n},
        "previous": {"cycles": [c.label for c in previous], "n": sum(c.n for c in previous)},
    }
    if metric in MEAN_METRICS:
        p = _welch_p(latest, previous, alternative)
        numbers["previous"]["value"] = round(sum(c.total for c in previous) / max(sum(c.n for c in previous), 1), 4)
        method = "Permutation test of the difference in means, latest cycle against the previous three pooled."
        test = "shift_permutation"
    else:
        prev_success, prev_n = int(round(sum(c.total for c in previous))), sum(c.n for c in previous)
        result = fisher_exact_test(int(round(latest.total)), latest.n, prev_success, prev_n, alternative=alternative)  # type: ignore[arg-type]
        p = result.p_value
        numbers["previous"]["value"] = round(prev_success / prev_n, 4) if prev_n else None
        method = "Fisher's exact test, latest cycle against the previous three pooled."
        test = "shift_fisher"
    explanation = (
        f"In {path}, {meaning}: {latest.label} was {_fmt(latest.value, metric)} against "
        f"{_fmt(numbers['previous']['value'], metric)} over the three cycles before."
    )
    return Candidate(unit, kind, metric, test, p, numbers, method, explanation, PLAYBOOK[playbook][:3], (kind, test))


def _permutation_refine(cycle: Cycle, candidates: list[Candidate]) -> None:
    """Replaces the Welch screening p by the permutation p where it can matter (see SCREEN_P)."""
    wanted = [
        c
        for c in candidates
        if c.test == "shift_permutation"
        and c.p_value is not None
        and not math.isnan(c.p_value)
        and c.p_value < SCREEN_P
        and c.numbers["latest"]["n"] + c.numbers["previous"]["n"] <= PERMUTATION_MAX_N
    ]
    if not wanted:
        for c in candidates:
            if c.test == "shift_permutation":
                c.method += " (Welch's t-test where the permutation p could not matter or n is large.)"
        return
    variables = {c.metric for c in wanted}
    labels = {label for c in wanted for label in [c.numbers["latest"]["cycle"], *c.numbers["previous"]["cycles"]]}
    cycles = {c.label: c.pk for c in Cycle.objects.filter(status=Cycle.Status.CLOSED) if c.label in labels}
    units = {_uuid(c.unit_id) for c in wanted}
    histograms = {
        (str(unit), variable, cycle_id): counts
        for unit, variable, cycle_id, counts in CellHistogram.objects.filter(
            unit_id__in=units, variable__in=variables, cycle_id__in=cycles.values()
        ).values_list("unit_id", "variable", "cycle_id", "counts")
    }
    seed = cycle.month.year * 100 + cycle.month.month  # reproducible reruns
    for c in wanted:
        alternative: Alternative = "less" if c.kind.endswith("falling") else "greater"
        latest = _expand(histograms.get((c.unit_id, c.metric, cycles[c.numbers["latest"]["cycle"]])))
        previous = np.concatenate(
            [_expand(histograms.get((c.unit_id, c.metric, cycles[label]))) for label in c.numbers["previous"]["cycles"]]
        )
        if len(latest) and len(previous):
            c.p_value = shift_permutation_test(
                latest,
                previous,
                alternative=alternative,
                n_resamples=PERMUTATION_RESAMPLES,
                random_state=seed,  # type: ignore[arg-type]
            )


def _expand(counts: list[list[float]] | None) -> np.ndarray:
    if not counts:
        return np.array([], dtype=float)
    values, repeats = zip(*counts, strict=True)
    return np.repeat(np.asarray(values, dtype=float), np.asarray(repeats, dtype=int))


def _apply_benjamini_hochberg(candidates: list[Candidate]) -> None:
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
                c.severity = Flag.Severity.FLAG
            elif c.p_value is not None and c.p_value < WATCH_P:
                c.severity = Flag.Severity.WATCH
                c.explanation += (
                    " Not strong enough to count as a flag once every team's result is weighed: worth watching."
                )
        for c in members:
            c.method += f" Benjamini\u2013Hochberg at q = {Q:.2f} across the {len(members)} units tested."


# --- levels and compound flags ------------------------------------------------------------------


def _level_candidates(unit: str, path: str, latest: Mapping[str, CycleCell]) -> list[Candidate]:
    out = []
    ps = latest.get("psych_safety")
    if ps is not None and ps.ci_high is not None and ps.ci_high < PS_LOW_LINE:
        out.append(
            Candidate(
                unit,
                "psych_safety_low",
                "psych_safety",
                "level",
                None,
                {
                    "mean": round(ps.value, 3),
                    "ci": [round(ps.ci_low or 0, 3), round(ps.ci_high, 3)],
                    "n": ps.n,
                    "line": PS_LOW_LINE,
                },
                "95% t interval of the mean wholly below 5.0 on the 1\u20137 scale.",
                f"In {path}, psychological safety is low: {ps.value:.2f} "
                f"(95% interval {ps.ci_low:.2f}\u2013{ps.ci_high:.2f}), all of it below 5.0.",
                PLAYBOOK["psych_safety"][:3],
                None,
                Flag.Severity.FLAG,
            )
        )
    trust, daily = latest.get("trust"), latest.get("daily_use_share")
    if trust and daily and trust.ci_high is not None and daily.value > 0.5 and trust.ci_high < TRUST_MIDPOINT:
        out.append(
            Candidate(
                unit,
                "trust_use_gap",
                "trust",
                "level",
                None,
                {
                    "daily_use_share": round(daily.value, 3),
                    "trust_mean": round(trust.value, 3),
                    "trust_ci_high": round(trust.ci_high, 3),
                },
                "Most respondents use AI daily or more while the 95% interval of trust lies below the "
                "scale midpoint (3).",
                f"In {path}, {daily.value:.0%} use AI daily or more, yet trust in its output is "
                f"{trust.value:.2f} of 5, its whole interval below the midpoint.",
                PLAYBOOK["trust_use_gap"][:3],
                None,
                Flag.Severity.FLAG,
            )
        )
    responses = latest.get("responses")
    if responses is not None and responses.value is not None and responses.value < LOW_RESPONSE_PERCENT:
        out.append(
            Candidate(
                unit,
                "low_response_rate",
                "responses",
                "level",
                None,
                {"response_rate_percent": round(responses.value, 1)},
                "Response rate below 50% of those invited.",
                f"In {path}, {responses.value:.0f}% answered: results may not represent the team.",
                PLAYBOOK["low_response"][:3],
                None,
                Flag.Severity.FLAG,
            )
        )
    return out


def _capability_trap(
    candidates: list[Candidate], history: Mapping[str, Mapping[str, list[CycleCell]]], cycle: Cycle
) -> None:
    """Pressure rising (p < .05 by trend or shift) or its interval above 5.0, while psychological
    safety falls (a flag that survived BH). Carries the severity of the safety flag."""
    falling = {
        c.unit_id: c for c in candidates if c.kind == "psych_safety_falling" and c.severity == Flag.Severity.FLAG
    }
    rising = {
        c.unit_id for c in candidates if c.kind == "pressure_rising" and c.p_value is not None and c.p_value < WATCH_P
    }
    for unit, safety in falling.items():
        pressure_cells = history.get(unit, {}).get("pressure", [])
        latest = pressure_cells[-1] if pressure_cells and pressure_cells[-1].label == cycle.label else None
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
                    Flag.Severity.FLAG,
                )
            )


def _theil_sen_per_cycle(cells: list[CycleCell]) -> float | None:
    slope = theil_sen_slope([c.index for c in cells], [c.value for c in cells])
    return None if math.isnan(slope) else round(slope, 4)


def _fmt(value: float | None, metric: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if metric in MEAN_METRICS:
        return f"{value:.2f}"
    return f"{value:.0%}"
