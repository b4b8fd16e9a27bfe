"""What a flag says: candidates with their numbers, method and plain-language explanation.

analytics.flags.questions decides, for every unit at once, which questions came out as a flag or as
"worth watching". Only those (a few hundred in a large organisation) become :class:`Candidate`
objects here, with the figures, the sentence and the playbook's suggestions a report shows; so do
the level checks (an interval wholly below a line, not tests of change and not corrected) and the
compound capability trap. Pure functions over the history frame, like analytics.flags.questions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd  # type: ignore[import-untyped]
from scipy import special  # type: ignore[import-untyped]

from analytics.flags.history import CycleCell, series_cells
from analytics.flags.playbook import PLAYBOOK
from analytics.flags.questions import (
    FLAG,
    MEAN_METRICS,
    QUESTIONS_BY_KIND,
    SHIFT_PERMUTATION,
    SHIFT_PREVIOUS,
    SHIFT_Z,
    TEST_FAMILY,
    TREND_CYCLES,
    TREND_OLS,
    TREND_WLS,
    WATCH,
    Q,
)
from analytics.stats.change import interval_sd
from analytics.stats.robust import theil_sen_slope

PS_LOW_LINE: Final = 5.0
#: How sure a level check is: it fires only when the whole interval is past the line.
LEVEL_CERTAINTY: Final = (
    "A clear result: the whole 95% interval is past the line, not just the average (a check of this cycle's "
    "level, not a test of change)."
)
TRUST_MIDPOINT: Final = 3.0
LOW_RESPONSE_PERCENT: Final = 50.0
PRESSURE_HIGH_LINE: Final = 5.0
SUGGESTIONS: Final = 3  # of the playbook's, per flag
# R13: what a known-SD test's SD is, said in its method.
_WHOSE_SD: Final = (
    "the organisation's for that cycle wherever the group is too small to show its own spread; no individual "
    "answer is used"
)


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
    # (metric, "trend" | "shift"), as PRODUCT defines a family: a falling and a rising test of one
    # metric share one false-discovery budget. None: a level check or a compound, not corrected.
    family: tuple[str, str] | None
    severity: str = ""
    # The unit's path as the sentence names it (the compound capability trap reuses it).
    where: str = ""


# --- change flags --------------------------------------------------------------------------------


def change_candidates(questions: pd.DataFrame, history: pd.DataFrame, paths: Mapping[str, str]) -> list[Candidate]:
    """A candidate for every decided question that came out as a flag or worth watching.

    Its sentence opens with what it found (a flag) or with the hedge (worth watching: never a
    flat claim first), quotes the change the test measured with its 95% interval (a trend's
    fitted change over the window, not the first and last cycle's values; a shift's difference)
    and ends by saying, in plain words, how sure it is (:func:`certainty_text`)."""
    shown = questions[questions["severity"] != ""]
    cells = series_cells(history, set(zip(shown["unit"], shown["metric"], strict=True)))
    out = []
    for row in shown.itertuples(index=False):
        series = cells[(row.unit, row.metric)]
        question = QUESTIONS_BY_KIND[row.kind]
        if row.test.startswith("trend"):
            numbers, method, explanation, trend = _trend_text(row, series[-TREND_CYCLES:])
        else:
            numbers, method, explanation = _shift_text(row, series)
            trend = []
        numbers["q_value"] = None if math.isnan(row.q_value) else round(float(row.q_value), 4)
        if trend:
            # Shown beside the test for what is flagged or watched only: it decides nothing.
            numbers["theil_sen_slope_per_cycle"] = theil_sen_per_cycle(trend)
        tests, units = int(row.family_size), int(row.family_units)
        method += " " + family_text(tests, units)
        where = paths.get(row.unit, row.unit)
        if row.severity == WATCH:
            sentence = f"{WATCH_OPENING} in {where}, {hedged(question.meaning)}. {_capital(explanation)}"
        else:
            sentence = f"In {where}, {question.meaning}: {explanation}"
        sentence += " " + certainty_text(row.severity, tests, units)
        out.append(
            Candidate(
                row.unit, row.kind, row.metric, row.test, float(row.p_value), numbers, method, sentence,
                PLAYBOOK[question.playbook][:SUGGESTIONS], (row.metric, TEST_FAMILY[row.test]), row.severity, where,
            )
        )  # fmt: skip
    return out


#: How every "worth watching" sentence opens: the hedge comes before any claim.
WATCH_OPENING: Final = "Worth watching, not yet clear:"


def hedged(meaning: str) -> str:
    """A question's claim as a possibility: "psychological safety is falling" -> "... may be falling"."""
    return meaning.replace(" is ", " may be ", 1)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _groups(units: int) -> str:
    return "the only group tested" if units == 1 else f"all {units} groups tested"


def certainty_text(severity: str, tests: int, units: int) -> str:
    """How sure a change is, in plain words, consistent with :func:`family_text` (the method)."""
    where = _groups(units) if tests == units else f"all {tests} tests in the {units} groups tested"
    if severity == FLAG:
        return f"A clear change: it passed the false-discovery check (Benjamini\u2013Hochberg) across {where}."
    return (
        f"Could be noise: it did not pass the false-discovery check (Benjamini\u2013Hochberg) across {where}, so it "
        "is not a flag."
    )


def family_text(tests: int, units: int) -> str:
    """What Benjamini-Hochberg was run across: m is the number of tests in the family, which is
    the number of units only where each unit was asked one question of this metric."""
    where = f"Benjamini\u2013Hochberg at q = {Q:.2f} across"
    if tests == units:
        return f"{where} this test's results in the {units} {'unit' if units == 1 else 'units'} tested."
    return f"{where} {tests} tests ({units} units, each tested for a fall and for a rise)."


def _trend_text(row: Any, cells: list[CycleCell]) -> tuple[dict[str, Any], str, str, list[CycleCell]]:
    means = [c.value for c in cells]
    numbers: dict[str, Any] = {
        "cycles": [c.label for c in cells],
        "means": [round(v, 4) for v in means],
        "n": [c.n for c in cells],
    }
    respondents = int(row.respondents)
    months = cells[-1].index - cells[0].index
    if row.test == TREND_OLS:
        numbers.update(ols_slope_per_month=round(row.slope, 4), stderr=round(row.stderr, 4), respondents=respondents)
        method = (
            f"One-sided OLS slope of {respondents} individual scores on the cycle index over the last {len(cells)} "
            "published cycles; Theil\u2013Sen slope of the cycle means shown beside it."
        )
        change = fitted_change(row.slope, row.stderr, months, _t_critical(respondents - 2))
    elif row.test == TREND_WLS:
        numbers.update(
            wls_slope_per_month=round(row.slope, 4), stderr=round(row.stderr, 4), z=round(row.z, 4),
            respondents=respondents,
        )  # fmt: skip
        method = (
            f"One-sided z test of the weighted least-squares slope of the {len(cells)} published cycle means on the "
            f"cycle index (weights n / SD\u00b2, SD being the one each cycle's interval was computed from: "
            f"{_WHOSE_SD}); Theil\u2013Sen slope of the cycle means shown beside it."
        )
        change = fitted_change(row.slope, row.stderr, months, Z_95)
    else:
        numbers.update(z=round(row.z, 4), successes=[int(round(c.total)) for c in cells])
        method = (
            f"One-sided Cochran\u2013Armitage trend test over the last {len(cells)} published cycles; the fitted "
            "change is the least-squares slope of the published shares (weights n) times the months spanned, its "
            "interval from the test's binomial variance."
        )
        slope, stderr = share_slope(cells)
        change = fitted_change(slope, stderr, months, Z_95)
    numbers.update(_change_numbers("fitted_change", change), change_months=months)
    explanation = (
        f"over the last {len(cells)} published cycles ({cells[0].label} to {cells[-1].label}) the fitted trend "
        f"changed it by {change_text(change, row.metric)}."
    )
    return numbers, method, explanation, cells


Z_95: Final = 1.959963984540054
#: A change with its 95% interval: (estimate, low, high), NaN where not estimable.
Change = tuple[float, float, float]


def _t_critical(df: int) -> float:
    return float(special.stdtrit(df, 0.975)) if df >= 1 else math.nan


def fitted_change(slope: float, stderr: float, months: int, critical: float) -> Change:
    """A trend's fitted change over the window (slope per month times the months from its first
    to its last cycle) with its 95% interval (slope +- critical x standard error, times the months)."""
    return slope * months, (slope - critical * stderr) * months, (slope + critical * stderr) * months


def share_slope(cells: list[CycleCell]) -> tuple[float, float]:
    """Least-squares slope per month of the published shares on the cycle index, weights n, and
    its standard error from the binomial variance of the pooled share (Cochran-Armitage's: the
    slope over this standard error is its z). Only published shares and n: successes / n."""
    n = sum(c.n for c in cells)
    if n == 0:
        return math.nan, math.nan
    x = [c.index - cells[0].index for c in cells]
    x_bar = sum(c.n * xi for c, xi in zip(cells, x, strict=True)) / n
    sxx = sum(c.n * (xi - x_bar) ** 2 for c, xi in zip(cells, x, strict=True))
    if sxx <= 0:
        return math.nan, math.nan
    pooled = sum(round(c.total) for c in cells) / n
    slope = sum(round(c.total) * (xi - x_bar) for c, xi in zip(cells, x, strict=True)) / sxx
    return slope, math.sqrt(pooled * (1 - pooled) / sxx)


def _change_numbers(name: str, change: Change) -> dict[str, Any]:
    value, low, high = (None if math.isnan(v) else round(v, 4) for v in change)
    return {name: value, f"{name}_ci": None if low is None or high is None else [low, high]}


def _signed(value: float, metric: str) -> str:
    if metric in MEAN_METRICS:
        text = f"{abs(value):.2f}"
    else:
        text = f"{abs(value) * 100:.0f}"
    if float(text) == 0:
        return text
    return ("\u2212" if value < 0 else "+") + text


def change_text(change: Change, metric: str) -> str:
    """A change as "−0.90 points (95% interval −1.50 to −0.30)"; a share's in percentage points."""
    value, low, high = change
    unit = "points" if metric in MEAN_METRICS else "percentage points"
    if math.isnan(value):
        return "an amount that could not be estimated"
    if math.isnan(low) or math.isnan(high):
        return f"{_signed(value, metric)} {unit}"
    return f"{_signed(value, metric)} {unit} (95% interval {_signed(low, metric)} to {_signed(high, metric)})"


def shift_difference(latest: CycleCell, previous: list[CycleCell], metric: str) -> Change:
    """The latest cycle's value minus the previous cycles' pooled value (weighted by n), with a 95%
    interval from what is published only: for a mean, each cell's SD as its interval was computed
    from (the organisation's for a small cell, R13), as the z test uses it; for a share, the
    binomial variance of each side's share."""
    n_previous = sum(c.n for c in previous)
    if latest.n == 0 or n_previous == 0:
        return math.nan, math.nan, math.nan
    if metric in MEAN_METRICS:
        pooled = sum(c.value * c.n for c in previous) / n_previous
        sds = [_interval_sd(c) for c in [latest, *previous]]
        variance = sds[0] ** 2 / latest.n + sum(c.n * sd**2 for c, sd in zip(previous, sds[1:], strict=True)) / (
            n_previous**2
        )
    else:
        pooled = sum(round(c.total) for c in previous) / n_previous
        share = round(latest.total) / latest.n
        variance = share * (1 - share) / latest.n + pooled * (1 - pooled) / n_previous
    difference = latest.value - pooled
    half = Z_95 * math.sqrt(variance)
    return difference, difference - half, difference + half


def _interval_sd(cell: CycleCell) -> float:
    if cell.ci_low is None or cell.ci_high is None:
        return math.nan
    return float(interval_sd(cell.n, cell.ci_low, cell.ci_high))


def _shift_text(row: Any, cells: list[CycleCell]) -> tuple[dict[str, Any], str, str]:
    latest, previous = cells[-1], cells[-1 - SHIFT_PREVIOUS : -1]
    previous_value = None if math.isnan(row.previous_value) else round(float(row.previous_value), 4)
    numbers: dict[str, Any] = {
        "latest": {"cycle": latest.label, "value": round(latest.value, 4), "n": latest.n},
        "previous": {"cycles": [c.label for c in previous], "n": int(row.previous_n), "value": previous_value},
    }
    if row.test == SHIFT_PERMUTATION:
        method = "Permutation test of the difference in means, latest cycle against the previous three pooled."
        if not row.refined:
            # Says what this p really is: the screening test's, not a permutation test's.
            method += " (Welch's t-test where the permutation p could not matter or n is large.)"
    elif row.test == SHIFT_Z:
        numbers["z"] = round(float(row.z), 4)
        method = (
            "One-sided z test of the latest cycle's mean against the previous three pooled (weighted by n), each "
            f"mean's variance SD\u00b2 / n with the SD its interval was computed from ({_WHOSE_SD})."
        )
    else:
        method = "Fisher's exact test, latest cycle against the previous three pooled."
    difference = shift_difference(latest, previous, row.metric)
    numbers.update(_change_numbers("difference", difference))
    method += " The difference's 95% interval is a normal approximation from the published values and n (" + (
        "and the SDs their intervals were computed from)." if row.metric in MEAN_METRICS else "binomial variance)."
    )
    explanation = (
        f"{latest.label} was {fmt(latest.value, row.metric)} against "
        f"{fmt(previous_value, row.metric)} over the three cycles before, a difference of "
        f"{change_text(difference, row.metric)}."
    )
    return numbers, method, explanation


# --- levels and compound flags ------------------------------------------------------------------


def _latest(history: pd.DataFrame, label: str, metric: str) -> pd.DataFrame:
    """The cycle ``label``'s published cells of one metric, indexed by unit."""
    rows = history[(history["label"] == label) & (history["metric"] == metric)]
    return rows.set_index("unit")


def level_candidates(history: pd.DataFrame, label: str, paths: Mapping[str, str]) -> list[Candidate]:
    """Low psychological safety, trust below the midpoint under daily use, and low response:
    checks of this cycle's levels (an interval wholly below a line), not tests of change."""
    out = []
    safety = _latest(history, label, "psych_safety")
    for unit, ps in safety[safety["ci_high"] < PS_LOW_LINE].iterrows():
        out.append(
            _level(
                unit, "psych_safety_low", "psych_safety",
                {"mean": round(ps.value, 3), "ci": [round(0 if math.isnan(ps.ci_low) else ps.ci_low, 3),
                                                     round(ps.ci_high, 3)], "n": int(ps.n), "line": PS_LOW_LINE},
                "95% t interval of the mean wholly below 5.0 on the 1\u20137 scale.",
                f"In {paths.get(unit, unit)}, psychological safety is low: {ps.value:.2f} "
                f"(95% interval {ps.ci_low:.2f}\u2013{ps.ci_high:.2f}), all of it below 5.0. {LEVEL_CERTAINTY}",
                "psych_safety",
            )
        )  # fmt: skip
    trust, daily = _latest(history, label, "trust"), _latest(history, label, "daily_use_share")
    daily_most = daily.loc[daily["value"] > 0.5, ["value"]].rename(columns={"value": "value_daily"})
    gap = trust[trust["ci_high"] < TRUST_MIDPOINT].join(daily_most, how="inner")
    for unit, row in gap.iterrows():
        out.append(
            _level(
                unit, "trust_use_gap", "trust",
                {"daily_use_share": round(row.value_daily, 3), "trust_mean": round(row.value, 3),
                 "trust_ci_high": round(row.ci_high, 3)},
                "Most respondents use AI daily or more while the 95% interval of trust lies below the "
                "scale midpoint (3).",
                f"In {paths.get(unit, unit)}, {row.value_daily:.0%} use AI daily or more, yet trust in its output is "
                f"{row.value:.2f} of 5, its whole interval below the midpoint. {LEVEL_CERTAINTY}",
                "trust_use_gap",
            )
        )  # fmt: skip
    responses = _latest(history, label, "responses")
    for unit, row in responses[responses["value"] < LOW_RESPONSE_PERCENT].iterrows():
        out.append(
            _level(
                unit, "low_response_rate", "responses", {"response_rate_percent": round(row.value, 1)},
                "Response rate below 50% of those invited.",
                f"In {paths.get(unit, unit)}, {row.value:.0f}% answered: results may not represent the team. "
                "This is a count of who answered, not an estimate.",
                "low_response",
            )
        )  # fmt: skip
    return out


def _level(
    unit: str, kind: str, metric: str, numbers: dict[str, Any], method: str, explanation: str, playbook: str
) -> Candidate:
    return Candidate(
        unit, kind, metric, "level", None, numbers, method, explanation, PLAYBOOK[playbook][:SUGGESTIONS], None, FLAG
    )


def capability_trap(candidates: list[Candidate], history: pd.DataFrame, label: str) -> None:
    """Psychological safety falling (a flag: it survived BH) while pressure rises or is high, in
    the cycle ``label``. Every part meets the compound's bar: pressure rising counts as a part of
    a *flag* only where it survived BH itself (trend or shift, its own family), or where the
    level rule holds (its 95% interval wholly above 5.0); where pressure rising is only worth
    watching (p < .05 without surviving BH), the compound is only worth watching too. Appends
    the compound; run on the candidates of :func:`change_candidates`, which hold every question
    that came out as a flag or worth watching."""
    falling = {c.unit_id: c for c in candidates if c.kind == "psych_safety_falling" and c.severity == FLAG}
    rising: dict[str, str] = {}
    for c in candidates:
        if c.kind == "pressure_rising" and c.severity in (FLAG, WATCH) and rising.get(c.unit_id) != FLAG:
            rising[c.unit_id] = c.severity
    pressure = _latest(history, label, "pressure")
    for unit, safety in falling.items():
        latest = pressure.loc[unit] if unit in pressure.index else None
        high = latest is not None and bool(latest.ci_low > PRESSURE_HIGH_LINE)
        if high or rising.get(unit) == FLAG:
            severity = FLAG
            reason = "pressure to use AI is rising" if rising.get(unit) == FLAG else (
                "pressure to use AI is high")  # fmt: skip
        elif rising.get(unit) == WATCH:
            severity, reason = WATCH, "pressure to use AI may be rising"
        else:
            continue
        where = safety.where or unit
        if severity == FLAG:
            sure = (
                "the fall in safety and the rise in pressure each passed the false-discovery check "
                "(Benjamini\u2013Hochberg) in its own family"
                if rising.get(unit) == FLAG
                else "the fall in safety passed the false-discovery check (Benjamini\u2013Hochberg) and pressure's "
                "whole 95% interval lies above 5.0"
            )
            explanation = f"In {where}, psychological safety is falling and {reason}: the capability-trap pattern. " \
                f"A clear pattern: {sure}."  # fmt: skip
        else:
            explanation = (
                f"{WATCH_OPENING} in {where}, psychological safety is falling and {reason}: together, the "
                "capability-trap pattern. The fall in safety is a clear change (it passed the false-discovery "
                "check); the rise in pressure could be noise: it did not pass that check, so this is not a flag."
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
                    "pressure_latest": None if latest is None else round(float(latest.value), 3),
                    "pressure_rising": rising.get(unit) or None,
                    "pressure_high": high,
                },
                "Psychological safety falling (a flag after Benjamini\u2013Hochberg) together with pressure rising "
                "(a flag after Benjamini\u2013Hochberg in its own family) or its 95% interval wholly above 5.0; "
                "with pressure rising only at p < .05, worth watching.",
                explanation,
                PLAYBOOK["capability_trap"][:SUGGESTIONS],
                None,
                severity,
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
