"""``manage.py healthcheck --component web|worker|beat``: exit 0 when healthy, 1 when not.

For a container's healthcheck (docker compose): the checks of the health endpoints
(config.health), run in-process, so they need no HTTP, no ALLOWED_HOSTS entry and no TLS.
One line of output: the component's state, never a secret or a figure.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.health import web_health
from config.heartbeat import BEAT, WORKER, heartbeat_read


class Command(BaseCommand):
    help = "Check the web (database and cache), the worker or beat (heartbeat age); exit 1 when unhealthy."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--component", choices=("web", WORKER, BEAT), default="web")

    def handle(self, *args: object, component: str, **options: object) -> None:
        if component == "web":
            health = web_health()
            line = f"web: database {health['database']}, cache {health['cache']}"
            ok = bool(health["ok"])
        else:
            beat = heartbeat_read(component)
            age = "no heartbeat yet" if beat.age_seconds is None else f"last heartbeat {beat.age_seconds}s ago"
            line = f"{component}: {beat.state} ({age}; stale after {beat.stale_after_seconds}s)"
            ok = beat.ok
        if not ok:
            raise CommandError(line, returncode=1)
        self.stdout.write(line)
