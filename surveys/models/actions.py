"""What a manager is trying because of a pulse (the action loop), on the identity side.

An action belongs to a unit (a team or a department), follows one published cycle's results
(``started_cycle``), and names the month whose results will show whether anything moved
(``check_back_month``). It holds no answer and no figure: every number the loop shows is read
from published records at display time.
"""

from __future__ import annotations

import uuid

from django.db import models

from surveys.models.cycles import Cycle
from surveys.models.organisation import Person, Team

ACTION_TITLE_MAX = 200
ACTION_OUTCOME_MAX = 500


class Action(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    unit = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="actions")
    metric = models.CharField(max_length=48, help_text="The catalogue metric the action aims to move.")
    # The flag kind it answers (e.g. "psych_safety_falling"), blank for an action on a metric.
    flag_kind = models.CharField(max_length=48, blank=True)
    title = models.CharField(max_length=ACTION_TITLE_MAX)
    from_playbook = models.BooleanField(default=False, help_text="The title is one of the playbook's suggestions.")
    owner = models.ForeignKey(Person, null=True, on_delete=models.SET_NULL, related_name="owned_actions")
    started_cycle = models.ForeignKey(
        Cycle, on_delete=models.PROTECT, related_name="+", help_text="The published cycle whose results prompted it."
    )
    check_back_month = models.DateField(help_text="First day of the month whose results are checked back on.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    outcome = models.TextField(max_length=ACTION_OUTCOME_MAX, blank=True)
    created_by = models.ForeignKey(Person, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="open", closed_at__isnull=True)
                | (models.Q(status="closed", closed_at__isnull=False) & ~models.Q(outcome="")),
                name="closed_action_has_outcome",
            ),
        ]
        indexes = [models.Index(fields=["unit", "status"], name="action_unit_status")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN
