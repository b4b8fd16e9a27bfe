"""Flags (PRODUCT.md, "What reports flag"), computed from published cells only.

Every test uses only cycles in which that unit's metric was published (R4), so a flag can never
reveal a hidden value; where a test's cells are too small to show their own spread, only their
published means, n and intervals (R13), so it cannot reveal that spread either. Change tests are
grouped into families (one metric x one test, trend or shift, across all units) and a result is
a *flag* only if it survives Benjamini-Hochberg at q = 0.10 within its family; a p < .05 that
does not survive is "worth watching" (the unit's own report only). Level checks (an interval
wholly below a line) are not tests of change and are not corrected; a compound (the capability
trap) is a flag only where each of its parts is.

This module is the database side: it reads the published history into one frame, hands it to the
pure core (analytics.flags.questions decides, analytics.flags.wording words it) and stores the result.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

import numpy as np
import numpy.typing as npt
import pandas as pd

from analytics.core.tree import UnitTree
from analytics.flags.history import HISTORY_COLUMNS, HISTORY_TYPES
from analytics.flags.questions import (
    CHANGE_METRICS,
    HISTORY_WINDOW,
    INTERNAL_KINDS,
    TREND_CYCLES,
    ScoresLookup,
    ShiftSample,
    change_questions,
    permutation_refine,
    permutation_wanted,
    questions_decide,
)
from analytics.flags.wording import Candidate, capability_trap, change_candidates, level_candidates
from analytics.job.storage import histogram_counts, published_cells_frame
from analytics.models import Flag, UnitSnapshot
from surveys.models import Cycle

# Level checks read only the cycle being flagged (half the rows at scale).
LEVEL_METRICS = ("psych_safety", "pressure", "trust", "daily_use_share", "responses", "ai_user_share")


def flags_compute_for_cycle(*, cycle: Cycle, tree: UnitTree[str]) -> int:
    """Computes and stores this cycle's flags; returns how many rows (flags and watches) it wrote."""
    Flag.objects.filter(cycle=cycle).delete()
    history = _published_history(cycle)
    paths = {str(unit): path for unit, path in UnitSnapshot.objects.filter(cycle=cycle).values_list("unit_id", "path")}
    questions = change_questions(history, cycle.label)
    samples = permutation_wanted(questions, history)
    seed = cycle.month.year * 100 + cycle.month.month  # reproducible reruns
    permutation_refine(questions, samples, _histogram_scores(samples), seed=seed)
    questions_decide(questions)
    candidates: list[Candidate] = change_candidates(questions, history, paths)
    candidates.extend(level_candidates(history, cycle.label, paths))
    capability_trap(candidates, history, cycle.label)
    # Rising pressure on its own is not one of PRODUCT.md's flags: it feeds the capability trap.
    kept = [c for c in candidates if c.severity and c.kind not in INTERNAL_KINDS]
    Flag.objects.bulk_create(
        (
            Flag(
                cycle=cycle,
                unit_id=uuid.UUID(c.unit_id),
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


def _published_history(cycle: Cycle) -> pd.DataFrame:
    """The history frame (analytics.flags.history.HISTORY_COLUMNS) the flags read: this cycle's level
    metrics, and each change metric's last TREND_CYCLES published cells within the last
    HISTORY_WINDOW cycles (the trend uses those, the shift the last four of them)."""
    cycles = list(
        Cycle.objects.filter(month__lte=cycle.month, status=Cycle.Status.CLOSED).order_by("-month")[:HISTORY_WINDOW]
    )
    recent, older = cycles[:TREND_CYCLES], cycles[TREND_CYCLES:]
    level_only = sorted(set(LEVEL_METRICS) - set(CHANGE_METRICS))
    cells = [
        published_cells_frame([cycle.pk], level_only),
        published_cells_frame([c.pk for c in recent], CHANGE_METRICS),
    ]
    # Most series were published in every recent cycle: only those with a gap look further back
    # (at 10,000 units that halves the rows read).
    per_series = cells[1].groupby(["unit_id", "metric"]).size()
    short = per_series[per_series < TREND_CYCLES].index.to_frame(index=False)
    if older and not short.empty:
        looked_back = published_cells_frame([c.pk for c in older], CHANGE_METRICS, units=short["unit_id"].unique())
        cells.append(looked_back.merge(short, on=["unit_id", "metric"]))
    frame = pd.concat(cells, ignore_index=True)
    by_cycle = {c.pk: (c.month.year * 12 + c.month.month, c.label) for c in cycles}
    cycle_ids = frame["cycle_id"]
    history = pd.DataFrame(
        {
            "unit": frame["unit_id"],
            "metric": frame["metric"],
            "index": cycle_ids.map({pk: index for pk, (index, _) in by_cycle.items()}),
            "label": cycle_ids.map({pk: label for pk, (_, label) in by_cycle.items()}),
            "n": frame["n"].fillna(0),
            "value": frame["value"],
            "total": frame["total"].fillna(0.0),
            # NULL where the cell may not show its spread (R13): NaN, never a made-up 0.
            "total_sq": frame["total_sq"],
            "ci_low": frame["ci_low"],
            "ci_high": frame["ci_high"],
            "interval": frame["interval"].fillna(""),
        },
        columns=HISTORY_COLUMNS,
    )
    return history.astype(HISTORY_TYPES)


def _histogram_scores(samples: Collection[ShiftSample]) -> ScoresLookup:
    """Raw scores of the cells the permutation refinement will read, fetched in one query."""
    if not samples:
        return _no_scores
    labels = {label for s in samples for label in (s.latest, *s.previous)}
    cycles = {c.label: c.pk for c in Cycle.objects.filter(status=Cycle.Status.CLOSED) if c.label in labels}
    histograms = histogram_counts(
        {(s.unit, s.metric, cycles[label]) for s in samples for label in (s.latest, *s.previous)}
    )

    def scores(unit: str, metric: str, label: str) -> npt.NDArray[np.float64]:
        return expand_histogram(histograms.get((unit, metric, cycles[label])))

    return scores


def expand_histogram(counts: list[list[float]] | None) -> npt.NDArray[np.float64]:
    """Raw scores from a stored histogram, [[value, count], ...]."""
    if not counts:
        return np.array([], dtype=float)
    values, repeats = zip(*counts, strict=True)
    return np.repeat(np.asarray(values, dtype=float), np.asarray(repeats, dtype=int))


def _no_scores(unit: str, metric: str, label: str) -> npt.NDArray[np.float64]:
    raise AssertionError("no permutation test was wanted")  # pragma: no cover - never called
