"""Flags (PRODUCT.md, "What reports flag"), computed from published cells only.

Every test uses only cycles in which that unit's metric was published (R4), so a flag can never
reveal a hidden value. Change tests are grouped into families (one metric x one test, across all
units) and a result is a *flag* only if it survives Benjamini-Hochberg at q = 0.10 within its
family; a p < .05 that does not survive is "worth watching" (the unit's own report only). Level
checks (an interval wholly below a line) are not tests of change and are not corrected.

This module is the database side: it reads the published history into one frame, hands it to the
pure core (analytics.flag_tests decides, analytics.flag_candidates words it) and stores the result.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from django.db import connection
from django.db.models import Q as Where
from psycopg import sql

from analytics.flag_candidates import Candidate, capability_trap, change_candidates, level_candidates
from analytics.flag_tests import (
    CHANGE_METRICS,
    HISTORY_COLUMNS,
    HISTORY_TYPES,
    HISTORY_WINDOW,
    INTERNAL_KINDS,
    ScoresLookup,
    ShiftSample,
    change_questions,
    permutation_refine,
    permutation_wanted,
    questions_decide,
)
from analytics.models import CellHistogram, Flag, MetricCell, UnitSnapshot
from analytics.rollup import OrgTree
from analytics.sql_frames import copy_to_frame
from surveys.models import Cycle

# Level checks read only the cycle being flagged (half the rows at scale).
LEVEL_METRICS = ("psych_safety", "pressure", "trust", "daily_use_share", "responses", "ai_user_share")
CELL_COLUMNS = ["cycle_id", "unit_id", "metric", "n", "value", "total", "total_sq", "ci_low", "ci_high"]


def flags_compute_for_cycle(*, cycle: Cycle, tree: OrgTree) -> int:
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
    """The history frame (analytics.flag_tests.HISTORY_COLUMNS): published cells of the change
    metrics over the last HISTORY_WINDOW cycles up to this one, and this cycle's level metrics."""
    cycles = list(
        Cycle.objects.filter(month__lte=cycle.month, status=Cycle.Status.CLOSED).order_by("-month")[:HISTORY_WINDOW]
    )
    level_only = sorted(set(LEVEL_METRICS) - set(CHANGE_METRICS))
    if connection.vendor == "postgresql":
        query = sql.SQL(
            "SELECT {columns} FROM {table} WHERE published AND ("
            "(cycle_id = ANY({cycles}) AND metric = ANY({change})) OR (cycle_id = {cycle} AND metric = ANY({level})))"
        ).format(
            columns=sql.SQL(", ").join(sql.Identifier(column) for column in CELL_COLUMNS),
            table=sql.Identifier(MetricCell._meta.db_table),
            cycles=sql.Literal([c.pk for c in cycles]),
            change=sql.Literal(list(CHANGE_METRICS)),
            cycle=sql.Literal(cycle.pk),
            level=sql.Literal(level_only),
        )
        cells = copy_to_frame(query, {"cycle_id": np.int64, "unit_id": str, "metric": str} | {
            column: np.float64 for column in CELL_COLUMNS[3:]
        })  # fmt: skip
    else:
        rows = MetricCell.objects.filter(published=True).filter(
            Where(cycle_id__in=[c.pk for c in cycles], metric__in=CHANGE_METRICS)
            | Where(cycle_id=cycle.pk, metric__in=level_only)
        )
        cells = pd.DataFrame.from_records(list(rows.values_list(*CELL_COLUMNS)), columns=CELL_COLUMNS)
        cells["unit_id"] = cells["unit_id"].astype(str)
    by_cycle = {c.pk: (c.month.year * 12 + c.month.month, c.label) for c in cycles}
    cycle_ids = cells["cycle_id"]
    history = pd.DataFrame(
        {
            "unit": cells["unit_id"],
            "metric": cells["metric"],
            "index": cycle_ids.map({pk: index for pk, (index, _) in by_cycle.items()}),
            "label": cycle_ids.map({pk: label for pk, (_, label) in by_cycle.items()}),
            "n": cells["n"].fillna(0),
            "value": cells["value"],
            "total": cells["total"].fillna(0.0),
            "total_sq": cells["total_sq"].fillna(0.0),
            "ci_low": cells["ci_low"],
            "ci_high": cells["ci_high"],
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
    units, variables = sorted({s.unit for s in samples}), sorted({s.metric for s in samples})
    if connection.vendor == "postgresql":  # thousands of JSON rows: COPY, not model instances
        query = sql.SQL(
            "SELECT unit_id, variable, cycle_id, counts FROM {table} "
            "WHERE cycle_id = ANY({cycles}) AND variable = ANY({variables}) AND unit_id = ANY({units}::uuid[])"
        ).format(
            table=sql.Identifier(CellHistogram._meta.db_table),
            cycles=sql.Literal(sorted(cycles.values())),
            variables=sql.Literal(variables),
            units=sql.Literal(units),
        )
        frame = copy_to_frame(query, {"unit_id": str, "variable": str, "cycle_id": np.int64, "counts": str})
        rows: Iterable[tuple[Any, str, int, Any]] = zip(
            frame["unit_id"], frame["variable"], frame["cycle_id"], map(json.loads, frame["counts"]), strict=True
        )
    else:
        rows = CellHistogram.objects.filter(
            unit_id__in=[uuid.UUID(unit) for unit in units], variable__in=variables, cycle_id__in=cycles.values()
        ).values_list("unit_id", "variable", "cycle_id", "counts")
    histograms = {(str(unit), variable, int(cycle_id)): counts for unit, variable, cycle_id, counts in rows}

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
