"""Acceptance tests for the independent attack on the published figures (ANONYMITY R11-R15).

Each test builds an organisation through the public path only (roster CSV and `import_roster`,
`open_cycle`, every person answering at their one-time link over HTTP, `close_cycle`,
`aggregate`, `export_aggregates --format csv`) and then plays the attacker: from the exported
figures and the roster (which HR holds) alone, it tries the inference of one finding and asserts
that the inference fails. Nothing is imported from `analytics.*`.

Findings (numbering of the issue):
1. A zero hides an answer (R12).          2. Populations suppressed apart (R11).
3. The interval gives the answers (R13).  4. The four usage modes are a four-way split (R14).
5. Hidden but determined (R14).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest

from surveys.models import Organisation
from tests.analytics.attack_helpers import (
    Export,
    Figure,
    Roster,
    answers,
    consistent,
    mean_check,
    multisets,
    own_interval_check,
    own_t_interval,
    run_cycle,
    share_check,
)

K = 5  # the organisation's default threshold; every test uses it
WS2_SCALE = (0.5, 1.5, 3.5, 7.5, 12.0)  # ws2 answer values (hours, the midpoints stored)
SEVEN = (1, 2, 3, 4, 5, 6, 7)
FIVE = (1, 2, 3, 4, 5)
USE_LEVELS = (1, 2, 3, 4, 5)  # use1: never, a few times, weekly, daily, several times a day

#: Every published figure over a unit's workslop hours: (metric, hours per unit of the value).
HOURS_FIGURES = ("workslop_hours", "workslop_hours_per_respondent")
COST_FIGURES = ("workslop_cost", "workslop_cost_per_respondent")
#: Metrics whose population is the unit's AI users (the skip logic): their n counts AI users.
AI_USER_METRICS = (
    "trust", "trust_share", "distrust_share", "time_ratio", "hours_saved", "pilot_ratio",
    "mode_pilot", "mode_high_agency_low_optimism", "mode_low_agency_high_optimism", "mode_low_agency_low_optimism",
)  # fmt: skip
QUADRANTS = (
    "mode_pilot", "mode_high_agency_low_optimism", "mode_low_agency_high_optimism", "mode_low_agency_low_optimism",
)  # fmt: skip
#: The figures published about use1, each as the set of answer levels it counts.
USE1_FIGURES: dict[str, frozenset[int]] = {
    "ai_user_share": frozenset({2, 3, 4, 5}),
    "daily_use_share": frozenset({4, 5}),
    "use_never": frozenset({1}),
    "use_few_times": frozenset({2}),
    "use_weekly": frozenset({3}),
    "use_daily": frozenset({4}),
    "use_several_daily": frozenset({5}),
}


def hourly_cost() -> float:
    """The organisation's hourly cost: a setting HR itself chose, so the attacker knows it."""
    return float(Organisation.current().hourly_cost)


# ---------------------------------------------------------------------------------------------
# Finding 1 (R12): a zero hides an answer.
# ---------------------------------------------------------------------------------------------


def hours_figures(export: Export, unit: str) -> list[tuple[Figure, float]]:
    """Published hours and cost figures of a unit, each with the factor that turns hours into its
    value (1 for hours, the hourly cost for cost). Whatever the population (per respondent, with
    zeros for non-receivers, or per receiver), value x n is the receivers' total."""
    cost = hourly_cost()
    found = [(export.get(unit, m), 1.0) for m in HOURS_FIGURES] + [(export.get(unit, m), cost) for m in COST_FIGURES]
    return [(figure, factor) for figure, factor in found if figure is not None and figure.value is not None]


def known_hours_total(export: Export, unit: str) -> float | None:
    """The receivers' total hours of a unit, read directly or by differencing its parent's total
    with every sibling's (when the parent has no members of its own on the roster)."""
    for figure, factor in hours_figures(export, unit):
        return figure.value * figure.n / factor
    parent = export.parent(unit)
    if parent is None or export.roster.direct_headcount(parent):
        return None
    parent_total = next((f.value * f.n / factor for f, factor in hours_figures(export, parent)), None)
    if parent_total is None:
        return None
    siblings = [known_hours_total_direct(export, s) for s in export.children(parent) if s != unit]
    if any(total is None for total in siblings):
        return None
    return parent_total - sum(siblings)


def known_hours_total_direct(export: Export, unit: str) -> float | None:
    return next((f.value * f.n / factor for f, factor in hours_figures(export, unit)), None)


def receivers_hours_candidates(export: Export, unit: str, truth: tuple[float, ...]) -> list[tuple[float, ...]]:
    """Every multiset of the receivers' ws2 answers that fits what is published about the unit:
    each hours or cost figure's mean (rounded as stored), its interval read as the cell's own t
    interval (a hypothesis, dropped if nothing fits it), and any total obtained by differencing.
    The number of receivers is len(truth) (the attacker reads it off the prevalence)."""
    receivers = len(truth)
    hard, hypotheses = [], []
    for figure, factor in hours_figures(export, unit):
        zeros = figure.n - receivers

        def values(c: tuple[float, ...], zeros: int = zeros, factor: float = factor) -> list[float]:
            return [v * factor for v in c] + [0.0] * max(zeros, 0)

        hard.append(lambda c, figure=figure, zeros=zeros: zeros >= 0)
        hard.append(mean_check(figure, values))
        hypotheses.append(own_interval_check(figure, values))
    total = known_hours_total(export, unit)
    if total is not None:
        hard.append(lambda c, total=total: abs(sum(c) - total) < 1e-6 * (1 + abs(total)))
    return consistent(multisets(WS2_SCALE, receivers), hard, hypotheses, truth=truth)


def one_receiver_in_six(i: int) -> dict[str, object]:
    return answers(ws1="2", ws2="7.5") if i == 0 else answers(ws1="1")


@pytest.mark.django_db
def test_finding1_one_receiver_in_six_publishes_nothing_that_gives_their_hours(tmp_path):
    """Finding 1, R12: one workslop receiver in a team of six. Prevalence 1/6 and per-respondent
    hours 1.25 (zeros for the others) gave 1.25 x 6 = 7.5 h, that person's ws2 answer.

    The attacker reads the receiver count off the published prevalence (share x n), then keeps
    every ws2 answer consistent with every hours and cost figure of each unit that holds the
    receiver (Ops and the organisation), by the figure itself or by differencing. The true answer
    (7.5) must not be the only one left. Per R12 that means: per-respondent hours/cost are published only where
    receivers number k or more, and the per-receiver figures are hidden below k receivers."""
    roster = Roster().add("Ops", 6, one_receiver_in_six).add("Web", 6, lambda i: answers(ws1="1"))
    export = run_cycle(tmp_path, roster)
    organisation = export.organisation_unit()
    assert export.count("Ops", "workslop_prevalence") == 1  # the attacker's starting point
    assert export.count(organisation, "workslop_prevalence") == 1

    for unit in ("Ops", organisation):
        candidates = receivers_hours_candidates(export, unit, truth=(7.5,))
        assert candidates != [(7.5,)], (
            f"R12: the single workslop receiver's ws2 answer follows from {unit}'s published figures: "
            f"{candidates}. {export.describe(unit)}"
        )
    for unit in export.units:
        receivers = export.count(unit, "workslop_prevalence")
        for metric in ("workslop_hours_per_respondent", "workslop_cost_per_respondent"):
            if export.get(unit, metric) is not None:
                assert receivers is not None and receivers >= K, (
                    f"R12: {unit} publishes {metric} with {receivers} receivers (< k={K})"
                )
        for metric in ("workslop_hours", "workslop_cost"):
            figure = export.get(unit, metric)
            if figure is not None:
                assert figure.n >= K and receivers is not None and figure.n <= receivers, (
                    f"R12: {unit} publishes {metric} (per receiver) with n={figure.n} for {receivers} receivers"
                )


def two_receivers_in_six(i: int) -> dict[str, object]:
    return {0: answers(ws1="3", ws2="0.5"), 1: answers(ws1="2", ws2="7.5")}.get(i, answers(ws1="1"))


def five_receivers_in_six(i: int) -> dict[str, object]:
    hours = ("0.5", "1.5", "3.5", "1.5", "12")
    return answers(ws1="2", ws2=hours[i]) if i < 5 else answers(ws1="1")


@pytest.mark.django_db
def test_finding1_two_receivers_below_k_keep_their_answers_even_by_differencing(tmp_path):
    """Finding 1, R12 with R5 on the receiver count: two receivers in a team of six. The team's
    hours (mean x n, and the interval's sum of squares) gave both answers. The sibling team has
    five receivers and the organisation seven, so the organisation's receiver figures minus the
    sibling's would give the pair too unless R5 hides the sibling on receivers.

    The attacker enumerates every pair of ws2 answers for Ops's two receivers consistent with all
    published hours and cost figures (direct or organisation minus Web); the true pair (0.5, 7.5)
    must not be the only one left, and Ops's receivers' total must not be computable."""
    roster = Roster().add("Ops", 6, two_receivers_in_six).add("Web", 6, five_receivers_in_six)
    export = run_cycle(tmp_path, roster)
    assert export.count("Ops", "workslop_prevalence") == 2
    assert export.count("Web", "workslop_prevalence") == 5

    pairs = receivers_hours_candidates(export, "Ops", truth=(0.5, 7.5))
    assert pairs != [(0.5, 7.5)], (
        f"R12/R5: the two receivers' ws2 answers in Ops follow from the published figures: {pairs}. "
        f"{export.describe('Ops')} | {export.describe('Web')} | {export.describe(export.organisation_unit())}"
    )
    assert known_hours_total(export, "Ops") is None, "R12/R5: Ops's receivers' total hours can be computed"


@pytest.mark.django_db
def test_finding1_workslop_hours_are_per_receiver_and_per_respondent_only_from_k_receivers(tmp_path):
    """Finding 1, R12 (intended behaviour): `workslop_hours`/`workslop_cost` are per receiver (n =
    receivers); `workslop_hours_per_respondent`/`workslop_cost_per_respondent` exist and are
    published only where receivers number k or more. The organisation (12 respondents, 7
    receivers: 0.5, 7.5 in Ops; 0.5, 1.5, 3.5, 1.5, 12 in Web) publishes both."""
    roster = Roster().add("Ops", 6, two_receivers_in_six).add("Web", 6, five_receivers_in_six)
    export = run_cycle(tmp_path, roster)
    organisation = export.organisation_unit()
    total = 0.5 + 7.5 + 0.5 + 1.5 + 3.5 + 1.5 + 12
    per_receiver = export.get(organisation, "workslop_hours")
    assert per_receiver is not None and per_receiver.n == 7, (
        f"R12: workslop_hours must be per receiver (n = 7 receivers): {export.describe(organisation)}"
    )
    assert per_receiver.matches("value", total / 7)
    cost = export.get(organisation, "workslop_cost")
    assert cost is not None and cost.n == 7 and cost.matches("value", total / 7 * hourly_cost())
    per_respondent = export.get(organisation, "workslop_hours_per_respondent")
    assert per_respondent is not None and per_respondent.n == 12, (
        f"R12: workslop_hours_per_respondent must be published where receivers >= k: {export.describe(organisation)}"
    )
    assert per_respondent.matches("value", total / 12)
    assert export.get(organisation, "workslop_cost_per_respondent") is not None
    for metric in ("workslop_hours", "workslop_cost", "workslop_hours_per_respondent", "workslop_cost_per_respondent"):
        assert export.get("Ops", metric) is None, f"R12: Ops (2 receivers) publishes {metric}"


# ---------------------------------------------------------------------------------------------
# Finding 2 (R11): populations suppressed apart.
# ---------------------------------------------------------------------------------------------


def lab_with_a_head() -> Roster:
    """A department head alone directly on Lab (a non-user), Lab/X (5) and Lab/Y (6) all AI users,
    and a second department. Respondents: Lab 12 minus X and Y leaves the head alone, so R5 hides
    Lab/X; among AI users the head adds nothing, so AI-user metrics would publish Lab/X in full."""
    roster = Roster()
    roster.add("Lab", 1, lambda i: answers(use1="1"), role="manager", manages="Lab")
    roster.add("Lab/X", 5, lambda i: answers(use1="4", trust1=str(2 + i % 3)))
    roster.add("Lab/Y", 6, lambda i: answers(use1="5", trust1="4"))
    roster.add("Ops", 6, lambda i: answers(use1=str(2 + i % 4)))
    return roster


@pytest.mark.django_db
def test_finding2_a_unit_hidden_on_its_respondents_is_hidden_for_every_metric(tmp_path):
    """Finding 2, R11: a unit hidden for `responses` (Lab/X, hidden by complementary suppression
    because the head sits alone on Lab) is hidden for every population and metric, AI-user
    metrics included."""
    roster = lab_with_a_head()
    export = run_cycle(tmp_path, roster)
    assert export.get("Lab/X", "responses") is None, "setup: R5 must hide Lab/X on respondents"
    for unit in export.units:
        if export.get(unit, "responses") is None:
            assert export.published_metrics(unit) == [], (
                f"R11: {unit} is hidden on its respondents but publishes {export.published_metrics(unit)}. "
                f"{export.describe(unit)}"
            )


def ai_users_at_least(export: Export, unit: str) -> int:
    """The fewest AI users the unit can have, from what it publishes: its AI-user share x n, or
    the n of any metric whose population is AI users."""
    counts = [export.count(unit, "ai_user_share") or 0]
    counts += [f.n for m in AI_USER_METRICS if (f := export.get(unit, m)) is not None]
    return max(counts)


@pytest.mark.django_db
def test_finding2_the_heads_use1_cannot_be_derived_by_subtracting_sub_teams(tmp_path):
    """Finding 2, R11: the attacker takes Lab's AI users (AI-user share x n), subtracts what the
    sub-teams publish about their AI users (share x n, or the n of an AI-user metric), and looks at
    what is left for the one person on the roster who sits directly on Lab. If nothing is left,
    the head answered "Never". Something must be left (or Lab's AI-user count must be hidden)."""
    roster = lab_with_a_head()
    export = run_cycle(tmp_path, roster)
    lab_ai = export.count("Lab", "ai_user_share")
    if lab_ai is None:
        return  # nothing to subtract from
    assert roster.direct_headcount("Lab") == 1
    assert export.get("Lab", "responses") is not None and export.get("Lab", "responses").n == roster.headcount("Lab")
    at_most_for_the_head = lab_ai - sum(ai_users_at_least(export, child) for child in export.children("Lab"))
    assert at_most_for_the_head > 0, (
        f"R11: Lab's {lab_ai} AI users minus its sub-teams' published AI users leaves "
        f"{at_most_for_the_head} for the head: their use1 answer is 'Never'. "
        f"{export.describe('Lab/X')} | {export.describe('Lab/Y')}"
    )


# ---------------------------------------------------------------------------------------------
# Finding 3 (R13): the interval gives the answers.
# ---------------------------------------------------------------------------------------------

VOICE = {"A": (1, 7, 7, 7, 7), "B": (5, 6, 6, 6, 6), "C": (4, 4, 4, 4, 4)}  # A and B: mean 5.8 both


def voice_roster() -> Roster:
    roster = Roster()
    for team, values in VOICE.items():
        roster.add(team, len(values), lambda i, values=values: answers(voice1=str(values[i])))
    return roster


@pytest.mark.django_db
def test_finding3_small_cells_with_the_same_mean_and_n_have_the_same_interval(tmp_path):
    """Finding 3, R13: an exact t interval publishes the cell's sum of squares (five answers with
    mean 5.8 and interval 2.468-9.132 can only be 1,7,7,7,7). Cells with n < 30 take their
    interval from the organisation's SD for the metric and cycle, so two teams of five with the
    same voice mean but different spread (1,7,7,7,7 and 5,6,6,6,6) show the same interval."""
    export = run_cycle(tmp_path, voice_roster())
    a, b = export.get("A", "voice"), export.get("B", "voice")
    assert a is not None and b is not None, "setup: voice must be published for teams of five"
    assert a.n == b.n == 5 and a.matches("value", 5.8) and b.matches("value", 5.8)
    assert a.half_width is not None and b.half_width is not None
    assert abs(a.half_width - b.half_width) <= 1e-9 + a.tol("ci_low") + a.tol("ci_high"), (
        f"R13: same metric, cycle, n and mean, different intervals: A {a.ci_low}-{a.ci_high}, "
        f"B {b.ci_low}-{b.ci_high}; the interval carries each team's own spread"
    )
    own = own_t_interval(VOICE["A"])
    assert not (a.matches("ci_low", own[0]) and a.matches("ci_high", own[1])), (
        f"R13: team A publishes its own exact t interval {own}"
    )


@pytest.mark.django_db
def test_finding3_no_teams_answers_follow_from_means_and_intervals_across_the_tree(tmp_path):
    """Finding 3, R13, brute force: for each team of five, enumerate every multiset of 7-point
    voice1 answers consistent with its published mean (rounded as stored) and, as a hypothesis,
    with its interval read as its own t interval; then combine the teams and keep the
    combinations consistent with the organisation's published mean and interval (same
    hypothesis: the organisation has 15 respondents, under 30, so its interval must not be its own
    spread either, R13's fixed SD). No team's true answers may be the only candidate left."""
    export = run_cycle(tmp_path, voice_roster())
    organisation = export.organisation_unit()
    per_team = {}
    for team, truth in VOICE.items():
        figure = export.get(team, "voice")
        if figure is None:
            continue  # hidden: nothing to attack
        assert figure.n == len(truth)
        per_team[team] = consistent(
            multisets(SEVEN, figure.n), [mean_check(figure)], [own_interval_check(figure)], truth=truth
        )
        assert per_team[team] != [truth], (
            f"R13: team {team}'s voice1 answers follow from its mean and interval: {per_team[team]}; "
            f"{export.describe(team)}"
        )
    top = export.get(organisation, "voice")
    if top is None or len(per_team) < len(VOICE):
        return
    teams = list(per_team)

    def joined(combo: tuple[tuple[float, ...], ...]) -> tuple[float, ...]:
        return tuple(v for c in combo for v in c)

    combos = consistent(
        itertools.product(*(per_team[t] for t in teams)),
        [lambda combo: top.matches("value", sum(joined(combo)) / len(joined(combo)))],
        [own_interval_check(top, joined)],
    )
    for index, team in enumerate(teams):
        left = {combo[index] for combo in combos}
        assert left != {VOICE[team]}, (
            f"R13: with the organisation's interval, team {team}'s voice1 answers can only be {left}; "
            f"{export.describe(organisation)}"
        )


# ---------------------------------------------------------------------------------------------
# Finding 4 (R14): the four usage modes are a four-way split.
# ---------------------------------------------------------------------------------------------


def quadrant_categories(export: Export, unit: str) -> int:
    """How many categories the published usage-mode figures split a unit's AI users into. The
    Pilot ratio is the Pilot quadrant's share; three known quadrants give the fourth."""
    known = {m for m in QUADRANTS if export.get(unit, m) is not None}
    if export.get(unit, "pilot_ratio") is not None:
        known.add("mode_pilot")
    return 4 if len(known) >= 3 else len(known) + 1


@pytest.mark.django_db
def test_finding4_usage_quadrants_of_five_ai_users_are_hidden(tmp_path):
    """Finding 4, R14: the four quadrants (mode_*) are a four-way split, a distribution: they need
    n >= 2k. A team of five AI users split 2,1,1,1 must not publish them (at most two categories,
    e.g. the Pilot ratio, may be told apart); the organisation of ten AI users may."""
    modes = ("pilot", "pilot", "high_agency_low_optimism", "low_agency_high_optimism", "low_agency_low_optimism")
    roster = Roster()
    roster.add("Mixed", 5, lambda i: answers(quadrant=modes[i]))
    roster.add("Pilots", 5, lambda i: answers(quadrant="pilot"))
    export = run_cycle(tmp_path, roster)
    assert export.get("Mixed", "pilot_ratio") is not None, "setup: the Pilot ratio (two categories) is published at n=k"
    for team in ("Mixed", "Pilots"):
        shown = [m for m in QUADRANTS if m != "mode_pilot" and export.get(team, m) is not None]
        assert not shown, f"R14: {team} (5 AI users) publishes the quadrants {shown}: {export.describe(team)}"
        assert quadrant_categories(export, team) <= 2, f"R14: {team}'s usage modes split 5 people 4 ways"


# ---------------------------------------------------------------------------------------------
# Finding 5 (R14): hidden but determined.
# ---------------------------------------------------------------------------------------------


def use1_compositions(export: Export, unit: str) -> list[tuple[int, ...]] | None:
    """Every count of answers per use1 level (never ... several a day) consistent with the unit's
    published use1 figures. None when the unit's n is not published."""
    published = {m: f for m in USE1_FIGURES if (f := export.get(unit, m)) is not None}
    responses = export.get(unit, "responses")
    n = responses.n if responses is not None else next((f.n for f in published.values()), None)
    if n is None:
        return None
    kept = []
    for cut in itertools.combinations(range(n + len(USE_LEVELS) - 1), len(USE_LEVELS) - 1):
        bounds = (-1, *cut, n + len(USE_LEVELS) - 1)
        counts = tuple(bounds[i + 1] - bounds[i] - 1 for i in range(len(USE_LEVELS)))
        if all(
            f.n == n and f.matches("value", sum(counts[level - 1] for level in USE1_FIGURES[m]) / n)
            for m, f in published.items()
        ):
            kept.append(counts)
    return kept


def use1_split_categories(export: Export, unit: str) -> int:
    """How many categories of use1 answers the published figures tell apart (atoms of the level
    sets they count)."""
    sets = [levels for m, levels in USE1_FIGURES.items() if export.get(unit, m) is not None]
    return len({tuple(level in s for s in sets) for level in USE_LEVELS})


@pytest.mark.django_db
def test_finding5_use_never_is_published_exactly_where_the_ai_user_share_is(tmp_path):
    """Finding 5, R14: "Use: never" is one minus the AI-user share, so it is published exactly
    where the AI-user share is (with that value), or both are hidden. Brute force on top: for every
    unit, enumerate the use1 level counts consistent with its published use1 figures; no hidden
    use1 figure may take a single value over them, and below 2k the published figures together
    may tell at most two categories apart."""
    roster = Roster()
    roster.add("Mixed", 6, lambda i: answers(use1=str((1, 2, 3, 4, 5, 4)[i])))
    roster.add("Users", 6, lambda i: answers(use1=str((4, 5, 4, 5, 2, 3)[i])))
    export = run_cycle(tmp_path, roster)
    assert export.get("Mixed", "ai_user_share") is not None, "setup: the AI-user share is published at n=6"
    for unit in export.units:
        share, never = export.get(unit, "ai_user_share"), export.get(unit, "use_never")
        assert (share is None) == (never is None), (
            f"R14: {unit} publishes ai_user_share={share and share.value} but "
            f"use_never is {'hidden' if never is None else never.value}: one is one minus the other"
        )
        if share is not None:
            assert never.n == share.n and never.matches("value", 1 - share.value)
    for unit in export.units:
        candidates = use1_compositions(export, unit)
        if candidates is None:
            continue
        assert candidates, f"attacker bug: no use1 composition fits {unit}"
        for metric, levels in USE1_FIGURES.items():
            if export.exported(unit, metric) and export.get(unit, metric) is None:
                values = {sum(c[level - 1] for level in levels) for c in candidates}
                assert len(values) > 1, (
                    f"R14: {unit}'s hidden {metric} is determined by its published figures: count {values}"
                )
        responses = export.get(unit, "responses")
        if responses is not None and responses.n < 2 * K:
            assert use1_split_categories(export, unit) <= 2, (
                f"R14: {unit} (n={responses.n} < 2k) splits use1 into "
                f"{use1_split_categories(export, unit)} categories: {export.describe(unit)}"
            )


def trust_roster(trust_answers: Sequence[int]) -> Roster:
    roster = Roster()
    roster.add("Team", len(trust_answers), lambda i: answers(trust1=str(trust_answers[i])))
    roster.add("Other", 5, lambda i: answers(trust1=str((2, 3, 3, 5, 5)[i])))
    return roster


@pytest.mark.django_db
@pytest.mark.parametrize(
    "trust_answers",
    [
        pytest.param((1, 3, 4, 4, 4), id="interval-pins-distrust"),  # mean 3.2, share .6: the SS decides .2 vs .4
        pytest.param((1, 1, 4, 4, 4), id="mean-and-share-pin-distrust"),  # mean 2.8, share .6: only 1,1 fits
    ],
)
def test_finding5_hidden_distrust_share_does_not_follow_from_the_trust_figures(tmp_path, trust_answers):
    """Finding 5, R14 (with R13): the distrust share (trust1 <= 2) is hidden below 2k, but the
    trust mean, its interval and the trust share (trust1 >= 4) can pin it. Brute force: every
    multiset of five 5-point trust1 answers consistent with the team's published trust figures
    (mean as stored, shares, the interval as a hypothesis). Either distrust is published (and then
    n >= 2k: with the trust share it makes three bins) or its true value is not the only one left."""
    export = run_cycle(tmp_path, trust_roster(trust_answers))
    trust, share, distrust = (export.get("Team", m) for m in ("trust", "trust_share", "distrust_share"))
    if distrust is not None:
        assert distrust.n >= 2 * K, f"R14: distrust published with trust share at n={distrust.n} < 2k"
        return
    n = next((f.n for f in (trust, share) if f is not None), None)
    if n is None:
        return  # nothing about trust1 is published
    truth = tuple(sorted(trust_answers))
    candidates = consistent(
        multisets(FIVE, n),
        [mean_check(trust), share_check(share, lambda v: v >= 4)],
        [own_interval_check(trust)],
        truth=truth,
    )
    shares = sorted({sum(1 for v in c if v <= 2) / n for c in candidates})
    assert shares != [sum(1 for v in truth if v <= 2) / n], (
        f"R14: the hidden distrust share of Team is determined ({shares}) by {export.describe('Team')}; "
        f"trust1 answers consistent with it: {candidates}"
    )


@pytest.mark.django_db
def test_finding5_hidden_pilot_share_of_respondents_is_not_the_published_pilot_ratio(tmp_path):
    """Finding 5, R14 (with R11): when every respondent of a unit is a classified AI user, the
    Pilot share of respondents equals the Pilot ratio. In Lab, team A (5, all AI users) sits next
    to team B (4 non-users): respondents hide A (complementary), AI-user metrics did not. The
    attacker knows A's headcount from the roster; a Pilot ratio over n = headcount means everyone
    answered and is an AI user, so the hidden Pilot share is the ratio. For every unit whose Pilot
    share is hidden, the attacker must not know both the number of Pilots and its denominator."""
    roster = Roster()
    roster.add("Lab/A", 5, lambda i: answers(quadrant="pilot" if i < 2 else "low_agency_low_optimism"))
    roster.add("Lab/B", 4, lambda i: answers(use1="1"))
    export = run_cycle(tmp_path, roster)
    for unit in export.units:
        if not export.exported(unit, "pilot_share_of_respondents"):
            continue
        if export.get(unit, "pilot_share_of_respondents") is not None:
            continue
        pilots = export.count(unit, "pilot_ratio")
        denominator = pilot_share_denominator(export, roster, unit)
        assert pilots is None or denominator is None, (
            f"R14: {unit}'s hidden Pilot share of respondents is {pilots}/{denominator}: {export.describe(unit)}"
        )


def pilot_share_denominator(export: Export, roster: Roster, unit: str) -> int | None:
    """The Pilot share's denominator (respondents less AI users who could not be classified), as
    far as the published figures and the roster give it."""
    ratio = export.get(unit, "pilot_ratio")
    if ratio is None:
        return None
    if ratio.n == roster.headcount(unit):
        return ratio.n  # everyone on the roster answered and is a classified AI user
    share = export.get(unit, "ai_user_share")
    if share is None:
        return None
    return share.n - (round(share.value * share.n) - ratio.n)
