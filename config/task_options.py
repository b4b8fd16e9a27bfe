"""The options every PilotPulse Celery task is declared with, in one place (as PostHog does).

Every task is idempotent, so ``acks_late`` with ``reject_on_worker_lost`` is safe: a task whose
worker died is delivered again and acts at most once more, to the same effect. Retries are only
for errors that may pass on their own (a dropped connection, a busy lock); a bug or bad data
fails at once, loudly. Each module names what it retries and how long it may run.
"""

from __future__ import annotations

from typing import Any

from django.db.utils import InterfaceError, OperationalError

#: A dropped database or broker connection: worth trying again.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


def idempotent_task_options(
    *,
    retry_for: tuple[type[BaseException], ...],
    soft_time_limit: int,
    time_limit: int,
    retry_backoff: int = 30,
    retry_backoff_max: int = 600,
    max_retries: int = 5,
) -> dict[str, Any]:
    return {
        "acks_late": True,
        "reject_on_worker_lost": True,
        "autoretry_for": retry_for,
        "retry_backoff": retry_backoff,
        "retry_backoff_max": retry_backoff_max,
        "retry_jitter": True,
        "max_retries": max_retries,
        "soft_time_limit": soft_time_limit,
        "time_limit": time_limit,
    }
