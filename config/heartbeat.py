"""Heartbeats of the Celery worker and of Celery beat, read by the health endpoints (config.health)
and by ``manage.py healthcheck``.

Beat runs ``heartbeat_task`` every PULSE_HEARTBEAT_SECONDS (CELERY_BEAT_SCHEDULE "heartbeat"):
- beat's heartbeat is written in the beat process when it starts (``beat_init``) and each time it
  publishes that task (``after_task_publish``): a scheduler that ticks and reaches the broker;
- the worker's heartbeat is written when a worker is ready (``worker_ready``) and each time a
  worker runs that task: the whole path beat → broker → a worker → the cache works.

Each heartbeat is a Unix timestamp in the cache (Redis in production, which web, worker and beat
share). It says nothing about the survey: no figure, no id. Loaded into the worker and beat by
config/celery.py (``autodiscover_tasks(["config"], related_name="heartbeat")``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from celery import shared_task
from celery.signals import after_task_publish, beat_init, worker_ready
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

WORKER, BEAT = "worker", "beat"
COMPONENTS = (WORKER, BEAT)
HEARTBEAT_TASK = "config.heartbeat.heartbeat_task"
KEY_PREFIX = "pulse:heartbeat:"
# Long enough that a stopped component reads "stale, last seen N seconds ago" for a week, not "never".
KEEP_SECONDS = 7 * 24 * 3600
DEFAULT_INTERVAL_SECONDS = 60
DEFAULT_STALE_SECONDS = 600

# Set in the beat process only (beat_init), so that a heartbeat_task published by anything else
# (a shell, a test) is not taken for beat's.
_in_beat = False


def interval_seconds() -> int:
    """How often beat runs heartbeat_task (PULSE_HEARTBEAT_SECONDS)."""
    return int(getattr(settings, "PULSE_HEARTBEAT_SECONDS", DEFAULT_INTERVAL_SECONDS))


def stale_seconds() -> int:
    """A heartbeat older than this is stale (PULSE_HEARTBEAT_STALE_SECONDS). Well above the interval:
    a worker whose every slot runs a long aggregation picks the heartbeat up only when one frees."""
    return int(getattr(settings, "PULSE_HEARTBEAT_STALE_SECONDS", DEFAULT_STALE_SECONDS))


def heartbeat_write(component: str, *, now: float | None = None) -> None:
    if component not in COMPONENTS:
        raise ValueError(f"unknown component {component!r}")
    try:
        cache.set(KEY_PREFIX + component, time.time() if now is None else now, timeout=KEEP_SECONDS)
    except Exception:  # noqa: BLE001 - a heartbeat must never break the task or signal that writes it
        logger.warning("heartbeat: could not write the %s heartbeat", component, exc_info=True)


@dataclass(frozen=True)
class Heartbeat:
    """One component's health as the endpoints report it."""

    component: str
    state: str  # "ok", "stale", "never" (no heartbeat yet), "unknown" (cache unreachable), "eager"
    age_seconds: int | None
    stale_after_seconds: int

    @property
    def ok(self) -> bool:
        return self.state in ("ok", "eager")

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "state": self.state,
            "last_heartbeat_age_seconds": self.age_seconds,
            "stale_after_seconds": self.stale_after_seconds,
        }


def heartbeat_read(component: str, *, now: float | None = None) -> Heartbeat:
    """The component's last heartbeat, its age and whether it is stale.

    Without a broker (no REDIS_URL: a local clone, the tests) tasks run eagerly in the web process
    and there is no worker or beat to wait for: "eager", which counts as healthy."""
    if component not in COMPONENTS:
        raise ValueError(f"unknown component {component!r}")
    threshold = stale_seconds()
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return Heartbeat(component, "eager", None, threshold)
    try:
        stamp = cache.get(KEY_PREFIX + component)
    except Exception:  # noqa: BLE001 - any cache failure means "cannot tell"
        logger.warning("heartbeat: could not read the %s heartbeat", component, exc_info=True)
        return Heartbeat(component, "unknown", None, threshold)
    if stamp is None:
        return Heartbeat(component, "never", None, threshold)
    age = max(0, int((time.time() if now is None else now) - float(stamp)))
    return Heartbeat(component, "ok" if age <= threshold else "stale", age, threshold)


@shared_task(ignore_result=True)
def heartbeat_task() -> None:
    """Run by a worker every PULSE_HEARTBEAT_SECONDS (beat schedules it): the worker's heartbeat.
    No retries, no result: a missed beat is what the heartbeat is there to show."""
    heartbeat_write(WORKER)


@worker_ready.connect
def _worker_ready(**kwargs: object) -> None:
    heartbeat_write(WORKER)


@beat_init.connect
def _beat_init(**kwargs: object) -> None:
    global _in_beat
    _in_beat = True
    heartbeat_write(BEAT)


@after_task_publish.connect(sender=HEARTBEAT_TASK)
def _beat_published_heartbeat(**kwargs: object) -> None:
    if _in_beat:
        heartbeat_write(BEAT)
