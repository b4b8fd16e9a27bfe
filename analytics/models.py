"""Aggregate tables, written only by the aggregation job and read only through analytics.published.

Publication is decided once per cycle for the whole tree by the job (ANONYMITY R6) and stored
here: a hidden cell is stored without n, value or interval, so nothing hidden is ever persisted
outside the anonymous tables.
"""

from __future__ import annotations

import uuid

from django.db import models

from surveys.models import Cycle

# The organisation is the root above the top-level teams; it has no Team row of its own.
ORGANISATION_UNIT_ID = uuid.UUID(int=0)


class Level(models.TextChoices):
    ORGANISATION = "organisation", "Organisation"
    DEPARTMENT = "department", "Department"
    TEAM = "team", "Team"


class AggregationStage(models.Model):
    """Fill state per (cycle, stage), as in Zulip's analytics: a rerun finds a stage that was
    started but not done, undoes its partial output and redoes it."""

    class State(models.TextChoices):
        STARTED = "started", "Started"
        DONE = "done", "Done"

    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="+")
    stage = models.CharField(max_length=32)
    state = models.CharField(max_length=8, choices=State.choices)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The k the stage decided publication with. k may be raised after a cycle closes (R3); until
    # the cycle is aggregated again under the new k, its results are not served.
    k = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cycle", "stage"], name="one_fill_state_per_stage")]

    def __str__(self) -> str:
        return f"{self.cycle} {self.stage}: {self.state}"


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


class Flag(models.Model):
    class Severity(models.TextChoices):
        FLAG = "flag", "Flag"  # survived Benjamini-Hochberg within its family
        WATCH = "watch", "Worth watching"  # p < .05 but not surviving BH: the unit's own report only

    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="+")
    unit_id = models.UUIDField()
    kind = models.CharField(max_length=48)
    metric = models.CharField(max_length=48)
    test = models.CharField(max_length=32)
    severity = models.CharField(max_length=8, choices=Severity.choices)
    p_value = models.FloatField(null=True, blank=True)
    numbers = models.JSONField(default=dict)
    method = models.TextField()
    explanation = models.TextField()
    actions = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cycle", "unit_id", "kind", "test"], name="one_flag_per_unit_kind_test")
        ]

    def __str__(self) -> str:
        return f"{self.cycle} {self.unit_id} {self.kind} ({self.severity})"


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
