from django.core.management.base import BaseCommand, CommandError, CommandParser

from surveys.closing import cycle_close
from surveys.models import Cycle
from surveys.services.cycles import CycleError, cycles_due_for_closing, open_cycle_get, parse_month


class Command(BaseCommand):
    help = (
        "Close the open pulse (or --month, or --due for those past their closing date): rewrite its "
        "anonymous rows and reduce the invitation log to counts per team."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        target = parser.add_mutually_exclusive_group()
        target.add_argument("--month", help="YYYY-MM of the cycle to close.")
        target.add_argument("--due", action="store_true", help="Only cycles whose closing date has passed.")

    def handle(self, *args: object, **options: object) -> None:
        if options["due"]:
            cycles = cycles_due_for_closing()
        elif options["month"]:
            try:
                month = parse_month(str(options["month"]))
            except CycleError as error:
                raise CommandError(str(error)) from error
            cycles = list(Cycle.objects.filter(month=month))
            if not cycles:
                raise CommandError(f"There is no {options['month']} cycle.")
        else:
            open_cycle = open_cycle_get()
            cycles = [open_cycle] if open_cycle else []
        if not cycles:
            self.stdout.write("No cycle to close.")
        for cycle in cycles:
            result = cycle_close(cycle=cycle)
            if result.closed_now:
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Closed {cycle.label}: {result.responses} responses rewritten, "
                        f"invitation log reduced to counts for {result.teams} teams."
                    )
                )
            else:
                self.stdout.write(f"{cycle.label} was already closed.")
