from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from surveys.roster import RosterErrors, roster_import
from surveys.services.cycles import invitations_follow_roster
from surveys.services.roster_apply import RosterInputError, roster_rows_read, roster_text_read


class Command(BaseCommand):
    help = "Import the roster from a CSV file with columns email,name,team,role[,manages]. All or nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="CSV file; team is a path like Engineering/Platform/Core")
        parser.add_argument("--dry-run", action="store_true", help="Check and report, write nothing.")
        parser.add_argument(
            "--deactivate-missing", action="store_true", help="Deactivate active people who are not in the file."
        )

    def handle(self, *args: object, **options: object) -> None:
        path = Path(str(options["file"]))
        try:
            raw = path.read_bytes()
        except FileNotFoundError as error:
            raise CommandError(f"{path}: no such file; give the path of the roster CSV.") from error
        # Read and parsed as the browser's upload is: UTF-8 or UTF-16 with its BOM, the size and
        # people limits, the same words for each refusal.
        try:
            rows = roster_rows_read(text=roster_text_read(raw=raw))
        except RosterInputError as error:
            raise CommandError(f"{path}: {error}") from None
        except RosterErrors as errors:
            for line, message in errors.errors:
                self.stderr.write(f"{path}, line {line}: {message}")
            raise CommandError(f"{len(errors.errors)} problem(s) found; nothing was imported.") from None
        dry_run = bool(options["dry_run"])
        report = roster_import(rows=rows, deactivate_missing=bool(options["deactivate_missing"]), dry_run=dry_run)
        for warning in report.warnings:
            self.stderr.write(self.style.WARNING(f"warning: {warning}"))
        if not dry_run and report.changed_people:
            invitations_follow_roster(people=report.changed_people)
        prefix = "Dry run, nothing written: would have " if dry_run else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"{prefix}{len(rows)} rows read: {report.people_created} created, {report.people_updated} updated "
                f"({report.people_moved} moved), {report.people_unchanged} unchanged, "
                f"{report.people_deactivated} deactivated; {len(report.teams_created)} teams created."
            )
        )
