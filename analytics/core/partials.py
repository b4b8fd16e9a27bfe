"""Mergeable partial results per team, rolled up the organisation tree.

Everything a unit's metrics need is a sum over its respondents: counts, sums and sums of squares
per variable, value histograms, item bins. Sums add, so partials computed in separate processes
(one Celery task per top-level unit) merge into exactly the numbers one process would compute,
and a department's figures are the sum of its teams' plus its direct members'.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analytics.core.scoring import NUMERIC_VARIABLES, Scoring, answers_wide, respondent_variables
from analytics.core.tree import UnitTree
from analytics.stats.reliability import reliability_partials

# Per-respondent scores kept as value histograms of published cells, for later shift tests.
HISTOGRAM_VARIABLES = ("psych_safety", "pressure")


def value_counts_partials(respondents: pd.DataFrame, variable: str) -> pd.DataFrame:
    """Per team, how many respondents had each value of a variable (for permutation tests)."""
    frame = respondents[["team_id", variable]].dropna()
    counts = frame.groupby(["team_id", variable]).size()
    counts.name = "count"
    return counts.reset_index().rename(columns={variable: "value"})


BIN_NAMES = np.array(["unfavourable", "neutral", "favourable"], dtype=object)


def item_bin_partials(wide: pd.DataFrame, items: Mapping[str, int], reverse_keys: Collection[str] = ()) -> pd.DataFrame:
    """Per team and item: unfavourable / neutral / favourable counts (rows with a count > 0).
    `items` maps key -> scale max. Reverse-keyed items are reverse-coded first: agreeing that "a
    mistake is held against you" (ps1) is unfavourable, as it is in the psychological-safety score
    and its % favourable. Counted as one bincount per item over (team, bin) codes."""
    team_codes, team_index = pd.factorize(wide["team_id"])
    teams = np.asarray(team_index, dtype=object)
    frames = []
    for item, scale_max in items.items():
        if item not in wide.columns:
            continue
        values = wide[item].to_numpy(dtype=np.float64)
        answered = ~np.isnan(values)
        scores = values[answered]
        if item in reverse_keys:
            scores = scale_max + 1 - scores
        low, middle = (3, 4) if scale_max == 7 else (2, 3)  # 1-3 | 4 | 5-7, or 1-2 | 3 | 4-5
        bins = np.where(scores <= low, 0, np.where(scores == middle, 1, 2))
        counts = np.bincount(team_codes[answered] * 3 + bins, minlength=3 * len(teams))
        kept = np.flatnonzero(counts)
        frames.append(
            pd.DataFrame({"team_id": teams[kept // 3], "item": item, "bin": BIN_NAMES[kept % 3], "count": counts[kept]})
        )
    if not frames:
        return pd.DataFrame(columns=["team_id", "item", "bin", "count"])
    return pd.concat(frames, ignore_index=True)


def roll_up(team_frame: pd.DataFrame, tree: UnitTree[str]) -> pd.DataFrame:
    """Sums team-indexed partials into every unit that contains the team (the organisation too)."""
    pairs = tree.ancestor_pairs()
    pairs = pairs[pairs["team_id"].isin(team_frame.index)]
    expanded = team_frame.loc[pairs["team_id"].to_numpy()]
    expanded.index = pd.Index(pairs["unit_id"].to_numpy(), name="unit_id")
    return expanded.groupby(level=0).sum()


def roll_up_long(long_frame: pd.DataFrame, tree: UnitTree[str], keys: Sequence[str]) -> pd.DataFrame:
    """Like roll_up for long frames (team_id, *keys, count)."""
    if long_frame.empty:
        return pd.DataFrame(columns=["unit_id", *keys, "count"])
    pairs = tree.ancestor_pairs()
    joined = pairs.merge(long_frame, on="team_id", how="inner")
    return joined.groupby(["unit_id", *keys], as_index=False)["count"].sum()


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


def partials_compute(answers: pd.DataFrame, *, scoring: Scoring, pilot_cutoff: float) -> Partials:
    """From long answers (response_id, team_id, item, value) of some teams to their partials."""
    wide = answers_wide(answers)
    respondents = respondent_variables(wide, scoring=scoring, pilot_cutoff=pilot_cutoff)
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
        wide.assign(team_id=wide["team_id"].astype(str)),
        scoring.distribution_items,
        {*scoring.reverse_keys, *scoring.unfavourable_when_high},
    )
    return Partials(
        variables=variables,
        histograms=histograms,
        bins=bins,
        respondents=teams.value_counts(),
        reliability=reliability_partials(wide, scoring=scoring),
    ).canonical()
