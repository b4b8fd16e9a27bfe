"""The history frame the change questions read: one row per published cell of a unit's recent
cycles (unit, metric, cycle, n, value, sums, interval and whose SD the interval used).
analytics.flags.stage builds it from SQL; the tests and the flag simulation build it from
:class:`CycleCell` values. No Django.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

# A cell's extra["interval"]: whose SD its interval was computed from (analytics.core.cells).
OWN_SD = "own_sd"


@dataclass
class CycleCell:
    """One published cell of a unit's history, as the candidates' numbers and sentences use it."""

    index: int  # months since year 0: keeps gaps between cycles honest in a slope
    label: str
    n: int
    value: float
    total: float
    total_sq: float  # NaN where the cell may not show its spread (R13): none is stored
    ci_low: float | None
    ci_high: float | None
    interval: str = ""  # extra["interval"]: OWN_SD, "organisation_sd", or "" (a share, or none)


HISTORY_COLUMNS = ["unit", "metric", "index", "label", "n", "value", "total", "total_sq", "ci_low", "ci_high",
                   "interval"]  # fmt: skip
HISTORY_TYPES = {
    "unit": object, "metric": object, "index": np.int64, "label": object, "n": np.int64,
    "value": np.float64, "total": np.float64, "total_sq": np.float64, "ci_low": np.float64, "ci_high": np.float64,
    "interval": object,
}  # fmt: skip


def history_frame(cells: Iterable[tuple[str, str, CycleCell]]) -> pd.DataFrame:
    """A history frame from (unit, metric, cell) triples (analytics.flags.stage reads one from SQL)."""
    rows = [
        (unit, metric, c.index, c.label, c.n, c.value, c.total, c.total_sq, c.ci_low, c.ci_high, c.interval)
        for unit, metric, c in cells
    ]
    return pd.DataFrame.from_records(rows, columns=HISTORY_COLUMNS).astype(HISTORY_TYPES)


def series_cells(history: pd.DataFrame, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], list[CycleCell]]:
    """(unit, metric) -> its published cells, oldest first, for the few series a caller names."""
    if not keys:
        return {}
    wanted = pd.DataFrame(list(keys), columns=["unit", "metric"])
    rows = history[history["unit"].isin(wanted["unit"].unique())].merge(wanted, on=["unit", "metric"])
    out: dict[tuple[str, str], list[CycleCell]] = defaultdict(list)
    for row in rows.sort_values("index", kind="stable").itertuples(index=False):
        out[(row.unit, row.metric)].append(
            CycleCell(
                int(row.index), row.label, int(row.n), float(row.value), float(row.total), float(row.total_sq),
                None if math.isnan(row.ci_low) else float(row.ci_low),
                None if math.isnan(row.ci_high) else float(row.ci_high), str(row.interval),
            )
        )  # fmt: skip
    return out
