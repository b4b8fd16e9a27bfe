"""`export_aggregates`: the tidy table of cells (and the flags table) in CSV, XLSX or Parquet, read
through the one door (R6);
suppressed rows carry nothing but the public reason (R4); k travels with the file (R3); every
export is audited (R10); bad input is refused with the option and the fix, and nothing is left
half-written."""

from __future__ import annotations

import csv
import datetime as dt
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from analytics.exports import writers
from analytics.job.run import aggregate_cycle
from analytics.models import Flag, MetricCell
from analytics.published import EXPORT_COLUMNS, HIDDEN_TEXT, organisation_flags
from surveys.models import AuditEvent, Cycle
from tests.analytics.builders import (
    V1_SCORING,
    K,
    cycle_run,
    mean_fixed_sd_interval,
    org_build,
    psych_safety_score,
    standard_answers,
)

pytestmark = pytest.mark.django_db
COLUMNS = ["cycle", "k", "unit_id", "unit_path", "parent_path", "level", "metric", "n", "value", "ci_low", "ci_high",
           "suppressed", "reason"]  # fmt: skip
INTERNAL_REASONS = ("below_threshold", "complementary", "gate")
FLAG_COLUMNS = ["cycle", "k", "unit_id", "unit_path", "kind", "metric", "test", "severity", "p_value", "method",
                "explanation"]  # fmt: skip


@pytest.fixture
def org():
    return org_build()


@pytest.fixture
def aggregated(org):
    submitted = cycle_run(org, standard_answers(org))
    aggregate_cycle(cycle=submitted.cycle)
    return submitted


def export(tmp_path: Path, fmt: str, *extra: str) -> Path:
    out = tmp_path / f"aggregates.{fmt}"
    buffer = StringIO()
    call_command("export_aggregates", "--format", fmt, "--out", str(out), *extra, stdout=buffer)
    assert f"rows to {out}" in buffer.getvalue()
    return out


def check_rows(rows: list[dict], org, aggregated, *, empty) -> None:
    """Shared by the three formats; `empty` is how the format spells a missing value."""
    assert len(rows) == MetricCell.objects.filter(cycle=aggregated.cycle).count()
    hidden = [row for row in rows if row["suppressed"] in (True, "True")]
    shown = [row for row in rows if row["suppressed"] in (False, "False")]
    assert hidden and shown and len(hidden) + len(shown) == len(rows)
    for row in hidden:
        assert [row[c] for c in ("n", "value", "ci_low", "ci_high")] == [empty] * 4, row
        assert row["reason"] == HIDDEN_TEXT
    for row in shown:
        assert int(row["n"]) >= K and row["reason"] in ("", None), row
    # R3: every row says the k its figures were published under, hidden rows too.
    assert {int(row["k"]) for row in rows} == {K}
    by_key = {(row["unit_path"], row["metric"]): row for row in rows}
    alpha = by_key[("Engineering/Alpha", "psych_safety")]
    scores = [psych_safety_score(raw) for raw in aggregated.answers["Engineering/Alpha"]]
    mean, low, high = mean_fixed_sd_interval(scores, V1_SCORING.fixed_sd["psych_safety"])  # R13: n < 30
    assert [float(alpha[c]) for c in ("value", "ci_low", "ci_high")] == pytest.approx([mean, low, high])
    assert (alpha["cycle"], alpha["parent_path"], alpha["level"], alpha["unit_id"]) == (
        "2026-03",
        "Engineering",
        "team",
        org.id("Engineering/Alpha"),
    )
    assert by_key[("Engineering/Gamma", "psych_safety")]["reason"] == HIDDEN_TEXT
    assert by_key[("Our organisation", "responses")]["parent_path"] in ("", None)


def test_csv(tmp_path, org, aggregated):
    out = export(tmp_path, "csv")
    text = out.read_text(encoding="utf-8")
    with out.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == COLUMNS == EXPORT_COLUMNS
        rows = list(reader)
    check_rows(rows, org, aggregated, empty="")
    assert not any(reason in text for reason in INTERNAL_REASONS)  # every public reason is the same
    event = AuditEvent.objects.get(action="aggregates_exported")
    assert (event.actor, event.detail) == (
        "export_aggregates",
        {"format": "csv", "cycles": ["2026-03"], "k": [K], "rows": len(rows)},
    )


def test_xlsx_carries_k(tmp_path, org, aggregated):
    from openpyxl import load_workbook

    workbook = load_workbook(export(tmp_path, "xlsx"), read_only=True)
    sheet = list(workbook["aggregates"].values)
    assert list(sheet[0]) == COLUMNS
    check_rows([dict(zip(COLUMNS, row, strict=True)) for row in sheet[1:]], org, aggregated, empty=None)
    about = {row[0]: row[1] for row in workbook["about"].values}
    assert about["anonymity threshold k"] == str(K)
    assert workbook.sheetnames == ["aggregates", "flags", "about"]
    assert list(next(workbook["flags"].values)) == FLAG_COLUMNS
    assert AuditEvent.objects.get(action="aggregates_exported").detail["format"] == "xlsx"


def test_parquet_carries_k(tmp_path, org, aggregated):
    import pyarrow.parquet as pq

    table = pq.read_table(export(tmp_path, "parquet"))
    assert table.column_names == COLUMNS
    assert table.schema.metadata[b"anonymity_threshold_k"] == str(K).encode()
    check_rows(table.to_pylist(), org, aggregated, empty=None)
    assert AuditEvent.objects.get(action="aggregates_exported").detail["k"] == [K]


def test_one_cycle_or_every_aggregated_cycle(tmp_path, org, aggregated):
    april = cycle_run(org, standard_answers(org, label="apr"), month=dt.date(2026, 4, 1))
    Cycle.objects.filter(pk=april.cycle.pk).update(k=K + 1)  # raised after close (R3), aggregated again under it
    april.cycle.refresh_from_db()
    aggregate_cycle(cycle=april.cycle)
    with export(tmp_path, "csv", "--cycle", "2026-04").open(encoding="utf-8") as handle:
        assert {row["cycle"] for row in csv.DictReader(handle)} == {"2026-04"}
    with export(tmp_path, "csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["cycle"] for row in rows][::100][:2] == ["2026-03", "2026-03"]
    # Each row carries its own cycle's k: an extract of one cycle's rows still says it.
    assert {(row["cycle"], row["k"]) for row in rows} == {("2026-03", str(K)), ("2026-04", str(K + 1))}
    assert AuditEvent.objects.filter(action="aggregates_exported").count() == 2


def assert_nothing_written(directory: Path) -> None:
    assert list(directory.iterdir()) == [], "no file, and no temporary .partial file either"
    assert not AuditEvent.objects.filter(action="aggregates_exported").exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--format", "pdf"],
            r"argument --format: invalid choice: 'pdf' \(choose from '?csv'?, '?xlsx'?, '?parquet'?\)",
        ),
        (["--format", "csv", "--cycle", "March"], r"--cycle must look like 2026-11 \(year-month\), got 'March'"),
        (["--format", "csv", "--cycle", "2025-01"], r"There is no 2025-01 cycle.*--cycle"),
        (["--format", "csv", "--cycle", "2026-05"], r"2026-05 cycle has no aggregates yet.*aggregate --cycle 2026-05"),
    ],
)
def test_bad_input_names_the_option_and_the_fix_and_writes_nothing(tmp_path, org, arguments, message):
    cycle_run(org, standard_answers(org, label="may"), month=dt.date(2026, 5, 1))  # closed, never aggregated
    folder = tmp_path / "exports"
    folder.mkdir()
    with pytest.raises(CommandError, match=message):
        call_command("export_aggregates", "--out", str(folder / "out.csv"), *arguments, stdout=StringIO())
    assert_nothing_written(folder)


def test_an_open_cycle_has_nothing_to_export(tmp_path, org):
    cycle_run(org, standard_answers(org), close=False)
    with pytest.raises(CommandError, match="2026-03 cycle has no aggregates yet: it must be closed and aggregated"):
        call_command("export_aggregates", "--format", "csv", "--out", str(tmp_path / "x.csv"), "--cycle", "2026-03")
    assert_nothing_written(tmp_path)


def test_nothing_aggregated_yet_is_refused_rather_than_an_empty_file(tmp_path, org):
    cycle_run(org, standard_answers(org), close=False)
    with pytest.raises(CommandError, match="No cycle has been aggregated yet"):
        call_command("export_aggregates", "--format", "parquet", "--out", str(tmp_path / "x.parquet"))
    assert_nothing_written(tmp_path)
    assert not AuditEvent.objects.filter(action="aggregates_exported").exists()


def test_a_missing_folder_names_out(tmp_path, aggregated):
    out = tmp_path / "missing" / "aggregates.csv"
    with pytest.raises(CommandError, match=r"The folder .*missing does not exist; create it or choose another --out"):
        call_command("export_aggregates", "--format", "csv", "--out", str(out), stdout=StringIO())
    assert list(tmp_path.iterdir()) == []
    assert not AuditEvent.objects.filter(action="aggregates_exported").exists()


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
def test_a_writer_failing_half_way_leaves_no_partial_file_and_no_audit(tmp_path, aggregated, monkeypatch, fmt):
    def half_then_fail(*args):
        handle = next(arg for arg in args if hasattr(arg, "write"))
        handle.write(b"cycle,unit_id\n2026-03,")
        raise OSError("disk full")

    monkeypatch.setattr(writers, f"_write_{fmt}", half_then_fail)
    existing = tmp_path / f"aggregates.{fmt}"
    existing.write_bytes(b"last month's export")
    with pytest.raises(OSError, match="disk full"):
        call_command("export_aggregates", "--format", fmt, "--out", str(existing), stdout=StringIO())
    assert [p.name for p in tmp_path.iterdir()] == [existing.name]
    assert existing.read_bytes() == b"last month's export"  # the previous file is untouched
    assert not AuditEvent.objects.filter(action="aggregates_exported").exists()


# --- the flags table -----------------------------------------------------------------------------


@pytest.fixture
def flagged(org):
    """March with Alpha answering the safety items unfavourably (flagged "low"), and a "worth
    watching" result of Alpha's that must stay in Alpha's own report."""
    submitted = cycle_run(org, standard_answers(org, safety={"Engineering/Alpha": "low"}))
    aggregate_cycle(cycle=submitted.cycle)
    Flag.objects.create(cycle=submitted.cycle, unit_id=org.id("Engineering/Alpha"), kind="psych_safety_falling",
                        metric="psych_safety", test="shift_permutation", severity=Flag.Severity.WATCH, method="",
                        explanation="")  # fmt: skip
    return submitted


def expected_flags(cycle: Cycle) -> list[tuple[str, str, str, str]]:
    served = organisation_flags(cycle=cycle)
    assert served and {flag.severity for flag in served} == {"flag"}
    return [(flag.cycle, flag.unit_id, flag.kind, flag.test) for flag in served]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_zip_out_holds_the_cells_and_the_bh_flags(tmp_path, org, flagged, fmt):
    import zipfile

    import pandas as pd

    out = tmp_path / "aggregates.zip"
    call_command("export_aggregates", "--format", fmt, "--out", str(out), stdout=StringIO())
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == sorted([f"aggregates.{fmt}", f"flags.{fmt}"])
        read = pd.read_csv if fmt == "csv" else pd.read_parquet
        with archive.open(f"aggregates.{fmt}") as handle:
            cells = read(handle)
        with archive.open(f"flags.{fmt}") as handle:
            flags = read(handle)
    assert list(cells.columns) == COLUMNS and len(cells) == MetricCell.objects.filter(cycle=flagged.cycle).count()
    assert list(flags.columns) == FLAG_COLUMNS
    assert set(flags["severity"]) == {"flag"} and set(flags["k"]) == {K}  # k in every row (R3)
    assert "psych_safety_falling" not in set(flags["kind"])  # "worth watching" stays in the unit's report
    got = list(zip(flags["cycle"], flags["unit_id"], flags["kind"], flags["test"], strict=True))
    assert got == expected_flags(flagged.cycle)
    assert ("psych_safety_low", org.id("Engineering/Alpha")) in {(kind, unit) for _, unit, kind, _ in got}
    assert AuditEvent.objects.filter(action="aggregates_exported").count() == 1


def test_a_csv_out_still_holds_the_cells_table_alone(tmp_path, org, flagged):
    with export(tmp_path, "csv").open(newline="", encoding="utf-8") as handle:
        assert csv.DictReader(handle).fieldnames == COLUMNS


def test_xlsx_flags_sheet_holds_the_bh_flags(tmp_path, org, flagged):
    from openpyxl import load_workbook

    workbook = load_workbook(export(tmp_path, "xlsx"), read_only=True)
    header, *rows = [dict(zip(FLAG_COLUMNS, row, strict=True)) for row in workbook["flags"].iter_rows(values_only=True)]
    assert [(r["cycle"], r["unit_id"], r["kind"], r["test"]) for r in rows] == expected_flags(flagged.cycle)
    assert {(r["severity"], r["k"]) for r in rows} == {("flag", K)}


def test_an_xlsx_export_to_a_zip_name_is_refused(tmp_path, flagged):
    with pytest.raises(CommandError, match=r"--out: an XLSX export is one workbook.*name it \.xlsx"):
        call_command("export_aggregates", "--format", "xlsx", "--out", str(tmp_path / "x.zip"), stdout=StringIO())
    assert list(tmp_path.iterdir()) == []
