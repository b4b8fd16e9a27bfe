"""A unit report as the page shows it: every figure a published record or a named function of
published records (so R15's checker has seen everything a viewer sees).

The functions of records used here, and only these:
- a metric's value, interval, n and population: the cell as published;
- the change since the previous cycle: the difference of the two published values, with an
  interval whose half-width is √(a² + b²) from the two published half-widths (a and b). That
  treats the months as independent samples; the same people answer both, which makes the true
  interval narrower, so this one is conservative. The difference is never itself called a change:
  where a flag or a "worth watching" result on the metric exists, the page points to it (the
  tests behind them look at six cycles, or the latest against the three before); otherwise it
  says "no clear change";
- the trend: the published values over the cycles, hidden cycles left as gaps;
- a distribution's three shares: the published bins divided by their sum.
Counts, totals and n are never differenced.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache, partial

from django.utils.safestring import SafeString

from analytics.core.catalogue import RESPONSES
from analytics.published import HIDDEN_TEXT, PublishedCell, PublishedFlag
from analytics.published.report import UnitReport
from analytics.reports import charts, themes
from surveys.models import InstrumentVersion


@dataclass(frozen=True)
class Beside:
    path: str
    text: str  # the value, or the hidden text


@dataclass(frozen=True)
class TrendRow:
    cycle: str
    text: str
    interval: str


@dataclass
class MetricRow:
    metric: str
    label: str
    population: str
    hidden: bool
    hidden_text: str = ""
    value_text: str = ""
    interval_text: str = ""
    n: int | None = None
    bar: SafeString | None = None
    extra: list[str] = field(default_factory=list)  # shrunk estimate, time ratio in words
    beside: list[Beside] = field(default_factory=list)
    change: str = ""
    reference: themes.Reference | None = None
    trend: SafeString | None = None
    trend_rows: list[TrendRow] = field(default_factory=list)


@dataclass(frozen=True)
class ItemRow:
    key: str
    text: str
    unfavourable: str
    neutral: str
    favourable: str
    n: int


@dataclass
class ThemeBlock:
    key: str
    title: str
    rows: list[MetricRow]
    note: str = ""
    items: list[ItemRow] = field(default_factory=list)


#: Which theme shows which item's three-bin distribution (by the item key's prefix).
ITEM_THEMES = {"ps": "safety", "ag": "mode", "op": "mode", "trust": "trust", "voice": "trust", "press": "trust",
               "mgr": "manager"}  # fmt: skip


@lru_cache(maxsize=8)
def item_texts(instrument_version_id: int) -> dict[str, str]:
    """Item key -> its text, once per process and instrument version (a version never changes)."""
    version = InstrumentVersion.objects.get(pk=instrument_version_id)
    return {item.key: item.text for item in version.instrument.items}


def _item_theme(key: str) -> str:
    prefix = key.rstrip("0123456789")
    return ITEM_THEMES.get(prefix, "")


def hidden_text(k: int) -> str:
    return f"{HIDDEN_TEXT} (fewer than {k} people, or a figure that would reveal them)"


def _interval(metric: str, cell: PublishedCell, currency: str) -> str:
    if cell.ci_low is None or cell.ci_high is None:
        return ""
    low = themes.fmt(metric, cell.ci_low, currency=currency)
    high = themes.fmt(metric, cell.ci_high, currency=currency)
    return f"95% interval {low} to {high}"


def _change(
    metric: str, now: PublishedCell, before: PublishedCell | None, flags: list[PublishedFlag], currency: str
) -> str:
    if before is None or before.suppressed or before.value is None or now.value is None:
        return ""
    difference = now.value - before.value
    text = f"{themes.fmt(metric, difference, currency=currency, signed=True)} since {before.cycle}"
    halves = [
        (cell.ci_high - cell.ci_low) / 2
        for cell in (now, before)
        if cell.ci_low is not None and cell.ci_high is not None
    ]
    if len(halves) == 2:
        half = math.sqrt(halves[0] ** 2 + halves[1] ** 2)
        low = themes.fmt(metric, difference - half, currency=currency, signed=True)
        high = themes.fmt(metric, difference + half, currency=currency, signed=True)
        text += f" (95% interval {low} to {high})"
    # One month's difference is not the test: a flag tests the trend over six cycles or the latest
    # cycle against the three before, so the difference is never itself called a change.
    said = [flag for flag in flags if flag.metric == metric]
    if any(flag.severity == "flag" for flag in said):
        return f"{text}. The flag above is the evidence of a change, not this one difference."
    if said:
        return f"{text}. Worth watching (see above), not yet a clear change."
    return f"{text}: no clear change."


def history_by_metric(report: UnitReport) -> dict[str, dict[str, PublishedCell]]:
    """metric -> cycle -> the unit's cell, indexed once for all of a report's rows."""
    index: dict[str, dict[str, PublishedCell]] = {}
    for cell in report.history:
        index.setdefault(cell.metric, {})[cell.cycle] = cell
    return index


def metric_row(
    metric: str,
    report: UnitReport,
    *,
    flags: list[PublishedFlag],
    currency: str,
    history: dict[str, dict[str, PublishedCell]] | None = None,
) -> MetricRow | None:
    """None where the cycle has no cell of the metric (not asked, or not part of this unit)."""
    by_cycle = (history if history is not None else history_by_metric(report)).get(metric, {})
    now = by_cycle.get(report.cycle.label)
    if now is None:
        return None
    row = MetricRow(metric, themes.label(metric), themes.population(metric), now.suppressed)
    if now.suppressed or now.value is None:
        row.hidden = True
        row.hidden_text = hidden_text(now.k) if now.suppressed else (now.why_empty or "no answers to this")
    else:
        row.value_text = themes.fmt(metric, now.value, currency=currency)
        row.interval_text = _interval(metric, now, currency)
        row.n = now.n
        row.reference = themes.REFERENCES.get(metric)
        bounds = themes.scale(metric)
        if bounds is not None:
            description = f"{row.label}: {row.value_text}" + (f", {row.interval_text}" if row.interval_text else "")
            row.bar = charts.range_bar(
                value=now.value,
                low=now.ci_low,
                high=now.ci_high,
                lo=bounds[0],
                hi=bounds[1],
                reference=row.reference.value if row.reference else None,
                text=description,
            )
        if now.shrunk is not None:
            row.extra.append(f"Shrunk toward the organisation (small teams swing): {themes.fmt(metric, now.shrunk)}")
        if now.in_words:
            row.extra.append(f"In words: {now.in_words}.")
        previous = report.previous
        row.change = _change(metric, now, by_cycle.get(previous.label) if previous else None, flags, currency)
    for other in report.beside:
        if other.metric == metric:
            text = hidden_text(other.k) if other.suppressed else themes.fmt(metric, other.value, currency=currency)
            row.beside.append(Beside(other.unit_path, text))
    points = [
        charts.Point(
            cycle.label,
            *(
                (by_cycle[cycle.label].value, by_cycle[cycle.label].ci_low, by_cycle[cycle.label].ci_high)
                if cycle.label in by_cycle and not by_cycle[cycle.label].suppressed
                else (None, None, None)
            ),
        )
        for cycle in report.cycles
    ]
    bounds = themes.scale(metric)
    row.trend = charts.trend_chart(
        points=points,
        lo=bounds[0] if bounds else None,
        hi=bounds[1] if bounds else None,
        text=f"{row.label} over {len(points)} cycles; the values are in the table below the chart.",
        fmt=partial(themes.fmt, metric, currency=currency),
    )
    if row.trend is not None:
        for point in points:
            if (cell := by_cycle.get(point.label)) is None:
                continue
            if cell.suppressed or cell.value is None:
                row.trend_rows.append(TrendRow(point.label, HIDDEN_TEXT if cell.suppressed else "–", ""))
            else:
                row.trend_rows.append(
                    TrendRow(
                        point.label,
                        themes.fmt(metric, cell.value, currency=currency),
                        _interval(metric, cell, currency),
                    )
                )
    return row


def theme_blocks(report: UnitReport, *, currency: str) -> list[ThemeBlock]:
    flags = list(report.flags)
    texts = item_texts(report.cycle.instrument_version_id) if report.distributions else {}
    history = history_by_metric(report)
    blocks = []
    for theme in themes.THEMES:
        rows = [
            row
            for metric in theme.metrics
            if (row := metric_row(metric, report, flags=flags, currency=currency, history=history))
        ]
        if not rows:
            continue
        note = themes.METR_CAUTION if theme.key == "speed" else ""
        items = [
            ItemRow(
                d.item,
                texts.get(d.item, d.item),
                f"{d.unfavourable:.0%}",
                f"{d.neutral:.0%}",
                f"{d.favourable:.0%}",
                d.n,
            )
            for d in report.distributions
            if _item_theme(d.item) == theme.key
        ]
        blocks.append(ThemeBlock(theme.key, theme.title, rows, note, items))
    return blocks


def response_row(report: UnitReport, *, currency: str) -> MetricRow | None:
    return metric_row(RESPONSES, report, flags=[], currency=currency)


def always_hidden(report: UnitReport) -> bool:
    """True when the unit's respondents were hidden in every served cycle that holds it."""
    responses = [cell for cell in report.history if cell.metric == RESPONSES]
    return bool(responses) and all(cell.suppressed for cell in responses)
