"""What a cycle publishes: every metric's cells decided together, once, for the whole tree.

The order is ANONYMITY's:
1. R4 and R5 on each unit's respondents. A unit hidden there is hidden for every metric (R11).
2. R4 and R5 on every population's own counts (AI users, workslop receivers, those who
   answered an item) among the units left, nearest published descendants included (R11).
3. Each metric's gate (analytics.core.catalogue): a third category of an item at 2k with R5 at
   2k, the source mix at 20, figures that others determine exactly where those are, and a share
   that with its item's mean would pin the item's three-bin split hidden (R14).
4. Intervals (R13): a cell's own spread only where n >= 30 and R5 holds at 30 among such cells;
   every other cell's interval comes from the organisation's SD for that metric and cycle (or the
   instrument's fixed SD when the organisation has fewer than 30 answers), so it says nothing
   about the cell beyond its mean and n.
Pure: no Django. analytics.core.cells computes the published values from these decisions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from analytics.core.catalogue import METRICS, MetricSpec
from analytics.core.disclosure import (
    DISTRIBUTION_FACTOR,
    SOURCE_MIX_MIN_N,
    Decision,
    decide_population,
    decide_publication,
    published_units,
    restrict_publication,
)
from analytics.core.scoring import Scoring
from analytics.core.splits import mean_and_share_pin_the_bins
from analytics.core.tree import ORGANISATION, UnitTree

#: R13: below this many answers a cell's own standard deviation is not shown (nor is it used).
OWN_SPREAD_MIN_N = 30

# Per-respondent workslop hours use their own spread only where the receivers do (R13).
_SPREAD_ALSO_NEEDS = {"workslop_hours_all": "workslop_hours"}


@dataclass(frozen=True)
class Publication:
    """The cycle's decisions. ``respondents`` decides each unit on its respondents; ``variables``
    each population's cells; ``metrics`` the units each metric is published for; ``own_spread``
    the units whose intervals may use their own SD; ``spread`` the SD every other published
    cell's interval uses, per variable."""

    respondents: dict[str, Decision]
    variables: dict[str, dict[str, Decision]]
    metrics: dict[str, frozenset[str]]
    own_spread: dict[str, frozenset[str]]
    spread: dict[str, float]

    def hidden_because(self, spec: MetricSpec, unit: str) -> str:
        """Internal audit of why a cell is hidden ("" when published); never shown to anyone."""
        if unit in self.metrics[spec.name]:
            return ""
        return self.variables[spec.variable][unit].reason or "gate"


def publication_decide(
    tree: UnitTree[str],
    *,
    respondents: Mapping[str, int],
    direct_n: Mapping[str, Mapping[str, int]],
    rolled: pd.DataFrame,
    scoring: Scoring,
    k: int,
    invited: Mapping[str, int] | None = None,
) -> Publication:
    """Decisions for every metric of the catalogue.

    ``respondents``: respondents sitting directly on each unit; ``direct_n[variable]``: the same
    for each variable's own answers; ``rolled``: every unit's (variable, n|sum|sumsq) sums;
    ``invited``: people invited directly on each unit, void invitations included.

    With ``invited``, the respondents are decided inside the structure R4 and R5 give the invited
    head counts (analytics.core.participation decides the live figures inside the same one): a
    unit hidden on head counts is hidden whoever answered. Without it, a department head alone on
    Engineering would hide Engineering's smallest team exactly when the head answered, which
    shows whether they did; and the closed figures could cut the tree differently from the last
    live snapshot, so that one minus the other isolates someone.
    """
    if not invited:
        on_respondents = decide_publication(tree, respondents, k=k)
    else:
        # Nobody answers without an invitation; a count that says otherwise (a tally from before
        # voids were counted) is raised to the respondents, so structure never hides more than it must.
        heads = {unit: max(int(invited.get(unit, 0)), int(count)) for unit, count in respondents.items()}
        structure = decide_publication(tree, heads, k=k)
        on_respondents = decide_population(tree, respondents, structure, k=k)
    variables = {
        variable: decide_population(tree, counts, on_respondents, k=k) for variable, counts in direct_n.items()
    }
    metrics: dict[str, frozenset[str]] = {}
    gated: dict[tuple[str, str], frozenset[str]] = {}
    for spec in METRICS:
        if spec.gate == "follows":
            continue
        shown = published_units(variables[spec.variable])
        if spec.gate in ("distribution", "source_mix"):
            threshold = DISTRIBUTION_FACTOR * k if spec.gate == "distribution" else SOURCE_MIX_MIN_N
            key = (spec.variable, spec.gate)
            if key not in gated:
                gated[key] = restrict_publication(tree, direct_n[spec.variable], shown, threshold=threshold)
            shown = gated[key]
        metrics[spec.name] = frozenset(shown)
    for spec in METRICS:
        if spec.gate == "split":  # after the item's third category is decided
            metrics[spec.name] = _without_pinning_shares(spec, metrics, rolled, scoring)
    for spec in METRICS:
        if spec.gate == "follows":
            metrics[spec.name] = frozenset.intersection(*(metrics[name] for name in spec.follows))
    own_spread = {
        variable: restrict_publication(tree, direct_n[variable], published_units(decided), threshold=OWN_SPREAD_MIN_N)
        for variable, decided in variables.items()
    }
    for variable, also in _SPREAD_ALSO_NEEDS.items():
        own_spread[variable] = own_spread[variable] & own_spread[also]
    return Publication(
        respondents=on_respondents,
        variables=variables,
        metrics=metrics,
        own_spread=own_spread,
        spread={variable: organisation_spread(rolled, variable, scoring) for variable in direct_n},
    )


def organisation_spread(rolled: pd.DataFrame, variable: str, scoring: Scoring) -> float:
    """R13: the whole organisation's sample SD of the variable this cycle, never a pooled
    within-unit SD (with teams of 40, 35 and 6, the pooled sum of squares minus the two big
    teams' gives the six's); the instrument's fixed SD below 30 answers organisation-wide.
    NaN for a variable without either (a share: its interval depends on its value and n only)."""
    fixed = scoring.fixed_sd.get(variable, math.nan)
    if rolled.empty or ORGANISATION not in rolled.index or (variable, "n") not in rolled.columns:
        return fixed
    n, total, total_sq = (float(rolled.loc[ORGANISATION, (variable, stat)]) for stat in ("n", "sum", "sumsq"))
    if n < OWN_SPREAD_MIN_N:
        return fixed
    return math.sqrt(max(0.0, (total_sq - total * total / n) / (n - 1)))


def _without_pinning_shares(
    spec: MetricSpec, metrics: Mapping[str, frozenset[str]], rolled: pd.DataFrame, scoring: Scoring
) -> frozenset[str]:
    """R14 for a share above an item's midpoint (the trust share): wherever the item's third
    category (the distrust share) is hidden, below 2k or by R5 at 2k, and the share and the
    item's mean together leave one possible three-bin split, the share is withheld and the mean
    alone is published."""
    item, mean_variable, third = _SPLIT_ITEMS[spec.variable]
    scale_max = scoring.scale_max[item]
    shown = metrics[spec.name]
    undecided = sorted(shown - metrics[third])
    sums = rolled.reindex(undecided)
    n = sums[(spec.variable, "n")].to_numpy(dtype=float)
    means_total = sums[(mean_variable, "sum")].to_numpy(dtype=float)
    above = sums[(spec.variable, "sum")].to_numpy(dtype=float)
    pinned = {
        unit
        for position, unit in enumerate(undecided)
        if mean_and_share_pin_the_bins(
            int(n[position]), float(means_total[position]), round(float(above[position])), scale_max
        )
    }
    return shown - pinned


# A share's variable -> (its item, the variable of that item's mean, the item's third category).
_SPLIT_ITEMS = {"trust_favourable": ("trust1", "trust", "distrust_share")}
