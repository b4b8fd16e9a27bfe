"""Instrument health: Cronbach's alpha per construct, organisation-wide, from mergeable sums.

Alpha needs the item variances and the variance of the total over complete cases. Both come
from counts, sums and sums of squares, so each team (or each fan-out task) contributes partial
sums and only the organisation's total is ever turned into an alpha (PRODUCT: never per small
team; at least 30 complete cases).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.core.scoring import Scoring

MIN_COMPLETE_CASES = 30
ALPHA_WARN_BELOW = 0.7


def reliability_partials(wide: pd.DataFrame, *, scoring: Scoring) -> pd.DataFrame:
    """Per team and construct: complete cases n, and sum/sumsq of each item and of the total.

    Index team_id; columns (construct, stat) with stat "n", "sum:<item>", "sumsq:<item>",
    "sum:total", "sumsq:total". Items are reverse-coded by key first, as for the scores.
    """
    frames = {}
    teams = wide["team_id"].astype(str) if "team_id" in wide else pd.Series(dtype=str)
    for construct, items in scoring.constructs.items():
        if not set(items) <= set(wide.columns):
            continue
        answers = wide[list(items)].astype("float64")
        for key in items:
            answers[key] = scoring.reverse_coded(key, answers[key])
        complete = answers.notna().all(axis=1)
        answers, group = answers[complete], teams[complete]
        total = answers.sum(axis=1)
        columns = {"n": complete[complete].astype("int64")}
        for key in items:
            columns[f"sum:{key}"] = answers[key]
            columns[f"sumsq:{key}"] = answers[key] ** 2
        columns["sum:total"] = total
        columns["sumsq:total"] = total**2
        frames[construct] = pd.DataFrame(columns).groupby(group).sum()
    if not frames:
        return pd.DataFrame(index=pd.Index([], name="team_id"))
    merged = pd.concat(frames, axis=1).fillna(0.0)
    merged.index.name = "team_id"
    return merged


def organisation_alphas(partials: pd.DataFrame, scoring: Scoring) -> dict[str, tuple[int, float | None]]:
    """construct -> (complete cases, alpha or None when under 30 cases or without variance)."""
    result: dict[str, tuple[int, float | None]] = {}
    totals = partials.sum(axis=0) if not partials.empty else pd.Series(dtype="float64")
    for construct, items in scoring.constructs.items():
        if (construct, "n") not in totals.index:
            result[construct] = (0, None)
            continue
        n = int(totals[(construct, "n")])
        if n < MIN_COMPLETE_CASES:
            result[construct] = (n, None)
            continue

        def variance(stat: str, n: int = n, construct: str = construct) -> float:
            total, total_sq = float(totals[(construct, f"sum:{stat}")]), float(totals[(construct, f"sumsq:{stat}")])
            return max(0.0, (total_sq - total * total / n) / (n - 1))

        total_variance = variance("total")
        if total_variance == 0:
            result[construct] = (n, None)
            continue
        item_variances = float(np.sum([variance(key) for key in items]))
        k = len(items)
        result[construct] = (n, k / (k - 1) * (1 - item_variances / total_variance))
    return result
