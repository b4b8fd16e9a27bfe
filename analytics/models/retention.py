"""Which closed cycles have had their raw answers purged under the retention policy.

A purged cycle keeps every aggregate (cells, histograms, distributions, flags, released comments,
its frozen tree); only the anonymous rows are gone, so it can never be aggregated again
(analytics.job.run refuses it) and its stored decisions are final.
"""

from __future__ import annotations

from django.db import models

from surveys.models import Cycle


class PurgedCycle(models.Model):
    """One row per cycle whose responses, answers and comments were deleted (analytics.job.retention)."""

    cycle = models.OneToOneField(Cycle, on_delete=models.CASCADE, related_name="+")
    purged_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.cycle}: answers purged"
