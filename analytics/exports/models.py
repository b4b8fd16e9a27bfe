"""Export jobs HR starts in the browser or through the API: who asked, for what, how far it got,
and the file, kept in Django's default storage (so every web and worker process reaches it) until
it expires. A job holds no figures of its own: the file holds what the door published."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone

from surveys.models import Cycle


def export_upload_to(instance: ExportJob, filename: str) -> str:
    # The job id in the folder keeps two exports' files apart; nothing serves this folder directly
    # (the download view checks who asks, and that the export has not expired).
    return f"exports/{timezone.now():%Y/%m}/{instance.pk}/{filename}"


class ExportJob(models.Model):
    class Format(models.TextChoices):
        CSV = "csv", "CSV (a ZIP of two tables)"
        XLSX = "xlsx", "Excel workbook (two sheets)"
        PARQUET = "parquet", "Parquet (a ZIP of two tables)"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"

    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="export_jobs")
    format = models.CharField(max_length=8, choices=Format.choices)
    cycle = models.ForeignKey(
        Cycle, null=True, blank=True, on_delete=models.CASCADE, help_text="Empty: every published cycle."
    )
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="0-100.")
    rows = models.PositiveIntegerField(null=True, blank=True, help_text="Cell rows written.")
    k_values = models.JSONField(default=list, blank=True, help_text="The k of each cycle in the file (R3).")
    file = models.FileField(upload_to=export_upload_to, max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            # The requester's own jobs, newest first (the exports page).
            models.Index(fields=["requester", "-created_at"], name="exportjob_requester_idx"),
            # Done jobs past their expiry (the periodic sweep, analytics.exports.tasks).
            models.Index(fields=["state", "expires_at"], name="exportjob_expiry_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(progress__lte=100), name="exportjob_progress_at_most_100"),
        ]

    def __str__(self) -> str:
        return f"export {self.pk} ({self.format}, {self.scope}) {self.state}"

    @property
    def scope(self) -> str:
        """The cycle's label, or "all" for every published cycle."""
        return self.cycle.label if self.cycle is not None else "all"

    @property
    def is_running(self) -> bool:
        return self.state in (self.State.QUEUED, self.State.RUNNING)

    def is_expired(self, now: dt.datetime | None = None) -> bool:
        """Expired when marked so, or past its expiry even if the sweep has not run yet."""
        if self.state == self.State.EXPIRED:
            return True
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())
