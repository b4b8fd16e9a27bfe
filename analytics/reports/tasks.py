"""Celery tasks of the report pages: telling everyone their results are ready."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

from analytics.reports.announce import results_ready_announce
from config.task_options import CONNECTION_ERRORS, idempotent_task_options
from surveys.models import Cycle

ANNOUNCE_TASK_OPTIONS = idempotent_task_options(
    retry_for=CONNECTION_ERRORS, soft_time_limit=10 * 60, time_limit=12 * 60, retry_backoff=60
)


@shared_task(**ANNOUNCE_TASK_OPTIONS)
def announce_results_task(cycle_id: int) -> int:
    return results_ready_announce(cycle_id=cycle_id)


def announcement_on_results(sender: object, *, cycle: Cycle, **kwargs: object) -> None:
    """Receiver of analytics.job.signals.results_stored."""
    transaction.on_commit(lambda: announce_results_task.delay(cycle.pk))
