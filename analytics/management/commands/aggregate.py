from django.core.management.base import BaseCommand, CommandError, CommandParser

from analytics.job.run import AggregationRefused, AggregationSummary, aggregate_cycle, purged_cycle_ids
from analytics.management.cycle_option import cycle_from_option
from surveys.models import Cycle


class Command(BaseCommand):
    help = "Aggregate closed cycles: metrics for every team, department and the organisation, with disclosure."

    def add_arguments(self, parser: CommandParser) -> None:
        target = parser.add_mutually_exclusive_group()
        target.add_argument("--cycle", help="YYYY-MM of one closed cycle.")
        target.add_argument(
            "--all", action="store_true", help="Every closed cycle, oldest first (trends need history)."
        )

    def handle(self, *args: object, **options: object) -> None:
        closed = Cycle.objects.filter(status=Cycle.Status.CLOSED).select_related("instrument_version")
        if options["cycle"]:
            cycle = cycle_from_option(str(options["cycle"]), fix="a closed cycle (or use --all).")
            cycles = [cycle]
        elif options["all"]:
            cycles = list(closed.order_by("month"))
        else:
            latest = closed.order_by("-month").first()
            cycles = [latest] if latest else []
        if not cycles:
            self.stdout.write("No closed cycle to aggregate.")
        purged = purged_cycle_ids()
        for position, cycle in enumerate(cycles, start=1):
            prefix = f"[{position}/{len(cycles)}]"

            def progress(message: str, prefix: str = prefix) -> None:
                self.stdout.write(f"{prefix} {message}")

            if cycle.pk in purged:
                self.stdout.write(f"{prefix} {cycle.label}: skipped, its answers were purged (results kept).")
                continue
            try:
                summary = aggregate_cycle(cycle=cycle, progress=progress)
            except AggregationRefused as error:
                raise CommandError(str(error)) from error
            self.stdout.write(self.style.SUCCESS(summary_line(summary, k=cycle.k)))


def summary_line(summary: AggregationSummary, *, k: int) -> str:
    """What one cycle's run did, with nothing a hidden cell would hide (ANONYMITY R4): the
    respondent count is the organisation's responses cell, shown only where it is published.
    The organisation is the tree's root, so no residual rule (R5) applies to it: n >= k is
    exactly its publication test. Below k the line leaves the count out, as a report would."""
    respondents = f"{summary.respondents} respondents, " if summary.respondents >= k else ""
    return (
        f"{summary.cycle}: {respondents}{summary.units} units, "
        f"{summary.cells_published} cells published, {summary.cells_hidden} hidden, "
        f"{summary.flags} flags and watches, {summary.comments_released} comments released."
    )
