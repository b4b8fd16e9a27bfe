import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test.utils import override_settings

from surveys.demo import PAYMENTS, PLANTED_SIZES, CycleSummary, DemoError, DemoSeedResult, demo_seed
from surveys.roster import RosterErrors


class Command(BaseCommand):
    help = (
        "Seed a demo organisation: departments and teams, logins, a year of closed pulses with planted "
        "patterns and an open one with live links. Safe to run twice; --reset rebuilds it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--teams", type=int, default=40, help="Number of leaf teams (default 40).")
        parser.add_argument("--months", type=int, default=12, help="Cycles, ending with this month (default 12).")
        parser.add_argument("--seed", type=int, default=7, help="Random seed: the same seed gives the same demo.")
        parser.add_argument("--password", default="demo", help="Password of the demo logins (default demo).")
        parser.add_argument("--reset", action="store_true", help="Delete the demo's data first and start over.")

    def handle(self, *args: object, **options: object) -> None:
        started = time.monotonic()
        # The demo's people have made-up addresses: the mail its roster import and its released
        # cycles would send (set-password links, "results are ready": hundreds per cycle) is kept
        # in memory instead of printed. The live survey links are printed below instead.
        try:
            with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
                result = demo_seed(
                    teams=int(str(options["teams"])),
                    months=int(str(options["months"])),
                    seed=int(str(options["seed"])),
                    password=str(options["password"]),
                    reset=bool(options["reset"]),
                    on_cycle=self._cycle_done,
                )
        except (DemoError, RosterErrors) as error:
            raise CommandError(str(error)) from error
        for warning in result.roster_warnings:
            self.stderr.write(self.style.WARNING(f"warning: {warning}"))
        elapsed = time.monotonic() - started
        if result.created:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo ready in {elapsed:.1f} s: {result.people} people in {result.leaf_teams} teams "
                    f"({', '.join(result.departments)} and People), {len(result.cycles)} cycles."
                )
            )
            payments, growth, insights = PLANTED_SIZES
            self.stdout.write(
                f"Planted: {payments} psychological safety falling and pressure rising over the last 6 cycles; "
                f"{growth} Pilot ratio rising; {insights} has 3 people, below k, and always answers. "
                "Every other team is stable."
            )
            if result.actions:
                self.stdout.write(
                    f"The manager has recorded {result.actions} actions on {PAYMENTS}: one closed with its outcome, "
                    "one checked back on in the latest results, one waiting for its check-back."
                )
        else:
            self.stdout.write(
                f"The demo is already here ({result.people} people, {len(result.cycles)} cycles); nothing was "
                "added. Use --reset to rebuild it."
            )
        self._logins_print(result, password=str(options["password"]))
        self._links_print(result)

    def _cycle_done(self, summary: CycleSummary) -> None:
        state = f"open until {summary.closes_on:%Y-%m-%d}" if summary.is_open else "closed"
        self.stdout.write(f"{summary.label}: {summary.answered} of {summary.invited} answered, {state}")

    def _logins_print(self, result: DemoSeedResult, *, password: str) -> None:
        self.stdout.write(f"\nLogins at {result.login_url} (password: {password})")
        width = max(len(login.email) for login in result.logins)
        for login in result.logins:
            self.stdout.write(f"  {login.email:<{width}}  {login.description}")

    def _links_print(self, result: DemoSeedResult) -> None:
        if result.open_cycle is None:
            self.stdout.write("\nNo cycle is open, so there are no live survey links (open one with open_cycle).")
            return
        self.stdout.write(f"\nLive survey links for the open {result.open_cycle} cycle (each takes one answer):")
        for link in result.live_links:
            mine = "   <- engineer@demo.example's own link" if link.is_engineer_login else ""
            self.stdout.write(f"  {link.url}{mine}")
        if result.engineer_has_answered:
            self.stdout.write("  (engineer@demo.example has already answered this cycle.)")
        if not result.created:
            self.stdout.write(
                "  These replace the links printed before for the same people; the old ones no longer work."
            )
