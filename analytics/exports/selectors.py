"""Reads of export jobs: a requester sees only their own (another HR user's job answers 404)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet

from analytics.exports.models import ExportJob
from analytics.published import aggregated_cycles
from surveys.models import Cycle

RECENT_JOBS = 20


def export_jobs_of(*, user: User) -> QuerySet[ExportJob]:
    """The requester's own jobs, newest first (ExportJob's (requester, -created_at) index)."""
    return ExportJob.objects.filter(requester_id=user.pk).select_related("cycle").order_by("-created_at", "-pk")


def export_job_of(*, user: User, job_id: int) -> ExportJob | None:
    """The job if ``user`` requested it, else None (answer 404: its existence is not confirmed)."""
    return export_jobs_of(user=user).filter(pk=job_id).first()


def export_cycle_choices() -> list[Cycle]:
    """The cycles an export may name: those the door serves, newest first."""
    return list(reversed(aggregated_cycles()))
