"""A cycle's stored results: unit snapshots, cells, distributions, histograms, released comments.

Written only by the aggregation job (analytics.job) and read for display only through
analytics.published. A hidden cell is stored without n, value or interval.
"""

from __future__ import annotations

import uuid

from django.db import models

from analytics.core.tree import LEVEL_DEPARTMENT, LEVEL_ORGANISATION, LEVEL_TEAM
from surveys.models import Cycle


class Level(models.TextChoices):
    ORGANISATION = LEVEL_ORGANISATION, "Organisation"
    DEPARTMENT = LEVEL_DEPARTMENT, "Department"
    TEAM = LEVEL_TEAM, "Team"


class UnitSnapshot(models.Model):
    """A unit of the tree as it stood when the cycle was aggregated (teams move; history stays)."""

    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="+")
    unit_id = models.UUIDField()
    parent_id = models.UUIDField(null=True, blank=True)
    path = models.CharField(max_length=1000)
    level = models.CharField(max_length=16, choices=Level.choices)
    depth = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cycle", "unit_id"], name="one_snapshot_per_unit_cycle")]
        # A unit's children in one cycle (analytics.published: a heatmap's rows, a manager's
        # sub-teams); without it each such read walks the cycle's whole tree (10,111 rows at
        # 10,000 teams).
        indexes = [models.Index(fields=["cycle", "parent_id"], name="snapshot_children")]

    def __str__(self) -> str:
        return f"{self.cycle} {self.path}"


class MetricCell(models.Model):
    """One (unit, cycle, metric). Hidden cells keep only the fact that they are hidden."""

    # No index of its own (the unique constraint below leads with the cycle) and no database
    # constraint: a cycle writes hundreds of thousands of these rows, each of which would queue
    # a foreign-key check at commit. Django still cascades a deleted cycle (docs/decisions.md).
    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False)
    unit_id = models.UUIDField()
    metric = models.CharField(max_length=48)
    published = models.BooleanField()
    # Internal audit of why a cell is hidden; never shown (every public reason is the same).
    hidden_because = models.CharField(max_length=16, blank=True)
    n = models.PositiveIntegerField(null=True, blank=True)
    value = models.FloatField(null=True, blank=True)
    ci_low = models.FloatField(null=True, blank=True)
    ci_high = models.FloatField(null=True, blank=True)
    extra = models.JSONField(default=dict, blank=True)
    # Sufficient statistics of a published cell, kept for the trend tests of later cycles
    # (OLS over individual scores needs only n, sum and sum of squares per cycle). Internal:
    # analytics.published never returns them.
    total = models.FloatField(null=True, blank=True)
    total_sq = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cycle", "unit_id", "metric"], name="one_cell_per_unit_cycle_metric"),
            models.CheckConstraint(
                condition=models.Q(published=True) | models.Q(n__isnull=True, value__isnull=True),
                name="hidden_cells_store_no_numbers",
            ),
        ]
        # Every read names its cycles (a cycle's table; a unit's history as cycle_id = ANY(...)),
        # which the unique index serves. An index on (unit_id, metric) alone would take a random
        # page per written cell, the bulk of writing a large cycle (docs/decisions.md).

    def __str__(self) -> str:
        return f"{self.cycle} {self.unit_id} {self.metric}"


class ItemDistribution(models.Model):
    """Three bins per item, stored only where the cell may show a distribution (n >= 2k)."""

    # No index of its own (the unique constraint below leads with the cycle) and no database
    # constraint: a cycle writes hundreds of thousands of these rows, each of which would queue
    # a foreign-key check at commit. Django still cascades a deleted cycle (docs/decisions.md).
    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False)
    unit_id = models.UUIDField()
    item = models.CharField(max_length=32)
    unfavourable = models.PositiveIntegerField()
    neutral = models.PositiveIntegerField()
    favourable = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cycle", "unit_id", "item"], name="one_distribution_per_item")]

    def __str__(self) -> str:
        return f"{self.cycle} {self.unit_id} {self.item}"


class CellHistogram(models.Model):
    """Value counts of a published cell's per-respondent score, for the permutation tests of later
    cycles (a difference in means needs only the multiset of values). Internal to the job."""

    # No index of its own (the unique constraint below leads with the cycle) and no database
    # constraint: a cycle writes hundreds of thousands of these rows, each of which would queue
    # a foreign-key check at commit. Django still cascades a deleted cycle (docs/decisions.md).
    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False)
    unit_id = models.UUIDField()
    variable = models.CharField(max_length=48)
    counts = models.JSONField(help_text="[[value, count], ...]")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cycle", "unit_id", "variable"], name="one_histogram_per_cell")]

    def __str__(self) -> str:
        return f"{self.cycle} {self.unit_id} {self.variable}"


class ReleasedComment(models.Model):
    """A comment released at its one listing unit after the cycle closed (ANONYMITY R7)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="+")
    unit_id = models.UUIDField()
    position = models.PositiveIntegerField(help_text="Random display order, drawn at release.")
    text = models.TextField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cycle", "unit_id", "position"], name="one_comment_per_slot")]

    def __str__(self) -> str:
        return f"released comment ({self.cycle})"
