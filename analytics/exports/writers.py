"""Exports of published aggregates: the tidy table of cells and the table of flags (CSV, XLSX,
Parquet), read through the door.

Raw responses never leave the database; this module cannot reach them (import-linter), and a
suppressed row carries no n, value or interval. Every row of every table carries its cycle's k
(a `k` column), so a file or an extract of it always says under which threshold its figures were
published (ANONYMITY R3); XLSX's about sheet and Parquet's metadata say it once more for the whole
file. The flags table holds only flags that survived Benjamini-Hochberg: "worth watching" results
stay in a unit's own report (analytics.published.organisation_flags serves flags only, and the
writer checks it again).

Two tables make one file: XLSX has an "aggregates" and a "flags" sheet; CSV and Parquet are a ZIP
holding ``aggregates.<fmt>`` and ``flags.<fmt>`` (``bundle=True``). The export_aggregates command
still writes the cells table alone to a .csv or .parquet ``--out``, and the ZIP to a .zip one.

Team paths come from roster uploads, so a text cell may start with "=" or "@": CSV writes it with
a leading apostrophe and XLSX as a typed string (surveys.spreadsheet), so no spreadsheet runs it
as a formula; Parquet's columns are typed and keep the text as it is.

The writers audit nothing: whoever asks for an export writes its one audit event (R10), the
command below for the command line, analytics.exports.services for jobs started in the browser.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from analytics.published import (
    EXPORT_COLUMNS,
    PublishedCell,
    PublishedFlag,
    aggregated_cycles,
    organisation_flags,
    published_cells,
)
from surveys.models import AuditEvent, Cycle
from surveys.spreadsheet import spreadsheet_text

FORMATS = ("csv", "xlsx", "parquet")
CELLS_TABLE = "aggregates"
FLAGS_TABLE = "flags"
FLAG_SEVERITY = "flag"  # survived Benjamini-Hochberg; "watch" never leaves the unit's own report
FLAG_COLUMNS = [
    "cycle",
    "k",
    "unit_id",
    "unit_path",
    "kind",
    "metric",
    "test",
    "severity",
    "p_value",
    "method",
    "explanation",
]

Progress = Callable[[int, int], None]  # (cycles read, cycles in all)


class ExportError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Tables:
    """What one export holds: the cells and the flags of its cycles, and the k they were made with."""

    cells: list[PublishedCell]
    flags: list[list[object]]  # rows in FLAG_COLUMNS order
    k_values: list[int]

    @property
    def rows(self) -> int:
        return len(self.cells)


def export_cycles(cycle: Cycle | None) -> list[Cycle]:
    """The cycles an export of ``cycle`` (None: every served cycle) holds, or ExportError."""
    served = aggregated_cycles()
    if cycle is not None and cycle not in served:
        raise ExportError(
            f"The {cycle.label} cycle has no aggregates yet: it must be closed and aggregated "
            f"(python manage.py aggregate --cycle {cycle.label})."
        )
    if not served:
        # An empty file would carry no k and look like an export of nothing being wrong.
        raise ExportError("No cycle has been aggregated yet: close a cycle, then run python manage.py aggregate.")
    return [cycle] if cycle is not None else served


def tables_read(cycles: list[Cycle], *, progress: Progress | None = None) -> Tables:
    """Both tables of ``cycles`` through the door, one cycle at a time (``progress`` after each)."""
    cells: list[PublishedCell] = []
    flags: list[list[object]] = []
    for done, cycle in enumerate(cycles, start=1):
        cells.extend(published_cells(cycles=[cycle]))
        flags.extend(
            _flag_row(flag, cycle.k) for flag in organisation_flags(cycle=cycle) if flag.severity == FLAG_SEVERITY
        )
        if progress is not None:
            progress(done, len(cycles))
    return Tables(cells=cells, flags=flags, k_values=sorted({cycle.k for cycle in cycles}))


def _flag_row(flag: PublishedFlag, k: int) -> list[object]:
    values = {"k": k, **{column: getattr(flag, column) for column in FLAG_COLUMNS if column != "k"}}
    return [values[column] for column in FLAG_COLUMNS]


def export_extension(fmt: str, *, bundle: bool) -> str:
    """The file's extension: one workbook for XLSX, a ZIP of both tables for CSV and Parquet."""
    return "zip" if bundle and fmt != "xlsx" else fmt


def tables_write(tables: Tables, *, fmt: str, handle: IO[bytes], bundle: bool) -> None:
    """Writes ``tables`` to the binary ``handle``: XLSX always holds both tables; CSV and Parquet
    the cells alone, or with ``bundle`` a ZIP of both."""
    if fmt not in FORMATS:
        raise ExportError(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}.")
    if fmt == "xlsx":
        _write_xlsx(tables, handle)
        return
    write = _write_csv if fmt == "csv" else _write_parquet
    if not bundle:
        write(EXPORT_COLUMNS, [cell.as_row() for cell in tables.cells], handle, tables.k_values)
        return
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, columns, rows in (
            (CELLS_TABLE, EXPORT_COLUMNS, [cell.as_row() for cell in tables.cells]),
            (FLAGS_TABLE, FLAG_COLUMNS, tables.flags),
        ):
            with archive.open(f"{name}.{fmt}", "w", force_zip64=True) as member:
                write(columns, rows, member, tables.k_values)


def aggregates_export(*, fmt: str, out: Path, cycle: Cycle | None = None, actor: str) -> int:
    """The export_aggregates command: writes to ``out`` (a ZIP of both tables when it ends in .zip),
    audits once, and returns the number of cell rows. Nothing is written on error."""
    if fmt not in FORMATS:
        raise ExportError(f"--format must be one of {', '.join(FORMATS)}; got {fmt!r}.")
    bundle = out.suffix.lower() == ".zip"
    if bundle and fmt == "xlsx":
        raise ExportError("--out: an XLSX export is one workbook with both sheets; name it .xlsx, not .zip.")
    if not out.parent.exists():
        raise ExportError(f"The folder {out.parent} does not exist; create it or choose another --out.")
    cycles = export_cycles(cycle)
    tables = tables_read(cycles)
    tmp = out.with_name(out.name + ".partial")
    try:
        with tmp.open("wb") as handle:
            tables_write(tables, fmt=fmt, handle=handle, bundle=bundle)
        tmp.replace(out)  # a reader never sees half a file
    except BaseException:
        tmp.unlink(missing_ok=True)  # nor finds one left behind by a failed export (disk full, ^C)
        raise
    AuditEvent.objects.create(
        actor=actor,
        action="aggregates_exported",
        detail={"format": fmt, "cycles": [c.label for c in cycles], "k": tables.k_values, "rows": tables.rows},
    )
    return tables.rows


def _write_csv(columns: list[str], rows: list[list[object]], handle: IO[bytes], k_values: list[int]) -> None:
    text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
    writer = csv.writer(text)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_value(value) for value in row])
    text.flush()
    text.detach()  # the handle belongs to the caller (a file, or a member of a ZIP)


def _csv_value(value: object) -> object:
    """A team path from a roster can start with "=" or "@": as text, never as a formula."""
    if value is None:
        return ""
    return spreadsheet_text(value) if isinstance(value, str) else value


def _write_xlsx(tables: Tables, handle: IO[bytes]) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(CELLS_TABLE)
    sheet.append(EXPORT_COLUMNS)
    for cell in tables.cells:
        sheet.append(_xlsx_row(sheet, cell.as_row()))
    flags = workbook.create_sheet(FLAGS_TABLE)
    flags.append(FLAG_COLUMNS)
    for row in tables.flags:
        flags.append(_xlsx_row(flags, row))
    about = workbook.create_sheet("about")
    about.append(["anonymity threshold k", ", ".join(str(k) for k in tables.k_values)])
    about.append(["suppressed cells", "no n, value or interval: hidden to protect anonymity"])
    about.append(["flags", "only flags that survived Benjamini-Hochberg, of published cells"])
    workbook.save(handle)


def _xlsx_row(sheet: object, values: list[object]) -> list[object]:
    """Text as typed string cells: openpyxl would store a value starting with "=" as a formula
    that Excel runs on opening. A control character that XML cannot hold (a name stored before
    such names were refused) becomes U+FFFD instead of failing the whole export."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    row: list[object] = []
    for value in values:
        if isinstance(value, str):
            text_cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("\ufffd", value))
            text_cell.data_type = "s"
            row.append(text_cell)
        else:
            row.append(value)
    return row


def _parquet_schema(columns: list[str], k_values: list[int]) -> object:
    import pyarrow as pa

    types = {
        "k": pa.int64(),
        "n": pa.int64(),
        "value": pa.float64(),
        "ci_low": pa.float64(),
        "ci_high": pa.float64(),
        "p_value": pa.float64(),
        "suppressed": pa.bool_(),
    }
    return pa.schema(
        [(name, types.get(name, pa.string())) for name in columns],
        metadata={"anonymity_threshold_k": ",".join(str(k) for k in k_values)},
    )


def _write_parquet(columns: list[str], rows: list[list[object]], handle: IO[bytes], k_values: list[int]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = {name: [values[index] for values in rows] for index, name in enumerate(columns)}
    pq.write_table(pa.table(data, schema=_parquet_schema(columns, k_values)), handle)
