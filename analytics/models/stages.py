"""Fill state of the aggregation job's stages."""

from __future__ import annotations

from django.db import models

from surveys.models import Cycle


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
