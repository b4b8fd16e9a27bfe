"""Heatmaps (a unit's children × the key metrics), the organisation's trends and the instrument
health table, from published records only.

A heatmap cell is coloured by its difference from the organisation's published value for the
cycle, in three bands, each with a symbol and words too (colour is never the only carrier). The
band is a description of two published figures, never a test of a cell's own spread: a team
marked "above" is above the organisation's figure, not "significantly" so. Rows are sorted by
:func:`analytics.core.display.sort_units_for_display`: hidden cells last, by path, whatever
their value.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import pandas as pd  # type: ignore[import-untyped]
from django.urls import reverse

from analytics.core.display import sort_units_for_display
from analytics.core.tree import ORGANISATION
from analytics.published import HIDDEN_TEXT, PublishedCell, PublishedUnit, children_cells, unit_cells
from analytics.reports import charts, themes
from analytics.reports.figures import TrendRow
from surveys.models import Cycle

#: How far from the organisation a value must be to be drawn above or below it: half a point on
#: a 7- or 5-point scale, ten percentage points for a share.
BANDS = {"mean": 0.5, "proportion": 0.10}
ALPHA_LABELS = {"psych_safety": "Psychological safety", "agency": "Agency", "optimism": "Optimism"}
ALPHA_METRICS = tuple(f"alpha_{construct}" for construct in ALPHA_LABELS)


@dataclass(frozen=True)
class HeatCell:
    label: str  # the metric's, for the phone layout
    text: str
    band: str  # above, below, near, hidden, none
    symbol: str
    words: str


@dataclass(frozen=True)
class HeatRow:
    unit_id: str
    path: str
    name: str
    url: str
    cells: list[HeatCell]


@dataclass(frozen=True)
class Column:
    metric: str
    label: str
    sort_url: str
    sorted_as: str  # "", "ascending" or "descending": aria-sort


@dataclass(frozen=True)
class HeatTable:
    columns: list[Column]
    rows: list[HeatRow]
    organisation: list[HeatCell]  # the organisation's values, the reference of the colours


def _band(metric: str, value: float | None, organisation: float | None) -> tuple[str, str, str]:
    if value is None:
        return "none", "", "no value"
    if organisation is None:
        return "near", "●", "no organisation figure to compare"
    width = BANDS.get(themes.kind(metric))
    if width is None:
        return "near", "●", ""
    difference = value - organisation
    if difference >= width:
        return "above", "▲", "above the organisation"
    if difference <= -width:
        return "below", "▼", "below the organisation"
    return "near", "●", "near the organisation"


def heatmap_table(*, cycle: Cycle, unit: PublishedUnit, sort: str, descending: bool) -> HeatTable:
    metrics = list(themes.HEATMAP_METRICS)
    cells = children_cells(cycle=cycle, unit_id=unit.unit_id, metrics=metrics)
    organisation_cells = {
        cell.metric: cell
        for cell in unit_cells(unit_id=ORGANISATION, since=cycle.month, until=cycle.month, metrics=metrics)
    }
    reference = {metric: (cell.value if not cell.suppressed else None) for metric, cell in organisation_cells.items()}
    by_unit: dict[str, dict[str, PublishedCell]] = {}
    names: dict[str, str] = {}
    for cell in cells:
        by_unit.setdefault(cell.unit_id, {})[cell.metric] = cell
        names[cell.unit_id] = cell.unit_path
    sort_metric = sort if sort in metrics else ""
    order = list(by_unit)
    if sort_metric:
        frame = pd.DataFrame(
            {
                "unit": order,
                "path": [names[u] for u in order],
                "published": [not by_unit[u].get(sort_metric, _missing()).suppressed for u in order],
                "value": [_value(by_unit[u].get(sort_metric)) for u in order],
            }
        )
        order = sort_units_for_display(frame, "value", descending=descending)["unit"].tolist()
    base = reverse("reports:heatmap", kwargs={"unit_id": unit.unit_id})
    columns = [
        Column(
            metric,
            themes.label(metric),
            f"{base}?cycle={cycle.label}&sort={metric}&dir={'asc' if sort_metric == metric and descending else 'desc'}",
            ("descending" if descending else "ascending") if sort_metric == metric else "",
        )
        for metric in metrics
    ]
    rows = []
    for unit_id in order:
        row_cells = []
        for metric in metrics:
            shown = by_unit[unit_id].get(metric)
            if shown is None or shown.suppressed:
                row_cells.append(HeatCell(themes.label(metric), HIDDEN_TEXT if shown else "–", "hidden", "", ""))
                continue
            band, symbol, words = _band(metric, shown.value, reference.get(metric))
            row_cells.append(HeatCell(themes.label(metric), themes.fmt(metric, shown.value), band, symbol, words))
        path = names[unit_id]
        rows.append(
            HeatRow(
                unit_id,
                path,
                path.rsplit("/", 1)[-1],
                f"{reverse('reports:unit', kwargs={'unit_id': unit_id})}?cycle={cycle.label}",
                row_cells,
            )
        )
    organisation = [
        HeatCell(
            themes.label(metric),
            themes.fmt(metric, reference.get(metric)) if reference.get(metric) is not None else HIDDEN_TEXT,
            "reference",
            "",
            "",
        )
        for metric in metrics
    ]
    return HeatTable(columns, rows, organisation)


def _missing() -> PublishedCell:
    return PublishedCell("", 0, "", "", "", "", "", None, None, None, None, True, HIDDEN_TEXT)


def _value(cell: PublishedCell | None) -> float | None:
    return None if cell is None or cell.suppressed else cell.value


@dataclass(frozen=True)
class Trend:
    metric: str
    label: str
    chart: object
    rows: list[TrendRow]


def organisation_trends(cells: list[PublishedCell]) -> list[Trend]:
    trends = []
    for metric in themes.TREND_METRICS:
        series = [cell for cell in cells if cell.metric == metric]
        points = [
            charts.Point(c.cycle, *((c.value, c.ci_low, c.ci_high) if not c.suppressed else (None, None, None)))
            for c in series
        ]
        bounds = themes.scale(metric)
        label = themes.label(metric)
        chart = charts.trend_chart(
            points=points,
            lo=bounds[0] if bounds else None,
            hi=bounds[1] if bounds else None,
            text=f"The organisation's {label.lower()} over {len(points)} cycles; values in the table below.",
            fmt=partial(themes.fmt, metric),
        )
        rows = [
            TrendRow(
                c.cycle,
                HIDDEN_TEXT if c.suppressed else themes.fmt(metric, c.value),
                ""
                if c.suppressed or c.ci_low is None or c.ci_high is None
                else f"{themes.fmt(metric, c.ci_low)} to {themes.fmt(metric, c.ci_high)}",
            )
            for c in series
        ]
        trends.append(Trend(metric, label, chart, rows))
    return trends


@dataclass(frozen=True)
class AlphaRow:
    cycle: str
    values: list[str]
    warnings: list[bool]


def alpha_rows(cells: list[PublishedCell]) -> list[AlphaRow]:
    """One row per cycle: each construct's alpha, its complete cases, and whether it is below 0.7."""
    by_cycle: dict[str, dict[str, PublishedCell]] = {}
    for cell in cells:
        by_cycle.setdefault(cell.cycle, {})[cell.metric] = cell
    rows = []
    for cycle in sorted(by_cycle, reverse=True):
        values, warnings = [], []
        for metric in ALPHA_METRICS:
            alpha = by_cycle[cycle].get(metric)
            if alpha is None:
                values.append("–")
                warnings.append(False)
            elif alpha.suppressed:
                values.append(HIDDEN_TEXT)
                warnings.append(False)
            elif alpha.value is None or alpha.value != alpha.value:  # NaN: too few complete answers
                values.append(f"not shown: {alpha.why_empty or 'too few complete answers'}")
                warnings.append(False)
            else:
                values.append(f"{alpha.value:.2f} (n = {alpha.n}, {alpha.alpha_items} items)")
                warnings.append(bool(alpha.alpha_warn))
        rows.append(AlphaRow(cycle, values, warnings))
    return rows
