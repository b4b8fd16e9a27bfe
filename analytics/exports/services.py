"""Export jobs: start one (audited), run it (the Celery task's body), expire old files, and
hand a finished file to its requester (audited).

One audit event per export started and one per download (ANONYMITY R10), naming the format, the
cycle, the k and the job, never a figure. The file goes through Django's default storage, so the
worker that writes it and the web process that streams it need not share a disk.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from analytics.exports.models import ExportJob
from analytics.exports.writers import FORMATS, ExportError, export_cycles, export_extension, tables_read, tables_write
from analytics.published import aggregated_cycles
from surveys.models import AuditEvent, Cycle

# Reading the cycles is most of the work: it moves the bar to here, writing the file does the rest.
READ_SHARE = 90
EXPIRED_TEXT = "This export has expired; start a new one."
FAILED_TEXT = "The export failed on our side; start a new one, and tell the operator if it fails again."


@dataclass(frozen=True)
class ExportInputError(Exception):
    """Bad input to start an export: ``field`` names the form or API field, ``message`` the fix."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class ExportUnavailable(Exception):
    """The export's file cannot be downloaded (yet, or any more); the message says what to do."""


def export_cycle_resolve(*, label: str | None) -> Cycle | None:
    """The served cycle a label names ("" or None: every served cycle), or ExportInputError."""
    served = aggregated_cycles()
    if not served:
        raise ExportInputError("cycle", "no cycle has been closed and aggregated yet, so there is nothing to export.")
    if not label:
        return None
    cycle = next((cycle for cycle in served if cycle.label == label), None)
    if cycle is None:
        choices = ", ".join(cycle.label for cycle in served)
        raise ExportInputError(
            "cycle", f"{label!r} is not a published cycle; choose one of {choices}, or leave it empty for all of them."
        )
    return cycle


def export_job_start(*, requester: User, fmt: str, cycle_label: str | None) -> ExportJob:
    """Creates a queued job, audits it, and queues its task once the job is committed."""
    if fmt not in FORMATS:
        raise ExportInputError("format", f"{fmt!r} is not a format we export; choose one of {', '.join(FORMATS)}.")
    cycle = export_cycle_resolve(label=cycle_label)
    cycles = [cycle] if cycle is not None else aggregated_cycles()
    with transaction.atomic():
        job = ExportJob.objects.create(requester=requester, format=fmt, cycle=cycle)
        AuditEvent.objects.create(
            actor=_actor(requester),
            action="export_started",
            detail={"job": job.pk, "format": fmt, "cycle": job.scope, "k": sorted({c.k for c in cycles})},
        )
        from analytics.exports.tasks import export_task  # the task module imports this one

        job_id = job.pk
        transaction.on_commit(lambda: export_task.delay(job_id))
    return job


def export_job_run(*, job_id: int) -> ExportJob | None:
    """Writes the job's file. A job already done, failed or expired is left alone, so a task
    delivered twice acts once; a job left running by a lost worker is written again."""
    with transaction.atomic():
        job = ExportJob.objects.select_for_update(of=("self",)).select_related("cycle").filter(pk=job_id).first()
        if job is None or job.state not in (ExportJob.State.QUEUED, ExportJob.State.RUNNING):
            return job
        job.state, job.progress = ExportJob.State.RUNNING, 0
        job.save(update_fields=["state", "progress"])
    try:
        cycles = export_cycles(job.cycle)
    except ExportError:
        # The cycle stopped being served since the job started (k raised, re-aggregating).
        return export_job_fail(
            job_id=job.pk,
            error=f"The {job.scope} cycle is not published while it is aggregated again; start a new export later.",
        )

    def progress(done: int, total: int) -> None:
        ExportJob.objects.filter(pk=job.pk).update(progress=READ_SHARE * done // total)

    tables = tables_read(cycles, progress=progress)
    name = f"pilotpulse-{job.scope}-{job.pk}.{export_extension(job.format, bundle=True)}"
    with tempfile.TemporaryFile() as handle:
        tables_write(tables, fmt=job.format, handle=handle, bundle=True)
        handle.seek(0)
        stored = default_storage.save(job.file.field.generate_filename(job, name), File(handle, name=name))
    with transaction.atomic():
        current = ExportJob.objects.select_for_update().get(pk=job.pk)
        if current.state != ExportJob.State.RUNNING:  # another delivery finished first
            default_storage.delete(stored)
            return current
        now = timezone.now()
        current.file.name = stored
        current.state, current.progress, current.rows = ExportJob.State.DONE, 100, tables.rows
        current.k_values, current.finished_at = tables.k_values, now
        current.expires_at = now + dt.timedelta(hours=settings.PULSE_EXPORT_TTL_HOURS)
        current.save()
    return current


def export_job_fail(*, job_id: int, error: str = FAILED_TEXT) -> ExportJob | None:
    """Marks a queued or running job failed, with a message for its requester (never a figure)."""
    with transaction.atomic():
        job = ExportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.state not in (ExportJob.State.QUEUED, ExportJob.State.RUNNING):
            return job
        job.state, job.error, job.finished_at = ExportJob.State.FAILED, error[:500], timezone.now()
        job.save(update_fields=["state", "error", "finished_at"])
    return job


def export_jobs_expire(*, now: dt.datetime | None = None) -> int:
    """Deletes the files of done jobs past their expiry and marks them expired; returns how many.
    A second run finds nothing more to do."""
    now = now or timezone.now()
    expired = 0
    for job_id in ExportJob.objects.filter(state=ExportJob.State.DONE, expires_at__lte=now).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            job = ExportJob.objects.select_for_update().filter(pk=job_id, state=ExportJob.State.DONE).first()
            if job is None:
                continue
            if job.file.name:
                default_storage.delete(job.file.name)
            job.file.name, job.state = "", ExportJob.State.EXPIRED
            job.save(update_fields=["file", "state"])
            expired += 1
    return expired


def export_job_download(*, job: ExportJob, actor: User) -> File[bytes]:
    """The job's file, opened from storage, once the download is audited; or ExportUnavailable."""
    if job.is_expired():
        raise ExportUnavailable(EXPIRED_TEXT)
    if job.state != ExportJob.State.DONE or not job.file.name:
        raise ExportUnavailable(f"This export is {job.get_state_display().lower()}; download it once it is done.")
    try:
        handle = default_storage.open(job.file.name, "rb")
    except FileNotFoundError as error:  # removed from storage by hand: the same as expired
        raise ExportUnavailable(EXPIRED_TEXT) from error
    AuditEvent.objects.create(
        actor=_actor(actor),
        action="export_downloaded",
        detail={"job": job.pk, "format": job.format, "cycle": job.scope, "k": list(job.k_values)},
    )
    return handle


def export_download_name(job: ExportJob) -> str:
    return f"pilotpulse-{job.scope}.{export_extension(job.format, bundle=True)}"


def _actor(user: User) -> str:
    return str(getattr(user, "email", "") or user.get_username())
