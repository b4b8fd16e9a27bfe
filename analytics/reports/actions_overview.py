"""HR's view of the action loop: per department, how many flags there were over the last published
cycles, how many of them got an action, and how the actions started after those cycles stand.

Counts of flags and of actions only, never of people: a flag is a published record (the door's
organisation_flags, which serves flags that survived Benjamini-Hochberg and the level checks, never
"worth watching"), an action a row of the identity side that holds no figure.

- A flag is one (cycle, unit, kind): a trend and a shift test of the same kind on the same unit and
  cycle are one flag here, since one action answers both.
- It "got an action" when an action on the same unit names the same kind and started after that
  cycle's results.
- Departments are the organisation's top-level units in the cycle shown; a flag belongs to the
  department above its unit in its own cycle's tree (teams move; history stays where it was), an
  action to the department above its unit in the cycle shown (else in the current roster).
- An action "reached its check-back" when the cycle shown is at or after its check-back month
  (so a published cycle at or after it exists).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from analytics.published import (
    ORGANISATION_ID,
    PublishedUnit,
    aggregated_cycles,
    organisation_flags,
    units_under,
)
from analytics.reports.access import viewer_of
from analytics.reports.views import _month, released
from surveys.models import Action, Cycle, Team

#: How many published cycles the page counts, up to the one shown: an action checks back at most
#: six months after the results that prompted it, so six cycles hold every action's whole loop.
WINDOW = 6
#: The row of flags and actions whose department is not in the tree of the cycle shown.
ELSEWHERE = "elsewhere"


@dataclass(frozen=True)
class FlagFact:
    cycle: str  # its cycle's label
    unit_id: str
    kind: str
    department_id: str | None  # None: a flag on the organisation as a whole


@dataclass(frozen=True)
class ActionFact:
    started: str  # the started cycle's label
    unit_id: str
    flag_kind: str
    is_open: bool
    reached_check_back: bool
    department_id: str


@dataclass
class DepartmentRow:
    unit_id: str
    path: str
    flags: int = 0
    flags_with_action: int = 0
    open: int = 0
    reached_check_back: int = 0
    closed: int = 0
    keys: set[tuple[str, str, str]] = field(default_factory=set, repr=False)

    @property
    def actions(self) -> int:
        return self.open + self.closed


@dataclass(frozen=True)
class Counts:
    rows: list[DepartmentRow]
    total: DepartmentRow
    organisation_flags: int  # flags on the organisation as a whole (no action can be recorded on it)


def department_counts(
    *, departments: Sequence[PublishedUnit], flags: Iterable[FlagFact], actions: Iterable[ActionFact]
) -> Counts:
    """The counts per department (pure: the caller has read the flags and actions)."""
    rows: dict[str, DepartmentRow] = {unit.unit_id: DepartmentRow(unit.unit_id, unit.path) for unit in departments}
    action_list = list(actions)
    acted = {(action.started, action.unit_id, action.flag_kind) for action in action_list if action.flag_kind}

    def row_of(department_id: str) -> DepartmentRow:
        if department_id in rows:
            return rows[department_id]
        return rows.setdefault(ELSEWHERE, DepartmentRow(ELSEWHERE, "Units not in a department of the cycle shown"))

    on_organisation: set[tuple[str, str, str]] = set()
    for flag in flags:
        key = (flag.cycle, flag.unit_id, flag.kind)
        if flag.department_id is None:
            on_organisation.add(key)
            continue
        row = row_of(flag.department_id)
        if key not in row.keys:
            row.keys.add(key)
            row.flags += 1
            row.flags_with_action += key in acted
    for action in action_list:
        row = row_of(action.department_id)
        if action.is_open:
            row.open += 1
        else:
            row.closed += 1
        row.reached_check_back += action.reached_check_back
    ordered = sorted(rows.values(), key=lambda row: (row.unit_id == ELSEWHERE, row.path, row.unit_id))
    total = DepartmentRow("", "All departments")
    for row in ordered:
        for name in ("flags", "flags_with_action", "open", "reached_check_back", "closed"):
            setattr(total, name, getattr(total, name) + getattr(row, name))
    return Counts(ordered, total, len(on_organisation))


def departments_by_unit(units: Sequence[PublishedUnit]) -> dict[str, str]:
    """Unit id -> the id of the top-level unit above it (itself for a department), in one
    cycle's tree; the organisation is in no department."""
    parent = {unit.unit_id: unit.parent_id for unit in units}
    out: dict[str, str] = {}
    for unit in units:
        node, seen = unit.unit_id, set()
        while parent.get(node) not in (None, ORGANISATION_ID) and node not in seen:
            seen.add(node)
            node = parent[node]  # type: ignore[assignment]
        if unit.unit_id != ORGANISATION_ID:
            out[unit.unit_id] = node
    return out


def _roster_departments() -> dict[str, str]:
    """Team id -> the id of its top-level team, in the current roster (for a team that is not in
    the tree of the cycle shown, e.g. one added since)."""
    parent = {str(pk): str(up) if up else None for pk, up in Team.objects.values_list("pk", "parent_id")}
    out: dict[str, str] = {}
    for team in parent:
        node, seen = team, set()
        while parent.get(node) is not None and node not in seen:
            seen.add(node)
            node = parent[node]  # type: ignore[assignment]
        out[team] = node
    return out


def _flag_facts(window: Sequence[Cycle], trees: dict[int, dict[str, str]]) -> list[FlagFact]:
    """The flags of the window's cycles; each cycle's tree is read (into ``trees``) only if it has
    flags."""
    facts: list[FlagFact] = []
    for cycle in window:
        flags = organisation_flags(cycle=cycle)
        if not flags:
            continue
        if cycle.pk not in trees:
            trees[cycle.pk] = departments_by_unit(units_under(cycle=cycle, roots=[ORGANISATION_ID]))
        tree = trees[cycle.pk]
        facts.extend(
            FlagFact(cycle.label, flag.unit_id, flag.kind, tree.get(flag.unit_id))
            for flag in flags
            if flag.severity == "flag"
        )
    return facts


def _action_facts(window: Sequence[Cycle], shown: Cycle, tree: Mapping[str, str]) -> list[ActionFact]:
    rows = list(
        Action.objects.filter(started_cycle__in=[cycle.pk for cycle in window]).values_list(
            "started_cycle__month", "unit_id", "flag_kind", "status", "check_back_month"
        )
    )
    roster: dict[str, str] | None = None
    facts = []
    for started, unit_id, kind, status, check_back_month in rows:
        unit = str(unit_id)
        department = tree.get(unit)
        if department is None:
            roster = roster if roster is not None else _roster_departments()
            department = roster.get(unit, unit)
        facts.append(
            ActionFact(
                started=f"{started:%Y-%m}",
                unit_id=unit,
                flag_kind=kind,
                is_open=status == Action.Status.OPEN,
                reached_check_back=check_back_month <= shown.month,
                department_id=department,
            )
        )
    return facts


@login_required
@require_GET
@released
def actions_overview(request: HttpRequest) -> HttpResponse:
    viewer = viewer_of(request)
    if not viewer.is_hr:
        raise Http404("no such page")
    served = aggregated_cycles()
    if not served:
        return render(request, "analytics/reports/no_results.html")
    month = _month(request)
    shown = served[-1] if month is None else next((cycle for cycle in served if cycle.label == month), None)
    if shown is None:
        raise Http404("no released results for that cycle")
    window = [cycle for cycle in served if cycle.month <= shown.month][-WINDOW:]
    units = units_under(cycle=shown, roots=[ORGANISATION_ID])
    trees: dict[int, dict[str, str]] = {shown.pk: departments_by_unit(units)}
    departments = [unit for unit in units if unit.depth == 1]
    counts = department_counts(
        departments=departments,
        flags=_flag_facts(window, trees),
        actions=_action_facts(window, shown, trees[shown.pk]),
    )
    context = {
        "cycle": shown,
        "cycles": served,
        "window": window,
        "counts": counts,
        "k": shown.k,
    }
    return render(request, "analytics/reports/actions_overview.html", context)
