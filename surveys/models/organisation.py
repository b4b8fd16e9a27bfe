"""The identity side: the organisation, its team tree, people and roles."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

K_MIN, K_MAX, K_DEFAULT = 3, 10, 5


class Organisation(models.Model):
    """One organisation per deployment; holds the programme's settings (ANONYMITY R3)."""

    name = models.CharField(max_length=200, default="Our organisation")
    anonymity_threshold = models.PositiveSmallIntegerField(
        "anonymity threshold k",
        default=K_DEFAULT,
        validators=[MinValueValidator(K_MIN), MaxValueValidator(K_MAX)],
        help_text="Smallest group whose results are shown (3\u201310). Frozen per cycle when it opens.",
    )
    comment_threshold = models.PositiveSmallIntegerField(
        default=10,
        validators=[MinValueValidator(K_MIN), MaxValueValidator(50)],
        help_text="Smallest group whose comments are released (ANONYMITY R7).",
    )
    pilot_cutoff = models.DecimalField(
        max_digits=3,
        decimal_places=1,
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(7)],
        help_text="Agency and optimism means at or above this make a Pilot. Frozen per cycle.",
    )
    comment_review_days = models.PositiveSmallIntegerField(
        default=3,
        validators=[MaxValueValidator(30)],
        help_text="Days after close during which HR may redact comments before they are released (0\u201330).",
    )
    hourly_cost = models.DecimalField(
        max_digits=8, decimal_places=2, default=75, help_text="Cost of an hour, for the workslop cost estimate."
    )
    currency = models.CharField(max_length=3, default="EUR")
    engineers_see_team_report = models.BooleanField(
        default=True, help_text="Engineers may see their own team's published report."
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(anonymity_threshold__gte=K_MIN, anonymity_threshold__lte=K_MAX),
                name="organisation_k_in_allowed_range",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def current(cls) -> Organisation:
        """The deployment's organisation: a pure read, so no page view ever writes.

        The row is installed by a data migration (0004). If it is missing, this fails rather than
        falling back on defaults: a silently recreated organisation would open the next cycle
        with the default k, perhaps below the one the organisation chose (ANONYMITY R3).
        """
        organisation = cls.objects.order_by("pk").first()
        if organisation is None:
            raise cls.DoesNotExist(
                "No organisation is set up: `python manage.py migrate` installs it. If the database "
                "was flushed since, add it again in the admin (Surveys \u203a Organisations \u203a Add)."
            )
        return organisation


class Team(models.Model):
    """A node of the organisation tree; a department is a team with sub-teams.

    The UUID stays when a team is renamed or moved, so its history follows it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="team_name_unique_within_parent"),
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(parent__isnull=True), name="team_root_name_unique"
            ),
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.path

    @property
    def path(self) -> str:
        names = []
        node: Team | None = self
        seen = set()
        while node is not None and node.pk not in seen:
            seen.add(node.pk)
            names.append(node.name)
            node = node.parent
        return "/".join(reversed(names))


class Role(models.TextChoices):
    ENGINEER = "engineer", "Engineer"
    MANAGER = "manager", "Manager"
    HR = "hr", "HR"
    ADMIN = "admin", "Admin"


class Person(models.Model):
    """Someone on the roster. Their answers count for their team; managers and HR answer too."""

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="members")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ENGINEER)
    managed_teams = models.ManyToManyField(
        Team, blank=True, related_name="managers", help_text="Teams they manage, with all their sub-teams."
    )
    is_active = models.BooleanField(default=True, help_text="Leavers are deactivated; their open links stop.")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="person"
    )

    class Meta:
        ordering = ["email"]
        verbose_name_plural = "people"

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    @property
    def is_manager(self) -> bool:
        return self.role == Role.MANAGER


class AuditEvent(models.Model):
    """Who changed what (ANONYMITY R10): threshold changes, role changes, exports, redactions."""

    at = models.DateTimeField(auto_now_add=True)
    actor = models.CharField(max_length=254, help_text="User e-mail, or the command that acted.")
    action = models.CharField(max_length=64)
    detail = models.JSONField(default=dict)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action}"
