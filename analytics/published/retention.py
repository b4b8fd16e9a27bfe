"""Whether a cycle's raw answers were purged (analytics.job.retention), for HR's settings pages:
raising a threshold of a purged cycle cannot be decided again, so the page warns first."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from analytics.models import PurgedCycle
from surveys.models import Cycle


def cycle_purged_on(*, cycle: Cycle) -> dt.date | None:
    """The day (in the site's time zone) the cycle's answers were purged; None if they are kept."""
    purged_at = PurgedCycle.objects.filter(cycle_id=cycle.pk).values_list("purged_at", flat=True).first()
    return None if purged_at is None else timezone.localdate(purged_at)
