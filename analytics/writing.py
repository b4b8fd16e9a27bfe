"""Storing a cycle's computed results: snapshots, cells, distributions, histograms.

A large organisation has hundreds of thousands of cells per cycle; on PostgreSQL they go in
through COPY (one stream, no ORM objects), elsewhere through bulk_create. Both write the same
rows; callers run this inside the cells stage's transaction.
"""

from __future__ import annotations

import io
import json

import pandas as pd
import pyarrow as pa
import pyarrow.csv as arrow_csv
from django.db import connection, models
from psycopg import sql

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
    frame_insert(
        UnitSnapshot,
        pd.DataFrame(
            [
                (cycle.pk, unit, parent, tree.path(unit), tree.level(unit, children), len(tree.ancestors(unit)) - 1)
                for unit, parent in tree.parents.items()
            ],
            columns=["cycle_id", "unit_id", "parent_id", "path", "level", "depth"],
        ),
    )
    # Sorted by unit: the cycle's index entries then go in order (the unique indexes lead with the
    # cycle, whose rows are all new), instead of one random page per row of a large index.
    cells = computed.cells.sort_values(["unit_id", "metric"], kind="stable")
    frame_insert(
        MetricCell,
        pd.DataFrame(
            {
                "cycle_id": cycle.pk,
                "unit_id": cells["unit_id"].astype(str),
                "metric": cells["metric"],
                "published": cells["published"].astype(bool),
                "hidden_because": cells["hidden_because"],
                "n": pd.array(cells["n"], dtype="Int64"),
                **{name: pd.to_numeric(cells[name], errors="coerce") for name in NUMBER_FIELDS},
                # Most cells carry no extra figures: one shared "{}" instead of a json.dumps each.
                "extra": [json.dumps(extra) if extra else "{}" for extra in cells["extra"]],
            }
        ),
    )
    distributions = computed.distributions.sort_values(["unit_id", "item"], kind="stable")
    frame_insert(
        ItemDistribution,
        pd.DataFrame(
            {
                "cycle_id": cycle.pk,
                "unit_id": distributions["unit_id"].astype(str),
                "item": distributions["item"],
                **{name: distributions[name].astype("int64") for name in ("unfavourable", "neutral", "favourable")},
            }
        ),
    )
    histograms = computed.histograms.sort_values(["unit_id", "variable"], kind="stable")
    frame_insert(
        CellHistogram,
        pd.DataFrame(
            {
                "cycle_id": cycle.pk,
                "unit_id": histograms["unit_id"].astype(str),
                "variable": histograms["variable"],
                "counts": [json.dumps(counts) for counts in histograms["counts"]],
            }
        ),
    )


NUMBER_FIELDS = ("value", "ci_low", "ci_high", "total", "total_sq")


def copy_available() -> bool:
    return connection.vendor == "postgresql"


def frame_insert(model: type[models.Model], frame: pd.DataFrame) -> None:
    """Inserts a frame whose columns are field names (``cycle_id`` for a foreign key; JSON
    fields as JSON text). On PostgreSQL one CSV stream written by pandas' C writer goes in through
    COPY; elsewhere the rows go through bulk_create."""
    if not copy_available():
        json_fields = [name for name in frame.columns if isinstance(model._meta.get_field(name), models.JSONField)]
        records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
        for record in records:
            for name in json_fields:
                record[name] = json.loads(record[name])
        model._default_manager.bulk_create((model(**record) for record in records), batch_size=5000)
        return
    # Arrow's CSV writer is an order of magnitude faster than DataFrame.to_csv (its floats are the
    # shortest text that reads back to the same double). It writes NULL (and NaN) as an unquoted
    # empty field and every string quoted, "" included: exactly PostgreSQL's CSV conventions.
    buffer = io.BytesIO()
    arrow_csv.write_csv(
        pa.Table.from_pandas(frame, preserve_index=False), buffer, arrow_csv.WriteOptions(include_header=False)
    )
    columns = sql.SQL(", ").join(sql.Identifier(_column(model, name)) for name in frame.columns)
    statement = sql.SQL("COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)").format(
        table=sql.Identifier(model._meta.db_table), columns=columns
    )
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        copy.write(buffer.getbuffer())


def _column(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or field.column is None:
        raise ValueError(f"{model.__name__}.{name} is not a stored column")
    return field.column
