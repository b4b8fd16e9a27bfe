"""The statistical core of the change flags (PRODUCT.md, "What reports flag"), without the database.

analytics.flags.stage reads published cells and histograms and stores flags; everything in between lives
here and in analytics.flags.wording, as pure functions over a *history frame* (one row per
published cell: unit, metric, cycle, n, value, sums, interval and whose SD the interval used).
This module asks the questions of every unit at once, column by column (analytics.stats.change):
the trend and shift tests, the Welch screen and its permutation refinement, Benjamini-Hochberg
per family, flag or "worth watching".

ANONYMITY R13: a mean cell shows its own spread only where it is an "own spread" cell (n >= 30,
R5 at 30); every other cell keeps no sum of squares and no histogram, and its interval comes
from the organisation's SD. Where any cell of a test's window is such a cell, the test uses
only what is published (means, n, and the SD each interval was computed from): weighted least
squares of the cycle means for the trend, a z test for the shift. Individual-level tests (OLS
of individual scores, Welch, permutation) are asked only of windows of own-spread cells: on
small cells, overlapping windows of them could be chained back to single cycles' spread.
Keeping it free of Django lets the test suite run the very same decision logic on thousands of
simulated histories to measure its false-alarm rate and power.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped]

from analytics.flags.history import OWN_SD, series_cells
from analytics.stats.change import (
    OneSided,
    cochran_armitage,
    fisher_one_sided,
    interval_sd,
    ols_trend,
    welch,
    wls_trend_known_variance,
    z_shift_known_variance,
)
from analytics.stats.robust import benjamini_hochberg, shift_permutation_test

Q: Final = 0.10
WATCH_P: Final = 0.05
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
MEAN_METRICS = {"psych_safety", "pressure"}


@dataclass(frozen=True)
class Question:
    """A directional question asked of one metric in every unit, e.g. "is safety falling?"."""

    kind: str
    alternative: OneSided
    playbook: str
    meaning: str


CHANGE_QUESTIONS: dict[str, list[Question]] = {
    "psych_safety": [Question("psych_safety_falling", "less", "psych_safety", "psychological safety is falling")],
    "pressure": [Question("pressure_rising", "greater", "capability_trap", "pressure to use AI is rising")],
    "pilot_ratio": [
        Question("pilot_ratio_falling", "less", "pilot_ratio", "the Pilot ratio is falling"),
        Question("pilot_ratio_rising", "greater", "pilot_ratio", "the Pilot ratio is rising"),
    ],
    "workslop_prevalence": [Question("workslop_rising", "greater", "workslop", "workslop received is rising")],
}
QUESTIONS_BY_KIND = {q.kind: q for questions in CHANGE_QUESTIONS.values() for q in questions}
# Rising pressure on its own is not one of PRODUCT.md's flags: it feeds the capability trap.
INTERNAL_KINDS = {"pressure_rising"}

TREND_OLS, TREND_CA = "trend_ols", "trend_cochran_armitage"
SHIFT_PERMUTATION, SHIFT_FISHER = "shift_permutation", "shift_fisher"
# R13: the same questions of windows with a cell too small to show its own spread.
TREND_WLS, SHIFT_Z = "trend_wls_known_sd", "shift_z_known_sd"
# A family (PRODUCT.md: one metric x one test x one cycle, across all units) is the question
# asked, trend or shift, whichever way a unit's cells let it be computed.
TEST_FAMILY = {TREND_OLS: "trend", TREND_WLS: "trend", TREND_CA: "trend", SHIFT_PERMUTATION: "shift",
               SHIFT_Z: "shift", SHIFT_FISHER: "shift"}  # fmt: skip


# --- the questions, all units at once -------------------------------------------------------------


def change_questions(history: pd.DataFrame, label: str) -> pd.DataFrame:
    """Every trend and shift test of every unit whose latest published cell of a change metric is
    the cycle ``label``'s (a hidden cell this cycle means no test: R4), one row per (unit, metric,
    question, test), with its p-value and the figures a flag shows. A shift test of a mean metric
    carries Welch's p here: :func:`permutation_refine` replaces it where it can matter.

    A mean metric's test whose window holds a cell that is not an own-spread cell (R13) is asked
    of the published means, n and the SD of each cell's interval instead (TREND_WLS, SHIFT_Z)."""
    cells = history.loc[history["metric"].isin(CHANGE_METRICS), ["unit", "metric", "index", "label", "n", "total",
                                                                 "total_sq", "ci_low", "ci_high",
                                                                 "interval"]]  # fmt: skip
    cells = cells.sort_values(["unit", "metric", "index"], kind="stable", ignore_index=True)
    if cells.empty:
        return _questions_frame([])
    # Series = one unit's one metric. Sorted, so each series is a contiguous run of rows.
    series = cells.groupby(["unit", "metric"], sort=False).ngroup().to_numpy()
    count = np.bincount(series)
    start = np.r_[0, np.cumsum(count)[:-1]]
    newest = start + count - 1
    back = newest[series] - np.arange(len(cells))  # 0 = the series' newest cell, 1 the one before...
    current = cells["label"].to_numpy()[newest] == label
    index, n = cells["index"].to_numpy(), cells["n"].to_numpy().astype(np.float64)
    total, total_sq = cells["total"].to_numpy(), cells["total_sq"].to_numpy()
    successes = np.rint(total)
    # R13: which cells may show their own spread, and the SD each published interval used.
    small = (cells["interval"].to_numpy() != OWN_SD).astype(np.float64)
    sd = interval_sd(n, cells["ci_low"].to_numpy(), cells["ci_high"].to_numpy())
    variance = sd * sd
    with np.errstate(divide="ignore", invalid="ignore"):
        mean, weight = total / n, n / variance  # a mean's known variance is SD^2 / n
    weight = np.where(np.isfinite(weight), weight, np.nan)  # an SD of 0 or none: no trend

    def per_series(rows: npt.NDArray[np.bool_], weights: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.bincount(series[rows], weights=weights[rows], minlength=count.size).astype(np.float64)

    # Trend over the last TREND_CYCLES published cells, the cycle counted from the first of them.
    has_trend = current & (count >= TREND_CYCLES)
    in_trend = has_trend[series] & (back < TREND_CYCLES)
    x = (index - index[np.maximum(newest - (TREND_CYCLES - 1), start)][series]).astype(np.float64)
    trend = {
        "n": per_series(in_trend, n), "sum_x": per_series(in_trend, n * x), "sum_xx": per_series(in_trend, n * x * x),
        "sum_y": per_series(in_trend, total), "sum_yy": per_series(in_trend, total_sq),
        "sum_xy": per_series(in_trend, x * total), "successes": per_series(in_trend, successes),
        "successes_x": per_series(in_trend, successes * x), "small": per_series(in_trend, small),
        "w": per_series(in_trend, weight), "w_x": per_series(in_trend, weight * x),
        "w_xx": per_series(in_trend, weight * x * x), "w_y": per_series(in_trend, weight * mean),
        "w_xy": per_series(in_trend, weight * x * mean),
    }  # fmt: skip
    # Shift: the latest cell against the SHIFT_PREVIOUS before it, pooled.
    has_shift = current & (count >= SHIFT_PREVIOUS + 1)
    in_previous = has_shift[series] & (back >= 1) & (back <= SHIFT_PREVIOUS)
    shift = {
        "latest_n": n[newest], "latest_total": total[newest], "latest_total_sq": total_sq[newest],
        "previous_n": per_series(in_previous, n), "previous_total": per_series(in_previous, total),
        "previous_total_sq": per_series(in_previous, total_sq),
        "small": small[newest] + per_series(in_previous, small), "latest_variance": variance[newest],
        "previous_n_variance": per_series(in_previous, n * variance),
    }  # fmt: skip
    unit = cells["unit"].to_numpy()[newest]
    metric = cells["metric"].to_numpy()[newest]

    parts = []
    for metric_name, questions in CHANGE_QUESTIONS.items():
        of_metric = metric == metric_name
        trend_rows, shift_rows = np.flatnonzero(of_metric & has_trend), np.flatnonzero(of_metric & has_shift)
        for question in questions:
            parts.append(_trend_answers(metric_name, question, unit, trend_rows, trend))
            parts.append(_shift_answers(metric_name, question, unit, shift_rows, shift))
    return _questions_frame(parts)


QUESTION_COLUMNS = {
    "unit": object, "metric": object, "kind": object, "test": object, "p_value": np.float64,
    # trends: OLS or WLS slope and its standard error (means), z (proportions, WLS), respondents in the fit
    "slope": np.float64, "stderr": np.float64, "z": np.float64, "respondents": np.float64,
    # shifts
    "latest_n": np.float64, "previous_n": np.float64, "latest_value": np.float64, "previous_value": np.float64,
}  # fmt: skip


def _questions_frame(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [part for part in parts if not part.empty]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(QUESTION_COLUMNS))
    frame = frame.reindex(columns=list(QUESTION_COLUMNS)).astype(QUESTION_COLUMNS)
    frame["refined"] = False
    return frame


def _trend_answers(
    metric: str, question: Question, unit: npt.NDArray[np.object_], rows: npt.NDArray[np.intp],
    sums: dict[str, npt.NDArray[np.float64]],
) -> pd.DataFrame:  # fmt: skip
    picked = {name: values[rows] for name, values in sums.items()}
    answers = {"unit": unit[rows], "metric": metric, "kind": question.kind, "respondents": picked["n"]}
    if metric in MEAN_METRICS:
        own = picked["small"] == 0
        ols = ols_trend(
            picked["n"], picked["sum_x"], picked["sum_xx"], picked["sum_y"], picked["sum_yy"], picked["sum_xy"],
            alternative=question.alternative,
        )  # fmt: skip
        # R13: a window with a small cell is tested on its published means alone.
        wls = wls_trend_known_variance(
            picked["w"], picked["w_x"], picked["w_xx"], picked["w_y"], picked["w_xy"], alternative=question.alternative
        )
        answers |= {
            "test": np.where(own, TREND_OLS, TREND_WLS), "p_value": np.where(own, ols.p_value, wls.p_value),
            "slope": np.where(own, ols.slope, wls.slope), "stderr": np.where(own, ols.stderr, wls.stderr),
            "z": np.where(own, np.nan, wls.slope / wls.stderr),
        }  # fmt: skip
    else:
        # The successes' cycle scores: sum n_i s_i and sum n_i s_i^2 are the trend's sum_x, sum_xx.
        tests = cochran_armitage(
            picked["n"], picked["successes"], picked["sum_x"], picked["sum_xx"], picked["successes_x"],
            alternative=question.alternative,
        )  # fmt: skip
        answers |= {"test": TREND_CA, "p_value": tests.p_value, "z": tests.z}
    frame = pd.DataFrame(answers)
    return frame[frame["p_value"].notna()]  # not estimable: no candidate at all


def _shift_answers(
    metric: str, question: Question, unit: npt.NDArray[np.object_], rows: npt.NDArray[np.intp],
    sums: dict[str, npt.NDArray[np.float64]],
) -> pd.DataFrame:  # fmt: skip
    picked = {name: values[rows] for name, values in sums.items()}
    latest_n, previous_n = picked["latest_n"], picked["previous_n"]
    answers = {
        "unit": unit[rows], "metric": metric, "kind": question.kind, "latest_n": latest_n,
        "previous_n": previous_n, "latest_value": picked["latest_total"] / latest_n,
    }  # fmt: skip
    with np.errstate(divide="ignore", invalid="ignore"):
        if metric in MEAN_METRICS:
            own = picked["small"] == 0
            p = welch(
                latest_n, picked["latest_total"], picked["latest_total_sq"],
                previous_n, picked["previous_total"], picked["previous_total_sq"], alternative=question.alternative,
            )  # fmt: skip
            # R13: a window with a small cell is tested on its published means alone.
            known = z_shift_known_variance(
                latest_n, picked["latest_total"], picked["latest_variance"], previous_n, picked["previous_total"],
                picked["previous_n_variance"], alternative=question.alternative,
            )  # fmt: skip
            previous_value = picked["previous_total"] / np.maximum(previous_n, 1)
            answers |= {
                "test": np.where(own, SHIFT_PERMUTATION, SHIFT_Z), "p_value": np.where(own, p, known.p_value),
                "z": np.where(own, np.nan, known.z), "previous_value": previous_value,
            }  # fmt: skip
        else:
            latest_successes, previous_successes = np.rint(picked["latest_total"]), np.rint(picked["previous_total"])
            p = fisher_one_sided(
                latest_successes, latest_n, previous_successes, previous_n, alternative=question.alternative
            )
            previous_value = np.where(previous_n > 0, previous_successes / previous_n, np.nan)
            answers |= {"test": SHIFT_FISHER, "p_value": p, "previous_value": previous_value}
    return pd.DataFrame(answers)


# --- permutation refinement and false discovery rate -------------------------------------------

#: Raw scores of one published cell: (unit id, metric, cycle label) -> the answers it summarises.
ScoresLookup = Callable[[str, str, str], npt.NDArray[np.float64]]


@dataclass(frozen=True)
class ShiftSample:
    """A shift test whose Welch p is to be replaced by a permutation p: where its scores are."""

    row: int  # in the questions frame
    unit: str
    metric: str
    alternative: OneSided
    latest: str  # cycle labels
    previous: tuple[str, ...]


def permutation_wanted(questions: pd.DataFrame, history: pd.DataFrame) -> list[ShiftSample]:
    """The shift tests whose Welch screening p may be replaced by a permutation p (SCREEN_P)."""
    p = questions["p_value"]
    chosen = questions[
        (questions["test"] == SHIFT_PERMUTATION)
        & p.notna()
        & (p < SCREEN_P)
        & (questions["latest_n"] + questions["previous_n"] <= PERMUTATION_MAX_N)
    ]
    cells = series_cells(history, set(zip(chosen["unit"], chosen["metric"], strict=True)))
    samples = []
    for row, unit, metric, kind in zip(chosen.index, chosen["unit"], chosen["metric"], chosen["kind"], strict=True):
        series = cells[(unit, metric)]
        samples.append(
            ShiftSample(
                int(row), unit, metric, QUESTIONS_BY_KIND[kind].alternative, series[-1].label,
                tuple(c.label for c in series[-1 - SHIFT_PREVIOUS : -1]),
            )
        )  # fmt: skip
    return samples


def permutation_refine(
    questions: pd.DataFrame,
    samples: list[ShiftSample],
    scores: ScoresLookup,
    *,
    seed: int,
    n_resamples: int = PERMUTATION_RESAMPLES,
) -> None:
    """Replaces the Welch screening p of each sample's row by the permutation p.

    ``scores`` gives the raw answers of a cell (the database keeps them as histograms). One seed
    for every test keeps a rerun of the job publishing the same p.
    """
    refined: dict[int, float] = {}
    for sample in samples:
        latest = scores(sample.unit, sample.metric, sample.latest)
        previous = np.concatenate([scores(sample.unit, sample.metric, label) for label in sample.previous])
        if len(latest) and len(previous):
            refined[sample.row] = shift_permutation_test(
                latest,
                previous,
                alternative=sample.alternative,
                n_resamples=n_resamples,
                random_state=seed,
                stop_after_hits=PERMUTATION_STOP_AFTER_HITS,
            )
    if refined:  # one assignment: a .loc write per row costs more than the test
        rows = list(refined)
        questions.loc[rows, "p_value"] = list(refined.values())
        questions.loc[rows, "refined"] = True


def questions_decide(questions: pd.DataFrame) -> None:
    """Severity of every question: FLAG if it survives Benjamini-Hochberg at Q within its family
    (one metric x one test, trend or shift, across the units given: a falling and a rising test
    of one metric share one false-discovery budget, and so do a trend computed from individual
    scores and one computed from published means, TEST_FAMILY), WATCH if it does not but p <
    WATCH_P. Adds the columns q_value, family_size (the tests in the family, BH's m),
    family_units (the units they were asked of) and severity ("" for neither)."""
    questions["q_value"] = np.nan
    questions["family_size"] = 0
    questions["family_units"] = 0
    questions["severity"] = ""
    family = questions["test"].map(TEST_FAMILY)
    for _, members in questions.groupby([questions["metric"], family], sort=False):
        rejected, adjusted = benjamini_hochberg(members["p_value"].to_numpy(), q=Q)
        questions.loc[members.index, "q_value"] = adjusted
        questions.loc[members.index, "family_size"] = len(members)
        questions.loc[members.index, "family_units"] = members["unit"].nunique()
        watched = members["p_value"].to_numpy() < WATCH_P
        questions.loc[members.index, "severity"] = np.where(rejected, FLAG, np.where(watched, WATCH, ""))
