from django.core.management.base import BaseCommand, CommandError, CommandParser

from surveys.services.cycles import CycleError, cycle_open, parse_month


class Command(BaseCommand):
    help = "Open the month's pulse (idempotent) and e-mail one-time links to everyone active."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--month", help="YYYY-MM; defaults to the current month.")

    def handle(self, *args: object, **options: object) -> None:
        try:
            month = parse_month(str(options["month"])) if options["month"] else None
            result = cycle_open(month=month)
        except CycleError as error:
            raise CommandError(str(error)) from error
        cycle = result.cycle
        verb = "Opened" if result.created else "Already open:"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} {cycle.label} (instrument v{cycle.instrument_version.version}, k={cycle.k}, "
                f"closes {cycle.closes_on:%Y-%m-%d}); {len(result.links)} links e-mailed."
            )
        )
