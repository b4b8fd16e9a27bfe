"""Per-team three-bin counts of each item: the same as stats.three_bins team by team."""

import numpy as np
import pandas as pd

from analytics.core.partials import item_bin_partials
from tests.analytics import reference_stats as stats


def test_item_bins_equal_three_bins_per_team():
    rng = np.random.default_rng(8)
    size = 400
    wide = pd.DataFrame(
        {
            "team_id": rng.choice(["t1", "t2", "t3", "t4", "t5"], size),
            "ps1": rng.integers(1, 8, size).astype(float),  # reverse-keyed
            "ps2": rng.integers(1, 8, size).astype(float),
            "trust1": rng.integers(1, 6, size).astype(float),  # a 5-point scale
        }
    )
    wide.loc[rng.random(size) < 0.2, ["ps2", "trust1"]] = np.nan  # skipped
    wide.loc[wide["team_id"] == "t5", "trust1"] = np.nan  # nobody in t5 answered trust1
    items = {"ps1": 7, "ps2": 7, "trust1": 5, "absent": 7}
    bins = item_bin_partials(wide, items, reverse_keys={"ps1"})
    got = {(row.team_id, row.item, row.bin): row.count for row in bins.itertuples()}
    expected = {}
    for team, members in wide.groupby("team_id"):
        for item, scale_max in (("ps1", 7), ("ps2", 7), ("trust1", 5)):
            values = members[item].to_numpy()
            if item == "ps1":
                values = stats.reverse_code(values)
            three = stats.three_bins(values, scale_max=scale_max)
            for name in ("unfavourable", "neutral", "favourable"):
                if getattr(three, name):
                    expected[(team, item, name)] = getattr(three, name)
    assert got == expected
    assert not any(team == "t5" and item == "trust1" for team, item, _ in got)
    assert bins["count"].dtype == np.int64


def test_no_answers_give_no_bins():
    empty = pd.DataFrame(columns=["team_id", "ps1"])
    assert item_bin_partials(empty, {"ps1": 7}).empty
