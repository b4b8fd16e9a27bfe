"""ANONYMITY R13 end to end: nothing the job stores depends on a small cell's answers beyond its n,
its sums and its shares. Not its cells (no sum of squares, no histogram, intervals from the
organisation's SD), and not its flags (tests of change from published means, n and that SD).

The organisation is answered twice through the public path (links, close, aggregate), six
monthly cycles each time, with answers that differ only in their spread within one small team:
two of its respondents answer ps2 6 and 6, or 5 and 7 (the same favourable bin, the same sum, a
favourable safety score either way), and press1 2 and 2, or 1 and 3. Every stored row must be
the same. The teams (8, 6 and 7 respondents) are below 2k, so they publish no distributions;
the departments and the organisation (21 respondents, under 30: the instrument's fixed SD)
publish three-bin ones, which the changed answers leave alone.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest

from analytics.job.run import aggregate_cycle
from analytics.models import CellHistogram, Flag, ItemDistribution, MetricCell, UnitSnapshot
from surveys.models import Cycle
from tests.analytics.builders import Org, answers_make, cycle_run, org_build, psych_safety_score

pytestmark = pytest.mark.django_db

PLAN = (
    ("Engineering", "Alpha", 9, 8),
    ("Engineering", "Beta", 7, 6),
    ("Product", "Design", 8, 7),
)
MONTHS = [dt.date(2026, month, 1) for month in range(3, 9)]
SMALL_TEAM = "Engineering/Alpha"
PS_ITEMS = [f"ps{i}" for i in range(1, 8)]
REVERSED = {"ps1", "ps3", "ps5"}


def answers_for(org: Org, cycle: int, *, spread: bool) -> dict[str, list[dict]]:
    """Every team's answers in one cycle. Beta's safety falls in the last three cycles (so flags
    are computed and stored). In Alpha, two respondents answer the safety items as 6 (reversed
    items 2), a safety score of 6; ``spread`` moves ps2 to 5 and 7 and press1 from 2 and 2 to 1
    and 3: the same n, sums and bins, a different sum of squares."""
    out: dict[str, list[dict]] = {}
    for team, answering in org.respondents.items():
        low = team == "Engineering/Beta" and cycle >= 3
        out[team] = [
            answers_make(f"{team}-{cycle}-{index}", ai_user=index % 4 != 3, safety="low" if low else "mixed")
            for index in range(answering)
        ]
    for person, (ps2, press1) in enumerate(((5, 1), (7, 3)) if spread else ((6, 2), (6, 2))):
        raw = out[SMALL_TEAM][person]
        raw.update({item: "2" if item in REVERSED else "6" for item in PS_ITEMS})
        raw.update(ps2=str(ps2), press1=str(press1))
    return out


def _significant(value: object) -> object:
    # Closing a cycle rewrites its answers in random order (R1), so sums of the same answers are
    # added in another order and can differ in the 16th digit, spread or no spread: 12
    # significant digits (as tests/analytics/test_tasks.py compares) is far beyond any figure shown.
    return float(f"{value:.12g}") if isinstance(value, float) else value


def stored_rows(org: Org) -> dict[str, list[tuple[object, ...]]]:
    """Every number the job stored for every cycle, keyed by cycle label and unit path (the unit
    ids are the same in both runs; cycle ids are not)."""
    paths = {org.id(path): path for path in ["", *org.units]}
    labels = {cycle.pk: cycle.label for cycle in Cycle.objects.all()}

    def rows(model: type, fields: list[str]) -> list[tuple[object, ...]]:
        out = []
        for row in model.objects.values_list("cycle_id", "unit_id", *fields):
            values = tuple(json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else _significant(v)
                           for v in row[2:])  # fmt: skip
            out.append((labels[row[0]], paths[str(row[1])], *values))
        return sorted(out, key=str)

    cell_fields = ["metric", "published", "hidden_because", "n", "value", "ci_low", "ci_high", "total", "total_sq",
                   "extra"]  # fmt: skip
    flag_fields = ["kind", "metric", "test", "severity", "p_value", "numbers", "method", "explanation", "actions"]
    return {
        "cells": rows(MetricCell, cell_fields),
        "distributions": rows(ItemDistribution, ["item", "unfavourable", "neutral", "favourable"]),
        "histograms": rows(CellHistogram, ["variable", "counts"]),
        "snapshots": rows(UnitSnapshot, ["path", "level", "depth"]),
        "flags": rows(Flag, flag_fields),
    }


def run_six_cycles(org: Org, *, spread: bool) -> tuple[dict[str, list[tuple[object, ...]]], list[float]]:
    alpha_safety: list[float] = []
    for cycle, month in enumerate(MONTHS):
        answers = answers_for(org, cycle, spread=spread)
        alpha_safety.extend(psych_safety_score(raw) for raw in answers[SMALL_TEAM])
        submitted = cycle_run(org, answers, month=month)
        aggregate_cycle(cycle=submitted.cycle)
    return stored_rows(org), alpha_safety


def test_a_small_cells_spread_changes_no_stored_number():
    org = org_build(PLAN)
    alike, alike_scores = run_six_cycles(org, spread=False)
    Cycle.objects.all().delete()  # responses, invitations and every stored result go with them
    assert not MetricCell.objects.exists() and not Flag.objects.exists()
    spread, spread_scores = run_six_cycles(org, spread=True)

    # The answers did differ, in the spread of the small team's scores only.
    assert sum(alike_scores) == pytest.approx(sum(spread_scores))
    assert sum(s * s for s in alike_scores) != pytest.approx(sum(s * s for s in spread_scores))
    assert [s >= 5.0 for s in alike_scores] == [s >= 5.0 for s in spread_scores]

    # Something was stored to compare: cells in every cycle, intervals, flags of change.
    assert len({row[0] for row in alike["cells"]}) == len(MONTHS)
    assert any(row[1] == SMALL_TEAM and row[2] == "psych_safety" and row[3] for row in alike["cells"])
    assert {row[4] for row in alike["flags"]} & {"trend_wls_known_sd", "shift_z_known_sd"}, alike["flags"]
    assert alike["distributions"], "the departments and the organisation publish three-bin distributions"
    # R13: no small cell keeps a sum of squares or a histogram.
    assert not alike["histograms"]
    assert all(row[10] is None or (isinstance(row[10], float) and math.isnan(row[10])) for row in alike["cells"])

    for table in alike:
        assert spread[table] == alike[table], table
