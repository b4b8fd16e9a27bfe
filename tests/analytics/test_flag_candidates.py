"""What a flag says: level checks, the compound capability trap and the change candidates' words,
on small history frames (no database)."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from analytics.flags.history import CycleCell, history_frame
from analytics.flags.questions import FLAG, QUESTIONS_BY_KIND, WATCH, change_questions, questions_decide
from analytics.flags.wording import (
    WATCH_OPENING,
    Candidate,
    capability_trap,
    change_candidates,
    hedged,
    level_candidates,
    share_slope,
)
from analytics.stats.change import cochran_armitage
from analytics.stats.estimates import mean_intervals_from_sums, mean_intervals_known_sd

# How sure a sentence is, in the words a manager reads (analytics.flags.wording.certainty_text).
CLEAR = "A clear change: it passed the false-discovery check (Benjamini\u2013Hochberg) across"
NOISE = "Could be noise: it did not pass the false-discovery check (Benjamini\u2013Hochberg) across"
NUMBER = "[\u2212+]?\\d+\\.\\d\\d"

LABEL = "2026-10"


def level_cell(value: float, ci: tuple[float, float] | None = None, n: int = 8) -> CycleCell:
    low, high = ci if ci else (None, None)
    return CycleCell(24322, LABEL, n, value, value * n, value * value * n, low, high)


def kinds(candidates: list[Candidate]) -> set[tuple[str, str]]:
    return {(c.unit_id, c.kind) for c in candidates}


def test_level_checks_fire_only_when_the_whole_interval_is_past_the_line():
    history = history_frame(
        [
            ("low", "psych_safety", level_cell(4.2, (3.8, 4.9))),
            ("crossing", "psych_safety", level_cell(4.6, (4.1, 5.1))),  # touches 5.0: not low
            ("gap", "trust", level_cell(2.3, (1.9, 2.8))),
            ("gap", "daily_use_share", level_cell(0.7)),
            ("rare_use", "trust", level_cell(2.3, (1.9, 2.8))),
            ("rare_use", "daily_use_share", level_cell(0.4)),  # most do not use AI daily: no gap
            ("quiet", "responses", level_cell(40.0)),
            ("answered", "responses", level_cell(80.0)),
        ]
    )
    paths = {"low": "Org / Payments", "gap": "Org / Growth"}
    found = level_candidates(history, LABEL, paths)
    assert kinds(found) == {("low", "psych_safety_low"), ("gap", "trust_use_gap"), ("quiet", "low_response_rate")}
    low = next(c for c in found if c.kind == "psych_safety_low")
    assert low.numbers == {"mean": 4.2, "ci": [3.8, 4.9], "n": 8, "line": 5.0}
    assert low.explanation.startswith("In Org / Payments, psychological safety is low: 4.20")
    # Every level sentence says how sure it is.
    for c in found:
        assert c.explanation.endswith(("not a test of change).", "not an estimate.")), c.explanation
    assert all(c.severity == FLAG and c.family is None and 2 <= len(c.actions) <= 3 for c in found)
    # Another cycle's cells are not this cycle's levels.
    assert level_candidates(history, "2026-09", paths) == []


ORGANISATION_SD = {"psych_safety": 0.8, "pressure": 1.0}


def falling_safety_history(
    unit: str, *, pressure_ci: tuple[float, float], pressure_rising: bool, own: bool = False, pressure_step: float = 0.6
) -> list:
    """Six cycles of a team of nine whose safety falls. ``own``: as if its cells showed their own
    spread (n >= 30 in production); by default they are small cells, as a team of nine's are:
    no sum of squares, intervals from the organisation's SD (R13)."""
    rng = np.random.default_rng(3)
    rows = []
    for offset in range(6):
        safety = np.clip(np.rint(rng.normal(6.0 - 0.5 * offset, 0.6, 9)), 1, 7)
        pressure = np.clip(np.rint(rng.normal(3.0 + (pressure_step * offset if pressure_rising else 0), 0.6, 9)), 1, 7)
        for metric, scores in (("psych_safety", safety), ("pressure", pressure)):
            n, total, total_sq = np.array([9]), np.array([scores.sum()]), np.array([(scores**2).sum()])
            if own:
                _, low, high = mean_intervals_from_sums(n, total, total_sq)
            else:
                _, low, high = mean_intervals_known_sd(n, total, ORGANISATION_SD[metric])
            ci = pressure_ci if metric == "pressure" and offset == 5 else (float(low[0]), float(high[0]))
            cell = CycleCell(24317 + offset, f"2026-{offset + 5:02d}", 9, float(scores.mean()), float(total[0]),
                             float(total_sq[0]) if own else math.nan, *ci,
                             "own_sd" if own else "organisation_sd")  # fmt: skip
            rows.append((unit, metric, cell))
    return rows


@pytest.mark.parametrize("own", [False, True])
@pytest.mark.parametrize(
    ("pressure_ci", "rising", "reason"),
    [((5.2, 6.1), False, "pressure to use AI is high"), ((3.0, 4.5), True, "pressure to use AI is rising")],
)
def test_capability_trap_needs_falling_safety_and_rising_or_high_pressure(pressure_ci, rising, reason, own):
    history = history_frame(falling_safety_history("team", pressure_ci=pressure_ci, pressure_rising=rising, own=own))
    questions = change_questions(history, "2026-10")
    questions_decide(questions)
    candidates = change_candidates(questions, history, {"team": "Org / Team"})
    assert ("team", "psych_safety_falling") in {(c.unit_id, c.kind) for c in candidates if c.severity == FLAG}
    if rising:
        assert ("team", "pressure_rising") in {(c.unit_id, c.kind) for c in candidates if c.severity == FLAG}
    capability_trap(candidates, history, "2026-10")
    trap = [c for c in candidates if c.kind == "capability_trap"]
    assert len(trap) == 1
    assert trap[0].severity == FLAG
    assert trap[0].explanation.startswith("In Org / Team, psychological safety is falling and " + reason)
    assert "A clear pattern: the fall in safety" in trap[0].explanation
    assert ("each passed the false-discovery check" if rising else "whole 95% interval lies above 5.0") in (
        trap[0].explanation
    )
    safety_flags = [c.numbers for c in candidates if c.kind == "psych_safety_falling" and c.severity == FLAG]
    assert trap[0].numbers["psych_safety"] in safety_flags


def test_a_capability_trap_whose_pressure_part_is_only_worth_watching_is_only_worth_watching():
    """The issue's defect: the compound flag rested on "pressure rising" at an uncorrected p < .05.
    Here pressure rises in the one team, but 40 calm teams share its family, so its p < .05 does
    not survive Benjamini-Hochberg: the trap is worth watching, never a flag."""
    rows = falling_safety_history("team", pressure_ci=(3.0, 4.5), pressure_rising=True, pressure_step=0.2)
    for calm in range(40):
        rows += [r for r in falling_safety_history(f"calm{calm:02d}", pressure_ci=(2.5, 3.5), pressure_rising=False)
                 if r[1] == "pressure"]  # fmt: skip
    history = history_frame(rows)
    questions = change_questions(history, "2026-10")
    questions_decide(questions)
    pressure = questions[(questions["unit"] == "team") & (questions["kind"] == "pressure_rising")]
    assert (pressure["p_value"] < 0.05).any() and not (pressure["severity"] == FLAG).any()
    candidates = change_candidates(questions, history, {"team": "Org / Team"})
    capability_trap(candidates, history, "2026-10")
    trap = [c for c in candidates if c.kind == "capability_trap"]
    assert [c.severity for c in trap] == [WATCH]
    # Hedge first: the sentence opens with the doubt, not with a claim.
    assert trap[0].explanation.startswith(f"{WATCH_OPENING} in Org / Team, psychological safety is falling and "
                                          "pressure to use AI may be rising")  # fmt: skip
    assert "could be noise: it did not pass that check, so this is not a flag." in trap[0].explanation
    assert trap[0].numbers["pressure_rising"] == WATCH

    # The same team with pressure not even worth watching and not high: no compound at all.
    calm = questions.copy()
    calm.loc[calm["kind"] == "pressure_rising", "severity"] = ""
    candidates = change_candidates(calm, history, {"team": "Org / Team"})
    capability_trap(candidates, history, "2026-10")
    assert "capability_trap" not in {c.kind for c in candidates}


def test_no_capability_trap_when_pressure_is_calm():
    history = history_frame(falling_safety_history("team", pressure_ci=(2.5, 3.5), pressure_rising=False))
    questions = change_questions(history, "2026-10")
    questions_decide(questions)
    candidates = change_candidates(questions, history, {})
    capability_trap(candidates, history, "2026-10")
    assert "capability_trap" not in {c.kind for c in candidates}


@pytest.mark.parametrize(
    ("own", "trend_test", "shift_test"),
    [(True, "trend_ols", "shift_permutation"), (False, "trend_wls_known_sd", "shift_z_known_sd")],
)
def test_change_candidates_say_what_was_tested_and_how_sure_it_is(own, trend_test, shift_test):
    history = history_frame(falling_safety_history("team", pressure_ci=(2.5, 3.5), pressure_rising=False, own=own))
    questions = change_questions(history, "2026-10")
    questions_decide(questions)
    # Demote the trend to "worth watching", as a larger family would, to see both wordings.
    trend_row = questions.index[(questions["kind"] == "psych_safety_falling") & (questions["test"] == trend_test)]
    questions.loc[trend_row, "severity"] = WATCH
    candidates = {(c.kind, c.test): c for c in change_candidates(questions, history, {"team": "Org / Team"})}
    trend = candidates[("psych_safety_falling", trend_test)]
    # Worth watching: the hedge comes first, then what was measured, then how sure it is.
    assert trend.explanation.startswith(
        f"{WATCH_OPENING} in Org / Team, psychological safety may be falling. Over the last 6 published cycles "
        "(2026-05 to 2026-10) the fitted trend changed it by "
    )
    assert not trend.explanation.startswith("In Org / Team, psychological safety is falling")
    assert trend.explanation.endswith(f"{NOISE} the only group tested, so it is not a flag.")
    # The fitted change over the window (slope x the 5 months spanned) with its 95% interval,
    # not the first and the last cycle's values.
    slope = trend.numbers["ols_slope_per_month" if own else "wls_slope_per_month"]
    change, (low, high) = trend.numbers["fitted_change"], trend.numbers["fitted_change_ci"]
    assert trend.numbers["change_months"] == 5
    assert change == pytest.approx(slope * 5, abs=1e-3)
    critical = scipy_stats.t.ppf(0.975, 54 - 2) if own else scipy_stats.norm.ppf(0.975)
    assert (high - low) / 2 == pytest.approx(critical * trend.numbers["stderr"] * 5, abs=2e-3)
    assert low < change < high < 0
    quoted = re.search(
        rf"changed it by ({NUMBER}) points \(95% interval ({NUMBER}) to ({NUMBER})\)\.", trend.explanation
    )
    assert quoted, trend.explanation
    said = [float(v.replace("\u2212", "-")) for v in quoted.groups()]
    assert said == pytest.approx([change, low, high], abs=0.006)
    first, last = trend.numbers["means"][0], trend.numbers["means"][-1]
    assert "\u2192" not in trend.explanation and f"{first:.2f}" not in trend.explanation, trend.explanation
    assert trend.numbers["cycles"] == [f"2026-{m:02d}" for m in range(5, 11)]
    assert f"{last:.2f}" not in trend.explanation
    assert trend.numbers["respondents"] == 54
    assert trend.numbers["theil_sen_slope_per_cycle"] < 0
    assert "Benjamini\u2013Hochberg at q = 0.10 across this test's results in the 1 unit tested." in trend.method
    assert trend.family == ("psych_safety", "trend")
    shift = candidates[("psych_safety_falling", shift_test)]
    assert shift.severity == FLAG
    # A flag opens with what it found, quotes the difference with its interval and says it is clear.
    assert shift.explanation.startswith("In Org / Team, psychological safety is falling: 2026-10 was ")
    assert re.search(rf"a difference of {NUMBER} points \(95% interval {NUMBER} to {NUMBER}\)\.", shift.explanation)
    assert shift.explanation.endswith(f"{CLEAR} the only group tested.")
    low, high = shift.numbers["difference_ci"]
    assert low < shift.numbers["difference"] < high
    latest, previous = shift.numbers["latest"], shift.numbers["previous"]
    assert shift.numbers["difference"] == pytest.approx(latest["value"] - previous["value"], abs=1e-3)
    if own:
        assert "OLS slope of 54 individual scores" in trend.method
        assert "(Welch's t-test" in shift.method  # not refined by a permutation test here
    else:
        # R13: nothing about the individual answers, only the published means, n and SD.
        assert "weighted least-squares slope of the 6 published cycle means" in trend.method
        assert "individual scores" not in trend.method + shift.method
        assert "no individual answer is used" in trend.method and "no individual answer is used" in shift.method
        assert "z test of the latest cycle's mean" in shift.method
        assert trend.numbers["z"] < 0 and shift.numbers["z"] < 0
    assert shift.numbers["previous"]["cycles"] == ["2026-07", "2026-08", "2026-09"]
    shift_row = (questions["kind"] == "psych_safety_falling") & (questions["test"] == shift_test)
    assert shift.p_value == pytest.approx(float(questions.loc[shift_row, "p_value"].iloc[0]))
    # Questions that came out as neither never become candidates.
    assert not any(c.kind == "pressure_rising" for c in candidates.values())


def test_the_method_says_what_benjamini_hochberg_counted():
    """BH's m counts tests: a share is tested for a fall and for a rise, so 3 units are 6 tests."""
    rng = np.random.default_rng(4)
    rows = []
    for unit in ("a", "b", "c"):
        for offset in range(6):
            successes = int(rng.binomial(9, 0.2 + (0.12 * offset if unit == "a" else 0)))
            rows.append((unit, "pilot_ratio", CycleCell(24317 + offset, f"2026-{offset + 5:02d}", 9, successes / 9,
                                                        float(successes), math.nan, None, None)))  # fmt: skip
    history = history_frame(rows)
    questions = change_questions(history, "2026-10")
    questions_decide(questions)
    trend = questions[questions["test"] == "trend_cochran_armitage"]
    assert set(trend["family_size"]) == {6} and set(trend["family_units"]) == {3}
    candidates = change_candidates(questions, history, {})
    rising = next(c for c in candidates if c.kind == "pilot_ratio_rising" and c.test == "trend_cochran_armitage")
    assert "across 6 tests (3 units, each tested for a fall and for a rise)." in rising.method
    assert rising.explanation.endswith(f"{CLEAR} all 6 tests in the 3 groups tested.")
    # A share's fitted change is in percentage points, from the published shares and n alone:
    # the least-squares slope whose ratio to its standard error is Cochran-Armitage's z.
    assert re.search(r"changed it by \+\d+ percentage points \(95% interval [\u2212+]?\d+ to \+\d+\)\.",
                     rising.explanation), rising.explanation  # fmt: skip
    cells = [cell for unit, metric, cell in rows if unit == "a"]
    slope, stderr = share_slope(cells)
    n = np.array([c.n for c in cells], dtype=float)
    x = np.arange(6, dtype=float)
    successes = np.array([c.total for c in cells])
    z = cochran_armitage(n.sum(), successes.sum(), (n * x).sum(), (n * x * x).sum(), (successes * x).sum(),
                         alternative="greater").z  # fmt: skip
    assert slope / stderr == pytest.approx(float(z))
    assert rising.numbers["fitted_change"] == pytest.approx(slope * 5, abs=1e-3)
    assert set(rising.numbers) >= {"cycles", "means", "n", "successes", "z", "fitted_change", "fitted_change_ci"}


@pytest.mark.parametrize("kind", sorted(QUESTIONS_BY_KIND))
def test_every_question_has_a_hedged_form(kind):
    meaning = QUESTIONS_BY_KIND[kind].meaning
    assert " may be " in hedged(meaning) and " is " not in hedged(meaning), hedged(meaning)


def test_empty_history_gives_no_candidates():
    empty = history_frame([])
    questions = change_questions(empty, LABEL)
    questions_decide(questions)
    assert change_candidates(questions, empty, {}) == []
    assert level_candidates(empty, LABEL, {}) == []
    assert isinstance(questions, pd.DataFrame)
