"""From stored answers to one row per respondent with the variables every metric is built on.

Pure pandas: no database, no Django. The aggregation job reads a cycle's answers once, calls
`respondent_variables` with the cycle's :class:`Scoring`, and everything downstream works on
its result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

FAVOURABLE_FROM = 5.0  # "somewhat agree" or more on the 7-point scale, after reverse-coding
MIN_ITEMS_FRACTION = 0.5  # a construct score needs at least half of its items answered

# The instrument's multi-item constructs, as the variables (and metrics) they are scored into.
CONSTRUCT_VARIABLES = {"psychological_safety": "psych_safety", "agency": "agency", "optimism": "optimism"}
# Items where agreeing is the unfavourable answer although they are not reverse-scored (their
# score, "pressure", runs higher = more): their distribution bins run the other way round.
UNFAVOURABLE_WHEN_HIGH_CONSTRUCTS = frozenset({"pressure"})
WORKSLOP_SOURCES = ["teammates", "leaders", "other_teams", "reports"]
USE_LEVELS = {1: "never", 2: "few_times", 3: "weekly", 4: "daily", 5: "several_daily"}
MULTI_KEY_SEPARATOR = "_"  # a multi-select item is stored as one 0/1 answer per option, "ws3_teammates"


@dataclass(frozen=True)
class Scoring:
    """How a cycle's answers are scored, read from the instrument version the cycle opened with.

    Item keys are stable across versions (PRODUCT.md), so the catalogue names the items its
    single-item metrics read (trust1, ws2...); everything else comes from the instrument: which
    items make up each construct, which are reverse-scored, each ordinal item's scale, the
    "never" answer of each gate, and which items are shown as three-bin distributions. A new
    version that adds an item to a construct or reverse-keys one aggregates with no code change.
    """

    version: int
    constructs: dict[str, tuple[str, ...]]  # variable (psych_safety, agency, optimism) -> its items
    scale_max: dict[str, int]  # ordinal item -> its highest value (the lowest is 1)
    reverse_keys: frozenset[str]
    never: dict[str, float]  # gate item (use1, ws1) -> the value that means "never"
    distribution_items: dict[str, int]  # items published in three bins -> scale max
    unfavourable_when_high: frozenset[str]
    # variable -> the SD a small cell's interval uses where the organisation has fewer than 30
    # answers of its own to estimate one from (ANONYMITY R13)
    fixed_sd: dict[str, float]

    @classmethod
    def from_definition(cls, definition: Mapping[str, Any]) -> Scoring:
        """From an InstrumentVersion's stored definition (see surveys/instruments/v1.json)."""
        items = list(definition["items"])
        never = {key: float(value) for key, value in definition["never_value"].items()}
        scale_max: dict[str, int] = {}
        for item in items:
            values = [option["value"] for option in item.get("options", ())]
            # Ordinal: options 1..m in whole steps (agreement scales, trust1, the gates), not
            # recoded values such as hours (ws2) or time ratios (speed1).
            if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
                if sorted(values) == list(range(1, len(values) + 1)):
                    scale_max[item["key"]] = len(values)
        constructs: dict[str, list[str]] = {}
        for item in items:
            variable = CONSTRUCT_VARIABLES.get(item["construct"])
            if variable is not None:
                constructs.setdefault(variable, []).append(item["key"])
        # Every ordinal item but the gates, whose answer mix is published as shares of its own.
        distribution_items = {key: top for key, top in scale_max.items() if key not in never}
        return cls(
            version=int(definition["version"]),
            constructs={variable: tuple(keys) for variable, keys in constructs.items()},
            scale_max=scale_max,
            reverse_keys=frozenset(item["key"] for item in items if item.get("reverse")),
            never=never,
            distribution_items=distribution_items,
            fixed_sd={variable: float(sd) for variable, sd in definition["fixed_sd"].items()},
            unfavourable_when_high=frozenset(
                item["key"] for item in items if item["construct"] in UNFAVOURABLE_WHEN_HIGH_CONSTRUCTS
            ),
        )

    def reverse_coded(self, key: str, values: pd.Series) -> pd.Series:
        """``values`` of ``key`` with reverse-scored items turned round on their own scale."""
        return (self.scale_max[key] + 1 - values) if key in self.reverse_keys else values


# Every per-respondent variable, with the metric it feeds. Binary variables are 0/1 floats so a
# mean is a proportion; NaN means "not asked or skipped", which gives each metric its own n.
NUMERIC_VARIABLES = [
    "psych_safety",
    "psych_safety_favourable",
    "agency",
    "optimism",
    "pilot",
    "ai_user",
    "pilot_of_all",
    "mode_pilot",
    "mode_high_agency_low_optimism",
    "mode_low_agency_high_optimism",
    "mode_low_agency_low_optimism",
    "workslop_received",
    "workslop_hours",
    "workslop_hours_all",
    *[f"workslop_from_{source}" for source in WORKSLOP_SOURCES],
    "trust",
    "trust_favourable",
    "distrust",
    "voice",
    "pressure",
    "manager_modelling",
    "log_time_ratio",
    "hours_saved",
    "daily_use",
    *[f"use_{level}" for level in USE_LEVELS.values()],
]


def answers_wide(answers: pd.DataFrame) -> pd.DataFrame:
    """Long answers (response_id, team_id, item, value) to one row per response, one column per
    item, plus team_id. Missing items are NaN. Rows and columns sorted, as DataFrame.pivot gives."""
    if answers.empty:
        return pd.DataFrame(columns=["team_id"]).rename_axis("response_id")
    # Codes and one fancy-indexed assignment: half the time of DataFrame.pivot on 2 M answers.
    response_codes, responses = pd.factorize(answers["response_id"], sort=True)
    item_codes, items = pd.factorize(answers["item"], sort=True)
    cells = response_codes.astype(np.int64) * len(items) + item_codes
    if np.bincount(cells).max() > 1:  # the database's unique constraint; a bug if it ever fires
        raise ValueError("answers hold a response with two answers to one item")
    matrix = np.full((len(responses), len(items)), np.nan)
    matrix[response_codes, item_codes] = answers["value"].to_numpy(dtype=np.float64)
    wide = pd.DataFrame(matrix, index=pd.Index(responses, name="response_id"), columns=pd.Index(items))
    team = np.empty(len(responses), dtype=object)
    team[response_codes] = answers["team_id"].to_numpy()  # a response's answers share its team
    wide["team_id"] = pd.array(team, dtype=answers["team_id"].dtype)
    return wide


def _column(wide: pd.DataFrame, key: str) -> pd.Series:
    if key in wide.columns:
        return wide[key].astype("float64")
    return pd.Series(np.nan, index=wide.index, dtype="float64")


def _construct(wide: pd.DataFrame, scoring: Scoring, variable: str) -> pd.Series:
    """Mean of the construct's answered items after reverse-coding by key; NaN when fewer than
    half of them were answered."""
    items = scoring.constructs[variable]
    columns = [scoring.reverse_coded(key, _column(wide, key)) for key in items]
    block = pd.concat(columns, axis=1)
    answered = block.notna().sum(axis=1)
    score = block.mean(axis=1, skipna=True)
    return score.where(answered >= MIN_ITEMS_FRACTION * len(items))


def _indicator(condition: pd.Series, defined: pd.Series) -> pd.Series:
    return condition.astype("float64").where(defined)


def respondent_variables(wide: pd.DataFrame, *, scoring: Scoring, pilot_cutoff: float) -> pd.DataFrame:
    """One row per respondent: team_id and every variable in NUMERIC_VARIABLES.

    Pilot (inspired by BetterUp's agency x optimism): an AI user whose agency mean and optimism
    mean both reach the cut-off. Non-users are outside the ratio (NaN), and so is an AI user who
    skipped too many of those items to be classified.
    """
    out = pd.DataFrame(index=wide.index)
    out["team_id"] = wide["team_id"] if "team_id" in wide.columns else pd.Series(dtype="object")

    ps = _construct(wide, scoring, "psych_safety")
    out["psych_safety"] = ps
    out["psych_safety_favourable"] = _indicator(ps >= FAVOURABLE_FROM, ps.notna())

    use = _column(wide, "use1")
    ai_user = use > scoring.never["use1"]
    out["ai_user"] = _indicator(ai_user, use.notna())
    agency = _construct(wide, scoring, "agency").where(ai_user)
    optimism = _construct(wide, scoring, "optimism").where(ai_user)
    out["agency"], out["optimism"] = agency, optimism
    classified = agency.notna() & optimism.notna()
    high_agency, high_optimism = agency >= pilot_cutoff, optimism >= pilot_cutoff
    pilot = high_agency & high_optimism
    out["pilot"] = _indicator(pilot, classified)
    out["mode_pilot"] = out["pilot"]
    out["mode_high_agency_low_optimism"] = _indicator(high_agency & ~high_optimism, classified)
    out["mode_low_agency_high_optimism"] = _indicator(~high_agency & high_optimism, classified)
    out["mode_low_agency_low_optimism"] = _indicator(~high_agency & ~high_optimism, classified)
    # Pilots among everyone who answered the gate: non-users count as "not a Pilot", so a falling
    # Pilot ratio caused by new, cautious AI users can be told apart from Pilots turning Passenger.
    out["pilot_of_all"] = _indicator(pilot & classified, use.notna() & (classified | ~ai_user))

    ws1 = _column(wide, "ws1")
    received = ws1 > scoring.never["ws1"]
    out["workslop_received"] = _indicator(received, ws1.notna())
    ws2 = _column(wide, "ws2")
    # Hours per receiver (R12: the population that has hours at all), and per respondent: 0 for
    # "never", unknown when they received some but skipped how long it cost.
    out["workslop_hours"] = ws2.where(received)
    out["workslop_hours_all"] = pd.Series(np.where(ws1 == scoring.never["ws1"], 0.0, ws2), index=wide.index).where(
        ws1.notna()
    )
    for source in WORKSLOP_SOURCES:
        out[f"workslop_from_{source}"] = _column(wide, f"ws3{MULTI_KEY_SEPARATOR}{source}").where(received)

    trust = _column(wide, "trust1").where(ai_user)
    out["trust"] = trust
    midpoint = (scoring.scale_max["trust1"] + 1) / 2  # "neither": 3 on the 5-point scale
    out["trust_favourable"] = _indicator(trust > midpoint, trust.notna())
    out["distrust"] = _indicator(trust < midpoint, trust.notna())
    out["voice"] = _column(wide, "voice1")
    out["pressure"] = _column(wide, "press1")
    out["manager_modelling"] = _column(wide, "mgr1")
    ratio = _column(wide, "speed1").where(ai_user)
    out["log_time_ratio"] = np.log(ratio.where(ratio > 0))
    out["hours_saved"] = _column(wide, "speed2").where(ai_user)
    out["daily_use"] = _indicator(use >= 4, use.notna())
    for code, level in USE_LEVELS.items():
        out[f"use_{level}"] = _indicator(use == code, use.notna())
    return out
