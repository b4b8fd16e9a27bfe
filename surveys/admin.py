"""Admin for programme setup. The anonymous side is deliberately absent: there is no way to list
or read responses, answers or comments here (ANONYMITY R6, R9)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from surveys.audit import audit_subject
from surveys.models import AuditEvent, Cycle, InstrumentVersion, Organisation, Person, Team
from surveys.services.cycles import invitations_follow_roster
from surveys.services.thresholds import cycle_k_raise, cycle_k_raise_problem

# The operator's admin is PilotPulse's setup screen, not a generic Django one.
admin.site.site_header = "PilotPulse setup"
admin.site.site_title = "PilotPulse setup"
admin.site.index_title = "Programme setup: teams, people, cycles and settings"


def _actor(request: HttpRequest) -> str:
    return getattr(request.user, "email", "") or getattr(request.user, "username", "admin")


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin[Organisation]):
    list_display = ["name", "anonymity_threshold", "comment_threshold", "pilot_cutoff"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not Organisation.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Organisation, form: Any, change: bool) -> None:
        if change and "anonymity_threshold" in form.changed_data:
            AuditEvent.objects.create(
                actor=_actor(request),
                action="organisation_k_changed",
                detail={"from": form.initial.get("anonymity_threshold"), "to": obj.anonymity_threshold},
            )
        super().save_model(request, obj, form, change)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin[Team]):
    list_display = ["path", "parent"]
    search_fields = ["name"]
    readonly_fields = ["id"]


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin[Person]):
    list_display = ["email", "name", "team", "role", "is_active"]
    list_filter = ["role", "is_active"]
    search_fields = ["email", "name"]
    filter_horizontal = ["managed_teams"]
    autocomplete_fields = ["team"]
    raw_id_fields = ["user"]

    def save_model(self, request: HttpRequest, obj: Person, form: Any, change: bool) -> None:
        if change and "role" in form.changed_data:
            AuditEvent.objects.create(
                actor=_actor(request),
                action="role_changed",
                detail={"email": obj.email, "from": form.initial.get("role"), "to": obj.role},
            )
        super().save_model(request, obj, form, change)
        # A joiner, mover or leaver edited here follows into the open cycle, as with a roster import.
        transaction.on_commit(lambda: invitations_follow_roster(people=[obj]))


class CycleAdminForm(forms.ModelForm[Cycle]):
    class Meta:
        model = Cycle
        fields = ["k", "closes_on"]

    def clean_k(self) -> int:
        k: int = self.cleaned_data["k"]
        if "k" not in self.changed_data:
            return k
        # The admin validates and saves in one transaction: the row locked here stays locked until
        # save_model's cycle_k_raise, so the k checked is the k raised from (another admin's raise
        # in between waits, then fails here with the value to enter).
        current = Cycle.objects.select_for_update().values_list("k", flat=True).get(pk=self.instance.pk)
        problem = cycle_k_raise_problem(current=current, k=k)
        if problem is not None:
            raise ValidationError(problem)
        return k


@admin.register(Cycle)
class CycleAdmin(admin.ModelAdmin[Cycle]):
    """Cycles are opened and closed by the commands and beat; here only k may be raised (through
    cycle_k_raise, which audits it and has a closed cycle's disclosure decided again)."""

    form = CycleAdminForm

    list_display = ["label", "status", "k", "opened_on", "closes_on", "closed_on"]
    readonly_fields = [
        "month",
        "status",
        "instrument_version",
        "comment_threshold",
        "pilot_cutoff",
        "opened_on",
        "closed_on",
        "reminder_days_sent",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Cycle, form: Any, change: bool) -> None:
        # k first, through the one service (checks, audit, re-run of disclosure). The change view
        # is one transaction, so if the service refused here (it cannot while clean_k's lock holds)
        # the error would roll the closing date back with it: nothing half-saved.
        if "k" in form.changed_data:
            obj.k = cycle_k_raise(cycle=obj, k=obj.k, actor=_actor(request)).k
        if "closes_on" in form.changed_data:
            obj.save(update_fields=["closes_on"])


@admin.register(InstrumentVersion)
class InstrumentVersionAdmin(admin.ModelAdmin[InstrumentVersion]):
    """Versions are shipped as data migrations; they are read-only here."""

    list_display = ["version"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin[AuditEvent]):
    list_display = ["at", "actor", "action", "subject"]
    list_filter = ["action"]

    @admin.display(description="subject")
    def subject(self, obj: AuditEvent) -> str:
        """What the event was about, from its detail: a row that says only "role_set" tells nothing."""
        return audit_subject(obj.detail)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
