"""The action loop's pages, and the block of actions a unit's report shows.

- ``action_new``: a manager records an action on a unit they manage (or one below it), following
  the latest published results: from a flag (its playbook suggestions offered) or a metric.
- ``action_edit``, ``action_close``, ``action_delete``: change an open action's title, owner or
  check-back month; close it with a short outcome; delete one recorded by mistake.

Each page is a form: a GET shows it, a POST checks it and, through surveys.services.actions (the
one service the API uses too), saves and redirects back to the report with a message; a form
with errors comes back with them, 400, nothing saved. Anyone who does not manage the unit gets 404
(never 403), HR included: HR reads the actions but managers own the loop. Whether the viewer
manages the unit is decided before the unit or action is read, so a 404 takes the same work
whether or not it exists.

``report_actions`` builds what the unit report shows: the unit's open actions, its earlier
(closed) ones with their outcome, and each action's check-back (analytics.reports.checkback)
from the report's published cells and the organisation's, read through the door.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, TypeVar

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from analytics.published import (
    ORGANISATION_ID,
    PublishedFlag,
    UnitReport,
    aggregated_cycles,
    unit_cells,
    unit_flags,
    unit_lineage,
)
from analytics.reports import themes
from analytics.reports.access import Viewer, viewer_of
from analytics.reports.actions_forms import (
    CHECK_BACK_DEFAULT,
    METRIC_NAMES,
    ActionCloseForm,
    ActionDeleteForm,
    ActionEditForm,
    ActionNewForm,
    service_errors_apply,
)
from analytics.reports.checkback import CheckBack, check_back
from surveys.models import Action, Cycle, Person, Role, Team
from surveys.services.actions import (
    ActionInput,
    action_close,
    action_create,
    action_delete,
    action_owner_choices,
    action_update,
    manageable_unit_ids,
    month_add,
)

#: How many closed actions the report lists under "Earlier actions" (newest first).
EARLIER_SHOWN = 10


T = TypeVar("T")


def _service_result(form: Any, call: Callable[[], T], *, title_field: str, missing: str) -> T | None:
    """Runs an action service for a valid form: its field refusals onto the form (None: show it
    again, 400), a PermissionError (the roster changed since the page's own check) as 404."""
    try:
        return call()
    except PermissionError as refused:
        raise Http404(missing) from refused
    except ValidationError as error:
        service_errors_apply(form, error, title_field=title_field)
        return None


def _report_url(unit_id: object) -> str:
    return reverse("reports:unit", kwargs={"unit_id": unit_id}) + "#actions"


def _manager(request: HttpRequest) -> tuple[Person | None, set[str]]:
    """The signed-in person and the units they may act on (an empty set for anyone but a
    manager): asked before any unit or action is read."""
    person = viewer_of(request).person
    return person, manageable_unit_ids(person)


# --- record ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _NewContext:
    team: Team
    path: str
    cycle: Cycle
    flag: PublishedFlag | None


def _new_context(unit_id: uuid.UUID, flag_kind: str, *, flag_required: bool) -> _NewContext:
    """The unit, the latest published cycle (actions follow the newest results) and, for an
    action on a flag, that flag as published for the unit in it; 404 for anything missing (a
    missing flag only if ``flag_required``: a posted form says why instead)."""
    team = Team.objects.filter(pk=unit_id).first()
    cycles = aggregated_cycles()
    if team is None or not cycles:
        raise Http404("no such unit")
    cycle = cycles[-1]
    lineage = unit_lineage(cycle=cycle, unit_id=unit_id)
    if not lineage:
        raise Http404("the unit has no published results in the latest cycle")
    flag = None
    if flag_kind:
        flag = next((f for f in unit_flags(cycle=cycle, unit_id=unit_id) if f.kind == flag_kind), None)
        if flag is None and flag_required:
            raise Http404("no such flag in the unit's latest published results")
    return _NewContext(team, lineage[0].path, cycle, flag)


@login_required
@require_http_methods(["GET", "POST"])
def action_new(request: HttpRequest, unit_id: uuid.UUID) -> HttpResponse:
    person, manageable = _manager(request)
    if str(unit_id) not in manageable:
        raise Http404("no such unit")
    source = request.POST if request.method == "POST" else request.GET
    flag_kind = (source.get("flag_kind") or source.get("flag") or "").strip()
    context = _new_context(unit_id, flag_kind, flag_required=request.method == "GET")
    owners = action_owner_choices(context.team)
    suggestions = list(context.flag.actions) if context.flag else []
    kwargs: dict[str, Any] = {"owners": owners, "started": context.cycle.month, "suggestions": suggestions}
    if request.method == "GET":
        metric = context.flag.metric if context.flag else request.GET.get("metric", "")
        if metric and metric not in METRIC_NAMES:
            raise Http404("no such metric on the report")
        initial = {
            "metric": metric,
            "flag_kind": flag_kind,
            "cycle": context.cycle.label,
            "owner": str(person.pk) if person is not None and person in owners else "",
            "check_back_month": f"{month_add(context.cycle.month, CHECK_BACK_DEFAULT):%Y-%m}",
        }
        return _new_page(request, ActionNewForm(initial=initial, **kwargs), context)
    form = ActionNewForm(request.POST, **kwargs)
    valid = form.is_valid()
    # Said whatever else is wrong with the form: both mean it was filled in for other results.
    if request.POST.get("cycle") != context.cycle.label:
        # Opened before newer results were published: the action would follow results its
        # author has not seen.
        form.add_error(
            None,
            f"Newer results ({context.cycle.label}) were published since this form was opened: look at "
            "them on the report, then record the action again.",
        )
    elif flag_kind and context.flag is None:
        form.add_error(
            None,
            f"That flag is no longer among {context.path}'s published results for {context.cycle.label} "
            "(a raised threshold can withdraw one): go back to the report and record the action on what it shows.",
        )
    elif valid:
        data = ActionInput(
            metric=form.cleaned_data["metric"],
            flag_kind=flag_kind,
            title=form.cleaned_data["title"],
            owner_id=form.cleaned_data["owner"],
            check_back_month=form.cleaned_data["check_back_month"],
        )
        created = _service_result(
            form,
            lambda: action_create(actor=person, unit=context.team, started_cycle=context.cycle, data=data),
            title_field="own_title",
            missing="no such unit",
        )
        if created is not None:
            action = created
            messages.success(
                request,
                f"Recorded \u201c{action.title}\u201d on {context.path}. It checks back with the "
                f"{action.check_back_month:%B %Y} results.",
            )
            return redirect(_report_url(context.team.pk))
    return _new_page(request, form, context, status=400)


def _new_page(request: HttpRequest, form: ActionNewForm, context: _NewContext, status: int = 200) -> HttpResponse:
    page = {
        "form": form,
        "unit_id": str(context.team.pk),
        "path": context.path,
        "cycle": context.cycle,
        "flag": context.flag,
        "report_url": _report_url(context.team.pk),
    }
    return render(request, "analytics/reports/actions_new.html", page, status=status)


# --- change ---------------------------------------------------------------------------------------


def _own_action(request: HttpRequest, action_id: uuid.UUID) -> tuple[Person | None, Action]:
    """The action if the signed-in person may change it, else 404 (the same reads either way)."""
    person, manageable = _manager(request)
    action = Action.objects.select_related("unit", "owner", "started_cycle").filter(pk=action_id).first()
    if action is None or str(action.unit_id) not in manageable:
        raise Http404("no such action")
    return person, action


def _closed_refusal(request: HttpRequest, action: Action, message: str) -> HttpResponse:
    messages.error(request, message)
    return redirect(_report_url(action.unit_id))


def _page(request: HttpRequest, template: str, action: Action, form: Any, status: int = 200) -> HttpResponse:
    context = {"form": form, "action": action, "path": action.unit.path, "report_url": _report_url(action.unit_id)}
    return render(request, f"analytics/reports/{template}", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def action_edit(request: HttpRequest, action_id: uuid.UUID) -> HttpResponse:
    person, action = _own_action(request, action_id)
    if not action.is_open:
        return _closed_refusal(request, action, "This action is closed; record a new one to try something else.")
    kwargs: dict[str, Any] = {"owners": action_owner_choices(action.unit), "started": action.started_cycle.month}
    if request.method == "GET":
        initial = {
            "title": action.title,
            "owner": str(action.owner_id or ""),
            "check_back_month": f"{action.check_back_month:%Y-%m}",
        }
        return _page(request, "actions_edit.html", action, ActionEditForm(initial=initial, **kwargs))
    form = ActionEditForm(request.POST, **kwargs)
    if form.is_valid():
        data = ActionInput(
            title=form.cleaned_data["title"],
            owner_id=form.cleaned_data["owner"],
            check_back_month=form.cleaned_data["check_back_month"],
        )
        updated = _service_result(
            form,
            lambda: action_update(actor=person, action=action, data=data),
            title_field="title",
            missing="no such action",
        )
        if updated is not None:
            action = updated
            messages.success(request, f"Saved \u201c{action.title}\u201d.")
            return redirect(_report_url(action.unit_id))
    return _page(request, "actions_edit.html", action, form, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def action_close_view(request: HttpRequest, action_id: uuid.UUID) -> HttpResponse:
    person, action = _own_action(request, action_id)
    if not action.is_open:
        return _closed_refusal(request, action, "This action is already closed.")
    if request.method == "GET":
        return _page(request, "actions_close.html", action, ActionCloseForm())
    form = ActionCloseForm(request.POST)
    if form.is_valid():
        closed = _service_result(
            form,
            lambda: action_close(actor=person, action=action, outcome=form.cleaned_data["outcome"]),
            title_field="outcome",
            missing="no such action",
        )
        if closed is not None:
            action = closed
            messages.success(request, f"Closed \u201c{action.title}\u201d; it is listed under earlier actions.")
            return redirect(_report_url(action.unit_id))
    return _page(request, "actions_close.html", action, form, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def action_delete_view(request: HttpRequest, action_id: uuid.UUID) -> HttpResponse:
    person, action = _own_action(request, action_id)
    if not action.is_open:
        return _closed_refusal(request, action, "A closed action is kept as the team's history and cannot be deleted.")
    if request.method == "GET":
        return _page(request, "actions_delete.html", action, ActionDeleteForm())
    form = ActionDeleteForm(request.POST)
    if form.is_valid():

        def delete() -> bool:
            action_delete(actor=person, action=action)
            return True

        if _service_result(form, delete, title_field="confirm", missing="no such action"):
            messages.success(request, f"Deleted \u201c{action.title}\u201d.")
            return redirect(_report_url(action.unit_id))
    return _page(request, "actions_delete.html", action, form, status=400)


# --- on the report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionRow:
    action: Action
    metric_label: str
    owner_name: str
    check_back: CheckBack


@dataclass(frozen=True)
class ReportActions:
    open: list[ActionRow]
    earlier: list[ActionRow]
    earlier_more: int  # closed actions not listed
    can_act: bool  # the viewer manages the unit: edit, close and delete links
    can_record: bool  # ...and the report is of the unit's latest results: "Record an action" links


def may_act(viewer: Viewer, report: UnitReport) -> bool:
    """Whether the viewer manages the unit, or a unit above it, in the report's tree (the links'
    hint; the pages ask surveys.services.actions, on the current roster, again)."""
    if viewer.person is None or viewer.person.role != Role.MANAGER:
        return False
    return any(unit.unit_id in viewer.managed_ids for unit in report.lineage)


def report_actions(*, viewer: Viewer, report: UnitReport, visible: Collection[str], currency: str) -> ReportActions:
    """The unit's actions that had started by the cycle shown: one query, and three more (the
    organisation's cells, through the door) only when one of them has reached its check-back.
    ``visible``: the units of the report's lineage the viewer may open; the organisation's change
    is said only if it is one of them."""
    can_act = may_act(viewer, report)
    can_record = can_act and bool(report.cycles) and report.cycles[-1].pk == report.cycle.pk
    if report.unit.is_organisation:  # no action is recorded on the organisation itself
        return ReportActions([], [], 0, can_act, False)
    actions = list(
        Action.objects.filter(unit_id=uuid.UUID(report.unit.unit_id), started_cycle__month__lte=report.cycle.month)
        .select_related("owner", "started_cycle")
        .order_by("-created_at", "pk")
    )
    shown = report.cycle.month
    unit_cells_by: dict[str, dict[str, Any]] = {}
    for cell in report.history:
        unit_cells_by.setdefault(cell.metric, {})[cell.cycle] = cell
    due = [action for action in actions if action.check_back_month <= shown]
    organisation: dict[str, dict[str, Any]] | None = None
    if ORGANISATION_ID in visible:
        organisation = {}
        if due:
            since = min(action.started_cycle.month for action in due)
            metrics = sorted({action.metric for action in due})
            for cell in unit_cells(unit_id=ORGANISATION_ID, since=since, until=shown, metrics=metrics):
                organisation.setdefault(cell.metric, {})[cell.cycle] = cell
    cycles = [(cycle.label, cycle.month) for cycle in report.cycles]

    def row(action: Action) -> ActionRow:
        result = check_back(
            metric=action.metric,
            started=action.started_cycle.label,
            check_back_month=action.check_back_month,
            shown_month=shown,
            cycles=cycles,
            unit_cells=unit_cells_by.get(action.metric, {}),
            organisation_cells=organisation.get(action.metric, {}) if organisation is not None else None,
            currency=currency,
        )
        owner = action.owner.name if action.owner is not None else "no owner (they have left the roster)"
        return ActionRow(action, themes.label(action.metric), owner, result)

    open_rows = [row(action) for action in actions if action.is_open]
    closed = sorted((a for a in actions if not a.is_open), key=lambda a: a.closed_at or a.created_at, reverse=True)
    earlier = [row(action) for action in closed[:EARLIER_SHOWN]]
    return ReportActions(open_rows, earlier, max(0, len(closed) - EARLIER_SHOWN), can_act, can_record)
