"""The metric catalogue (PRODUCT.md, "Metrics per unit").

Each metric is computed from one per-respondent variable (analytics.core.scoring), so each has its
own n, and disclosure is decided per variable: metrics sharing a variable share the decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["mean", "proportion", "geometric", "mean_0_100", "cost"]
Gate = Literal["k", "distribution", "source_mix", "follows", "split"]
#: Whose answers a metric aggregates (ANONYMITY R11), named beside its n in reports.
Population = Literal["respondents", "ai_users", "receivers"]
POPULATION_LABELS: dict[str, str] = {
    "respondents": "respondents",
    "ai_users": "AI users",
    "receivers": "people who received workslop",
}


@dataclass(frozen=True)
class MetricSpec:
    """One published figure: the variable it aggregates, how, and when it may be shown.

    Gates (every one among the units published on their respondents, R11, and on the metric's
    own counts, R4 and R5):
    - k: n >= k.
    - distribution: also n >= 2k with R5 at 2k: a third category of an item (R14: three or more
      categories are a distribution).
    - source_mix: also n >= 20 with R5 at 20 (ws3: at team level "people I manage" would point at
      the manager).
    - follows: published exactly where the metrics in ``follows`` are, because those determine it
      (use "never" is one minus the AI-user share): R14 never marks a determined figure hidden,
      and never shows it where what determines it is hidden.
    - split: k, unless this share and the item's mean pin the item's three-bin split (R14).
    """

    name: str
    variable: str
    kind: Kind
    label: str
    population: Population = "respondents"
    gate: Gate = "k"
    follows: tuple[str, ...] = ()


def _mode(name: str, label: str) -> MetricSpec:
    # The four quadrants are one four-way split of the classified AI users: a distribution (2k).
    return MetricSpec(f"mode_{name}", f"mode_{name}", "proportion", label, "ai_users", "distribution")


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("psych_safety", "psych_safety", "mean", "Psychological safety (1\u20137)"),
    MetricSpec("psych_safety_favourable", "psych_safety_favourable", "proportion", "Psychological safety, favourable"),
    MetricSpec("psych_safety_0_100", "psych_safety", "mean_0_100", "Psychological safety (0\u2013100)"),
    MetricSpec("pilot_ratio", "pilot", "proportion", "Pilot ratio (Pilots / AI users)", "ai_users"),
    # The Pilot quadrant's share is the Pilot ratio itself.
    MetricSpec(
        "mode_pilot",
        "mode_pilot",
        "proportion",
        "Pilots: high agency, high optimism",
        "ai_users",
        "follows",
        ("pilot_ratio",),
    ),  # fmt: skip
    _mode("high_agency_low_optimism", "High agency, low optimism"),
    _mode("low_agency_high_optimism", "Low agency, high optimism"),
    _mode("low_agency_low_optimism", "Low agency, low optimism"),
    MetricSpec("ai_user_share", "ai_user", "proportion", "AI users among respondents"),
    # Pilots / (non-users + classified AI users): the Pilot ratio's count over the AI-user share's
    # non-users and the ratio's n, so exactly where both are published.
    MetricSpec(
        "pilot_share_of_respondents",
        "pilot_of_all",
        "proportion",
        "Pilots among all respondents",
        gate="follows",
        follows=("pilot_ratio", "ai_user_share"),
    ),  # fmt: skip
    MetricSpec("workslop_prevalence", "workslop_received", "proportion", "Received workslop at least once"),
    # R12: hours are zero for everyone who received none, so a mean over everyone is the
    # receivers' total; per receiver it is gated on the receivers' own count.
    MetricSpec(
        "workslop_hours", "workslop_hours", "mean", "Hours lost to workslop per person who received it", "receivers"
    ),  # fmt: skip
    MetricSpec("workslop_cost", "workslop_hours", "cost", "Workslop cost per person who received it", "receivers"),
    # Per respondent: the receivers' hours over everyone, determined by the per-receiver cell and
    # the prevalence, so published exactly where both are (the receivers then number k or more).
    MetricSpec(
        "workslop_hours_per_respondent",
        "workslop_hours_all",
        "mean",
        "Hours lost to workslop per respondent",
        gate="follows",
        follows=("workslop_hours", "workslop_prevalence"),
    ),  # fmt: skip
    MetricSpec(
        "workslop_cost_per_respondent",
        "workslop_hours_all",
        "cost",
        "Workslop cost per respondent",
        gate="follows",
        follows=("workslop_hours", "workslop_prevalence"),
    ),  # fmt: skip
    *(
        MetricSpec(f"workslop_from_{source}", f"workslop_from_{source}", "proportion", label, "receivers", "source_mix")
        for source, label in (
            ("teammates", "Workslop from teammates"),
            ("leaders", "Workslop from manager or leaders"),
            ("other_teams", "Workslop from other teams"),
            ("reports", "Workslop from people they manage"),
        )
    ),
    MetricSpec("trust", "trust", "mean", "Trust in AI output (1\u20135)", "ai_users"),
    MetricSpec("trust_share", "trust_favourable", "proportion", "Trust AI output", "ai_users", "split"),
    # With the trust share, the distrust share splits trust1 into three bins: a distribution (2k).
    MetricSpec("distrust_share", "distrust", "proportion", "Distrust AI output", "ai_users", "distribution"),
    MetricSpec("voice", "voice", "mean", "Safe to say AI made work worse (1\u20137)"),
    MetricSpec("pressure", "pressure", "mean", "Pressure to use AI (1\u20137)"),
    MetricSpec("manager_modelling", "manager_modelling", "mean", "Manager models AI use (1\u20137)"),
    MetricSpec("time_ratio", "log_time_ratio", "geometric", "Perceived time ratio (with AI / without)", "ai_users"),
    MetricSpec("hours_saved", "hours_saved", "mean", "Hours a week AI saved", "ai_users"),
    # "Never" is one minus the AI-user share: the same two-way split.
    MetricSpec("use_never", "use_never", "proportion", "Use: never", gate="follows", follows=("ai_user_share",)),
    # With the AI-user share, the daily share splits use1 into three bins: a distribution (2k).
    MetricSpec("daily_use_share", "daily_use", "proportion", "Use AI daily or more", gate="distribution"),
    *(
        MetricSpec(f"use_{level}", f"use_{level}", "proportion", f"Use: {level.replace('_', ' ')}", gate="distribution")
        for level in ("few_times", "weekly", "daily", "several_daily")
    ),
)
METRICS_BY_NAME = {spec.name: spec for spec in METRICS}
RESPONSES = "responses"  # n = respondents, value = response rate (%), published as the others
DISCLOSURE_VARIABLES = sorted({spec.variable for spec in METRICS})
