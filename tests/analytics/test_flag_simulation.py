"""False alarms and power of the change flags, by simulation (PRODUCT.md, "What reports flag").

The decision logic is production's own (analytics.flag_tests: the questions asked of published
cells, the Welch screen and permutation refinement, Benjamini-Hochberg per family, flag or watch;
analytics.flag_candidates: the capability trap), run on synthetic organisations instead of the database. Answers follow
surveys/demo.py's model with its constants: per-person traits scattered around a team level, a
monthly mood, per-item noise, rounding to the scale; team sizes, response rates and the planted
effects are the demo's. A cell with fewer than k = 5 answers is hidden, as in production.

Measured (seeded, so exact for this file; `pytest -s` prints them), 50 organisations:

* no change, 50 x 45 = 2,250 unit-histories, flags for the newest closed cycle: share of units
  with any change flag 0.0018 (SE 0.0009), with a "worth watching" 0.078 (p < .05 on up to eight
  one-sided tests per unit; a watch is never shown outside the unit's own report).
* planted (43 of those stable teams + Payments + Growth per organisation), at the demo's newest
  closed cycle, where the planted trend is 80 % along (the current cycle is open): Payments'
  psychological safety falling flagged 1.00, its capability trap 1.00; Growth's Pilot ratio
  rising 0.92 (SE about 0.04). Stable teams beside them: 0.0019 with any flag.
* Runtime about 7 s, most of it the 1,999-resample permutation tests and the answer draws.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest

from analytics.flags import wording as flag_candidates
from analytics.flags.questions import (
    FLAG,
    INTERNAL_KINDS,
    WATCH,
    CycleCell,
    change_questions,
    history_frame,
    permutation_refine,
    permutation_wanted,
    questions_decide,
)
from analytics.flags.wording import Candidate, capability_trap, change_candidates
from surveys.demo import GROWTH, ITEM_NOISE, MOOD_NOISE, PAYMENTS, PLANTED_SIZES, PLANTED_TRENDS, trend_position

K = 5  # the default threshold: a cell with fewer answers is hidden and never tested
UNITS = 45
CLOSED_CYCLES = 12
# The demo's newest cycle is open, so its reports flag the cycle one month back, where a planted
# trend is 80 % along (surveys.demo.trend_position).
NEWEST_MONTHS_AGO = 1
ORGANISATIONS = 50
# Production uses 9,999 resamples; 1,999 keep the run short and resolve p to .0005, four times finer
# than the smallest BH line across 45 units (.10 / 45 = .0022).
RESAMPLES = 1999

FloatArray = npt.NDArray[np.float64]
History = dict[str, list[CycleCell]]


@dataclass
class SimulatedUnit:
    unit: str
    history: History
    scores: dict[tuple[str, str], FloatArray]  # (metric, cycle label) -> raw answers, as histograms hold


def label_of(months_ago: int) -> str:
    return f"m-{months_ago:02d}"


def index_of(months_ago: int) -> int:
    return 1000 - months_ago


def cell(months_ago: int, values: FloatArray) -> CycleCell:
    n = int(values.size)
    total = float(values.sum())
    return CycleCell(
        index_of(months_ago),
        label_of(months_ago),
        n,
        total / n if n else math.nan,
        total,
        float(np.square(values).sum()),
        None,
        None,
    )


def items_mean(rng: np.random.Generator, level: FloatArray, items: int) -> FloatArray:
    """A construct score: the mean of `items` answers, each the level plus item noise, rounded to 1-7.

    Reverse-keyed items are answered and scored back symmetrically, so they need no special case.
    """
    noisy = level[:, None] + rng.normal(0.0, ITEM_NOISE, size=(level.size, items))
    return np.asarray(np.clip(np.rint(noisy), 1, 7).mean(axis=1), dtype=np.float64)


def simulate_team(rng: np.random.Generator, unit: str, path: str) -> SimulatedUnit:
    """One team's closed cycles, following surveys.demo (_climate_draw, _traits_draw, demo_answers_draw)."""
    if path in PLANTED_SIZES:
        size = int(rng.integers(PLANTED_SIZES[path][0], PLANTED_SIZES[path][1] + 1))
    else:
        size = int(min(12, max(3, round(rng.normal(7.5, 2.0)))))  # demo._team_size_draw
    safety_level = 5.6 if path == PAYMENTS else rng.normal(5.3, 0.35)
    pressure_level = 3.4 if path == PAYMENTS else rng.normal(3.6, 0.5)
    if path == GROWTH:
        agency_level, optimism_level, spread, non_user_share = 4.0, 4.0, 0.65, 0.03
    else:
        agency_level, optimism_level = rng.normal(4.9, 0.3), rng.normal(4.8, 0.3)
        spread, non_user_share = 1.0, rng.uniform(0.08, 0.25)
    response_rate = rng.uniform(0.66, 0.89)

    safety = safety_level + rng.normal(0, 0.55, size)
    pressure = pressure_level + rng.normal(0, 0.7, size)
    agency_offset = rng.normal(0, 0.7 * spread, size)
    agency = agency_level + agency_offset
    optimism = optimism_level + 0.35 * agency_offset + rng.normal(0, 0.6 * spread, size)
    workslop_rate = np.clip(rng.uniform(0.25, 0.55) + rng.normal(0, 0.1, size), 0.02, 0.95)
    non_user = rng.random(size) < non_user_share
    drift = PLANTED_TRENDS.get(path, {})

    history: History = {metric: [] for metric in ("psych_safety", "pressure", "pilot_ratio", "workslop_prevalence")}
    scores: dict[tuple[str, str], FloatArray] = {}
    for months_ago in range(CLOSED_CYCLES + NEWEST_MONTHS_AGO - 1, NEWEST_MONTHS_AGO - 1, -1):
        position = trend_position(months_ago=months_ago)
        # demo._respondents_choose: the team's rate with monthly jitter, kept within 60-95 %.
        count = round(size * (response_rate + rng.uniform(-0.06, 0.06)))
        count = min(math.floor(size * 0.95), max(math.ceil(size * 0.6), count))
        who = rng.choice(size, size=max(1, min(size, count)), replace=False)

        def this_month(
            level: FloatArray, trait: str, members: npt.NDArray[np.intp], shift: float = position
        ) -> FloatArray:
            # demo_answers_draw: the trait, its planted drift so far, and this month's mood.
            return level[members] + drift.get(trait, 0.0) * shift + rng.normal(0, MOOD_NOISE, members.size)

        users = who[~non_user[who]]
        pilot = (items_mean(rng, this_month(agency, "agency", users), 4) >= 5.0) & (
            items_mean(rng, this_month(optimism, "optimism", users), 2) >= 5.0
        )  # stats.usage_modes: Pilot = agency and optimism both >= 5
        values = {
            "psych_safety": items_mean(rng, this_month(safety, "safety", who), 7),
            "pressure": items_mean(rng, this_month(pressure, "pressure", who), 1),
            "pilot_ratio": pilot.astype(float),
            "workslop_prevalence": (rng.random(who.size) < workslop_rate[who]).astype(float),
        }
        for metric, answers in values.items():
            if answers.size >= K:  # R4: a hidden cell is not in the published history
                history[metric].append(cell(months_ago, answers))
                scores[(metric, label_of(months_ago))] = answers
    return SimulatedUnit(unit, history, scores)


@dataclass
class Replicate:
    """One simulated organisation, decided twice from the same permutation-refined p-values."""

    null: dict[str, list[Candidate]]  # 45 stable teams: unit -> its candidates
    planted: dict[str, list[Candidate]]  # 43 of those teams, Payments and Growth


def simulate_organisation(rng: np.random.Generator, *, seed: int) -> Replicate:
    """Flags of the newest closed cycle, for 45 stable teams and for 43 of them with the planted two.

    The two decisions share the simulated teams and the permutation p-values (each depends on its
    own unit only); Benjamini-Hochberg and the capability trap run separately on each set of 45,
    as production runs them on one organisation. This is change_flags_decide split in two.
    """
    paths = {f"u{i:02d}": "Stable" for i in range(UNITS)} | {"payments": PAYMENTS, "growth": GROWTH}
    units = {unit: simulate_team(rng, unit, path) for unit, path in paths.items()}
    newest = label_of(NEWEST_MONTHS_AGO)
    history = history_frame(
        (unit, metric, cell) for unit, simulated in units.items() for metric, cells in simulated.history.items()
        for cell in cells
    )  # fmt: skip
    questions = change_questions(history, newest)

    def scores(unit: str, metric: str, label: str) -> FloatArray:
        return units[unit].scores[(metric, label)]

    samples = permutation_wanted(questions, history)
    permutation_refine(questions, samples, scores, seed=seed, n_resamples=RESAMPLES)

    def decide(chosen: list[str]) -> dict[str, list[Candidate]]:
        mine = questions[questions["unit"].isin(chosen)].copy()
        questions_decide(mine)
        candidates = change_candidates(mine, history, {unit: unit for unit in chosen})
        capability_trap(candidates, history[history["unit"].isin(chosen)], newest)
        grouped: dict[str, list[Candidate]] = {unit: [] for unit in chosen}
        for c in candidates:
            grouped[c.unit_id].append(c)
        return grouped

    stable = [unit for unit, path in paths.items() if path == "Stable"]
    return Replicate(null=decide(stable), planted=decide([*stable[: UNITS - 2], "payments", "growth"]))


def shown(candidates: list[Candidate], severity: str, kind: str | None = None) -> bool:
    return any(
        c.severity == severity and c.kind not in INTERNAL_KINDS and (kind is None or c.kind == kind) for c in candidates
    )


@dataclass
class Rates:
    histories: int
    flagged: float
    watched: float


def rates(groups: list[Mapping[str, list[Candidate]]]) -> Rates:
    units = [candidates for group in groups for candidates in group.values()]
    return Rates(
        histories=len(units),
        flagged=sum(shown(c, FLAG) for c in units) / len(units),
        watched=sum(shown(c, WATCH) for c in units) / len(units),
    )


@pytest.fixture(scope="module")
def replicates() -> Iterator[list[Replicate]]:
    rng = np.random.default_rng(20240601)
    with pytest.MonkeyPatch.context() as patch:
        # The Theil-Sen slope is only displayed beside the OLS test and decides nothing; it is a
        # third of the run time.
        patch.setattr(flag_candidates, "theil_sen_per_cycle", lambda cells: None)
        yield [simulate_organisation(rng, seed=1000 + replicate) for replicate in range(ORGANISATIONS)]


def test_no_change_data_rarely_carries_a_flag(replicates: list[Replicate]) -> None:
    measured = rates([r.null for r in replicates])
    standard_error = math.sqrt(measured.flagged * (1 - measured.flagged) / measured.histories)
    print(
        f"\nno change: {measured.histories} unit-histories; any flag {measured.flagged:.4f} "
        f"(SE {standard_error:.4f}), any watch {measured.watched:.4f}"
    )
    assert measured.histories >= 2000
    # PRODUCT.md: at most ~5 % of units may carry any flag in a cycle on no-change data.
    assert measured.flagged <= 0.06
    # Watches are p < .05 on up to eight one-sided tests per unit: many, but a sanity bound keeps a
    # broken p-value (e.g. two-sided halved twice) from passing unnoticed.
    assert measured.watched <= 0.25


def test_planted_patterns_are_flagged(replicates: list[Replicate]) -> None:
    runs = len(replicates)
    payments = sum(shown(r.planted["payments"], FLAG, "psych_safety_falling") for r in replicates) / runs
    trap = sum(shown(r.planted["payments"], FLAG, "capability_trap") for r in replicates) / runs
    growth = sum(shown(r.planted["growth"], FLAG, "pilot_ratio_rising") for r in replicates) / runs
    others = rates([{u: c for u, c in r.planted.items() if u.startswith("u")} for r in replicates])
    print(
        f"\nplanted, {runs} organisations: Payments safety falling {payments:.3f}, capability trap {trap:.3f}, "
        f"Growth Pilot ratio rising {growth:.3f}; stable teams beside them ({others.histories}) any flag "
        f"{others.flagged:.4f}"
    )
    assert payments >= 0.9
    assert trap >= 0.9
    assert growth >= 0.9
    assert others.flagged <= 0.06
