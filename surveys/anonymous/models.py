"""Anonymous responses. Keys are random UUID4s; no timestamps; no ordering by insertion.

A response carries only its cycle, team and instrument version. Comments are stored apart from
responses so a comment cannot be joined to its author's scores.
"""

import uuid

from django.db import models


class Response(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    cycle = models.ForeignKey("surveys.Cycle", on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey("surveys.Team", on_delete=models.PROTECT, related_name="+")
    instrument_version = models.ForeignKey("surveys.InstrumentVersion", on_delete=models.PROTECT, related_name="+")

    class Meta:
        # Used by the aggregation job, which reads one cycle at a time.
        indexes = [models.Index(fields=["cycle", "team"], name="response_cycle_team")]

    def __str__(self) -> str:
        return "anonymous response"  # deliberately says nothing that could identify it


class Answer(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="answers")
    item = models.CharField(max_length=32)
    value = models.FloatField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["response", "item"], name="one_answer_per_item")]

    def __str__(self) -> str:
        return f"anonymous answer to {self.item}"


class Comment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    cycle = models.ForeignKey("surveys.Cycle", on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey("surveys.Team", on_delete=models.PROTECT, related_name="+")
    text = models.TextField(max_length=1000)
    redacted = models.BooleanField(default=False)

    def __str__(self) -> str:
        return "anonymous comment"
