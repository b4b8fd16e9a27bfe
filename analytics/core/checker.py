"""The run-time checker (ANONYMITY R15): everything the job is about to publish, checked before it
is stored, by code that does not share the decider's.

It reads only the cells about to be written and the raw counts and sums they came from, and it
may not import the decider (analytics.core.publication, analytics.core.disclosure, splits:
import-linter keeps it out), so a mistake there is not repeated here. What it checks:

- R11: no metric of a unit that is hidden on its respondents is published.
- R4, R5 per population: for every variable, the units where one of its figures is published
  have n >= k, and each one's respondents not covered by its nearest published descendants
  number 0 or >= k (2k for a third category of an item, 20 for the source mix). Counts, sums and
  sums of squares of one variable cover the same people, so a count residual of 0 or >= k is
  one for the sums too. Each published n must also be the true count.
- R12: a figure over everyone that is zero outside a sub-population is published only where
  that sub-population's own cell is.
- R13: a cell whose interval is not the one the organisation's SD gives (so it shows its own
  sum of squares) has n >= 30, and so does every residual among such cells.
- R14: figures determined by published ones are published exactly there; an item's published
  shares split it into two categories below 2k, never more; and for every hidden figure of a
  cell below 4k, the published figures of its item (n, mean, shares) leave more than one value,
  unless every answer fell in one bin (homogeneity, which k-anonymity cannot hide).

A finding names a unit, a metric and a rule, never a value: it goes to the log.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped]
from scipy import stats as scipy_stats  # type: ignore[import-untyped]

from analytics.core.catalogue import METRICS, RESPONSES, MetricSpec
from analytics.core.tree import UnitTree

OWN_SPREAD_N = 30
SOURCE_MIX_N = 20
ENUMERATE_BELOW_FACTOR = 4  # hidden figures of cells under 4k are checked by enumeration


@dataclass(frozen=True, order=True)
class Finding:
    unit: str
    metric: str
    rule: str


class PublicationRefused(RuntimeError):
    """The checker found something the job must not publish: the stage stops, nothing is stored.
    The message names units, metrics and rules only."""


# Metric families of one item, for R14: each metric's category set over the item's values.
# use1: 1 never .. 5 several times a day; trust1: 1..5; the quadrants: 0 Pilot, 1 high agency
# low optimism, 2 low agency high optimism, 3 low low (the Pilot ratio counts category 0).
_FAMILIES: dict[str, dict[str, frozenset[int]]] = {
    "use1": {
        "ai_user_share": frozenset({2, 3, 4, 5}),
        "use_never": frozenset({1}),
        "use_few_times": frozenset({2}),
        "use_weekly": frozenset({3}),
        "use_daily": frozenset({4}),
        "use_several_daily": frozenset({5}),
        "daily_use_share": frozenset({4, 5}),
    },
    "trust1": {"trust_share": frozenset({4, 5}), "distrust_share": frozenset({1, 2})},
    "quadrants": {
        "pilot_ratio": frozenset({0}),
        "mode_pilot": frozenset({0}),
        "mode_high_agency_low_optimism": frozenset({1}),
        "mode_low_agency_high_optimism": frozenset({2}),
        "mode_low_agency_low_optimism": frozenset({3}),
    },
}
_FAMILY_VALUES = {"use1": (1, 2, 3, 4, 5), "trust1": (1, 2, 3, 4, 5), "quadrants": (0, 1, 2, 3)}
_FAMILY_MEAN = {"trust1": "trust"}  # the family's mean metric, whose sum is published with it
# Bins in which "everyone answered alike" is homogeneity (the item's three-bin split for trust1).
_FAMILY_BINS = {"trust1": {1: 0, 2: 0, 3: 1, 4: 2, 5: 2}}
# R12: a figure over everyone that is zero outside a sub-population -> that sub-population's cell.
_ZERO_OUTSIDE_NEEDS = {
    "workslop_hours_per_respondent": "workslop_hours",
    "workslop_cost_per_respondent": "workslop_hours",
}


def publication_check(
    cells: pd.DataFrame,
    tree: UnitTree[str],
    *,
    direct_n: Mapping[str, Mapping[str, int]],
    distributions: pd.DataFrame,
    item_direct_n: Mapping[str, Mapping[str, int]],
    team_sums: pd.DataFrame,
    fixed_sd: Mapping[str, float],
    hourly_cost: float,
    k: int,
) -> list[Finding]:
    """Every finding over the cycle's cells (``cells``: the job's cell frame).

    ``direct_n[variable]`` counts each variable's answers sitting directly on each unit, with
    ``direct_n["responses"]`` the respondents; ``distributions`` the three-bin item rows about to
    be stored, with ``item_direct_n[item]`` each item's answers per unit; ``team_sums`` the
    teams' (variable, n|sum|sumsq) partials and ``fixed_sd`` the instrument's SDs, from which the
    SD a cell may use without showing its own is worked out (the organisation's from 30 answers,
    else the fixed one).
    """
    spread = _organisation_spread(team_sums, fixed_sd)
    published: dict[str, dict[str, tuple[float, float, float, float]]] = {}
    shown = cells[cells["published"]]
    for metric, unit, n, value, low, high in zip(
        shown["metric"], shown["unit_id"], shown["n"], shown["value"], shown["ci_low"], shown["ci_high"], strict=True
    ):
        published.setdefault(metric, {})[unit] = (float(n), _number(value), _number(low), _number(high))
    findings: list[Finding] = []
    on_respondents = set(published.get(RESPONSES, {}))
    counts = {variable: _subtree_sums(tree, direct) for variable, direct in direct_n.items()}

    for metric, units in published.items():
        findings.extend(Finding(unit, metric, "R11") for unit in units if unit not in on_respondents)

    by_spec = {spec.name: spec for spec in METRICS}
    threshold_sets: dict[tuple[str, int], set[str]] = {}
    for metric, units in published.items():
        spec = by_spec.get(metric)
        variable = RESPONSES if metric == RESPONSES else (spec.variable if spec else None)
        if variable is None or (spec is not None and spec.gate == "follows"):
            continue  # alpha: organisation only; determined figures are checked under R14
        for unit, (n, *_) in units.items():
            if int(n) != counts[variable][unit]:
                findings.append(Finding(unit, metric, "n"))
        threshold = k
        if spec is not None and spec.gate == "distribution":
            threshold = 2 * k
        elif spec is not None and spec.gate == "source_mix":
            threshold = SOURCE_MIX_N
        threshold_sets.setdefault((variable, k), set()).update(units)
        if threshold != k:
            threshold_sets.setdefault((variable, threshold), set()).update(units)
    for (variable, threshold), members in sorted(threshold_sets.items()):
        for unit in _small_regions(tree, counts[variable], members, threshold):
            findings.append(Finding(unit, variable, "R5" if counts[variable][unit] >= threshold else "R4"))

    for item, rows in distributions.groupby("item"):
        item_counts = _subtree_sums(tree, item_direct_n.get(str(item), {}))
        with_bins = set(rows["unit_id"])
        findings.extend(Finding(u, f"bins:{item}", "R11") for u in sorted(with_bins - on_respondents))
        for unit, *bins in rows[["unit_id", "unfavourable", "neutral", "favourable"]].itertuples(index=False):
            if sum(bins) != item_counts[unit]:
                findings.append(Finding(unit, f"bins:{item}", "n"))
        findings.extend(Finding(u, f"bins:{item}", "R5") for u in _small_regions(tree, item_counts, with_bins, 2 * k))

    for metric, needs in _ZERO_OUTSIDE_NEEDS.items():
        findings.extend(
            Finding(unit, metric, "R12") for unit in published.get(metric, {}) if unit not in published.get(needs, {})
        )

    findings.extend(_own_spread_findings(published, by_spec, tree, counts, spread, hourly_cost))
    findings.extend(_split_findings(published, by_spec, k))
    return sorted(set(findings))


def require_publishable(findings: Iterable[Finding]) -> None:
    """Raise :class:`PublicationRefused` if there is any finding; the message names no value."""
    found = sorted(set(findings))
    if found:
        listed = ", ".join(f"{f.unit} {f.metric} ({f.rule})" for f in found[:10])
        raise PublicationRefused(f"{len(found)} figure(s) would disclose a small group: {listed}")


def _organisation_spread(team_sums: pd.DataFrame, fixed_sd: Mapping[str, float]) -> dict[str, float]:
    spread = {}
    totals = team_sums.sum(axis=0) if not team_sums.empty else pd.Series(dtype="float64")
    for variable in {spec.variable for spec in METRICS}:
        n = float(totals.get((variable, "n"), 0.0))
        if n < OWN_SPREAD_N:
            spread[variable] = float(fixed_sd.get(variable, math.nan))
            continue
        total, total_sq = float(totals[(variable, "sum")]), float(totals[(variable, "sumsq")])
        spread[variable] = math.sqrt(max(0.0, (total_sq - total * total / n) / (n - 1)))
    return spread


# --- counts and residuals -----------------------------------------------------------------------


def _subtree_sums(tree: UnitTree[str], direct: Mapping[str, int]) -> dict[str, int]:
    """Each unit's count, by walking every direct count up its chain of ancestors."""
    totals = dict.fromkeys(tree.parents, 0)
    for unit, count in direct.items():
        node: str | None = unit
        while node is not None:
            totals[node] += int(count)
            node = tree.parents[node]
    return totals


def _small_regions(tree: UnitTree[str], counts: Mapping[str, int], units: set[str], threshold: int) -> list[str]:
    """Units of ``units`` with n below ``threshold``, or whose count minus that of their nearest
    descendants in ``units`` is strictly between 0 and ``threshold``."""
    residual = {unit: counts[unit] for unit in units}
    for unit in units:
        ancestor = tree.parents[unit]
        while ancestor is not None and ancestor not in units:
            ancestor = tree.parents[ancestor]
        if ancestor is not None:
            residual[ancestor] -= counts[unit]
    return sorted(u for u in units if counts[u] < threshold or 0 < residual[u] < threshold)


# --- R13 ------------------------------------------------------------------------------------------


def _own_spread_findings(
    published: Mapping[str, Mapping[str, tuple[float, float, float, float]]],
    by_spec: Mapping[str, MetricSpec],
    tree: UnitTree[str],
    counts: Mapping[str, Mapping[str, int]],
    spread: Mapping[str, float],
    hourly_cost: float,
) -> list[Finding]:
    own: dict[str, set[str]] = {}
    for metric, units in published.items():
        spec = by_spec.get(metric)
        if spec is None or spec.kind == "proportion":
            continue
        sd = spread.get(spec.variable, math.nan)
        for unit, (n, value, low, high) in units.items():
            if math.isnan(low) or n < 2:
                continue
            half = _half_width_on_variable_scale(spec.kind, value, low, high, hourly_cost)
            expected = _t_quantile(int(n)) * sd / math.sqrt(n)
            if not math.isclose(half, expected, rel_tol=1e-7, abs_tol=1e-9):
                own.setdefault(spec.variable, set()).add(unit)
    findings: list[Finding] = []
    for variable, own_units in sorted(own.items()):
        findings.extend(
            Finding(u, variable, "R13") for u in _small_regions(tree, counts[variable], own_units, OWN_SPREAD_N)
        )
    return findings


@lru_cache(maxsize=4096)
def _t_quantile(n: int) -> float:
    return float(scipy_stats.t.ppf(0.975, n - 1))


def _half_width_on_variable_scale(kind: str, value: float, low: float, high: float, hourly_cost: float) -> float:
    if kind == "geometric":
        return (math.log(high) - math.log(low)) / 2
    if kind == "mean_0_100":
        return (high - low) / 2 * 6 / 100
    if kind == "cost":
        return (high - low) / 2 / hourly_cost
    return (high - low) / 2


# --- R14 ------------------------------------------------------------------------------------------


def _split_findings(
    published: Mapping[str, Mapping[str, tuple[float, float, float, float]]],
    by_spec: Mapping[str, MetricSpec],
    k: int,
) -> list[Finding]:
    findings: list[Finding] = []
    for spec in METRICS:
        if spec.gate != "follows":
            continue
        determined = set.intersection(*(set(published.get(name, {})) for name in spec.follows))
        mine = set(published.get(spec.name, {}))
        findings.extend(Finding(u, spec.name, "R14") for u in mine - determined)  # shown, determinant hidden
        findings.extend(Finding(u, spec.name, "R14") for u in determined - mine)  # hidden, yet determined
    for family, members in _FAMILIES.items():
        mean_metric = _FAMILY_MEAN.get(family)
        units = {unit for metric in members for unit in published.get(metric, {})}
        for unit in sorted(units):
            shown = {m: published[m][unit] for m in members if unit in published.get(m, {})}
            n = int(next(iter(shown.values()))[0])
            distinct = {members[m] for m in shown}
            categories = len(_atoms(distinct, _FAMILY_VALUES[family]))
            if categories > 2 and n < 2 * k:
                findings.extend(Finding(unit, m, "R14") for m in shown)
                continue
            hidden = [m for m in members if m not in shown]
            if not hidden or n >= ENUMERATE_BELOW_FACTOR * k:
                continue
            total = None
            if mean_metric is not None and unit in published.get(mean_metric, {}):
                total = round(published[mean_metric][unit][1] * n)
            known = {members[m]: round(values[1] * n) for m, values in shown.items()}
            hidden_sets = tuple(members[m] for m in hidden)
            for position in _pinned(family, n, tuple(sorted(known.items(), key=str)), total, hidden_sets):
                findings.append(Finding(unit, hidden[position], "R14"))
    return findings


def _atoms(category_sets: set[frozenset[int]], values: tuple[int, ...]) -> set[tuple[bool, ...]]:
    """The categories that the published category sets tell apart (values with equal membership)."""
    ordered = sorted(category_sets, key=sorted)
    return {tuple(value in s for s in ordered) for value in values}


@lru_cache(maxsize=65536)
def _pinned(
    family: str,
    n: int,
    known: tuple[tuple[frozenset[int], int], ...],
    total: int | None,
    hidden_sets: tuple[frozenset[int], ...],
) -> tuple[int, ...]:
    """Positions in ``hidden_sets`` whose count is the same in every histogram the published
    figures (``known`` category-set counts, the item's sum ``total``) allow. Cached: in a large
    organisation many small teams publish the same figures."""
    values = _FAMILY_VALUES[family]
    table = _all_histograms(n, len(values))
    keep = np.ones(len(table), dtype=bool)
    for category_set, count in known:
        keep &= table[:, [values.index(v) for v in sorted(category_set)]].sum(axis=1) == count
    if total is not None:
        keep &= np.rint(table @ np.asarray(values, dtype=np.float64)) == total
    possible = table[keep]
    if len(possible) == 0:
        return ()
    bins = _FAMILY_BINS.get(family, {value: value for value in values})
    binned = {tuple(sum(int(row[values.index(v)]) for v in values if bins[v] == b) for b in sorted(set(bins.values())))
              for row in possible}  # fmt: skip
    if len(binned) == 1 and sum(1 for c in next(iter(binned)) if c) == 1:
        return ()  # everyone in one bin: homogeneity, which the mean alone already says
    pinned = []
    for position, category_set in enumerate(hidden_sets):
        columns = [values.index(v) for v in sorted(category_set)]
        if len(np.unique(possible[:, columns].sum(axis=1))) == 1:
            pinned.append(position)
    return tuple(pinned)


@lru_cache(maxsize=128)
def _all_histograms(n: int, categories: int) -> npt.NDArray[np.int64]:
    """Every histogram of n answers over ``categories`` values, by combinations (stars and bars)."""
    rows = []
    for bars in itertools.combinations(range(n + categories - 1), categories - 1):
        edges = (-1, *bars, n + categories - 1)
        rows.append([edges[i + 1] - edges[i] - 1 for i in range(categories)])
    return np.array(rows, dtype=np.int64).reshape(-1, categories)


def _number(value: object) -> float:
    return math.nan if value is None or pd.isna(value) else float(value)  # type: ignore[arg-type]
