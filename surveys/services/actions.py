"""The action loop's writes: record, edit, close and delete a manager's action (one service for
the pages and the API, so both check the same things and give the same messages).

Who may act is decided here too, against the current roster: a manager may act on the units they
manage and every unit below them; HR reads every action but records none (managers own the
loop); nobody else writes. Every change is audited (R10) with the unit's path, never a figure.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from analytics.core.catalogue import METRICS_BY_NAME, RESPONSES
from analytics.flags.playbook import PLAYBOOK
from surveys.models import Action, AuditEvent, Cycle, Organisation, Person, Role, Team
from surveys.models.actions import ACTION_OUTCOME_MAX, ACTION_TITLE_MAX

# An action is checked back on one to six months after the results that prompted it: sooner
# is noise, later is forgotten.
CHECK_BACK_MONTHS_MIN, CHECK_BACK_MONTHS_MAX = 1, 6
ACTION_METRICS = frozenset({*METRICS_BY_NAME, RESPONSES})
PLAYBOOK_TITLES = frozenset(title for titles in PLAYBOOK.values() for title in titles)
# A flag kind as the flags stage names them ("psych_safety_falling"); Action.flag_kind holds 48.
FLAG_KIND = re.compile(r"^[a-z][a-z0-9_]{0,47}$")


def month_add(month: dt.date, months: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def months_between(start: dt.date, end: dt.date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


def units_below(team_ids: Iterable[object]) -> set[str]:
    """The given teams and every team below them in the current roster's tree, as strings."""
    children: dict[str, list[str]] = {}
    for team_id, parent_id in Team.objects.values_list("pk", "parent_id"):
        if parent_id is not None:
            children.setdefault(str(parent_id), []).append(str(team_id))
    found: set[str] = set()
    stack = [str(team_id) for team_id in team_ids]
    while stack:
        unit = stack.pop()
        if unit not in found:
            found.add(unit)
            stack.extend(children.get(unit, ()))
    return found


def manageable_unit_ids(person: Person | None) -> set[str]:
    """Units ``person`` may record actions on: those they manage and every unit below them."""
    if person is None or not person.is_active or person.role != Role.MANAGER:
        return set()
    return units_below(person.managed_teams.values_list("pk", flat=True))


def action_manageable(person: Person | None, action: Action) -> bool:
    return str(action.unit_id) in manageable_unit_ids(person)


@dataclass(frozen=True)
class ActionInput:
    """What a manager submits; every field optional on edit."""

    metric: str | None = None
    flag_kind: str | None = None
    title: str | None = None
    owner_id: object | None = None
    check_back_month: dt.date | None = None


def _check_fields(
    data: ActionInput, *, unit: Team, started_cycle: Cycle, creating: bool
) -> tuple[dict[str, Any], dict[str, str]]:
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if creating or data.metric is not None:
        if not data.metric:
            errors["metric"] = "Choose the metric the action aims to move (one of the report's metrics)."
        elif data.metric not in ACTION_METRICS:
            errors["metric"] = f"Unknown metric {data.metric!r}: choose one of the report's metrics."
        else:
            values["metric"] = data.metric
    if data.flag_kind is not None:
        # Cut short it would silently name another flag (or none), so a wrong one is refused.
        kind = data.flag_kind.strip()
        if kind and not FLAG_KIND.match(kind):
            errors["flag_kind"] = (
                f"Unknown flag kind {kind!r}: use the kind of one of the unit's flags (e.g. psych_safety_falling), "
                "or leave it empty for an action on a metric."
            )
        else:
            values["flag_kind"] = kind
    if creating or data.title is not None:
        title = " ".join((data.title or "").split())
        if not title:
            errors["title"] = "Say what you will try: pick a suggestion or write your own (a sentence is enough)."
        elif len(title) > ACTION_TITLE_MAX:
            errors["title"] = f"Keep the title to {ACTION_TITLE_MAX} characters (it has {len(title)})."
        else:
            values["title"] = title
            values["from_playbook"] = title in PLAYBOOK_TITLES
    if creating or data.owner_id is not None:
        owner = _owner(data.owner_id, unit=unit)
        if owner is None:
            errors["owner"] = "Choose an owner from the unit's people or its managers."
        else:
            values["owner"] = owner
    if creating or data.check_back_month is not None:
        month = data.check_back_month
        first = month_add(started_cycle.month, CHECK_BACK_MONTHS_MIN)
        last = month_add(started_cycle.month, CHECK_BACK_MONTHS_MAX)
        if month is None:
            errors["check_back_month"] = f"Choose the month to check back, from {first:%Y-%m} to {last:%Y-%m}."
        else:
            month = month.replace(day=1)
            if not first <= month <= last:
                errors["check_back_month"] = (
                    f"Check back between {first:%Y-%m} and {last:%Y-%m}: one to six months after the "
                    f"{started_cycle.label} results that prompted the action."
                )
            else:
                values["check_back_month"] = month
    return values, errors


def _owner(owner_id: object, *, unit: Team) -> Person | None:
    # Person ids are integers; anything else (a mistyped API field) is simply no such person.
    try:
        pk = int(str(owner_id))
    except ValueError:
        return None
    try:
        candidate = Person.objects.filter(pk=pk, is_active=True).first()
    except (TypeError, ValueError, ValidationError):
        return None
    if candidate is None:
        return None
    return candidate if candidate in action_owner_choices(unit) else None


def action_owner_choices(unit: Team) -> list[Person]:
    """Who may own an action on ``unit``: its people (with everyone below it) and the managers of
    it or of a unit above it."""
    below = units_below([unit.pk])
    lineage: list[Any] = []
    node: Team | None = unit
    while node is not None:
        lineage.append(node.pk)
        node = node.parent
    people = Person.objects.filter(is_active=True, team_id__in=below)
    managers = Person.objects.filter(is_active=True, role=Role.MANAGER, managed_teams__in=lineage)
    return list((people | managers).distinct().order_by("name", "email"))


def _require_manager(person: Person | None, unit: Team) -> None:
    if str(unit.pk) not in manageable_unit_ids(person):
        raise PermissionError("only a manager of this unit (or of a unit above it) may change its actions")


def action_create(*, actor: Person | None, unit: Team, started_cycle: Cycle, data: ActionInput) -> Action:
    """Records an action on ``unit`` following ``started_cycle``'s published results.

    Raises PermissionError when ``actor`` does not manage the unit, ValidationError (a message per
    field, naming the fix) when a field is wrong; nothing is saved then.
    """
    _require_manager(actor, unit)
    values, errors = _check_fields(data, unit=unit, started_cycle=started_cycle, creating=True)
    if started_cycle.is_open:
        errors["cycle"] = f"The {started_cycle.label} cycle is still open: record an action on published results."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        action = Action.objects.create(unit=unit, started_cycle=started_cycle, created_by=actor, **values)
        _audit(actor, "action_created", action)
    return action


def action_update(*, actor: Person | None, action: Action, data: ActionInput) -> Action:
    """Edits an open action's title, owner or check-back month (a closed one is history)."""
    _require_manager(actor, action.unit)
    if not action.is_open:
        raise ValidationError({"status": "This action is closed; record a new one to try something else."})
    values, errors = _check_fields(data, unit=action.unit, started_cycle=action.started_cycle, creating=False)
    if errors:
        raise ValidationError(errors)
    if not values:
        return action
    with transaction.atomic():
        # Only while still open: a close that won a race since ``action`` was read stays as it is.
        updated = Action.objects.filter(pk=action.pk, status=Action.Status.OPEN).update(**values)
        if not updated:
            raise ValidationError({"status": "This action is closed; record a new one to try something else."})
        action.refresh_from_db()
        _audit(actor, "action_updated", action, fields=sorted(values))
    return action


def action_close(*, actor: Person | None, action: Action, outcome: str) -> Action:
    """Closes an open action with a short outcome; closing a closed one changes nothing."""
    _require_manager(actor, action.unit)
    text = (outcome or "").strip()
    if not action.is_open:
        return action
    if not text:
        raise ValidationError(
            {"outcome": "Say in a sentence what happened, even \u201cwe stopped; it did not fit\u201d."}
        )
    if len(text) > ACTION_OUTCOME_MAX:
        raise ValidationError({"outcome": f"Keep the outcome to {ACTION_OUTCOME_MAX} characters (it has {len(text)})."})
    with transaction.atomic():
        updated = Action.objects.filter(pk=action.pk, status=Action.Status.OPEN).update(
            status=Action.Status.CLOSED, outcome=text, closed_at=timezone.now()
        )
        if not updated and not Action.objects.filter(pk=action.pk).exists():
            raise ValidationError({"status": "This action was deleted in the meantime; there is nothing to close."})
        action.refresh_from_db()
        if updated:
            _audit(actor, "action_closed", action)
    return action


def action_delete(*, actor: Person | None, action: Action) -> None:
    """Deletes an open action recorded by mistake; a closed one stays as the team's history."""
    _require_manager(actor, action.unit)
    if not action.is_open:
        raise ValidationError({"status": "A closed action is kept as the team's history and cannot be deleted."})
    with transaction.atomic():
        # Only while still open: if it was closed since ``action`` was read, the error rolls the
        # audit event back with it and the closed action stays as history.
        deleted, _ = Action.objects.filter(pk=action.pk, status=Action.Status.OPEN).delete()
        if not deleted:
            raise ValidationError({"status": "A closed action is kept as the team's history and cannot be deleted."})
        _audit(actor, "action_deleted", action)


def _audit(actor: Person | None, kind: str, action: Action, **extra: Any) -> None:
    detail: dict[str, Any] = {"subject": action.title, "team": action.unit.path, "action_id": str(action.pk)}
    detail.update(extra)
    AuditEvent.objects.create(actor=actor.email if actor else "system", action=kind, detail=detail)


def open_action_titles(*, team_ids: Iterable[object], limit: int = 3) -> list[str]:
    """Titles of the open actions on the given units, newest first, each title once: what the
    team's managers are trying, for the invitation e-mail and the survey's first page."""
    ids: list[Any] = list(team_ids)
    titles = Action.objects.filter(unit_id__in=ids, status=Action.Status.OPEN).order_by("-created_at", "pk")
    return _distinct(titles.values_list("title", flat=True), limit)


def open_action_titles_by_team(*, team_ids: Iterable[object], limit: int = 3) -> dict[str, list[str]]:
    """For each given team (by id, as a string): :func:`open_action_titles` of the team and the
    units above it. One query per level of the tree above the teams, then one for the open
    actions, however many teams: a batch of invitations costs the same as one, and nothing reads
    the whole roster (a survey page asks this for its one team)."""
    asked = {str(team_id) for team_id in team_ids}
    parent_of: dict[str, str | None] = {}
    frontier = set(asked)
    while frontier:
        level = Team.objects.filter(pk__in=sorted(frontier)).values_list("pk", "parent_id")
        parent_of.update((str(pk), str(parent) if parent else None) for pk, parent in level)
        frontier = {parent for pk in frontier if (parent := parent_of.get(pk)) and parent not in parent_of}
    lineages: dict[str, list[str]] = {}
    for team_id in asked:
        chain: list[str] = []
        node: str | None = team_id if team_id in parent_of else None
        while node is not None and node not in chain:
            chain.append(node)
            node = parent_of.get(node)
        lineages[team_id] = chain
    units = {unit for chain in lineages.values() for unit in chain}
    if not units:
        return {team_id: [] for team_id in lineages}
    open_actions = (
        Action.objects.filter(unit_id__in=sorted(units), status=Action.Status.OPEN)
        .order_by("-created_at", "pk")
        .values_list("unit_id", "title")
    )
    newest_first = [(str(unit_id), title) for unit_id, title in open_actions]
    titles: dict[str, list[str]] = {}
    for team_id, chain in lineages.items():
        own = set(chain)
        titles[team_id] = _distinct((title for unit_id, title in newest_first if unit_id in own), limit)
    return titles


def _distinct(titles: Iterable[str], limit: int) -> list[str]:
    # Two units (a team and its department) may try the same suggestion: it is said once.
    out: list[str] = []
    for title in titles:
        if title not in out:
            out.append(title)
            if len(out) == limit:
                break
    return out


def team_and_ancestor_ids(team: Team) -> list[object]:
    ids: list[object] = []
    node: Team | None = team
    seen: set[object] = set()
    while node is not None and node.pk not in seen:
        seen.add(node.pk)
        ids.append(node.pk)
        node = node.parent
    return ids


def readable_action_unit_ids(*, person: Person | None, is_hr: bool) -> set[str] | None:
    """Units whose actions a viewer may read in full (see :func:`actions_visible_to`); None: every one."""
    if is_hr:
        return None
    if person is None or not person.is_active:
        return set()
    allowed = manageable_unit_ids(person)
    if Organisation.current().engineers_see_team_report:
        allowed |= {str(pk) for pk in team_and_ancestor_ids(person.team)}
    return allowed


def actions_visible_to(*, person: Person | None, is_hr: bool) -> Any:
    """The actions a viewer may read in full: HR every one; a manager those on units they manage
    and below; everyone on the roster those on their own team and the units above it, when the
    organisation lets engineers see their team's report (an action names the metric and the flag
    it answers, which are results). Otherwise a team hears only the titles, in its invitations."""
    query = Action.objects.select_related("unit", "owner", "started_cycle")
    allowed: set[Any] | None = readable_action_unit_ids(person=person, is_hr=is_hr)
    return query if allowed is None else query.filter(unit_id__in=allowed)
