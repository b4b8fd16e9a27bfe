"""Fill state of the aggregation job's stages, and the state of each cycle's latest run."""

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


class AggregationRun(models.Model):
    """Where a closed cycle's latest aggregation run is, for HR's cycles page: one row per cycle.

    It holds no figure and no error message (an exception's words may quote data): only the
    error's class name and when the state was entered.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        # Stopped by the disclosure checker (R15): nothing was stored, and it is not retried
        # under the same k.
        REFUSED = "refused", "Stopped by the disclosure checker"

    class Stage(models.TextChoices):
        READING = "reading", "reading answers"
        COMPUTING = "computing", "computing"
        CHECKING = "checking", "checking what would be published"
        FLAGS = "flags", "flags"
        COMMENTS = "comments", "comments"

    cycle = models.OneToOneField(Cycle, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=8, choices=State.choices)
    stage = models.CharField(max_length=16, choices=Stage.choices, blank=True)
    error = models.CharField(max_length=100, blank=True, help_text="The exception's class name, never its message.")
    # The cycle's k when the state was entered: a run refused under k is retried only under a
    # higher one (a raise is a new decision, R3).
    k = models.PositiveSmallIntegerField()
    changed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(state="running") & ~models.Q(stage=""))
                | (~models.Q(state="running") & models.Q(stage="")),
                name="aggregation_run_stage_only_running",
            ),
            models.CheckConstraint(
                condition=(models.Q(state="failed") & ~models.Q(error=""))
                | (~models.Q(state="failed") & models.Q(error="")),
                name="aggregation_run_error_only_failed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cycle} aggregation: {self.state}"
