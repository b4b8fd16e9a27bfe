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
from collections.abc import Callable, Mapping

import numpy as np
import numpy.typing as npt
from django.db.models import Q as Where

from analytics.flag_tests import (
    CHANGE_METRICS,
    HISTORY_WINDOW,
    INTERNAL_KINDS,
    MEAN_METRICS,
    SCREEN_P,
    WATCH_P,
    Candidate,
    CycleCell,
    Q,
    capability_trap,
    change_candidates,
    change_flags_decide,
    expand_histogram,
    ols_from_sums,
    permutation_wanted,
)
from analytics.models import CellHistogram, Flag, MetricCell, UnitSnapshot
from analytics.playbook import PLAYBOOK
from analytics.rollup import OrgTree
from surveys.models import Cycle

# The statistics live in analytics.flag_tests (pure, simulated by the tests); these names are
# re-exported for callers that imported them from here.
__all__ = [
    "CHANGE_METRICS",
    "MEAN_METRICS",
    "Q",
    "SCREEN_P",
    "WATCH_P",
    "Candidate",
    "CycleCell",
    "flags_compute_for_cycle",
    "ols_from_sums",
]

PS_LOW_LINE = 5.0
TRUST_MIDPOINT = 3.0
LOW_RESPONSE_PERCENT = 50.0

LEVEL_METRICS = ("psych_safety", "pressure", "trust", "daily_use_share", "responses", "ai_user_share")


def flags_compute_for_cycle(*, cycle: Cycle, tree: OrgTree) -> int:
    """Computes and stores this cycle's flags; returns how many rows (flags and watches) it wrote."""
    Flag.objects.filter(cycle=cycle).delete()
    history = _published_history(cycle)
    paths = dict(UnitSnapshot.objects.filter(cycle=cycle).values_list("unit_id", "path"))
    candidates: list[Candidate] = []
    for unit, by_metric in history.items():
        path = paths.get(_uuid(unit), unit)
        latest = {metric: cells[-1] for metric, cells in by_metric.items() if cells and cells[-1].label == cycle.label}
        candidates.extend(change_candidates(unit, path, by_metric, latest))
        candidates.extend(_level_candidates(unit, path, latest))
    seed = cycle.month.year * 100 + cycle.month.month  # reproducible reruns
    change_flags_decide(candidates, _histogram_scores(candidates), seed=seed)
    capability_trap(candidates, history, cycle.label)
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
    # Change tests read the window; level checks read only this cycle (half the rows at scale).
    rows = (
        MetricCell.objects.filter(published=True)
        .filter(
            Where(cycle_id__in=labels, metric__in=CHANGE_METRICS)
            | Where(cycle_id=cycle.pk, metric__in=set(LEVEL_METRICS) - set(CHANGE_METRICS))
        )
        .values_list("cycle_id", "unit_id", "metric", "n", "value", "total", "total_sq", "ci_low", "ci_high")
    )
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


def _histogram_scores(candidates: list[Candidate]) -> Callable[[str, str, str], npt.NDArray[np.float64]]:
    """Raw scores of the cells the permutation refinement will read, fetched in one query."""
    wanted = permutation_wanted(candidates)
    if not wanted:
        return _no_scores
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

    def scores(unit: str, metric: str, label: str) -> npt.NDArray[np.float64]:
        return expand_histogram(histograms.get((unit, metric, cycles[label])))

    return scores


def _no_scores(unit: str, metric: str, label: str) -> npt.NDArray[np.float64]:
    raise AssertionError("no permutation test was wanted")  # pragma: no cover - never called


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
