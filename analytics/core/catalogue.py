"""The metric catalogue (PRODUCT.md, "Metrics per unit").

Each metric is computed from one per-respondent variable (analytics.core.scoring), so each has its
own n, and disclosure is decided per variable: metrics sharing a variable share the decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["mean", "proportion", "geometric", "mean_0_100", "cost"]
Gate = Literal["k", "distribution", "source_mix", "pilot"]


@dataclass(frozen=True)
class MetricSpec:
    name: str
    variable: str
    kind: Kind
    label: str
    # k: published at n >= k (after R5); distribution: also needs n >= 2k (a share of a category
    # is a bin of a distribution); source_mix: also needs n >= 20 (ws3: at team level "people I
    # manage" would point at the manager); pilot: also only where the Pilot ratio itself is
    # published (Pilots among respondents, divided by the AI-user count, would give a hidden ratio).
    gate: Gate = "k"


def _mode(name: str, label: str) -> MetricSpec:
    return MetricSpec(f"mode_{name}", f"mode_{name}", "proportion", label)


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("psych_safety", "psych_safety", "mean", "Psychological safety (1\u20137)"),
    MetricSpec("psych_safety_favourable", "psych_safety_favourable", "proportion", "Psychological safety, favourable"),
    MetricSpec("psych_safety_0_100", "psych_safety", "mean_0_100", "Psychological safety (0\u2013100)"),
    MetricSpec("pilot_ratio", "pilot", "proportion", "Pilot ratio (Pilots / AI users)"),
    _mode("pilot", "Pilots: high agency, high optimism"),
    _mode("high_agency_low_optimism", "High agency, low optimism"),
    _mode("low_agency_high_optimism", "Low agency, high optimism"),
    _mode("low_agency_low_optimism", "Low agency, low optimism"),
    MetricSpec("ai_user_share", "ai_user", "proportion", "AI users among respondents"),
    MetricSpec("pilot_share_of_respondents", "pilot_of_all", "proportion", "Pilots among all respondents", "pilot"),
    MetricSpec("workslop_prevalence", "workslop_received", "proportion", "Received workslop at least once"),
    MetricSpec("workslop_hours", "workslop_hours", "mean", "Hours lost to workslop per person per month"),
    MetricSpec("workslop_cost", "workslop_hours", "cost", "Workslop cost per person per month"),
    *(
        MetricSpec(f"workslop_from_{source}", f"workslop_from_{source}", "proportion", label, gate="source_mix")
        for source, label in (
            ("teammates", "Workslop from teammates"),
            ("leaders", "Workslop from manager or leaders"),
            ("other_teams", "Workslop from other teams"),
            ("reports", "Workslop from people they manage"),
        )
    ),
    MetricSpec("trust", "trust", "mean", "Trust in AI output (1\u20135)"),
    MetricSpec("trust_share", "trust_favourable", "proportion", "Trust AI output"),
    # With the trust share, the distrust share splits trust1 into three bins: a distribution (2k).
    MetricSpec("distrust_share", "distrust", "proportion", "Distrust AI output", "distribution"),
    MetricSpec("voice", "voice", "mean", "Safe to say AI made work worse (1\u20137)"),
    MetricSpec("pressure", "pressure", "mean", "Pressure to use AI (1\u20137)"),
    MetricSpec("manager_modelling", "manager_modelling", "mean", "Manager models AI use (1\u20137)"),
    MetricSpec("time_ratio", "log_time_ratio", "geometric", "Perceived time ratio (with AI / without)"),
    MetricSpec("hours_saved", "hours_saved", "mean", "Hours a week AI saved"),
    # With the AI-user share, the daily share splits use1 into three bins: a distribution (2k).
    MetricSpec("daily_use_share", "daily_use", "proportion", "Use AI daily or more", "distribution"),
    *(
        MetricSpec(f"use_{level}", f"use_{level}", "proportion", f"Use: {level.replace('_', ' ')}", "distribution")
        for level in ("never", "few_times", "weekly", "daily", "several_daily")
    ),
)
METRICS_BY_NAME = {spec.name: spec for spec in METRICS}
RESPONSES = "responses"  # n = respondents, value = response rate (%), published as the others
DISCLOSURE_VARIABLES = sorted({spec.variable for spec in METRICS})
