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
from psycopg import sql

from analytics.flag_candidates import Candidate, capability_trap, change_candidates, level_candidates
from analytics.flag_tests import (
    CHANGE_METRICS,
    HISTORY_COLUMNS,
    HISTORY_TYPES,
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
    """The history frame (analytics.flag_tests.HISTORY_COLUMNS) the flags read: this cycle's level
    metrics, and each change metric's last TREND_CYCLES published cells within the last
    HISTORY_WINDOW cycles (the trend uses those, the shift the last four of them)."""
    cycles = list(
        Cycle.objects.filter(month__lte=cycle.month, status=Cycle.Status.CLOSED).order_by("-month")[:HISTORY_WINDOW]
    )
    recent, older = cycles[:TREND_CYCLES], cycles[TREND_CYCLES:]
    level_only = sorted(set(LEVEL_METRICS) - set(CHANGE_METRICS))
    cells = [_cells_read([cycle.pk], level_only), _cells_read([c.pk for c in recent], CHANGE_METRICS)]
    # Most series were published in every recent cycle: only those with a gap look further back
    # (at 10,000 units that halves the rows read).
    per_series = cells[1].groupby(["unit_id", "metric"]).size()
    short = per_series[per_series < TREND_CYCLES].index.to_frame(index=False)
    if older and not short.empty:
        looked_back = _cells_read([c.pk for c in older], CHANGE_METRICS, units=short["unit_id"].unique())
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
            "total_sq": frame["total_sq"].fillna(0.0),
            "ci_low": frame["ci_low"],
            "ci_high": frame["ci_high"],
        },
        columns=HISTORY_COLUMNS,
    )
    return history.astype(HISTORY_TYPES)


def _cells_read(
    cycle_ids: list[int], metrics: Collection[str], *, units: Collection[str] | None = None
) -> pd.DataFrame:
    """Published cells (CELL_COLUMNS; unit_id as text) of these cycles and metrics, of every unit
    or of the ``units`` given."""
    if connection.vendor == "postgresql":
        units_filter: sql.Composable = sql.SQL("")
        if units is not None:
            units_filter = sql.SQL(" AND unit_id = ANY({}::uuid[])").format(sql.Literal(sorted(units)))
        query = sql.SQL(
            "SELECT {columns} FROM {table} "
            "WHERE published AND cycle_id = ANY({cycles}) AND metric = ANY({metrics}){units}"
        ).format(
            columns=sql.SQL(", ").join(sql.Identifier(column) for column in CELL_COLUMNS),
            table=sql.Identifier(MetricCell._meta.db_table),
            cycles=sql.Literal(cycle_ids),
            metrics=sql.Literal(sorted(metrics)),
            units=units_filter,
        )
        types: dict[str, object] = {"cycle_id": np.int64, "unit_id": str, "metric": str}
        return copy_to_frame(query, types | dict.fromkeys(CELL_COLUMNS[3:], np.float64))
    rows = MetricCell.objects.filter(published=True, cycle_id__in=cycle_ids, metric__in=metrics)
    if units is not None:
        rows = rows.filter(unit_id__in=[uuid.UUID(unit) for unit in units])
    frame = pd.DataFrame.from_records(list(rows.values_list(*CELL_COLUMNS)), columns=CELL_COLUMNS)
    frame["unit_id"] = frame["unit_id"].astype(str)
    return frame


def _histogram_scores(samples: Collection[ShiftSample]) -> ScoresLookup:
    """Raw scores of the cells the permutation refinement will read, fetched in one query."""
    if not samples:
        return _no_scores
    labels = {label for s in samples for label in (s.latest, *s.previous)}
    cycles = {c.label: c.pk for c in Cycle.objects.filter(status=Cycle.Status.CLOSED) if c.label in labels}
    wanted = sorted({(s.unit, s.metric, cycles[label]) for s in samples for label in (s.latest, *s.previous)})
    if connection.vendor == "postgresql":  # thousands of JSON rows: COPY, not model instances
        # Exactly the cells the samples read: one index probe each on (cycle, unit, variable).
        query = sql.SQL(
            "SELECT h.unit_id, h.variable, h.cycle_id, h.counts FROM {table} h JOIN "
            "unnest({units}::uuid[], {variables}::text[], {cycles}::bigint[]) AS w(unit_id, variable, cycle_id) "
            "ON h.unit_id = w.unit_id AND h.variable = w.variable AND h.cycle_id = w.cycle_id"
        ).format(
            table=sql.Identifier(CellHistogram._meta.db_table),
            units=sql.Literal([unit for unit, _, _ in wanted]),
            variables=sql.Literal([variable for _, variable, _ in wanted]),
            cycles=sql.Literal([cycle_id for _, _, cycle_id in wanted]),
        )
        frame = copy_to_frame(query, {"unit_id": str, "variable": str, "cycle_id": np.int64, "counts": str})
        rows: Iterable[tuple[Any, str, int, Any]] = zip(
            frame["unit_id"], frame["variable"], frame["cycle_id"], map(json.loads, frame["counts"]), strict=True
        )
    else:
        units = {uuid.UUID(unit) for unit, _, _ in wanted}
        rows = CellHistogram.objects.filter(
            unit_id__in=units,
            variable__in={variable for _, variable, _ in wanted},
            cycle_id__in={cycle_id for _, _, cycle_id in wanted},
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
