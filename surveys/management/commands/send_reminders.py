from django.core.management.base import BaseCommand, CommandParser

from surveys.services.cycles import reminders_send


class Command(BaseCommand):
    help = "E-mail a fresh link to those who have not answered the open pulse, on the reminder days."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="Send now even if today is not a reminder day.")

    def handle(self, *args: object, **options: object) -> None:
        sent = reminders_send(force=bool(options["force"]))
        self.stdout.write(self.style.SUCCESS(f"{sent} reminders sent."))
