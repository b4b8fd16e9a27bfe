"""Celery tasks of the report pages: telling everyone their results are ready."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import transaction
from django.db.utils import InterfaceError, OperationalError

from analytics.reports.announce import results_ready_announce
from surveys.models import Cycle

ANNOUNCE_TASK_OPTIONS: dict[str, Any] = {
    # Idempotent (the cycle's announcement is claimed once), so a redelivery is safe.
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError, InterfaceError, ConnectionError, TimeoutError),
    "retry_backoff": 60,
    "max_retries": 5,
    "soft_time_limit": 10 * 60,
    "time_limit": 12 * 60,
}


@shared_task(**ANNOUNCE_TASK_OPTIONS)
def announce_results_task(cycle_id: int) -> int:
    return results_ready_announce(cycle_id=cycle_id)


def announcement_on_results(sender: object, *, cycle: Cycle, **kwargs: object) -> None:
    """Receiver of analytics.job.signals.results_stored."""
    transaction.on_commit(lambda: announce_results_task.delay(cycle.pk))
