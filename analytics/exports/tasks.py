"""Celery tasks for export jobs: thin wrappers over analytics.exports.services.

Both are idempotent (a done, failed or expired job is left alone; a second sweep finds nothing),
so acks_late with reject_on_worker_lost is safe: a task whose worker died is delivered again and
acts at most once more, to the same effect. Found by config/celery.py's autodiscovery of
INSTALLED_APPS (analytics.exports is an app).
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from analytics.exports.services import export_job_fail, export_job_run, export_jobs_expire
from config.task_options import CONNECTION_ERRORS, idempotent_task_options

EXPORT_TASK_OPTIONS = idempotent_task_options(retry_for=CONNECTION_ERRORS, soft_time_limit=15 * 60, time_limit=20 * 60)


@shared_task(bind=True, **EXPORT_TASK_OPTIONS)
def export_task(self: Any, job_id: int) -> dict[str, Any]:
    try:
        job = export_job_run(job_id=job_id)
    except CONNECTION_ERRORS:
        if self.request.retries >= self.max_retries:
            export_job_fail(job_id=job_id)
        raise  # autoretry_for retries it until then
    except Exception:
        # A bug, bad data or the soft time limit: the requester sees the job failed instead of a
        # bar that never moves. The error is logged by Celery, not shown: its words could quote data.
        export_job_fail(job_id=job_id)
        raise
    if job is None:
        return {"job": job_id, "skipped": "no such export job"}
    return {"job": job.pk, "state": job.state, "rows": job.rows}


@shared_task(**EXPORT_TASK_OPTIONS)
def export_jobs_expire_task() -> int:
    return export_jobs_expire()
