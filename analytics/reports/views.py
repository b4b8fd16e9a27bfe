"""The report pages. Views parse the request, ask the door (analytics.published) and
analytics.reports.access, and render; the figures are built in analytics.reports.figures and
analytics.reports.heatmap, a unit's actions and their check-backs in analytics.reports.actions_views
(the action pages live there too, and HR's counts of them in analytics.reports.actions_overview)."""

from __future__ import annotations

import dataclasses
import functools
import re
import uuid
from collections.abc import Callable, Sequence

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from analytics.core.catalogue import RESPONSES
from analytics.published import (
    ORGANISATION_ID,
    PublishedUnit,
    UnitReport,
    aggregated_cycles,
    listed_comments,
    organisation_flags,
    unit_cells,
    unit_report,
    units_cells,
    units_under,
)
from analytics.reports import figures, heatmap, themes
from analytics.reports.access import (
    Viewer,
    lineage_allowed,
    own_lineage_ids,
    unit_visible,
    viewer_of,
    visible_in_lineage,
)
from analytics.reports.actions_views import report_actions
from surveys.models import Cycle

MONTH = re.compile(r"^[1-9]\d{3}-(0[1-9]|1[0-2])$")


def _month(request: HttpRequest) -> str | None:
    """The ?cycle=YYYY-MM asked for; a malformed one is treated as not found (404)."""
    month = request.GET.get("cycle") or None
    if month is not None and not MONTH.match(month):
        raise Http404("cycle: use YYYY-MM, e.g. 2026-11")
    return month


class NoResultsYet(Exception):
    """No cycle has been released: the start pages say so instead of "not found"."""


def _no_results(request: HttpRequest) -> HttpResponse:
    return render(request, "analytics/reports/no_results.html")


def released(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Before the first cycle is released, a page that would show results says so (200) instead
    of "not found": it tells nobody anything about any unit."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NoResultsYet:
            return _no_results(request)

    return wrapper


def _served_cycle(month: str | None) -> Cycle:
    cycles = aggregated_cycles()
    if not cycles:
        raise NoResultsYet
    if month is None:
        return cycles[-1]
    for cycle in cycles:
        if cycle.label == month:
            return cycle
    raise Http404("no released results for that cycle")


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Each role lands on its own page."""
    viewer = viewer_of(request)
    if viewer.sees_reports and not aggregated_cycles():
        return _no_results(request)
    match viewer.role:
        case "hr":
            return redirect("reports:overview")
        case "manager":
            return redirect("reports:my_teams")
        case "engineer" if viewer.own_team_id is not None:
            return redirect("reports:unit", unit_id=viewer.own_team_id)
        case "operator":
            return render(request, "analytics/reports/operator.html")
    return redirect("pulse_status")


def _unit_page_context(request: HttpRequest, viewer: Viewer, unit_id: uuid.UUID) -> dict[str, object]:
    month = _month(request)
    own_ids: dict[int, frozenset[str]] = {}  # cycle id -> the viewer's own lineage, read at most once

    def own(cycle: Cycle) -> frozenset[str]:
        if cycle.pk not in own_ids:
            own_ids[cycle.pk] = own_lineage_ids(viewer, cycle=cycle)
        return own_ids[cycle.pk]

    def allowed(cycle: Cycle, lineage: tuple[PublishedUnit, ...]) -> bool:
        # HR and a viewer's own team need no lookup; a unit managed from above neither. Anything
        # else (a unit that is not there included) reads the viewer's own lineage in the cycle.
        if viewer.is_hr or (lineage and lineage[0].unit_id == viewer.own_team_id):
            return True
        if _lineage_managed(viewer, lineage):
            return True
        return lineage_allowed(viewer, lineage, own_ids=own(cycle))

    report = unit_report(unit_id=unit_id, month=month, allowed=allowed)
    if report is None:
        if not aggregated_cycles():
            raise NoResultsYet
        raise Http404("no such unit")
    # The parent's and the organisation's figures and links only for those who may open them.
    if viewer.is_hr:
        visible = {unit.unit_id for unit in report.lineage}
    elif report.unit.unit_id == viewer.own_team_id:
        visible = {unit.unit_id for unit in report.lineage}  # the own team's lineage itself
    else:
        visible = _visible_above(viewer, report, own)
    beside = tuple(cell for cell in report.beside if cell.unit_id in visible)
    report = dataclasses.replace(report, beside=beside)
    currency = viewer.currency
    actions = report_actions(viewer=viewer, report=report, visible=visible, currency=currency)
    context: dict[str, object] = {
        "report": report,
        "unit": report.unit,
        "ancestors": [(unit, unit.unit_id in visible) for unit in reversed(report.lineage[1:])],
        "responses": figures.response_row(report, currency=currency),
        "always_hidden": figures.always_hidden(report),
        "nearest_published": _nearest_published_above(report, visible),
        "flags": [flag for flag in report.flags if flag.severity == "flag"],
        "watching": [flag for flag in report.flags if flag.severity == "watch"],
        "themes": figures.theme_blocks(report, currency=currency),
        "distributions": report.distributions,
        "k": report.cycle.k,
        "is_own_team": str(unit_id) == viewer.own_team_id,
        "viewer": viewer,
        "actions": actions,
    }
    return context


def _visible_above(viewer: Viewer, report: UnitReport, own: Callable[[Cycle], frozenset[str]]) -> set[str]:
    """The units of the report's lineage the viewer may open; the own lineage is read only if a
    unit above is not covered by what they manage."""
    lineage = report.lineage
    managed = {unit.unit_id for index, unit in enumerate(lineage) if _lineage_managed(viewer, lineage[index:])}
    if len(managed) == len(lineage):
        return managed
    return managed | visible_in_lineage(viewer, lineage, own_ids=own(report.cycle))


def _lineage_managed(viewer: Viewer, lineage: Sequence[PublishedUnit]) -> bool:
    return any(unit.unit_id in viewer.managed_ids for unit in lineage)


def _nearest_published_above(report: UnitReport, visible: set[str]) -> PublishedUnit | None:
    """For a unit hidden in every cycle: the nearest unit above it that the viewer may open whose
    respondents are published in the cycle shown (from the cells beside), else the organisation
    (which R5 never hides) if they may open it."""
    published = {cell.unit_id for cell in report.beside if cell.metric == RESPONSES and not cell.suppressed}
    above = [unit for unit in report.lineage[1:] if unit.unit_id in visible]
    for unit in above:
        if unit.unit_id in published:
            return unit
    return above[-1] if above and above[-1].is_organisation else None


@login_required
@require_GET
@released
def unit(request: HttpRequest, unit_id: uuid.UUID) -> HttpResponse:
    viewer = viewer_of(request)
    if not viewer.sees_reports:
        raise Http404("no such unit")
    return render(request, "analytics/reports/unit.html", _unit_page_context(request, viewer, unit_id))


@login_required
@require_GET
@released
def unit_heatmap(request: HttpRequest, unit_id: uuid.UUID) -> HttpResponse:
    viewer = viewer_of(request)
    cycle = _served_cycle(_month(request))
    lineage = unit_visible(viewer, cycle=cycle, unit_id=unit_id)
    if lineage is None or not (viewer.is_hr or _lineage_managed(viewer, lineage)):
        raise Http404("no such unit")
    table = heatmap.heatmap_table(
        cycle=cycle, unit=lineage[0], sort=request.GET.get("sort", ""), descending=request.GET.get("dir") == "desc"
    )
    context = {"cycle": cycle, "cycles": aggregated_cycles(), "unit": lineage[0], "table": table, "k": cycle.k}
    return render(request, "analytics/reports/heatmap.html", context)


@login_required
@require_GET
@released
def overview(request: HttpRequest) -> HttpResponse:
    """HR's start page: the organisation's departments side by side, its trends, and the flags."""
    viewer = viewer_of(request)
    if not viewer.is_hr:
        raise Http404("no such page")
    cycle = _served_cycle(_month(request))
    lineage = unit_visible(viewer, cycle=cycle, unit_id=ORGANISATION_ID)
    if lineage is None:
        raise Http404("no released results")
    table = heatmap.heatmap_table(
        cycle=cycle, unit=lineage[0], sort=request.GET.get("sort", ""), descending=request.GET.get("dir") == "desc"
    )
    trends = heatmap.organisation_trends(unit_cells(unit_id=ORGANISATION_ID, metrics=list(themes.TREND_METRICS)))
    context = {
        "cycle": cycle,
        "cycles": aggregated_cycles(),
        "unit": lineage[0],
        "table": table,
        "trends": trends,
        "flags": organisation_flags(cycle=cycle),
        "k": cycle.k,
    }
    return render(request, "analytics/reports/overview.html", context)


@login_required
@require_GET
@released
def my_teams(request: HttpRequest) -> HttpResponse:
    """A manager's start page: every unit they manage, sub-teams included, each with its
    response rate and flags (flags only: "worth watching" is in each unit's own report)."""
    viewer = viewer_of(request)
    if not viewer.is_manager:
        raise Http404("no such page")
    cycle = _served_cycle(_month(request))
    units = units_under(cycle=cycle, roots=sorted(viewer.managed_ids))
    ids = {unit.unit_id for unit in units}
    rates = {cell.unit_id: cell for cell in units_cells(cycle=cycle, unit_ids=ids, metrics=[RESPONSES])}
    flags_by_unit: dict[str, list[object]] = {}
    for flag in organisation_flags(cycle=cycle):
        if flag.unit_id in ids:
            flags_by_unit.setdefault(flag.unit_id, []).append(flag)
    rows = [
        {
            "unit": unit,
            "rate": rates.get(unit.unit_id),
            "flags": flags_by_unit.get(unit.unit_id, []),
            "has_children": any(other.parent_id == unit.unit_id for other in units),
        }
        for unit in units
    ]
    context = {"cycle": cycle, "cycles": aggregated_cycles(), "rows": rows, "k": cycle.k, "viewer": viewer}
    return render(request, "analytics/reports/my_teams.html", context)


@login_required
@require_GET
@released
def comments(request: HttpRequest) -> HttpResponse:
    """Comments listed at the units the viewer may see (R7: one level each, shuffled at release,
    no dates): an engineer's own team, a manager's units, HR all."""
    viewer = viewer_of(request)
    if not viewer.sees_reports:
        raise Http404("no such page")
    cycle = _served_cycle(_month(request))
    if viewer.is_hr:
        listed_at = [unit.unit_id for unit in units_under(cycle=cycle, roots=[ORGANISATION_ID])]
    else:
        listed_at = [unit.unit_id for unit in units_under(cycle=cycle, roots=sorted(viewer.managed_ids))]
        if viewer.own_team_id is not None:
            listed_at.append(viewer.own_team_id)
    context = {
        "cycle": cycle,
        "cycles": aggregated_cycles(),
        "comments": listed_comments(cycle=cycle, unit_ids=listed_at),
        "k": cycle.k,
    }
    return render(request, "analytics/reports/comments.html", context)


@login_required
@require_GET
def instrument_health(request: HttpRequest) -> HttpResponse:
    """Cronbach's alpha per construct per cycle (organisation level), warning below 0.7."""
    viewer = viewer_of(request)
    if not viewer.is_hr:
        raise Http404("no such page")
    rows = heatmap.alpha_rows(unit_cells(unit_id=ORGANISATION_ID, metrics=list(heatmap.ALPHA_METRICS)))
    return render(request, "analytics/reports/health.html", {"rows": rows, "constructs": heatmap.ALPHA_LABELS})


def report_url(unit_id: str, cycle: str | None = None) -> str:
    url = reverse("reports:unit", kwargs={"unit_id": unit_id})
    return f"{url}?cycle={cycle}" if cycle else url
