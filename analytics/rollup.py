"""Mergeable partial results per team, rolled up the organisation tree.

Everything a unit's metrics need is a sum over its respondents: counts, sums and sums of squares
per variable, value histograms, item bins. Sums add, so partials computed in separate processes
(one Celery task per top-level unit) merge into exactly the numbers one process would compute,
and a department's figures are the sum of its teams' plus its direct members'.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from analytics.disclosure import Parents, unit_tree
from analytics.models import ORGANISATION_UNIT_ID, Level

UnitId = str  # unit ids travel as UUID strings: cheap in pandas and in Celery's JSON
ORGANISATION: UnitId = str(ORGANISATION_UNIT_ID)

STATS = ("n", "sum", "sumsq")


@dataclass(frozen=True)
class OrgTree:
    """Units keyed by UUID; the organisation is the root above the top-level teams."""

    parents: dict[UnitId, UnitId | None]
    names: dict[UnitId, str]

    @classmethod
    def from_teams(cls, teams: Iterable[tuple[object, str, object | None]], organisation: str) -> OrgTree:
        parents: dict[UnitId, UnitId | None] = {ORGANISATION: None}
        names = {ORGANISATION: organisation}
        for team_id, name, parent_id in teams:
            parents[str(team_id)] = str(parent_id) if parent_id else ORGANISATION
            names[str(team_id)] = name
        return cls(parents=parents, names=names)

    @cached_property
    def units(self) -> Parents[UnitId]:
        """The tree indexed once for the disclosure functions (dozens of decisions per cycle)."""
        return unit_tree(self.parents)

    def children(self) -> dict[UnitId, list[UnitId]]:
        children: dict[UnitId, list[UnitId]] = {unit: [] for unit in self.parents}
        for unit, parent in self.parents.items():
            if parent is not None:
                children[parent].append(unit)
        return children

    def ancestors(self, unit: UnitId) -> list[UnitId]:
        """The unit itself and every unit above it, up to the organisation."""
        chain = []
        node: UnitId | None = unit
        while node is not None:
            chain.append(node)
            node = self.parents[node]
        return chain

    def path(self, unit: UnitId) -> str:
        if unit == ORGANISATION:
            return self.names[unit]
        return "/".join(self.names[u] for u in reversed(self.ancestors(unit)) if u != ORGANISATION)

    def level(self, unit: UnitId, children: Mapping[UnitId, Sequence[UnitId]]) -> str:
        if unit == ORGANISATION:
            return Level.ORGANISATION.value
        return Level.DEPARTMENT.value if children[unit] else Level.TEAM.value

    def top_level_units(self) -> list[UnitId]:
        return sorted(unit for unit, parent in self.parents.items() if parent == ORGANISATION)

    def subtree(self, unit: UnitId) -> set[UnitId]:
        children = self.children()
        found, stack = set(), [unit]
        while stack:
            node = stack.pop()
            found.add(node)
            stack.extend(children[node])
        return found

    def ancestor_pairs(self) -> pd.DataFrame:
        """(team_id, unit_id) for every team and every unit that contains it, itself included."""
        rows = [(team, unit) for team in self.parents if team != ORGANISATION for unit in self.ancestors(team)]
        return pd.DataFrame(rows, columns=["team_id", "unit_id"])


def variable_partials(respondents: pd.DataFrame, variables: Sequence[str]) -> pd.DataFrame:
    """Per team: n, sum and sum of squares of each variable (NaN = not counted). Columns are a
    (variable, stat) MultiIndex; rows are team ids."""
    values = respondents[list(variables)].astype("float64")
    present = values.notna()
    filled = values.fillna(0.0)
    teams = respondents["team_id"]
    n = present.astype("int64").groupby(teams).sum()
    total = filled.groupby(teams).sum()
    total_sq = (filled * filled).groupby(teams).sum()
    return pd.concat({"n": n, "sum": total, "sumsq": total_sq}, axis=1).swaplevel(axis=1).sort_index(axis=1)


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


def merge_partials(parts: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Adds partials computed separately (e.g. by one task per top-level unit)."""
    frames = [part for part in parts if not part.empty]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames).groupby(level=0).sum()


def roll_up(team_frame: pd.DataFrame, tree: OrgTree) -> pd.DataFrame:
    """Sums team-indexed partials into every unit that contains the team (the organisation too)."""
    pairs = tree.ancestor_pairs()
    pairs = pairs[pairs["team_id"].isin(team_frame.index)]
    expanded = team_frame.loc[pairs["team_id"].to_numpy()]
    expanded.index = pd.Index(pairs["unit_id"].to_numpy(), name="unit_id")
    return expanded.groupby(level=0).sum()


def roll_up_long(long_frame: pd.DataFrame, tree: OrgTree, keys: Sequence[str]) -> pd.DataFrame:
    """Like roll_up for long frames (team_id, *keys, count)."""
    if long_frame.empty:
        return pd.DataFrame(columns=["unit_id", *keys, "count"])
    pairs = tree.ancestor_pairs()
    joined = pairs.merge(long_frame, on="team_id", how="inner")
    return joined.groupby(["unit_id", *keys], as_index=False)["count"].sum()
