"""The retention policy: raw answers are purged, aggregates stay.

A closed cycle's responses, answers and comments are deleted once PULSE_RETENTION_MONTHS whole
months have passed since the end of its month (default 24; 0 keeps them forever). Everything the
job stored for it stays: cells, histograms, distributions, flags, released comments and its frozen
tree, so its reports, exports and the later cycles' trend flags (which read those stored cells and
histograms, never answers) are unchanged. The cycle is marked purged (PurgedCycle), and the job
refuses to aggregate it again (analytics.job.run.CyclePurged): a rerun would read nothing.

Only a cycle whose every stage is done under its current k is purged: one still queued, failed,
refused or decided under a k since raised keeps its answers until the job has finished it, or
its results would be lost. Each purge is one transaction under the cycle's row lock (which a
raise of k takes too) and its aggregation lock, audited "answers_purged" with the cycle only.

Backups taken before a purge still hold the purged answers until they expire (docs/operations.md).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.utils import timezone

from analytics.job.run import STAGES, AggregationBusy, cycle_lock
from analytics.models import AggregationStage, PurgedCycle
from surveys.anonymous.models import Answer, Comment, Response
from surveys.models import AuditEvent, Cycle

logger = logging.getLogger(__name__)

DEFAULT_RETENTION_MONTHS = 24
RETENTION_ACTOR = "retention"
ANSWERS_PURGED = "answers_purged"


@dataclass(frozen=True)
class PurgeResult:
    """Cycle labels only: what was purged now, and what was due but kept, with why."""

    purged: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def retention_months() -> int:
    """PULSE_RETENTION_MONTHS: whole months the answers are kept after their cycle's month; 0 forever."""
    months = getattr(settings, "PULSE_RETENTION_MONTHS", DEFAULT_RETENTION_MONTHS)
    if isinstance(months, bool) or not isinstance(months, int) or months < 0:
        raise ImproperlyConfigured(
            f"PULSE_RETENTION_MONTHS must be a whole number of months, 0 (keep forever) or more; got {months!r}."
        )
    return months


def retention_cutoff(*, today: dt.date, months: int) -> dt.date:
    """The first month whose answers are still kept: cycles of earlier months are purged.

    Today's month minus ``months``: on 2027-01-05 with 24, cycles up to December 2024 are purged
    (that month ended 24 whole months ago) and January 2025 is kept."""
    index = today.year * 12 + (today.month - 1) - months
    return dt.date(index // 12, index % 12 + 1, 1)


def answers_purge(*, today: dt.date, months: int, actor: str = RETENTION_ACTOR) -> PurgeResult:
    """Delete the responses, answers and comments of every closed cycle older than ``months``
    (see :func:`retention_cutoff`), keep its aggregates, mark it purged and audit it.

    Idempotent: a purged cycle is not looked at again. ``months=0`` purges nothing."""
    if months < 0:
        raise ValueError("months must be 0 (keep forever) or more")
    result = PurgeResult()
    if months == 0:
        return result
    due = (
        Cycle.objects.filter(status=Cycle.Status.CLOSED, month__lt=retention_cutoff(today=today, months=months))
        .exclude(pk__in=PurgedCycle.objects.values("cycle_id"))
        .order_by("month")
    )
    for cycle in due:
        try:
            # The aggregation's own lock: no run of this cycle is reading its answers meanwhile.
            with cycle_lock(cycle.pk):
                reason = _cycle_purge(cycle, actor=actor)
        except AggregationBusy:
            reason = "an aggregation of it is running; it is purged on a later run"
        if reason is None:
            result.purged.append(cycle.label)
            logger.info("retention: answers of %s purged", cycle.label)
        else:
            result.skipped[cycle.label] = reason
            logger.warning("retention: answers of %s kept: %s", cycle.label, reason)
    if result.purged:
        _vacuum_anonymous_tables()
    return result


def _cycle_purge(cycle: Cycle, *, actor: str) -> str | None:
    """Purge one cycle in one transaction; None when done, else why it was kept."""
    with transaction.atomic():
        # The row lock a raise of k takes: the k checked here is the k the cycle keeps.
        locked = Cycle.objects.select_for_update().get(pk=cycle.pk)
        if PurgedCycle.objects.filter(cycle=locked).exists():
            return "already purged"
        reason = _not_final(locked)
        if reason is not None:
            return reason
        Answer.objects.filter(response__cycle=locked).delete()
        Response.objects.filter(cycle=locked).delete()
        Comment.objects.filter(cycle=locked).delete()
        PurgedCycle.objects.create(cycle=locked, purged_at=timezone.now())
        # The cycle only: no count of rows (a cycle's count of responses is its organisation's n).
        AuditEvent.objects.create(actor=actor, action=ANSWERS_PURGED, detail={"cycle": locked.label})
    return None


def _not_final(cycle: Cycle) -> str | None:
    """Why the cycle's stored results are not final yet (its answers are still needed), or None."""
    done = dict(
        AggregationStage.objects.filter(cycle=cycle, state=AggregationStage.State.DONE).values_list("stage", "k")
    )
    if any(done.get(stage) != cycle.k for stage in STAGES):
        return f"its aggregation under k = {cycle.k} has not finished"
    return None


def _vacuum_anonymous_tables() -> None:
    """Reclaim the deleted rows' space, so the answers do not linger in the table files until
    autovacuum. VACUUM cannot run inside a transaction: skipped when the caller holds one (tests)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        for model in (Answer, Response, Comment):
            cursor.execute(f'VACUUM "{model._meta.db_table}"')  # noqa: S608 - table names from models
