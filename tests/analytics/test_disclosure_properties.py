"""Property-based tests of analytics.core.disclosure, .violations and .comments (ANONYMITY R4, R5, R7).

Random organisation forests (up to 40 units, up to 5 levels, many small direct counts) are fed to
the decider, and what it publishes is attacked by brute force with an independent model: every
respondent gets an id, every unit the actual set of ids in its subtree, and a viewer's
differences are computed on those sets rather than with the module's own helpers. The
"property-based differencing test" of ANONYMITY.md ("How it is proven") is
:func:`assert_no_small_difference`.

Hypothesis runs derandomized so that CI and a developer's machine try the same examples.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Collection, Iterator, Mapping

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.core.comments import comment_listing
from analytics.core.disclosure import (
    DISTRIBUTION_FACTOR,
    SOURCE_MIX_MIN_N,
    decide_publication,
    decide_publication_for_metrics,
    distribution_units,
    published_units,
    restrict_publication,
    source_mix_units,
)
from analytics.core.violations import complementary_violations

MAX_UNITS = 40
MAX_DEPTH = 5  # levels, a root being level 1
ALL_SUBSETS_UP_TO = 10  # candidates below a unit: every disjoint combination is tried up to this many
SAMPLED_SUBSETS = 300  # above it, this many random disjoint combinations per unit

PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

Parents = dict[int, int | None]
Counts = dict[int, int]


# --------------------------------------------------------------------------------------------------
# Strategies


@st.composite
def forests(draw: st.DrawFn) -> Parents:
    """A forest of 1..40 units at most 5 levels deep.

    Units are created in order, each hanging under an earlier one (or becoming a root), and then
    relabelled by a random permutation, so unit ids say nothing about depth or parent order: the
    decider's tie-breaks by id then meet ids in every relation to the tree.
    """
    size = draw(st.integers(min_value=1, max_value=MAX_UNITS))
    depth = [1]
    parent_index: list[int | None] = [None]
    for _ in range(1, size):
        eligible = [i for i, d in enumerate(depth) if d < MAX_DEPTH]
        # Roots are rarer than children so most examples are deep enough to have differencing risk.
        parent = None if draw(st.integers(0, 7)) == 0 else draw(st.sampled_from(eligible))
        parent_index.append(parent)
        depth.append(1 if parent is None else depth[parent] + 1)
    labels = draw(st.permutations(range(size)))
    return {labels[i]: (None if p is None else labels[p]) for i, p in enumerate(parent_index)}


def direct_counts(parents: Mapping[int, int | None]) -> st.SearchStrategy[Counts]:
    """direct_n per unit, 0..15 with most of the mass on small numbers (the dangerous ones)."""
    count = st.one_of(st.integers(0, 3), st.integers(0, 7), st.integers(0, 15))
    return st.fixed_dictionaries({unit: count for unit in sorted(parents)})


thresholds = st.integers(min_value=3, max_value=10)


@st.composite
def organisations(draw: st.DrawFn) -> tuple[Parents, Counts]:
    parents = draw(forests())
    return parents, draw(direct_counts(parents))


# --------------------------------------------------------------------------------------------------
# The independent model and the brute-force attack


def respondent_sets(parents: Mapping[int, int | None], direct_n: Mapping[int, int]) -> dict[int, frozenset[int]]:
    """Each unit's actual respondents: ids handed out per direct member, collected up every ancestor path."""
    members: dict[int, set[int]] = {unit: set() for unit in parents}
    next_id = itertools.count()
    for unit in sorted(parents):
        people = {next(next_id) for _ in range(direct_n.get(unit, 0))}
        node: int | None = unit
        while node is not None:
            members[node] |= people
            node = parents[node]
    return {unit: frozenset(people) for unit, people in members.items()}


def ancestors(parents: Mapping[int, int | None], unit: int) -> list[int]:
    """Proper ancestors, nearest first."""
    out = []
    node = parents[unit]
    while node is not None:
        out.append(node)
        node = parents[node]
    return out


def disjoint_subsets(
    candidates: list[int], members: Mapping[int, frozenset[int]], rng: random.Random
) -> Iterator[list[int]]:
    """Sets of pairwise disjoint candidates: all of them for a few candidates, else a random sample."""
    if len(candidates) <= ALL_SUBSETS_UP_TO:

        def extend(start: int, chosen: list[int], covered: frozenset[int]) -> Iterator[list[int]]:
            yield chosen
            for i in range(start, len(candidates)):
                unit = candidates[i]
                if not members[unit] & covered:
                    yield from extend(i + 1, [*chosen, unit], covered | members[unit])

        yield from extend(0, [], frozenset())
        return
    for _ in range(SAMPLED_SUBSETS):
        order = candidates[:]
        rng.shuffle(order)
        chosen: list[int] = []
        covered: frozenset[int] = frozenset()
        for unit in order:
            if rng.random() < 0.5 and not members[unit] & covered:
                chosen.append(unit)
                covered |= members[unit]
        yield chosen


def assert_no_small_difference(
    parents: Mapping[int, int | None],
    direct_n: Mapping[int, int],
    published: Collection[int],
    k: int,
    rng: random.Random,
) -> None:
    """ANONYMITY.md's differencing test: nothing a viewer can subtract isolates 1..k-1 respondents.

    For every published unit U, U minus every combination of pairwise disjoint published proper
    descendants; and for every two published units, both set differences and the symmetric one.
    An empty published unit with zero people is fine (0 is allowed), and R4 is checked too.
    """
    members = respondent_sets(parents, direct_n)
    shown = sorted(published)

    def safe(size: int) -> bool:
        return size == 0 or size >= k

    for unit in shown:
        assert len(members[unit]) >= k, f"R4: published unit {unit} has {len(members[unit])} < {k} respondents"
        below = [d for d in shown if d != unit and unit in ancestors(parents, d)]
        for subset in disjoint_subsets(below, members, rng):
            rest = members[unit].difference(*(members[d] for d in subset))
            assert safe(len(rest)), f"{unit} minus {subset} isolates {len(rest)} respondents (k={k})"
    for a, b in itertools.combinations(shown, 2):
        for difference in (members[a] - members[b], members[b] - members[a], members[a] ^ members[b]):
            assert safe(len(difference)), f"{a} vs {b} isolates {len(difference)} respondents (k={k})"


def subtree_n(parents: Mapping[int, int | None], direct_n: Mapping[int, int]) -> dict[int, int]:
    return {unit: len(people) for unit, people in respondent_sets(parents, direct_n).items()}


# --------------------------------------------------------------------------------------------------
# (a) + (b): R4 and R5 after decide_publication, checked twice


@PROPERTY_SETTINGS
@given(organisations(), thresholds, st.randoms(use_true_random=False))
def test_published_units_pass_r4_r5_and_survive_brute_force_differencing(
    organisation: tuple[Parents, Counts], k: int, rng: random.Random
) -> None:
    parents, direct_n = organisation
    decisions = decide_publication(parents, direct_n, k=k)
    published = published_units(decisions)
    n = subtree_n(parents, direct_n)

    assert set(decisions) == set(parents)
    assert complementary_violations(parents, direct_n, published, k=k) == []
    for unit, decision in decisions.items():
        assert decision.n == n[unit]
        if decision.published:
            assert decision.n >= k
        elif n[unit] < k:
            assert decision.reason == "below_threshold"
        else:
            assert decision.reason == "complementary"
    # R5 never needs to hide a root: with everything below it hidden its residual is its n.
    assert all(unit in published for unit, parent in parents.items() if parent is None and n[unit] >= k)
    assert_no_small_difference(parents, direct_n, published, k, rng)


# --------------------------------------------------------------------------------------------------
# (c) determinism


@PROPERTY_SETTINGS
@given(organisations(), thresholds, st.data())
def test_decisions_do_not_depend_on_input_order(
    organisation: tuple[Parents, Counts], k: int, data: st.DataObject
) -> None:
    parents, direct_n = organisation
    order = data.draw(st.permutations(sorted(parents)))
    count_order = data.draw(st.permutations(sorted(direct_n)))
    shuffled_parents = {unit: parents[unit] for unit in order}
    shuffled_counts = {unit: direct_n[unit] for unit in count_order}

    expected = decide_publication(parents, direct_n, k=k)
    actual = decide_publication(shuffled_parents, shuffled_counts, k=k)
    assert list(actual.items()) == list(expected.items())


# --------------------------------------------------------------------------------------------------
# (d) one decision per metric, each with its own n


@PROPERTY_SETTINGS
@given(st.data(), thresholds)
def test_each_metric_is_decided_safely_with_its_own_n(data: st.DataObject, k: int) -> None:
    parents = data.draw(forests())
    metrics = data.draw(st.lists(st.sampled_from(["psych_safety", "trust", "pilot_ratio", "pressure"]), unique=True))
    by_metric = {metric: data.draw(direct_counts(parents)) for metric in metrics}

    decided = decide_publication_for_metrics(parents, by_metric, k=k)
    assert set(decided) == set(metrics)
    for metric, decisions in decided.items():
        published = published_units(decisions)
        assert complementary_violations(parents, by_metric[metric], published, k=k) == []
        assert all(decisions[unit].n >= k for unit in published)
        # The same as deciding this metric alone: no metric's n leaks into another's decision.
        assert decisions == decide_publication(parents, by_metric[metric], k=k)


# --------------------------------------------------------------------------------------------------
# (e) stricter thresholds: distributions (2k), source mix (20), and any threshold over any candidates


@PROPERTY_SETTINGS
@given(organisations(), thresholds, st.randoms(use_true_random=False))
def test_distribution_and_source_mix_units_pass_r5_at_their_own_threshold(
    organisation: tuple[Parents, Counts], k: int, rng: random.Random
) -> None:
    parents, direct_n = organisation
    decisions = decide_publication(parents, direct_n, k=k)
    published = published_units(decisions)

    for threshold, chosen in (
        (DISTRIBUTION_FACTOR * k, distribution_units(parents, direct_n, decisions, k=k)),
        (SOURCE_MIX_MIN_N, source_mix_units(parents, direct_n, decisions)),
    ):
        assert chosen <= published
        assert complementary_violations(parents, direct_n, chosen, k=threshold) == []
        assert_no_small_difference(parents, direct_n, chosen, threshold, rng)


@PROPERTY_SETTINGS
@given(st.data(), st.integers(min_value=1, max_value=25), st.randoms(use_true_random=False))
def test_restrict_publication_over_any_candidates(data: st.DataObject, threshold: int, rng: random.Random) -> None:
    # Candidates need not be closed under ancestors (a published cell's parent may be hidden).
    parents, direct_n = data.draw(organisations())
    candidates = data.draw(st.sets(st.sampled_from(sorted(parents))))

    chosen = restrict_publication(parents, direct_n, candidates, threshold=threshold)
    assert chosen <= candidates
    assert complementary_violations(parents, direct_n, chosen, k=threshold) == []
    assert_no_small_difference(parents, direct_n, chosen, threshold, rng)


# --------------------------------------------------------------------------------------------------
# (f) R7 comments


@PROPERTY_SETTINGS
@given(st.data(), st.integers(min_value=3, max_value=20), st.randoms(use_true_random=False))
def test_each_comment_is_listed_once_at_a_large_enough_ancestor(
    data: st.DataObject, threshold: int, rng: random.Random
) -> None:
    parents, respondents = data.draw(organisations())
    # At most one comment per respondent, authors anywhere a respondent sits.
    per_unit = {unit: data.draw(st.integers(0, respondents[unit])) for unit in sorted(parents)}
    comment_units = [unit for unit, number in per_unit.items() for _ in range(number)]
    rng.shuffle(comment_units)
    n = subtree_n(parents, respondents)

    listed = comment_listing(parents, respondents, comment_units, threshold=threshold)
    listing_units = set(listed)

    where: dict[int, int] = {}
    for unit, indices in listed.items():
        for index in indices:
            assert index not in where, f"comment {index} listed at {where[index]} and at {unit}"
            where[index] = unit
    for index, team in enumerate(comment_units):
        path = [team, *ancestors(parents, team)]
        if n[path[-1]] < threshold:
            # Nothing in this tree reaches the threshold: the comment cannot be listed anywhere.
            assert index not in where
            continue
        assert index in where, f"comment {index} of {team} is not listed although its root has {n[path[-1]]}"
        level = where[index]
        assert level in path
        assert n[level] >= threshold
        # The nearest listing unit on the author's path, not some larger one above it.
        assert level == next(unit for unit in path if unit in listing_units)
    assert complementary_violations(parents, respondents, listing_units, k=threshold) == []
    assert_no_small_difference(parents, respondents, listing_units, threshold, rng)
