"""Reading an export file back, and what the door says it should hold."""

from __future__ import annotations

import io
import math
import zipfile

import pandas as pd

from analytics.published import EXPORT_COLUMNS, aggregated_cycles, organisation_flags, published_cells
from surveys.models import Cycle

INTS = {"k", "n"}
FLOATS = {"value", "ci_low", "ci_high", "p_value"}


def _canonical(column: str, value: object) -> object:
    """One spelling per value whatever the format: CSV's "", Parquet's None or NaN, XLSX's None."""
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return None
    if column in INTS:
        return int(value)
    if column in FLOATS:
        # XLSX keeps 15 significant digits (Excel's own precision): compare to 12.
        return float(f"{float(value):.12g}")
    if column == "suppressed":
        return value in (True, "True")
    return str(value)


def canonical_rows(frame: pd.DataFrame) -> list[tuple[object, ...]]:
    return [
        tuple(_canonical(column, value) for column, value in zip(frame.columns, row, strict=True))
        for row in frame.itertuples(index=False)
    ]


def door_cells(cycles: list[Cycle] | None = None) -> list[tuple[object, ...]]:
    """The door's records of the cycles (default: every served one), as the cells table holds them."""
    rows = [cell.as_row() for cell in published_cells(cycles=cycles or aggregated_cycles())]
    frame = pd.DataFrame(rows, columns=EXPORT_COLUMNS, dtype=object)
    return canonical_rows(frame)


def door_flags(cycles: list[Cycle] | None = None) -> list[tuple[str, str, str, str]]:
    return [
        (flag.cycle, flag.unit_id, flag.kind, flag.test)
        for cycle in cycles or aggregated_cycles()
        for flag in organisation_flags(cycle=cycle)
    ]


def read_export(content: bytes, fmt: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(cells, flags) from an export file's bytes, checking the file holds both tables."""
    if fmt == "xlsx":
        from openpyxl import load_workbook

        workbook = load_workbook(io.BytesIO(content), read_only=True)
        assert workbook.sheetnames == ["aggregates", "flags", "about"]
        sheets = []
        for name in ("aggregates", "flags"):
            header, *rows = workbook[name].iter_rows(values_only=True)
            sheets.append(pd.DataFrame(rows, columns=list(header), dtype=object))
        return sheets[0], sheets[1]
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert sorted(archive.namelist()) == [f"aggregates.{fmt}", f"flags.{fmt}"]
        tables = []
        for name in ("aggregates", "flags"):
            data = io.BytesIO(archive.read(f"{name}.{fmt}"))
            if fmt == "parquet":
                tables.append(pd.read_parquet(data).astype(object))
            else:
                tables.append(pd.read_csv(data, dtype=str, keep_default_na=False))
        return tables[0], tables[1]
