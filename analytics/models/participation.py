"""Live participation of the open cycle, as the job last counted it (analytics.job.participation).

One row per unit of the tree, replaced wholesale in one transaction with one ``computed_at`` and
the k it was decided with; deleted when the cycle closes (its published response rates take
over). A hidden unit is stored without answered count or percentage, like a hidden MetricCell.
"""

from __future__ import annotations

from django.db import models

from analytics.models.results import Level
from surveys.models import Cycle


class LiveParticipation(models.Model):
    """One unit's live participation in the open cycle (ANONYMITY R4, R5, R8)."""

    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="+")
    unit_id = models.UUIDField()
    parent_id = models.UUIDField(null=True, blank=True)
    path = models.CharField(max_length=1000)
    level = models.CharField(max_length=16, choices=Level.choices)
    depth = models.PositiveSmallIntegerField()
    # A head count from the roster (people on leaf teams, void invitations included): not a
    # figure anyone answered, so it is kept for hidden units too.
    invited = models.PositiveIntegerField()
    published = models.BooleanField()
    answered = models.PositiveIntegerField(null=True, blank=True)
    percent = models.PositiveSmallIntegerField(null=True, blank=True)
    # The cycle's k when these were decided: a raise of k (R3) withholds them until recounted.
    k = models.PositiveSmallIntegerField()
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cycle", "unit_id"], name="one_live_participation_per_unit"),
            models.CheckConstraint(
                condition=models.Q(published=True, answered__isnull=False, percent__isnull=False)
                | models.Q(published=False, answered__isnull=True, percent__isnull=True),
                name="hidden_live_units_store_no_numbers",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cycle} {self.path}: live participation"
