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
from analytics.stats.robust import theil_sen_slope

PS_LOW_LINE: Final = 5.0
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


# --- change flags --------------------------------------------------------------------------------


def change_candidates(questions: pd.DataFrame, history: pd.DataFrame, paths: Mapping[str, str]) -> list[Candidate]:
    """A candidate for every decided question that came out as a flag or worth watching."""
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
        method += " " + family_text(int(row.family_size), int(row.family_units))
        sentence = f"In {paths.get(row.unit, row.unit)}, {question.meaning}: {explanation}"
        if row.severity == WATCH:
            sentence += " Not strong enough to count as a flag once every team's result is weighed: worth watching."
        out.append(
            Candidate(
                row.unit, row.kind, row.metric, row.test, float(row.p_value), numbers, method, sentence,
                PLAYBOOK[question.playbook][:SUGGESTIONS], (row.metric, TEST_FAMILY[row.test]), row.severity,
            )
        )  # fmt: skip
    return out


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
    if row.test == TREND_OLS:
        numbers.update(ols_slope_per_month=round(row.slope, 4), stderr=round(row.stderr, 4), respondents=respondents)
        method = (
            f"One-sided OLS slope of {respondents} individual scores on the cycle index over the last {len(cells)} "
            "published cycles; Theil\u2013Sen slope of the cycle means shown beside it."
        )
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
    else:
        numbers.update(z=round(row.z, 4), successes=[int(round(c.total)) for c in cells])
        method = f"One-sided Cochran\u2013Armitage trend test over the last {len(cells)} published cycles."
    explanation = (
        f"across the last {len(cells)} published cycles ({cells[0].label} to {cells[-1].label}) "
        f"the cycle values went {fmt(means[0], row.metric)} \u2192 {fmt(means[-1], row.metric)}."
    )
    return numbers, method, explanation, cells


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
    explanation = (
        f"{latest.label} was {fmt(latest.value, row.metric)} against "
        f"{fmt(previous_value, row.metric)} over the three cycles before."
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
                f"(95% interval {ps.ci_low:.2f}\u2013{ps.ci_high:.2f}), all of it below 5.0.",
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
                f"{row.value:.2f} of 5, its whole interval below the midpoint.",
                "trust_use_gap",
            )
        )  # fmt: skip
    responses = _latest(history, label, "responses")
    for unit, row in responses[responses["value"] < LOW_RESPONSE_PERCENT].iterrows():
        out.append(
            _level(
                unit, "low_response_rate", "responses", {"response_rate_percent": round(row.value, 1)},
                "Response rate below 50% of those invited.",
                f"In {paths.get(unit, unit)}, {row.value:.0f}% answered: results may not represent the team.",
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
                "pressure to use AI is high (interval above 5.0)")  # fmt: skip
        elif rising.get(unit) == WATCH:
            severity, reason = WATCH, "pressure to use AI may be rising"
        else:
            continue
        explanation = f"{safety.explanation.split(':')[0]}, and {reason}: the capability-trap pattern."
        if severity == WATCH:
            explanation += " The rise in pressure is not strong enough to count as a flag: worth watching."
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
