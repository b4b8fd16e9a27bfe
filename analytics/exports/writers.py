"""Exports of published aggregates: one tidy table (CSV, XLSX, Parquet), read through the door.

Raw responses never leave the database; this module cannot reach them (import-linter), and a
suppressed row carries no n, value or interval. Each export is audited with the k it was made with
(ANONYMITY R3, R10), and every row of every format carries its cycle's k (a `k` column), so a
file or an extract of it always says under which threshold its figures were published; XLSX's
about sheet and Parquet's metadata say it once more for the whole file.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from analytics.published import EXPORT_COLUMNS, PublishedCell, aggregated_cycles, published_cells
from surveys.models import AuditEvent, Cycle

FORMATS = ("csv", "xlsx", "parquet")


class ExportError(Exception):
    pass


def aggregates_export(*, fmt: str, out: Path, cycle: Cycle | None = None, actor: str) -> int:
    """Writes the tidy table to `out`; returns the number of rows. Nothing is written on error."""
    if fmt not in FORMATS:
        raise ExportError(f"--format must be one of {', '.join(FORMATS)}; got {fmt!r}.")
    if not out.parent.exists():
        raise ExportError(f"The folder {out.parent} does not exist; create it or choose another --out.")
    cycles = [cycle] if cycle is not None else aggregated_cycles()
    if cycle is not None and cycle not in aggregated_cycles():
        raise ExportError(
            f"The {cycle.label} cycle has no aggregates yet: it must be closed and aggregated "
            f"(python manage.py aggregate --cycle {cycle.label})."
        )
    if not cycles:
        # An empty file would carry no k and look like an export of nothing being wrong.
        raise ExportError("No cycle has been aggregated yet: close a cycle, then run python manage.py aggregate.")
    rows = list(published_cells(cycles=cycles))
    k_values = sorted({c.k for c in cycles})
    tmp = out.with_name(out.name + ".partial")
    try:
        {"csv": _write_csv, "xlsx": _write_xlsx, "parquet": _write_parquet}[fmt](rows, tmp, k_values)
        tmp.replace(out)  # a reader never sees half a file
    except BaseException:
        tmp.unlink(missing_ok=True)  # nor finds one left behind by a failed export (disk full, ^C)
        raise
    AuditEvent.objects.create(
        actor=actor,
        action="aggregates_exported",
        detail={"format": fmt, "cycles": [c.label for c in cycles], "k": k_values, "rows": len(rows)},
    )
    return len(rows)


def _write_csv(rows: Iterable[PublishedCell], path: Path, k_values: list[int]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(EXPORT_COLUMNS)
        for row in rows:
            writer.writerow(["" if value is None else value for value in row.as_row()])


def _write_xlsx(rows: Iterable[PublishedCell], path: Path, k_values: list[int]) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("aggregates")
    sheet.append(EXPORT_COLUMNS)
    for row in rows:
        sheet.append(row.as_row())
    about = workbook.create_sheet("about")
    about.append(["anonymity threshold k", ", ".join(str(k) for k in k_values)])
    about.append(["suppressed cells", "no n, value or interval: hidden to protect anonymity"])
    workbook.save(path)


def _write_parquet(rows: Iterable[PublishedCell], path: Path, k_values: list[int]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("cycle", pa.string()), ("k", pa.int64()), ("unit_id", pa.string()), ("unit_path", pa.string()),
            ("parent_path", pa.string()), ("level", pa.string()), ("metric", pa.string()),
            ("n", pa.int64()), ("value", pa.float64()), ("ci_low", pa.float64()), ("ci_high", pa.float64()),
            ("suppressed", pa.bool_()), ("reason", pa.string()),
        ],
        metadata={"anonymity_threshold_k": ",".join(str(k) for k in k_values)},
    )  # fmt: skip
    as_rows = [row.as_row() for row in rows]
    columns = {name: [values[index] for values in as_rows] for index, name in enumerate(EXPORT_COLUMNS)}
    table = pa.table(columns, schema=schema)
    pq.write_table(table, path)
