"""Storing a cycle's computed results: snapshots, cells, distributions, histograms.

A large organisation has hundreds of thousands of cells per cycle; on PostgreSQL they go in
through COPY (one stream, no ORM objects), elsewhere through bulk_create. Both write the same
rows; callers run this inside the cells stage's transaction.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from django.db import connection, models

from analytics.compute import CycleCells
from analytics.models import CellHistogram, Flag, ItemDistribution, MetricCell, UnitSnapshot
from analytics.rollup import OrgTree
from surveys.models import Cycle


def cycle_results_write(cycle: Cycle, tree: OrgTree, computed: CycleCells) -> None:
    """Replaces the cycle's stored results with ``computed``."""
    # Flags are derived from the cells: new cells (say after k was raised) must never sit beside
    # the previous run's flags, which may quote a cell that is now hidden. The flags stage that
    # follows writes them afresh.
    for model in (Flag, MetricCell, ItemDistribution, CellHistogram, UnitSnapshot):
        model.objects.filter(cycle=cycle).delete()
    children = tree.children()
    rows_insert(
        UnitSnapshot,
        ["cycle_id", "unit_id", "parent_id", "path", "level", "depth"],
        (
            (
                cycle.pk,
                uuid.UUID(unit),
                uuid.UUID(parent) if parent else None,
                tree.path(unit),
                tree.level(unit, children),
                len(tree.ancestors(unit)) - 1,
            )
            for unit, parent in tree.parents.items()
        ),
    )
    cells = computed.cells
    if connection.vendor == "postgresql":
        _cells_copy(cycle, cells)
    else:
        _cells_insert(cycle, cells)
    distributions = computed.distributions
    rows_insert(
        ItemDistribution,
        ["cycle_id", "unit_id", "item", "unfavourable", "neutral", "favourable"],
        (
            (cycle.pk, uuid.UUID(unit_id), item, int(low), int(middle), int(high))
            for unit_id, item, low, middle, high in zip(
                distributions["unit_id"], distributions["item"], distributions["unfavourable"],
                distributions["neutral"], distributions["favourable"], strict=True,
            )
        ),
    )  # fmt: skip
    histograms = computed.histograms
    rows_insert(
        CellHistogram,
        ["cycle_id", "unit_id", "variable", "counts"],
        (
            (cycle.pk, uuid.UUID(unit_id), variable, counts)
            for unit_id, variable, counts in zip(
                histograms["unit_id"], histograms["variable"], histograms["counts"], strict=True
            )
        ),
    )


CELL_FIELDS = ["cycle_id", "unit_id", "metric", "published", "hidden_because", "n", "value", "ci_low", "ci_high",
               "total", "total_sq", "extra"]  # fmt: skip


def _cells_copy(cycle: Cycle, cells: pd.DataFrame) -> None:
    """The cells as one CSV stream written by pandas' C writer: the bulk of a cycle's rows."""
    from psycopg import sql

    frame = pd.DataFrame(
        {
            "cycle_id": cycle.pk,
            "unit_id": cells["unit_id"].astype(str),
            "metric": cells["metric"],
            "published": cells["published"].astype(bool),
            "hidden_because": cells["hidden_because"],
            "n": pd.array(cells["n"], dtype="Int64"),
            **{name: pd.to_numeric(cells[name], errors="coerce") for name in ("value", "ci_low", "ci_high")},
            **{name: pd.to_numeric(cells[name], errors="coerce") for name in ("total", "total_sq")},
            "extra": [json.dumps(extra or {}) for extra in cells["extra"]],
        },
        columns=CELL_FIELDS,
    )
    # NULL is \N so that an empty string (hidden_because of a published cell) stays a string.
    buffer = io.StringIO()
    frame.to_csv(buffer, header=False, index=False, na_rep="\\N")
    columns = sql.SQL(", ").join(sql.Identifier(_column(MetricCell, name)) for name in CELL_FIELDS)
    statement = sql.SQL("COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')").format(
        table=sql.Identifier(MetricCell._meta.db_table), columns=columns
    )
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        copy.write(buffer.getvalue())


def _cells_insert(cycle: Cycle, cells: pd.DataFrame) -> None:
    rows_insert(
        MetricCell,
        CELL_FIELDS,
        (
            (
                cycle.pk, uuid.UUID(unit_id), metric, bool(published), hidden_because,
                None if pd.isna(n) else int(n), _number(value), _number(ci_low), _number(ci_high),
                _number(total), _number(total_sq), extra or {},
            )
            for unit_id, metric, published, hidden_because, n, value, ci_low, ci_high, total, total_sq, extra in zip(
                cells["unit_id"], cells["metric"], cells["published"], cells["hidden_because"], cells["n"],
                cells["value"], cells["ci_low"], cells["ci_high"], cells["total"], cells["total_sq"],
                cells["extra"], strict=True,
            )
        ),
    )  # fmt: skip


def rows_insert(model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Inserts plain rows (values in ``fields`` order; ``cycle_id``-style names for foreign keys)."""
    meta = model._meta
    json_positions = [i for i, name in enumerate(fields) if isinstance(meta.get_field(name), models.JSONField)]
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(
            (model(**dict(zip(fields, row, strict=True))) for row in rows), batch_size=5000
        )
        return
    from psycopg import sql
    from psycopg.types.json import Jsonb

    columns = [sql.Identifier(_column(model, name)) for name in fields]
    statement = sql.SQL("COPY {table} ({columns}) FROM STDIN").format(
        table=sql.Identifier(meta.db_table), columns=sql.SQL(", ").join(columns)
    )
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            if json_positions:
                row = list(row)
                for position in json_positions:
                    row[position] = Jsonb(row[position])
            copy.write_row(row)


def _column(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or field.column is None:
        raise ValueError(f"{model.__name__}.{name} is not a stored column")
    return field.column


def _number(value: object) -> float | None:
    if value is None or pd.isna(value):  # type: ignore[call-overload]
        return None
    return float(value)  # type: ignore[arg-type]
