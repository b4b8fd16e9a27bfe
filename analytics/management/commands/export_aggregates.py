from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analytics.exports.writers import FORMATS, ExportError, aggregates_export
from analytics.management.cycle_option import cycle_from_option


class Command(BaseCommand):
    help = (
        "Export published aggregates (never raw responses): the tidy table of cells and the table of "
        "flags that survived Benjamini-Hochberg, each row with its cycle's k. XLSX: one workbook with "
        "an 'aggregates' and a 'flags' sheet. CSV or Parquet: the cells table alone, or, when --out "
        "ends in .zip, a ZIP holding aggregates.<format> and flags.<format>."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", required=True, choices=FORMATS)
        parser.add_argument(
            "--out", required=True, type=Path, help="File to write; for csv or parquet, a .zip name writes both tables."
        )
        parser.add_argument("--cycle", help="YYYY-MM; default: every aggregated cycle.")

    def handle(self, *args: object, **options: object) -> None:
        cycle = None
        if options["cycle"]:
            cycle = cycle_from_option(
                str(options["cycle"]),
                fix="a closed, aggregated cycle (or leave it out to export every aggregated cycle).",
            )
        try:
            rows = aggregates_export(
                fmt=str(options["format"]), out=Path(str(options["out"])), cycle=cycle, actor="export_aggregates"
            )
        except ExportError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(self.style.SUCCESS(f"Wrote {rows} rows to {options['out']}."))
