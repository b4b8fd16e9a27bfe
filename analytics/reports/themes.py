"""How a report groups, names and formats the metrics, and the research reference points shown
beside them (PRODUCT.md: context, never targets or flags: our items and cut-offs differ)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from analytics.core.catalogue import METRICS_BY_NAME, POPULATION_LABELS, RESPONSES


@dataclass(frozen=True)
class Theme:
    key: str
    title: str
    metrics: tuple[str, ...]


THEMES: tuple[Theme, ...] = (
    Theme("safety", "Psychological safety", ("psych_safety", "psych_safety_favourable", "psych_safety_0_100")),
    Theme(
        "mode",
        "AI usage mode: Pilot or Passenger",
        (
            "pilot_ratio",
            "ai_user_share",
            "pilot_share_of_respondents",
            "mode_pilot",
            "mode_high_agency_low_optimism",
            "mode_low_agency_high_optimism",
            "mode_low_agency_low_optimism",
        ),
    ),
    Theme(
        "workslop",
        "Workslop received",
        (
            "workslop_prevalence",
            "workslop_hours",
            "workslop_cost",
            "workslop_hours_per_respondent",
            "workslop_cost_per_respondent",
            "workslop_from_teammates",
            "workslop_from_other_teams",
            "workslop_from_reports",
            "workslop_from_leaders",
        ),
    ),
    Theme("trust", "Trust and voice", ("trust", "trust_share", "distrust_share", "voice", "pressure")),
    Theme("speed", "Perceived speed", ("time_ratio", "hours_saved")),
    Theme("manager", "Manager modelling", ("manager_modelling",)),
    Theme(
        "use",
        "Use frequency",
        ("use_never", "use_few_times", "use_weekly", "use_daily", "use_several_daily", "daily_use_share"),
    ),
)

#: The few metrics a heatmap shows side by side, and the organisation's trend lines.
HEATMAP_METRICS: tuple[str, ...] = (
    "psych_safety",
    "pilot_ratio",
    "ai_user_share",
    "workslop_prevalence",
    "trust",
    "pressure",
)
TREND_METRICS: tuple[str, ...] = ("pilot_ratio", "psych_safety")


@dataclass(frozen=True)
class Reference:
    value: float
    text: str
    source: str


REFERENCES: dict[str, Reference] = {
    "pilot_ratio": Reference(0.28, "28% Pilots", "BetterUp Labs, 12,000+ workers (2025)"),
    "workslop_prevalence": Reference(
        0.40, "40% received workslop last month", "BetterUp Labs and Stanford Social Media Lab, HBR (2025)"
    ),
    "trust_share": Reference(0.33, "33% trust AI accuracy", "Stack Overflow Developer Survey (2025)"),
    "distrust_share": Reference(0.46, "46% distrust AI accuracy", "Stack Overflow Developer Survey (2025)"),
}
METR_CAUTION = (
    "In a randomised trial, experienced developers felt 20% less time with AI and were measured "
    "taking 19% more (METR, 2025). Feeling is not measurement."
)

#: Scale bounds for drawing a mean's interval (the item's scale); shares are drawn on 0–1.
SCALES: dict[str, tuple[float, float]] = {
    "psych_safety": (1, 7),
    "voice": (1, 7),
    "pressure": (1, 7),
    "manager_modelling": (1, 7),
    "trust": (1, 5),
    "psych_safety_0_100": (0, 100),
}


def label(metric: str) -> str:
    if metric == RESPONSES:
        return "Response rate"
    spec = METRICS_BY_NAME.get(metric)
    return spec.label if spec else metric.replace("_", " ")


def population(metric: str) -> str:
    spec = METRICS_BY_NAME.get(metric)
    return POPULATION_LABELS[spec.population] if spec else "respondents"


def kind(metric: str) -> str:
    if metric == RESPONSES:
        return "rate"
    spec = METRICS_BY_NAME.get(metric)
    return spec.kind if spec else "mean"


def is_share(metric: str) -> bool:
    return kind(metric) == "proportion"


def fmt(metric: str, value: float | None, *, currency: str = "EUR", signed: bool = False) -> str:
    """A value as the report writes it: shares in percent, means to two decimals, hours and cost
    as such, the time ratio as a ratio (its words are given separately). A difference that
    rounds to nothing is written without a sign ("0 points", never "-0 points")."""
    text = _fmt(metric, value, currency=currency, signed=signed)
    if text.startswith("-") and not any(digit in text for digit in "123456789"):
        return text[1:]
    return text


def _fmt(metric: str, value: float | None, *, currency: str, signed: bool) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    sign = "+" if signed and value > 0 else ""
    match kind(metric):
        case "proportion":
            return f"{sign}{value * 100:.0f}%" if not signed else f"{sign}{value * 100:.0f} points"
        case "rate":
            return f"{sign}{value:.0f}%" if not signed else f"{sign}{value:.0f} points"
        case "cost":
            return f"{sign}{value:,.0f} {currency}"
        case "geometric":
            return f"{sign}{value:.2f}×" if not signed else f"{sign}{value:.2f}"
        case "mean_0_100":
            return f"{sign}{value:.0f}"
    if metric.startswith("workslop_hours") or metric == "hours_saved":
        return f"{sign}{value:.1f} h"
    return f"{sign}{value:.2f}"


def scale(metric: str) -> tuple[float, float] | None:
    """The axis a single value is drawn on, or None where there is no fixed scale (hours, cost)."""
    if is_share(metric):
        return (0.0, 1.0)
    return SCALES.get(metric)
