"""Every read and write of the aggregation job, in one place: COPY on PostgreSQL, the ORM elsewhere.

A large organisation has millions of answers and hundreds of thousands of cells per cycle. Read
row by row through a cursor (or worse, model instances) that costs seconds, so on PostgreSQL the
job streams them through COPY (text that pandas' C parser reads at the speed of the wire) and
writes through COPY too (one stream, no ORM objects); elsewhere the same rows go through the ORM.
Tests check that each COPY path returns or stores exactly what the ORM path does.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as arrow_csv
from django.db import connection, models
from psycopg import sql

from analytics.core.cells import CycleCells
from analytics.core.tree import UnitTree
from analytics.models import CellHistogram, Flag, ItemDistribution, MetricCell, UnitSnapshot
from surveys.anonymous.models import Answer, Response
from surveys.models import Cycle


def copy_available() -> bool:
    return connection.vendor == "postgresql"


# --- reading ---------------------------------------------------------------------------------


def copy_to_frame(query: sql.Composable, dtypes: Mapping[str, object], *, free_text: bool = False) -> pd.DataFrame:
    """Runs ``COPY (query) TO STDOUT`` and parses it into columns named and typed by ``dtypes``
    (in the query's column order). COPY takes no server-side parameters: compose ``query`` with
    psycopg.sql, whose Identifier and Literal quote on the client.

    By default COPY's text format, the fastest (2 M answers parse in two thirds of the CSV time),
    which read_csv reads correctly only for ids, keys, numbers and JSON of numbers: it does not
    undo the backslash escapes of tabs, newlines and backslashes. ``free_text=True`` reads
    anything, through COPY's CSV format, whose quoting read_csv undoes; there an empty string
    comes back as NaN, like NULL.
    """
    buffer = io.BytesIO()
    options = sql.SQL(" WITH (FORMAT csv)" if free_text else "")
    statement = sql.SQL("COPY ({}) TO STDOUT{}").format(query, options)
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    return pd.read_csv(
        buffer,
        sep="," if free_text else "\t",
        header=None,
        names=list(dtypes),
        dtype=dict(dtypes),
        na_values=[""] if free_text else ["\\N"],
        keep_default_na=False,
        engine="c",
    )


def answers_frame(cycle_id: int, team_ids: set[str] | None = None) -> pd.DataFrame:
    """A cycle's answers as (response_id, team_id, item, value); on PostgreSQL through COPY, the
    fastest way out of the database, elsewhere through the ORM."""
    columns = ["response_id", "team_id", "item", "value"]
    if copy_available():
        frame = _answers_by_copy(int(cycle_id))
    else:
        rows = Answer.objects.filter(response__cycle_id=cycle_id).values_list(
            "response_id", "response__team_id", "item", "value"
        )
        frame = pd.DataFrame.from_records(list(rows), columns=columns)
        frame["response_id"] = frame["response_id"].astype(str)
        frame["team_id"] = frame["team_id"].astype(str)
    if team_ids is not None:
        frame = frame[frame["team_id"].isin(team_ids)]
    return frame


def _answers_by_copy(cycle_id: int) -> pd.DataFrame:
    from psycopg import sql

    query = sql.SQL(
        "SELECT a.response_id, r.team_id, a.item, a.value FROM {answer} a "
        "JOIN {response} r ON r.id = a.response_id WHERE r.cycle_id = {cycle_id}"
    ).format(
        answer=sql.Identifier(Answer._meta.db_table),
        response=sql.Identifier(Response._meta.db_table),
        cycle_id=sql.Literal(cycle_id),
    )
    return copy_to_frame(query, {"response_id": str, "team_id": str, "item": str, "value": "float64"})


# Published cells as the flags stage reads them (unit_id as text), with extra["interval"] (whose SD
# the interval used: "own_sd" or "organisation_sd", "" for a share): the flags test a window of
# small cells from its published means alone (ANONYMITY R13). total_sq is NULL for those cells.
CELL_COLUMNS = ["cycle_id", "unit_id", "metric", "n", "value", "total", "total_sq", "ci_low", "ci_high", "interval"]


def published_cells_frame(
    cycle_ids: list[int], metrics: Collection[str], *, units: Collection[str] | None = None
) -> pd.DataFrame:
    """Published cells (CELL_COLUMNS; unit_id as text, interval "" where the cell has none) of
    these cycles and metrics, of every unit or of the ``units`` given."""
    if copy_available():
        units_filter: sql.Composable = sql.SQL("")
        if units is not None:
            units_filter = sql.SQL(" AND unit_id = ANY({}::uuid[])").format(sql.Literal(sorted(units)))
        query = sql.SQL(
            "SELECT {columns}, coalesce(extra ->> 'interval', '') FROM {table} "
            "WHERE published AND cycle_id = ANY({cycles}) AND metric = ANY({metrics}){units}"
        ).format(
            columns=sql.SQL(", ").join(sql.Identifier(column) for column in CELL_COLUMNS[:-1]),
            table=sql.Identifier(MetricCell._meta.db_table),
            cycles=sql.Literal(cycle_ids),
            metrics=sql.Literal(sorted(metrics)),
            units=units_filter,
        )
        types: dict[str, object] = {"cycle_id": np.int64, "unit_id": str, "metric": str}
        frame = copy_to_frame(query, types | dict.fromkeys(CELL_COLUMNS[3:-1], np.float64) | {"interval": str})
        # The same "" as the ORM's, whether the parser reads an empty field as "" or as missing.
        frame["interval"] = frame["interval"].fillna("")
        return frame
    rows = MetricCell.objects.filter(published=True, cycle_id__in=cycle_ids, metric__in=metrics)
    if units is not None:
        rows = rows.filter(unit_id__in=[uuid.UUID(unit) for unit in units])
    # The JSON is read whole (a key transform compiles differently on each database).
    frame = pd.DataFrame.from_records(list(rows.values_list(*CELL_COLUMNS[:-1], "extra")), columns=CELL_COLUMNS)
    frame["unit_id"] = frame["unit_id"].astype(str)
    frame["interval"] = [str((extra or {}).get("interval", "")) for extra in frame["interval"]]
    return frame


def histogram_counts(wanted: Collection[tuple[str, str, int]]) -> dict[tuple[str, str, int], Any]:
    """Stored histograms ([[value, count], ...]) of the (unit, variable, cycle id) cells named, in
    one query: on PostgreSQL one index probe each on (cycle, unit, variable)."""
    ordered = sorted(wanted)
    if not ordered:
        return {}
    rows: Iterable[tuple[Any, str, int, Any]]
    if copy_available():  # thousands of JSON rows: COPY, not model instances
        query = sql.SQL(
            "SELECT h.unit_id, h.variable, h.cycle_id, h.counts FROM {table} h JOIN "
            "unnest({units}::uuid[], {variables}::text[], {cycles}::bigint[]) AS w(unit_id, variable, cycle_id) "
            "ON h.unit_id = w.unit_id AND h.variable = w.variable AND h.cycle_id = w.cycle_id"
        ).format(
            table=sql.Identifier(CellHistogram._meta.db_table),
            units=sql.Literal([unit for unit, _, _ in ordered]),
            variables=sql.Literal([variable for _, variable, _ in ordered]),
            cycles=sql.Literal([cycle_id for _, _, cycle_id in ordered]),
        )
        frame = copy_to_frame(query, {"unit_id": str, "variable": str, "cycle_id": np.int64, "counts": str})
        rows = zip(
            frame["unit_id"], frame["variable"], frame["cycle_id"], map(json.loads, frame["counts"]), strict=True
        )
    else:
        rows = CellHistogram.objects.filter(
            unit_id__in={uuid.UUID(unit) for unit, _, _ in ordered},
            variable__in={variable for _, variable, _ in ordered},
            cycle_id__in={cycle_id for _, _, cycle_id in ordered},
        ).values_list("unit_id", "variable", "cycle_id", "counts")
    return {(str(unit), variable, int(cycle_id)): counts for unit, variable, cycle_id, counts in rows}


# --- writing ---------------------------------------------------------------------------------


def cycle_results_write(cycle: Cycle, tree: UnitTree[str], computed: CycleCells) -> None:
    """Replaces the cycle's stored results with ``computed``."""
    # Flags are derived from the cells: new cells (say after k was raised) must never sit beside
    # the previous run's flags, which may quote a cell that is now hidden. The flags stage that
    # follows writes them afresh.
    for model in (Flag, MetricCell, ItemDistribution, CellHistogram, UnitSnapshot):
        model.objects.filter(cycle=cycle).delete()
    frame_insert(
        UnitSnapshot,
        pd.DataFrame(
            [
                (cycle.pk, unit, parent, tree.path(unit), tree.level(unit), len(tree.ancestors(unit)) - 1)
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
    statistics_refresh((UnitSnapshot, MetricCell, ItemDistribution, CellHistogram))


def statistics_refresh(tables: Collection[type[models.Model]]) -> None:
    """ANALYZE the tables a cycle's results were just written to (PostgreSQL).

    A cycle adds a few per cent to each table, less than autovacuum's 10% before it analyses
    again, so without this the planner believes the new cycle is empty: at 10,000 teams a
    heatmap's read of 460 cells walked all 343,000 of the cycle's cells through the index
    (37 ms instead of 2 ms), and so did every page read of the newest cycle until the next one.
    Inside the job's transaction ANALYZE counts its own new rows, so the plans are right from
    the commit on. It samples (300 × default_statistics_target rows), so it costs about the
    same whatever the table's size.
    """
    if not copy_available():
        return
    with connection.cursor() as cursor:
        for model in tables:
            cursor.cursor.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(model._meta.db_table)))


NUMBER_FIELDS = ("value", "ci_low", "ci_high", "total", "total_sq")


def frame_insert(model: type[models.Model], frame: pd.DataFrame) -> None:
    """Inserts a frame whose columns are field names (``cycle_id`` for a foreign key; JSON
    fields as JSON text). On PostgreSQL one CSV stream written by Arrow goes in through COPY;
    elsewhere the rows go through bulk_create."""
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
