"""A cycle's numbers, in memory: partials per team, then cells for every unit with disclosure.

No database here: the aggregation job reads the answers, calls these functions and writes the
result. `partials_compute` runs on any subset of teams (one Celery task per top-level unit);
`Partials.merge` adds them; `cells_compute` turns the merged partials into the cycle's cells.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analytics.disclosure import (
    Decision,
    decide_publication,
    distribution_units,
    published_units,
    restrict_publication,
    source_mix_units,
)
from analytics.metrics import (
    DISCLOSURE_VARIABLES,
    DISTRIBUTION_ITEMS,
    METRICS,
    RESPONSES,
    UNFAVOURABLE_WHEN_HIGH,
    MetricSpec,
    estimates,
)
from analytics.reliability import (
    ALPHA_WARN_BELOW,
    CONSTRUCT_ITEMS,
    MIN_COMPLETE_CASES,
    organisation_alphas,
    reliability_partials,
)
from analytics.respondents import NUMERIC_VARIABLES, answers_wide, respondent_variables
from analytics.rollup import ORGANISATION, OrgTree, item_bin_partials, roll_up, roll_up_long, value_counts_partials
from analytics.stats import beta_binomial_shrinkage, time_ratio_in_words

# Per-respondent scores kept as value histograms of published cells, for later shift tests.
HISTOGRAM_VARIABLES = ("psych_safety", "pressure")
RELIABILITY_PREFIX = "alpha_"  # metric name of a construct's organisation-wide Cronbach's alpha
CELL_COLUMNS = ["unit_id", "metric", "published", "hidden_because", "n", "value", "ci_low", "ci_high", "total",
                "total_sq", "extra"]  # fmt: skip


@dataclass
class Partials:
    """Mergeable sums per team: everything the cycle's cells are built from."""

    variables: pd.DataFrame  # index team_id; columns (variable, n|sum|sumsq)
    histograms: pd.DataFrame  # team_id, variable, value, count
    bins: pd.DataFrame  # team_id, item, bin, count
    respondents: pd.Series  # team_id -> number of responses
    # team_id x (construct, stat): complete-case sums for Cronbach's alpha (analytics.reliability)
    reliability: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(index=pd.Index([], name="team_id")))

    @classmethod
    def merge(cls, parts: Iterable[Partials]) -> Partials:
        parts = list(parts)
        variables = pd.concat([p.variables for p in parts]).groupby(level=0).sum()
        histograms = pd.concat([p.histograms for p in parts], ignore_index=True)
        histograms = histograms.groupby(["team_id", "variable", "value"], as_index=False)["count"].sum()
        bins = pd.concat([p.bins for p in parts], ignore_index=True)
        bins = bins.groupby(["team_id", "item", "bin"], as_index=False)["count"].sum()
        respondents = pd.concat([p.respondents for p in parts]).groupby(level=0).sum()
        reliability = pd.concat([p.reliability for p in parts]).fillna(0.0).groupby(level=0).sum()
        return cls(
            variables=variables, histograms=histograms, bins=bins, respondents=respondents, reliability=reliability
        ).canonical()

    def canonical(self) -> Partials:
        """Rows sorted by their keys, so one process and a merge of fan-out parts hand identical
        frames to cells_compute: float sums then add up in the same order, to the same bits."""
        variables = self.variables.sort_index().sort_index(axis=1)
        variables.index.name = "team_id"
        # JSON carries the counts as floats; counts stay whole numbers everywhere.
        counts = [column for column in variables.columns if column[1] == "n"]
        variables[counts] = variables[counts].astype("int64")
        return Partials(
            variables=variables,
            histograms=self.histograms.sort_values(["team_id", "variable", "value"], ignore_index=True),
            bins=self.bins.sort_values(["team_id", "item", "bin"], ignore_index=True),
            respondents=self.respondents.sort_index().rename_axis("team_id").astype("int64"),
            reliability=self.reliability.sort_index().sort_index(axis=1).rename_axis("team_id"),
        )

    def to_json(self) -> dict[str, Any]:
        """Plain lists for Celery's JSON serializer (no pickle between workers)."""
        return {
            "variables": _two_level_to_json(self.variables),
            "reliability": _two_level_to_json(self.reliability),
            "histograms": self.histograms.to_dict(orient="list"),
            "bins": self.bins.to_dict(orient="list"),
            "respondents": {str(k): int(v) for k, v in self.respondents.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Partials:
        return cls(
            variables=_two_level_from_json(data["variables"]),
            reliability=_two_level_from_json(data["reliability"]),
            histograms=pd.DataFrame(data["histograms"], columns=["team_id", "variable", "value", "count"]).astype(
                {"value": "float64", "count": "int64"}
            ),
            bins=pd.DataFrame(data["bins"], columns=["team_id", "item", "bin", "count"]).astype({"count": "int64"}),
            respondents=pd.Series(data["respondents"], dtype="int64"),
        )


def _two_level_to_json(frame: pd.DataFrame) -> dict[str, Any]:
    columns = [f"{first}|{second}" for first, second in frame.columns]
    return {"index": list(frame.index), "columns": columns, "data": frame.to_numpy().tolist()}


def _two_level_from_json(raw: Mapping[str, Any]) -> pd.DataFrame:
    # float64 throughout: a part with no respondents has no rows, and would otherwise come back
    # as object columns that poison the merged sums.
    frame = pd.DataFrame(
        raw["data"], index=pd.Index(raw["index"], name="team_id"), columns=raw["columns"], dtype="float64"
    )
    if raw["columns"]:
        frame.columns = pd.MultiIndex.from_tuples([tuple(c.split("|", 1)) for c in raw["columns"]])
    return frame


def partials_compute(answers: pd.DataFrame, *, reverse_keys: Collection[str], pilot_cutoff: float) -> Partials:
    """From long answers (response_id, team_id, item, value) of some teams to their partials."""
    wide = answers_wide(answers)
    respondents = respondent_variables(wide, reverse_keys=reverse_keys, pilot_cutoff=pilot_cutoff)
    values = respondents[NUMERIC_VARIABLES].astype("float64")
    teams = respondents["team_id"].astype(str)
    present = values.notna()
    filled = values.fillna(0.0)
    variables = pd.concat(
        {
            "n": present.astype("int64").groupby(teams).sum(),
            "sum": filled.groupby(teams).sum(),
            "sumsq": (filled * filled).groupby(teams).sum(),
        },
        axis=1,
    ).swaplevel(axis=1)
    variables.index.name = "team_id"
    histograms = pd.concat(
        [value_counts_partials(respondents.assign(team_id=teams), v).assign(variable=v) for v in HISTOGRAM_VARIABLES],
        ignore_index=True,
    )[["team_id", "variable", "value", "count"]]
    bins = item_bin_partials(
        wide.assign(team_id=wide["team_id"].astype(str)), DISTRIBUTION_ITEMS, {*reverse_keys, *UNFAVOURABLE_WHEN_HIGH}
    )
    return Partials(
        variables=variables,
        histograms=histograms,
        bins=bins,
        respondents=teams.value_counts(),
        reliability=reliability_partials(wide, reverse_keys=reverse_keys),
    ).canonical()


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


def _direct_counts(tree: OrgTree, direct_n: Mapping[str, int]) -> dict[str, int]:
    return {unit: int(direct_n.get(unit, 0)) for unit in tree.parents}


def _decide(tree: OrgTree, direct_n: Mapping[str, int], k: int) -> dict[str, Decision]:
    return decide_publication(tree.units, _direct_counts(tree, direct_n), k=k)


def cells_compute(
    partials: Partials,
    tree: OrgTree,
    *,
    invited: Mapping[str, int],
    k: int,
    hourly_cost: float,
) -> CycleCells:
    """Every (unit, metric) cell of the cycle, published or hidden, decided once for the tree."""
    variables = partials.variables
    rolled = roll_up(variables, tree) if not variables.empty else variables
    decisions: dict[str, dict[str, Decision]] = {}
    directs: dict[str, dict[str, int]] = {}
    for variable in DISCLOSURE_VARIABLES:
        direct = series_dict(variables[(variable, "n")]) if (variable, "n") in variables.columns else {}
        directs[variable] = _direct_counts(tree, direct)
        decisions[variable] = decide_publication(tree.units, directs[variable], k=k)
    decisions[RESPONSES] = _decide(tree, series_dict(partials.respondents), k)
    # Stricter gates are R4 and R5 again at their own threshold among the published cells, since
    # a department's mix minus its teams' mixes is the mix of the rest.
    gated: dict[tuple[str, str], frozenset[str]] = {}
    for spec in METRICS:
        key = (spec.variable, spec.gate)
        if spec.gate == "distribution" and key not in gated:
            gated[key] = distribution_units(tree.units, directs[spec.variable], decisions[spec.variable], k=k)
        elif spec.gate == "source_mix" and key not in gated:
            gated[key] = source_mix_units(tree.units, directs[spec.variable], decisions[spec.variable])
        elif spec.gate == "pilot" and key not in gated:
            # Among units where both are published, R4/R5 again on this variable's own counts.
            both = published_units(decisions[spec.variable]) & published_units(decisions["pilot"])
            gated[key] = restrict_publication(tree.units, directs[spec.variable], both, threshold=k)

    frames = [_metric_cells(spec, rolled, decisions[spec.variable], gated, hourly_cost) for spec in METRICS]
    frames.append(
        pd.DataFrame(_response_rate_cells(partials, tree, decisions[RESPONSES], invited), columns=CELL_COLUMNS)
    )
    frames.append(
        pd.DataFrame(_reliability_cells(partials, decisions[RESPONSES][ORGANISATION], k), columns=CELL_COLUMNS)
    )
    cells = pd.concat(frames, ignore_index=True)
    _add_pilot_shrinkage(cells, tree)
    return CycleCells(
        cells=cells,
        distributions=_distributions(partials, tree, k),
        histograms=_histograms(partials, tree, decisions),
        decisions=decisions,
    )


def _metric_cells(
    spec: MetricSpec,
    rolled: pd.DataFrame,
    decisions: Mapping[str, Decision],
    gated: Mapping[tuple[str, str], frozenset[str]],
    hourly_cost: float,
) -> pd.DataFrame:
    """One metric's cells for every unit, computed column-wise (10,000 teams stay fast)."""
    units = list(decisions)
    published = np.array(
        [d.published and (spec.gate == "k" or u in gated[(spec.variable, spec.gate)]) for u, d in decisions.items()],
        dtype=bool,
    )
    frame = pd.DataFrame({"unit_id": units, "metric": spec.name, "published": published})
    frame["hidden_because"] = [
        "" if shown else (decisions[u].reason or "gate") for u, shown in zip(units, published, strict=True)
    ]
    # Hidden cells are never computed at all: their sums stay in this function's locals only.
    shown_units = [u for u, shown in zip(units, published, strict=True) if shown]
    columns = [(spec.variable, stat) for stat in ("n", "sum", "sumsq")]
    if shown_units and not rolled.empty:
        sums = rolled.reindex(shown_units)[columns].fillna(0.0).to_numpy()
    else:
        sums = np.zeros((len(shown_units), 3))
    n, total, total_sq = sums[:, 0], sums[:, 1], sums[:, 2]
    value, low, high = estimates(spec, n, total, total_sq, hourly_cost=hourly_cost)
    for column, data in (("n", n), ("value", value), ("ci_low", low), ("ci_high", high), ("total", total),
                         ("total_sq", total_sq)):  # fmt: skip
        full = np.full(len(units), np.nan)
        full[published] = data
        frame[column] = full
    frame["n"] = frame["n"].astype("Int64")
    if spec.name == "time_ratio":
        frame["extra"] = [
            {"in_words": time_ratio_in_words(v)} if p else {} for v, p in zip(frame["value"], published, strict=True)
        ]
    else:
        frame["extra"] = [{} for _ in units]
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
            "total_sq": total_sq, "extra": extra}  # fmt: skip


def _reliability_cells(partials: Partials, organisation: Decision, k: int) -> list[dict[str, Any]]:
    """Cronbach's alpha per construct, organisation level only (PRODUCT: instrument health).

    n is the number of complete cases; value is None under 30 of them (too unstable to show).
    R4 holds for n itself: fewer than k complete cases (few AI users answer the agency items)
    publish no count, even though the organisation's other cells are published.
    """
    rows = []
    for construct, (n, alpha) in organisation_alphas(partials.reliability).items():
        metric = f"{RELIABILITY_PREFIX}{construct}"
        if not organisation.published:
            rows.append(_hidden(ORGANISATION, metric, organisation))
            continue
        if n < k:
            rows.append(_hidden(ORGANISATION, metric, Decision(published=False, n=n, reason="below_threshold")))
            continue
        extra: dict[str, Any] = {"items": len(CONSTRUCT_ITEMS[construct])}
        extra["warn"] = alpha is not None and alpha < ALPHA_WARN_BELOW
        if alpha is None:
            extra["why_empty"] = f"needs {MIN_COMPLETE_CASES} complete answers"
        value = math.nan if alpha is None else alpha
        rows.append(_published(ORGANISATION, metric, n, value, math.nan, math.nan, math.nan, math.nan, extra))
    return rows


def _response_rate_cells(
    partials: Partials, tree: OrgTree, decisions: Mapping[str, Decision], invited: Mapping[str, int]
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
        rows.append(_published(unit, RESPONSES, answered, rate, math.nan, math.nan, answered, answered, extra))
    return rows


def _add_pilot_shrinkage(cells: pd.DataFrame, tree: OrgTree) -> None:
    """Empirical-Bayes Pilot ratio, shrunk toward the organisation: the prior is fitted on the
    published team-level cells only (R4: hidden cells feed no derived output)."""
    mask = (cells["metric"] == "pilot_ratio") & cells["published"]
    if not mask.any():
        return
    children = tree.children()
    leaves = cells.loc[mask, "unit_id"].map(lambda unit: not children[unit] and unit != ORGANISATION)
    fit = cells.loc[mask][leaves.to_numpy()]
    if len(fit) < 2:
        return
    prior = beta_binomial_shrinkage(fit["total"].round().to_numpy(), fit["n"].to_numpy())
    shrunk = (cells.loc[mask, "total"] + prior.alpha) / (cells.loc[mask, "n"].astype(float) + prior.alpha + prior.beta)
    cells.loc[mask, "extra"] = [
        {**extra, "shrunk": float(s)} for extra, s in zip(cells.loc[mask, "extra"], shrunk, strict=True)
    ]


def _distributions(partials: Partials, tree: OrgTree, k: int) -> pd.DataFrame:
    """Three-bin item distributions where the item's own n passes R4/R5 and reaches 2k."""
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
        decisions = decide_publication(tree.units, counts, k=k)
        allowed.update((unit, item) for unit in distribution_units(tree.units, counts, decisions, k=k))
    keep = pd.MultiIndex.from_arrays([table["unit_id"], table["item"]]).isin(list(allowed))
    return table[keep][columns].reset_index(drop=True)


def _histograms(partials: Partials, tree: OrgTree, decisions: Mapping[str, Mapping[str, Decision]]) -> pd.DataFrame:
    """Score histograms ([[value, count], ...]) of published cells, for later shift tests."""
    columns = ["unit_id", "variable", "counts"]
    if partials.histograms.empty:
        return pd.DataFrame(columns=columns)
    rolled = roll_up_long(partials.histograms, tree, ["variable", "value"])
    shown = np.fromiter(
        (
            decisions[variable][unit].published
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
