"""Stored flags and "worth watching" results of a cycle (written by analytics.flags.stage)."""

from __future__ import annotations

from django.db import models

from surveys.models import Cycle


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
