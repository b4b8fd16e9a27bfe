"""Property-based tests of everything a cycle publishes (ANONYMITY R4, R5, R11-R14).

Random organisations (forests under the organisation, people sitting on inner units too) get
random respondents whose answers follow the instrument's skip logic (non-users skip the AI items,
only receivers answer ws2/ws3) and skip optional items at random. The whole pure pipeline runs
(scoring, partials, publication, cells), and what it publishes is attacked with an independent
model: each respondent has an id, each unit the set of ids of its subtree that a variable
counts, and every subtraction a viewer can make is computed on those sets:

- counts and sums (the same people): per population, no difference of published units isolates
  1..k-1 people (2k for a third category of an item, 20 for the source mix), and nothing of a
  unit hidden on its respondents is published;
- sums of squares: published only by cells whose interval uses their own spread, and no
  difference of those isolates 1..29 people; every other interval is the organisation's SD over
  the cell's n, the same for every cell of a metric;
- every figure of an item together: figures that others determine are published exactly with
  them and equal what they determine, and for every small cell, the published figures of use1
  and trust1 leave every hidden figure of that item more than one possible value (unless every
  answer fell in one bin: homogeneity).
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Mapping

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from analytics.core.catalogue import METRICS, RESPONSES
from analytics.core.cells import cells_compute
from analytics.core.partials import partials_compute
from analytics.core.tree import UnitTree
from tests.analytics.builders import V1_SCORING
from tests.analytics.test_disclosure_properties import disjoint_subsets

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
SPEED = (0.33, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5)
HOURS = (0.5, 1.5, 3.5, 7.5, 12.0)
SOURCES = ("teammates", "leaders", "other_teams", "reports")


def person_answers(rng: random.Random) -> dict[str, float]:
    """One respondent's stored answers: the skip logic of instrument v1, optional items skipped
    now and then, and a taste for the same answers (so that small cells pin things if allowed)."""
    skip = rng.choice((0.0, 0.1, 0.3))
    answers: dict[str, float] = {}

    def maybe(key: str, value: float) -> None:
        if rng.random() >= skip:
            answers[key] = value

    level = rng.choice((2, 4, 6))
    for key in V1_SCORING.constructs["psych_safety"]:
        maybe(key, min(7, max(1, level + rng.choice((-1, 0, 0, 1)))))
    answers["use1"] = rng.choice((1, 1, 2, 3, 4, 5))
    maybe("ws1", rng.choice((1, 1, 2, 3)))
    for key in ("voice1", "press1", "mgr1"):
        maybe(key, rng.choice((1, 4, 7, rng.randint(1, 7))))
    if answers["use1"] > 1:
        maybe("trust1", rng.choice((1, 2, 3, 4, 4, 5)))
        maybe("speed1", rng.choice(SPEED))
        maybe("speed2", rng.randint(-10, 20))
        for key in (*V1_SCORING.constructs["agency"], *V1_SCORING.constructs["optimism"]):
            maybe(key, rng.choice((2, 5, 6, 7)))
    if answers.get("ws1", 1) > 1:
        maybe("ws2", rng.choice(HOURS))
        if rng.random() >= skip:
            for source in SOURCES:
                answers[f"ws3_{source}"] = float(rng.random() < 0.4)
    return answers


def random_forest(rng: random.Random) -> dict[int, int | None]:
    """1..16 units at most 4 levels deep under the organisation, ids shuffled against depth."""
    size = rng.randint(1, 16)
    depth, parent_index = [1], [None]
    for _ in range(1, size):
        eligible = [i for i, d in enumerate(depth) if d < 4]
        parent = None if rng.random() < 0.15 else rng.choice(eligible)
        parent_index.append(parent)
        depth.append(1 if parent is None else depth[parent] + 1)
    labels = list(range(size))
    rng.shuffle(labels)
    return {labels[i]: (None if p is None else labels[p]) for i, p in enumerate(parent_index)}


@st.composite
def organisations(draw: st.DrawFn) -> tuple[UnitTree[str], pd.DataFrame]:
    # One seed drives the whole organisation: random trees of people, kept small for hypothesis.
    rng = random.Random(draw(st.integers(0, 10**9)))
    parents = random_forest(rng)
    teams = [(f"u{unit}", f"Unit {unit}", None if parent is None else f"u{parent}") for unit, parent in parents.items()]
    tree = UnitTree.from_teams(teams, "Org")
    rows = []
    for unit in sorted(parents):
        people = rng.choice((0, 1, 2, 3, 5, 6, 8)) if rng.random() < 0.8 else rng.randint(9, 25)
        for person in range(people):
            response = f"r{unit}-{person}"
            for item, value in person_answers(rng).items():
                rows.append((response, f"u{unit}", item, float(value)))
    answers = pd.DataFrame(rows, columns=["response_id", "team_id", "item", "value"])
    return tree, answers


def defined_sets(answers: pd.DataFrame, tree: UnitTree[str], condition) -> dict[str, frozenset[str]]:
    """unit -> ids of the respondents in its subtree for whom ``condition(answers)`` holds."""
    by_person = answers.groupby("response_id")
    chosen: dict[str, set[str]] = {unit: set() for unit in tree.parents}
    for response, rows in by_person:
        values = dict(zip(rows["item"], rows["value"], strict=True))
        if condition(values):
            for unit in tree.ancestors(rows["team_id"].iloc[0]):
                chosen[unit].add(str(response))
    return {unit: frozenset(people) for unit, people in chosen.items()}


# Which respondents each variable counts, written from the instrument's rules, not from the code.
def _ai(v: Mapping[str, float]) -> bool:
    return v["use1"] > 1


def _ps(v: Mapping[str, float]) -> bool:
    return sum(key in v for key in V1_SCORING.constructs["psych_safety"]) * 2 >= 7


def _classified(v: Mapping[str, float]) -> bool:
    agency = sum(key in v for key in V1_SCORING.constructs["agency"])
    optimism = sum(key in v for key in V1_SCORING.constructs["optimism"])
    return _ai(v) and agency * 2 >= 4 and optimism * 2 >= 2


POPULATIONS = {
    RESPONSES: lambda v: True,
    "daily_use": lambda v: True,
    "distrust": lambda v: _ai(v) and "trust1" in v,
    "pilot": _classified,
    "mode_low_agency_low_optimism": _classified,
    "psych_safety": _ps,
    "ai_user": lambda v: True,
    "trust": lambda v: _ai(v) and "trust1" in v,
    "voice": lambda v: "voice1" in v,
    "log_time_ratio": lambda v: _ai(v) and "speed1" in v,
    "workslop_received": lambda v: "ws1" in v,
    "workslop_hours": lambda v: v.get("ws1", 1) > 1 and "ws2" in v,
}


def assert_no_small_difference(members: Mapping[str, frozenset[str]], shown: set[str], tree, threshold, rng, what):
    def safe(size: int) -> bool:
        return size == 0 or size >= threshold

    for unit in sorted(shown):
        assert len(members[unit]) >= threshold, f"{what}: {unit} publishes n < {threshold}"
        below = [d for d in sorted(shown) if d != unit and unit in tree.ancestors(d)[1:]]
        for subset in disjoint_subsets(below, members, rng):
            rest = members[unit].difference(*(members[d] for d in subset))
            assert safe(len(rest)), f"{what}: {unit} minus {subset} isolates {len(rest)} (threshold {threshold})"
    for a, b in itertools.combinations(sorted(shown), 2):
        for difference in (members[a] - members[b], members[b] - members[a]):
            assert safe(len(difference)), f"{what}: {a} vs {b} isolates {len(difference)}"


@SETTINGS
@given(organisations(), st.sampled_from((3, 5)), st.randoms(use_true_random=False))
def test_nothing_published_isolates_a_small_group_in_any_population(organisation, k, rng):
    tree, answers = organisation
    if answers.empty:
        return
    partials = partials_compute(answers, scoring=V1_SCORING, pilot_cutoff=5.0)
    cells = cells_compute(partials, tree, scoring=V1_SCORING, invited={}, k=k, hourly_cost=80.0).cells
    shown = cells[cells["published"]]
    published = {metric: set(rows["unit_id"]) for metric, rows in shown.groupby("metric")}
    on_respondents = published.get(RESPONSES, set())
    # R11: nothing of a unit hidden on its respondents.
    for metric, units in published.items():
        assert units <= on_respondents, f"R11: {metric} published for {units - on_respondents}"

    by_name = {spec.name: spec for spec in METRICS}
    for variable, condition in POPULATIONS.items():
        members = defined_sets(answers, tree, condition)
        metrics = [RESPONSES] if variable == RESPONSES else [
            s.name for s in METRICS if s.variable == variable and s.gate != "follows"
        ]  # fmt: skip
        units = set().union(*(published.get(m, set()) for m in metrics))
        assert_no_small_difference(members, units, tree, k, rng, variable)
        for metric in metrics:
            spec = by_name.get(metric)
            if spec is not None and spec.gate == "distribution":
                assert_no_small_difference(members, published.get(metric, set()), tree, 2 * k, rng, metric)
        # R13: sums of squares only from cells with their own spread, and only in groups of 30.
        if variable in ("psych_safety", "voice", "trust", "log_time_ratio", "workslop_hours"):
            own = set()
            for metric in metrics:
                rows = shown[shown["metric"] == metric]
                for unit, extra in zip(rows["unit_id"], rows["extra"], strict=True):
                    if extra.get("interval") == "own_sd":
                        own.add(unit)
            assert_no_small_difference(members, own, tree, 30, rng, f"{variable} sums of squares")

    # R13: every other interval is one SD per metric over sqrt(n): nothing about the cell itself.
    for metric in ("psych_safety", "voice", "trust", "workslop_hours"):
        rows = shown[(shown["metric"] == metric) & (shown["n"] >= 2)]
        spreads = {
            round((high - low) / 2 * math.sqrt(n) / scipy_stats.t.ppf(0.975, n - 1), 9)
            for n, low, high, extra in zip(rows["n"], rows["ci_low"], rows["ci_high"], rows["extra"], strict=True)
            if extra.get("interval") == "organisation_sd"
        }
        assert len(spreads) <= 1, f"R13: {metric} small-cell intervals use different spreads {spreads}"

    check_determined_figures(shown)
    check_items_leave_hidden_figures_open(shown, published, answers, tree, k)


def value_of(shown: pd.DataFrame, metric: str) -> dict[str, tuple[int, float]]:
    rows = shown[shown["metric"] == metric]
    return {unit: (int(n), float(v)) for unit, n, v in zip(rows["unit_id"], rows["n"], rows["value"], strict=True)}


def check_determined_figures(shown: pd.DataFrame) -> None:
    """R14: a figure that others determine is published exactly with them, and equals them."""
    share, never = value_of(shown, "ai_user_share"), value_of(shown, "use_never")
    assert set(share) == set(never)
    for unit, (n, value) in share.items():
        assert never[unit][0] == n and abs(never[unit][1] - (1 - value)) < 1e-9
    ratio, pilots_of_all = value_of(shown, "pilot_ratio"), value_of(shown, "pilot_share_of_respondents")
    assert set(pilots_of_all) == set(ratio) & set(share)
    for unit, (n_all, value) in pilots_of_all.items():
        n_classified, pilot_ratio = ratio[unit]
        n_use, user_share = share[unit]
        non_users = round(n_use * (1 - user_share))
        assert n_all == n_classified + non_users
        assert abs(value * n_all - pilot_ratio * n_classified) < 1e-6
    per_receiver, prevalence = value_of(shown, "workslop_hours"), value_of(shown, "workslop_prevalence")
    per_respondent = value_of(shown, "workslop_hours_per_respondent")
    assert set(per_respondent) == set(per_receiver) & set(prevalence)
    for unit, (n_all, value) in per_respondent.items():
        n_ws2, hours = per_receiver[unit]
        n_ws1, received = prevalence[unit]
        assert n_all == n_ws1 - (round(received * n_ws1) - n_ws2)  # those who skipped ws2 are left out
        assert abs(value * n_all - hours * n_ws2) < 1e-6


def histograms(n: int, categories: int):
    for bars in itertools.combinations(range(n + categories - 1), categories - 1):
        edges = (-1, *bars, n + categories - 1)
        yield tuple(edges[i + 1] - edges[i] - 1 for i in range(categories))


USE1 = {"ai_user_share": {2, 3, 4, 5}, "use_never": {1}, "daily_use_share": {4, 5}, "use_few_times": {2},
        "use_weekly": {3}, "use_daily": {4}, "use_several_daily": {5}}  # fmt: skip
TRUST1 = {"trust_share": {4, 5}, "distrust_share": {1, 2}}


def check_items_leave_hidden_figures_open(shown, published, answers, tree, k) -> None:
    """For every small cell, the published figures of use1 and of trust1 leave each hidden figure
    of the item more than one possible value, unless every answer fell in one bin."""
    for item, family, mean_metric, bins in (
        ("use1", USE1, None, {1: 0, 2: 1, 3: 2, 4: 3, 5: 4}),
        ("trust1", TRUST1, "trust", {1: 0, 2: 0, 3: 1, 4: 2, 5: 2}),
    ):
        values = {metric: value_of(shown, metric) for metric in (*family, *(mean_metric and [mean_metric] or []))}
        units = set().union(*(set(values[m]) for m in family))
        for unit in units:
            n = next(values[m][unit][0] for m in family if unit in values[m])
            hidden = [m for m in family if unit not in values[m]]
            if not hidden or n >= 4 * k:
                continue
            possible = []
            for histogram in histograms(n, 5):
                counts = dict(zip((1, 2, 3, 4, 5), histogram, strict=True))
                fits = all(
                    sum(counts[v] for v in family[m]) == round(values[m][unit][1] * n)
                    for m in family if unit in values[m]
                )  # fmt: skip
                if mean_metric and unit in values[mean_metric]:
                    fits &= sum(v * c for v, c in counts.items()) == round(values[mean_metric][unit][1] * n)
                if fits:
                    possible.append(counts)
            split = {tuple(sum(c for v, c in counts.items() if bins[v] == b) for b in sorted(set(bins.values())))
                     for counts in possible}  # fmt: skip
            if len(split) == 1 and sum(1 for c in next(iter(split)) if c) == 1:
                continue  # homogeneity: the published figures say everyone answered alike
            for metric in hidden:
                options = {sum(counts[v] for v in family[metric]) for counts in possible}
                published_figures = {m: values[m].get(unit) for m in values}
                assert len(options) > 1, (
                    f"R14: {unit}'s hidden {metric} follows from its {item} figures {published_figures}"
                )
