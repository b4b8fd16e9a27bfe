"""A cycle's numbers, in memory: partials per team, then cells for every unit with disclosure.

No database here: the aggregation job reads the answers, calls these functions and writes the
result. `partials_compute` (analytics.core.partials) runs on any subset of teams (one Celery task
per top-level unit); `Partials.merge` adds them; `cells_compute` turns the merged partials into
the cycle's cells, as analytics.core.publication decides.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analytics.core.catalogue import DISCLOSURE_VARIABLES, METRICS, RESPONSES, MetricSpec
from analytics.core.disclosure import Decision, decide_population, distribution_units
from analytics.core.partials import Partials, roll_up, roll_up_long
from analytics.core.publication import Publication, publication_decide
from analytics.core.scoring import Scoring
from analytics.core.tree import ORGANISATION, UnitTree
from analytics.stats.estimates import (
    mean_intervals_from_sums,
    mean_intervals_known_sd,
    time_ratio_in_words,
    wilson_intervals,
)
from analytics.stats.reliability import ALPHA_WARN_BELOW, MIN_COMPLETE_CASES, organisation_alphas
from analytics.stats.shrinkage import beta_binomial_shrinkage

RELIABILITY_PREFIX = "alpha_"  # metric name of a construct's organisation-wide Cronbach's alpha
CELL_COLUMNS = ["unit_id", "metric", "published", "hidden_because", "n", "value", "ci_low", "ci_high", "total",
                "total_sq", "extra"]  # fmt: skip


@dataclass
class CycleCells:
    cells: pd.DataFrame
    distributions: pd.DataFrame  # unit_id, item, unfavourable, neutral, favourable
    histograms: pd.DataFrame  # unit_id, variable, counts
    decisions: dict[str, dict[str, Decision]] = field(default_factory=dict)


def series_dict(series: pd.Series) -> dict[Any, Any]:
    """A Series as {index: value}, through tolist(): Series.to_dict() walks an Arrow-backed
    string index one boxed element at a time, which costs a microsecond a unit, 47 times a cycle."""
    return dict(zip(series.index.tolist(), series.tolist(), strict=True))


def _direct_counts(tree: UnitTree[str], direct_n: Mapping[str, int]) -> dict[str, int]:
    return {unit: int(direct_n.get(unit, 0)) for unit in tree.parents}


def cells_compute(
    partials: Partials,
    tree: UnitTree[str],
    *,
    scoring: Scoring,
    invited: Mapping[str, int],
    k: int,
    hourly_cost: float,
) -> CycleCells:
    """Every (unit, metric) cell of the cycle, published or hidden, decided once for the tree
    (analytics.core.publication)."""
    variables = partials.variables
    rolled = roll_up(variables, tree) if not variables.empty else variables
    direct_n = {
        variable: _direct_counts(
            tree, series_dict(variables[(variable, "n")]) if (variable, "n") in variables.columns else {}
        )
        for variable in DISCLOSURE_VARIABLES
    }
    publication = publication_decide(
        tree,
        respondents=_direct_counts(tree, series_dict(partials.respondents)),
        direct_n=direct_n,
        rolled=rolled,
        scoring=scoring,
        k=k,
        invited=_direct_counts(tree, dict(invited)),
    )
    frames = [_metric_cells(spec, rolled, tree, publication, hourly_cost) for spec in METRICS]
    frames.append(pd.DataFrame(_response_rate_cells(tree, publication.respondents, invited), columns=CELL_COLUMNS))
    frames.append(
        pd.DataFrame(
            _reliability_cells(partials, scoring, publication.respondents[ORGANISATION], k), columns=CELL_COLUMNS
        )
    )
    cells = pd.concat(frames, ignore_index=True)
    _add_pilot_shrinkage(cells, tree)
    return CycleCells(
        cells=cells,
        distributions=_distributions(partials, tree, publication, k),
        histograms=_histograms(partials, tree, publication.own_spread),
        decisions={**publication.variables, RESPONSES: publication.respondents},
    )


MEAN_KINDS = frozenset({"mean", "geometric", "mean_0_100", "cost"})


def estimates(
    spec: MetricSpec,
    n: np.ndarray,
    total: np.ndarray,
    total_sq: np.ndarray,
    *,
    own_spread: np.ndarray,
    spread: float,
    hourly_cost: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Value and 95% interval of one metric for many units, from its variable's sums.

    A share's Wilson interval depends on its value and n only. A mean's interval uses the cell's
    own spread only where ``own_spread`` says so (R13); elsewhere the organisation's SD
    ``spread``, so that it tells nothing about the cell beyond its mean and n.
    """
    if spec.kind == "proportion":
        return wilson_intervals(np.round(total), n)
    own_value, own_low, own_high = mean_intervals_from_sums(n, total, total_sq)
    _, small_low, small_high = mean_intervals_known_sd(n, total, spread)
    value = own_value
    low, high = np.where(own_spread, own_low, small_low), np.where(own_spread, own_high, small_high)
    if spec.kind == "mean":
        return value, low, high
    if spec.kind == "geometric":  # the variable is log r: exp of the mean of logs and its interval
        return np.exp(value), np.exp(low), np.exp(high)
    if spec.kind == "mean_0_100":
        return tuple(100 * (x - 1) / 6 for x in (value, low, high))  # type: ignore[return-value]
    if spec.kind == "cost":
        return value * hourly_cost, low * hourly_cost, high * hourly_cost
    raise ValueError(f"unknown metric kind {spec.kind!r}")


def _metric_cells(
    spec: MetricSpec, rolled: pd.DataFrame, tree: UnitTree[str], publication: Publication, hourly_cost: float
) -> pd.DataFrame:
    """One metric's cells for every unit, computed column-wise (10,000 teams stay fast)."""
    units = list(tree.ordered)
    shown = publication.metrics[spec.name]
    published = np.fromiter((unit in shown for unit in units), dtype=bool, count=len(units))
    frame = pd.DataFrame({"unit_id": units, "metric": spec.name, "published": published})
    frame["hidden_because"] = [publication.hidden_because(spec, unit) for unit in units]
    # Hidden cells are never computed at all: their sums stay in this function's locals only.
    shown_units = [u for u, is_shown in zip(units, published, strict=True) if is_shown]
    columns = [(spec.variable, stat) for stat in ("n", "sum", "sumsq")]
    if shown_units and not rolled.empty:
        sums = rolled.reindex(shown_units)[columns].fillna(0.0).to_numpy()
    else:
        sums = np.zeros((len(shown_units), 3))
    n, total, total_sq = sums[:, 0], sums[:, 1], sums[:, 2]
    own = publication.own_spread[spec.variable]
    own_spread = np.fromiter((unit in own for unit in shown_units), dtype=bool, count=len(shown_units))
    value, low, high = estimates(
        spec, n, total, total_sq, own_spread=own_spread, spread=publication.spread[spec.variable],
        hourly_cost=hourly_cost,
    )  # fmt: skip
    # R13: a sum of squares is stored only where the cell may show its own spread; with the mean
    # and n it would pin a small cell's answers, and flags test such cells on their means alone.
    kept_sq = np.where(own_spread, total_sq, np.nan)
    for column, data in (("n", n), ("value", value), ("ci_low", low), ("ci_high", high), ("total", total),
                         ("total_sq", kept_sq)):  # fmt: skip
        full = np.full(len(units), np.nan)
        full[published] = data
        frame[column] = full
    frame["n"] = frame["n"].astype("Int64")
    extras: list[dict[str, Any]] = [{} for _ in units]
    if spec.kind in MEAN_KINDS:
        # Said in reports beside the interval: whose spread it was computed from.
        spreads = iter(own_spread.tolist())
        for position in np.flatnonzero(published).tolist():
            extras[position] = {"interval": "own_sd" if next(spreads) else "organisation_sd"}
    if spec.name == "time_ratio":
        for position in np.flatnonzero(published).tolist():
            extras[position]["in_words"] = time_ratio_in_words(float(frame["value"].iloc[position]))
    frame["extra"] = extras
    return frame[CELL_COLUMNS]


def _hidden(unit: str, metric: str, decision: Decision) -> dict[str, Any]:
    because = decision.reason or "gate"  # published for its n, but below this metric's own gate
    return {"unit_id": unit, "metric": metric, "published": False, "hidden_because": because, "n": None,
            "value": None, "ci_low": None, "ci_high": None, "total": None, "total_sq": None, "extra": {}}  # fmt: skip


def _published(
    unit: str, metric: str, n: int, value: float, low: float, high: float, total: float, total_sq: float,
    extra: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    def clean(x: float) -> float | None:
        return None if x is None or math.isnan(x) else float(x)

    return {"unit_id": unit, "metric": metric, "published": True, "hidden_because": "", "n": n,
            "value": clean(value), "ci_low": clean(low), "ci_high": clean(high), "total": total,
            "total_sq": clean(total_sq), "extra": extra}  # fmt: skip


def _reliability_cells(partials: Partials, scoring: Scoring, organisation: Decision, k: int) -> list[dict[str, Any]]:
    """Cronbach's alpha per construct, organisation level only (PRODUCT: instrument health).

    n is the number of complete cases; value is None under 30 of them (too unstable to show).
    R4 holds for n itself: fewer than k complete cases (few AI users answer the agency items)
    publish no count, even though the organisation's other cells are published.
    """
    rows = []
    for construct, (n, alpha) in organisation_alphas(partials.reliability, scoring).items():
        metric = f"{RELIABILITY_PREFIX}{construct}"
        if not organisation.published:
            rows.append(_hidden(ORGANISATION, metric, organisation))
            continue
        if n < k:
            rows.append(_hidden(ORGANISATION, metric, Decision(published=False, n=n, reason="below_threshold")))
            continue
        extra: dict[str, Any] = {"items": len(scoring.constructs[construct])}
        extra["warn"] = alpha is not None and alpha < ALPHA_WARN_BELOW
        if alpha is None:
            extra["why_empty"] = f"needs {MIN_COMPLETE_CASES} complete answers"
        value = math.nan if alpha is None else alpha
        rows.append(_published(ORGANISATION, metric, n, value, math.nan, math.nan, math.nan, math.nan, extra))
    return rows


def _response_rate_cells(
    tree: UnitTree[str], decisions: Mapping[str, Decision], invited: Mapping[str, int]
) -> list[dict[str, Any]]:
    """n = respondents; value = response rate in % of those invited (shown only where n >= k)."""
    invited_frame = pd.DataFrame({"invited": pd.Series(invited, dtype="int64")})
    invited_rolled = roll_up(invited_frame, tree)["invited"] if not invited_frame.empty else pd.Series(dtype="int64")
    rows = []
    for unit, decision in decisions.items():
        if not decision.published:
            rows.append(_hidden(unit, RESPONSES, decision))
            continue
        answered = decision.n
        invited_n = int(invited_rolled.get(unit, 0))
        rate = 100.0 * answered / invited_n if invited_n else math.nan
        extra = {"invited": invited_n, "low_response": bool(invited_n and rate < 50)}
        rows.append(_published(unit, RESPONSES, answered, rate, math.nan, math.nan, answered, math.nan, extra))
    return rows


def _add_pilot_shrinkage(cells: pd.DataFrame, tree: UnitTree[str]) -> None:
    """Empirical-Bayes Pilot ratio, shrunk toward the organisation: the prior is fitted on the
    published team-level cells only (R4: hidden cells feed no derived output)."""
    mask = (cells["metric"] == "pilot_ratio") & cells["published"]
    if not mask.any():
        return
    leaves = cells.loc[mask, "unit_id"].map(tree.is_team)
    fit = cells.loc[mask][leaves.to_numpy()]
    if len(fit) < 2:
        return
    prior = beta_binomial_shrinkage(fit["total"].round().to_numpy(), fit["n"].to_numpy())
    shrunk = (cells.loc[mask, "total"] + prior.alpha) / (cells.loc[mask, "n"].astype(float) + prior.alpha + prior.beta)
    cells.loc[mask, "extra"] = [
        {**extra, "shrunk": float(s)} for extra, s in zip(cells.loc[mask, "extra"], shrunk, strict=True)
    ]


def _distributions(partials: Partials, tree: UnitTree[str], publication: Publication, k: int) -> pd.DataFrame:
    """Three-bin item distributions where the item's own n passes R4/R5 among the units published
    on their respondents (R11) and reaches 2k with R5 at 2k (R14: three bins are a distribution)."""
    columns = ["unit_id", "item", "unfavourable", "neutral", "favourable"]
    if partials.bins.empty:
        return pd.DataFrame(columns=columns)
    rolled = roll_up_long(partials.bins, tree, ["item", "bin"])
    table = rolled.pivot_table(index=["unit_id", "item"], columns="bin", values="count", fill_value=0)
    table = table.reindex(columns=["unfavourable", "neutral", "favourable"], fill_value=0).reset_index()
    direct = partials.bins.groupby(["item", "team_id"])["count"].sum()
    allowed: set[tuple[str, str]] = set()
    for item in table["item"].unique():
        counts = _direct_counts(tree, series_dict(direct.loc[item]))
        decisions = decide_population(tree, counts, publication.respondents, k=k)
        allowed.update((unit, item) for unit in distribution_units(tree, counts, decisions, k=k))
    keep = pd.MultiIndex.from_arrays([table["unit_id"], table["item"]]).isin(list(allowed))
    return table[keep][columns].reset_index(drop=True)


def _histograms(partials: Partials, tree: UnitTree[str], own_spread: Mapping[str, frozenset[str]]) -> pd.DataFrame:
    """Score histograms ([[value, count], ...]) of own-spread cells, for later permutation shift
    tests. Only those (ANONYMITY R13): a histogram is the cell's answers, and a small cell's are
    tested on its published mean and n alone, so nothing needs them."""
    columns = ["unit_id", "variable", "counts"]
    if partials.histograms.empty:
        return pd.DataFrame(columns=columns)
    rolled = roll_up_long(partials.histograms, tree, ["variable", "value"])
    empty: frozenset[str] = frozenset()
    shown = np.fromiter(
        (
            unit in own_spread.get(variable, empty)
            for unit, variable in zip(rolled["unit_id"].tolist(), rolled["variable"].tolist(), strict=True)
        ),
        dtype=bool,
        count=len(rolled),
    )
    rolled = rolled[shown].sort_values(["unit_id", "variable", "value"], ignore_index=True)
    if rolled.empty:
        return pd.DataFrame(columns=columns)
    # One pass over sorted rows: a new (unit, variable) starts wherever either key changes.
    units, variables = rolled["unit_id"].to_numpy(), rolled["variable"].to_numpy()
    starts = np.flatnonzero(np.r_[True, (units[1:] != units[:-1]) | (variables[1:] != variables[:-1])])
    values = rolled["value"].astype(float).tolist()
    counts = rolled["count"].astype(int).tolist()
    bounds = [*starts.tolist(), len(rolled)]
    return pd.DataFrame(
        {
            "unit_id": units[starts],
            "variable": variables[starts],
            "counts": [
                [[values[i], counts[i]] for i in range(begin, end)]
                for begin, end in zip(bounds, bounds[1:], strict=False)
            ],
        },
        columns=columns,
    )
