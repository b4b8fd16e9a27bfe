"""Disclosure control, rule by rule: R4 primary and R5 complementary suppression, distributions and
the source mix, R7 comment listing, and display order. The worked examples are ANONYMITY.md's."""

from __future__ import annotations

import math
import uuid

import pandas as pd
import pytest

from analytics.core.comments import comment_listing
from analytics.core.disclosure import (
    HIDDEN_TEXT,
    Decision,
    decide_publication,
    decide_publication_for_metrics,
    distribution_allowed,
    distribution_units,
    published_units,
    restrict_publication,
    source_mix_allowed,
    source_mix_units,
    subtree_counts,
)
from analytics.core.display import sort_units_for_display
from analytics.core.violations import DisclosureError, complementary_violations, require_no_violations


def tree(*paths: str) -> dict[str, str | None]:
    """parents from unit paths: tree("Eng", "Eng/A") -> {"Eng": None, "Eng/A": "Eng"}."""
    return {path: path.rsplit("/", 1)[0] if "/" in path else None for path in paths}


def published(decisions: dict[str, Decision]) -> set[str]:
    return set(published_units(decisions))


def reasons(decisions: dict[str, Decision]) -> dict[str, str]:
    return {unit: decision.reason for unit, decision in decisions.items()}


# --------------------------------------------------------------------------------------------------
# subtree_counts


def test_subtree_counts_sum_direct_members_over_the_subtree():
    parents = tree("Org", "Org/Eng", "Org/Eng/A", "Org/Eng/B", "Org/Sales")
    counts = subtree_counts(parents, {"Org/Eng": 2, "Org/Eng/A": 5, "Org/Eng/B": 4, "Org/Sales": 3})
    assert counts == {"Org": 14, "Org/Eng": 11, "Org/Eng/A": 5, "Org/Eng/B": 4, "Org/Sales": 3}


def test_subtree_counts_missing_units_have_no_direct_respondents_and_forests_work():
    counts = subtree_counts({"a": None, "b": None, "c": "a"}, {"c": 3})
    assert counts == {"a": 3, "b": 0, "c": 3}


@pytest.mark.parametrize(
    ("parents", "direct_n", "message"),
    [
        ({"a": None, "b": "zzz"}, {}, "unknown parent"),
        ({"a": "b", "b": "a"}, {}, "cycle"),
        ({"r": None, "a": "b", "b": "a"}, {}, "cycle"),
        ({"a": "a"}, {}, "its own parent"),
        ({"a": None}, {"b": 3}, "unknown unit"),
        ({"a": None}, {"a": -1}, "non-negative"),
        ({"a": None}, {"a": 2.5}, "non-negative int"),
    ],
)
def test_subtree_counts_reject_broken_input(parents, direct_n, message):
    with pytest.raises(ValueError, match=message):
        subtree_counts(parents, direct_n)


def test_a_deep_chain_does_not_hit_the_recursion_limit():
    depth = 5000
    parents = {i: (i - 1 if i else None) for i in range(depth)}
    assert subtree_counts(parents, {depth - 1: 7})[0] == 7


# --------------------------------------------------------------------------------------------------
# R4 and R5: the worked examples


def test_department_16_minus_teams_6_and_6_would_show_the_hidden_4_person_team():
    # ANONYMITY threat 3: 16 - (6 + 6) = the 4-person team hidden by R4.
    parents = tree("Dept", "Dept/A", "Dept/B", "Dept/C")
    direct_n = {"Dept/A": 6, "Dept/B": 6, "Dept/C": 4}
    decisions = decide_publication(parents, direct_n, k=5)
    assert reasons(decisions) == {"Dept": "", "Dept/A": "complementary", "Dept/B": "", "Dept/C": "below_threshold"}
    # Equal sizes: the tie goes to the smaller id, so the result is reproducible.
    assert decisions["Dept"].n == 16
    assert complementary_violations(parents, direct_n, published(decisions), k=5) == []
    # What is left to subtract: 16 - 6 = 10 >= k.
    assert decisions["Dept"].n - decisions["Dept/B"].n == 10


def test_primary_suppression_alone_is_caught_by_the_checker():
    parents = tree("Dept", "Dept/A", "Dept/B", "Dept/C")
    direct_n = {"Dept/A": 6, "Dept/B": 6, "Dept/C": 4}
    naive = {"Dept", "Dept/A", "Dept/B"}  # n >= 5 only
    [violation] = complementary_violations(parents, direct_n, naive, k=5)
    assert (violation.unit, violation.rule, violation.uncovered) == ("Dept", "R5", 4)
    assert violation.nearest_published == ("Dept/A", "Dept/B")
    with pytest.raises(DisclosureError, match="Dept") as raised:
        require_no_violations(parents, direct_n, naive, k=5)
    assert "4" not in str(raised.value)  # the message may reach a log: no counts in it


def test_a_parent_with_direct_members_forces_the_smallest_child_hidden():
    # 2 people sit on the department itself (its head, say): 12 - (5 + 5) = 2.
    parents = tree("Dept", "Dept/A", "Dept/B")
    direct_n = {"Dept": 2, "Dept/A": 5, "Dept/B": 5}
    decisions = decide_publication(parents, direct_n, k=5)
    assert reasons(decisions) == {"Dept": "", "Dept/A": "complementary", "Dept/B": ""}
    assert decisions["Dept"].n - decisions["Dept/B"].n == 7


def test_smallest_first_means_by_size_not_by_id():
    parents = tree("Dept", "Dept/A", "Dept/B")
    direct_n = {"Dept": 2, "Dept/A": 7, "Dept/B": 5}
    decisions = decide_publication(parents, direct_n, k=5)
    assert published(decisions) == {"Dept", "Dept/A"}
    assert decisions["Dept/B"].reason == "complementary"


def test_children_covering_the_parent_exactly_leave_nothing_to_isolate():
    parents = tree("Dept", "Dept/A", "Dept/B")
    decisions = decide_publication(parents, {"Dept/A": 5, "Dept/B": 5}, k=5)
    assert published(decisions) == {"Dept", "Dept/A", "Dept/B"}


def test_a_residual_of_exactly_k_is_fine():
    parents = tree("Dept", "Dept/A", "Dept/B")
    decisions = decide_publication(parents, {"Dept": 5, "Dept/A": 5, "Dept/B": 6}, k=5)
    assert published(decisions) == {"Dept", "Dept/A", "Dept/B"}


def test_a_unit_with_no_respondents_is_hidden_and_everything_under_k():
    decisions = decide_publication(tree("Org", "Org/A"), {"Org/A": 4}, k=5)
    assert reasons(decisions) == {"Org": "below_threshold", "Org/A": "below_threshold"}
    assert decide_publication({"a": None}, {}, k=3)["a"] == Decision(published=False, n=0, reason="below_threshold")


def test_hiding_a_descendant_hands_its_published_descendants_up():
    # Org -> Dept -> {Group -> {T1 5, T2 6}, X 3}; k = 5.
    # Dept: 14 - Group 11 = 3 -> hide Group (its only published child); its teams become Dept's
    # nearest published descendants; 3 + (11 - 11) = 3 is still short -> hide T1 (smallest) -> 8.
    parents = tree("Org", "Org/Dept", "Org/Dept/Group", "Org/Dept/X", "Org/Dept/Group/T1", "Org/Dept/Group/T2")
    direct_n = {"Org/Dept/Group/T1": 5, "Org/Dept/Group/T2": 6, "Org/Dept/X": 3}
    decisions = decide_publication(parents, direct_n, k=5)
    assert reasons(decisions) == {
        "Org": "",
        "Org/Dept": "",
        "Org/Dept/Group": "complementary",
        "Org/Dept/Group/T1": "complementary",
        "Org/Dept/Group/T2": "",
        "Org/Dept/X": "below_threshold",
    }
    assert complementary_violations(parents, direct_n, published(decisions), k=5) == []


def test_the_checker_skips_over_hidden_middle_units():
    # Org (2 direct) -> Mid (hidden) -> T1 5, T2 5: Org's nearest published descendants are T1 and T2,
    # and 12 - 10 = 2 isolates Org's own two members even though Mid sits in between.
    parents = tree("Org", "Org/Mid", "Org/Mid/T1", "Org/Mid/T2")
    direct_n = {"Org": 2, "Org/Mid/T1": 5, "Org/Mid/T2": 5}
    [violation] = complementary_violations(parents, direct_n, {"Org", "Org/Mid/T1", "Org/Mid/T2"}, k=5)
    assert (violation.unit, violation.uncovered, violation.nearest_published) == (
        "Org",
        2,
        ("Org/Mid/T1", "Org/Mid/T2"),
    )
    # With Mid published too, Mid's residual is 0 and Org's is its own 2: still caught, at Org.
    [violation] = complementary_violations(parents, direct_n, {"Org", "Org/Mid", "Org/Mid/T1", "Org/Mid/T2"}, k=5)
    assert (violation.unit, violation.uncovered, violation.nearest_published) == ("Org", 2, ("Org/Mid",))


def test_a_hidden_middle_unit_with_its_own_members_is_seen_through():
    # Org -> Mid (3 direct, n 13, published) -> T 10: Mid's residual is 3 -> T hidden -> Mid 13, Org 0.
    parents = tree("Org", "Org/Mid", "Org/Mid/T")
    decisions = decide_publication(parents, {"Org/Mid": 3, "Org/Mid/T": 10}, k=5)
    assert published(decisions) == {"Org", "Org/Mid"}
    assert decisions["Org/Mid/T"].reason == "complementary"


def test_a_long_chain_of_single_children():
    # Each level adds 1 direct member, so every published unit's residual over its child is 1:
    # bottom-up, u4 hides u5, u3 hides u4, ... and the root ends up alone. Safe, and reproducible,
    # though not minimal ({u0, u3} would also pass): the greedy pass promises safety, not optimality.
    parents = {f"u{i}": (f"u{i - 1}" if i else None) for i in range(8)}
    direct_n = {f"u{i}": 1 for i in range(8)}
    decisions = decide_publication(parents, direct_n, k=3)
    assert published(decisions) == {"u0"}
    assert complementary_violations(parents, direct_n, published(decisions), k=3) == []
    assert {unit for unit, reason in reasons(decisions).items() if reason == "complementary"} == {
        "u1",
        "u2",
        "u3",
        "u4",
        "u5",
    }
    assert reasons(decisions)["u6"] == reasons(decisions)["u7"] == "below_threshold"
    assert published(decisions) == {"u0", "u5"} | {"u2"} - {"u2"} | {"u2"} if False else True


@pytest.mark.parametrize("k", [3, 10])
def test_small_and_large_k(k):
    # Org 2 direct; Eng (1 direct) -> Platform 8, Apps 3; Sales 9.
    parents = tree("Org", "Org/Eng", "Org/Eng/Platform", "Org/Eng/Apps", "Org/Sales")
    direct_n = {"Org": 2, "Org/Eng": 1, "Org/Eng/Platform": 8, "Org/Eng/Apps": 3, "Org/Sales": 9}
    decisions = decide_publication(parents, direct_n, k=k)
    if k == 3:
        # Eng 12 - (8 + 3) = 1 -> hide Apps (3, smallest) -> 4. Org 23 - (12 + 9) = 2 -> hide Sales (9
        # < Eng 12) -> 11.
        assert published(decisions) == {"Org", "Org/Eng", "Org/Eng/Platform"}
        assert reasons(decisions)["Org/Eng/Apps"] == reasons(decisions)["Org/Sales"] == "complementary"
    else:
        # Only Eng (12), Org (23) have 10; Eng has no published child: residual 12. Org: 23 - 12 = 11.
        assert published(decisions) == {"Org", "Org/Eng"}
        assert {u for u, r in reasons(decisions).items() if r == "complementary"} == set()
    assert complementary_violations(parents, direct_n, published(decisions), k=k) == []


def test_ties_are_broken_by_unit_id_whatever_the_input_order():
    parents = {uuid.UUID(int=0): None, **{uuid.UUID(int=i): uuid.UUID(int=0) for i in (3, 1, 2)}}
    direct_n = {uuid.UUID(int=0): 2, uuid.UUID(int=1): 5, uuid.UUID(int=2): 5, uuid.UUID(int=3): 5}
    reordered_parents = dict(reversed(list(parents.items())))
    reordered_n = dict(reversed(list(direct_n.items())))
    first = decide_publication(parents, direct_n, k=5)
    assert first == decide_publication(reordered_parents, reordered_n, k=5)
    # 17 - 15 = 2 -> the smallest id of the three 5s goes.
    assert first[uuid.UUID(int=1)].reason == "complementary"
    assert list(first) == sorted(first)


def test_k_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        decide_publication({"a": None}, {"a": 4}, k=0)


def test_the_checker_refuses_a_dict_of_decisions():
    decisions = decide_publication(tree("Dept", "Dept/A"), {"Dept/A": 6}, k=5)
    with pytest.raises(TypeError, match="published_units"):
        complementary_violations(tree("Dept", "Dept/A"), {"Dept/A": 6}, decisions, k=5)  # type: ignore[arg-type]


def test_the_checker_reports_r4_and_unknown_units():
    parents = tree("Dept", "Dept/A")
    [violation] = complementary_violations(parents, {"Dept/A": 4}, {"Dept/A"}, k=5)
    assert (violation.rule, violation.n) == ("R4", 4)
    with pytest.raises(ValueError, match="unknown"):
        complementary_violations(parents, {"Dept/A": 4}, {"Nope"}, k=5)


# --------------------------------------------------------------------------------------------------
# Per metric


def test_each_metric_uses_its_own_n():
    # Everyone answers psychological safety; non-users skip trust, so Dept/B's trust n is 5 while
    # its members on Dept itself (2 non-users) leave trust with nothing to isolate.
    parents = tree("Dept", "Dept/A", "Dept/B")
    by_metric = {
        "psych_safety": {"Dept": 2, "Dept/A": 6, "Dept/B": 7},
        "trust": {"Dept": 0, "Dept/A": 5, "Dept/B": 5},
    }
    decisions = decide_publication_for_metrics(parents, by_metric, k=5)
    assert list(decisions) == ["psych_safety", "trust"]
    assert published(decisions["psych_safety"]) == {"Dept", "Dept/B"}
    assert published(decisions["trust"]) == {"Dept", "Dept/A", "Dept/B"}
    for metric, metric_decisions in decisions.items():
        assert complementary_violations(parents, by_metric[metric], published(metric_decisions), k=5) == []


# --------------------------------------------------------------------------------------------------
# Decision, distributions, source mix


def test_a_hidden_decision_shows_neither_its_n_nor_its_reason():
    hidden = Decision(published=False, n=4, reason="below_threshold")
    assert hidden.public_n is None
    assert hidden.public_text == HIDDEN_TEXT == "hidden to protect anonymity"
    complementary = Decision(published=False, n=40, reason="complementary")
    assert complementary.public_text == hidden.public_text
    shown = Decision(published=True, n=7)
    assert (shown.public_n, shown.public_text) == (7, "")


@pytest.mark.parametrize(
    ("published_flag", "reason"), [(True, "complementary"), (False, ""), (True, "below_threshold")]
)
def test_an_inconsistent_decision_cannot_be_built(published_flag, reason):
    with pytest.raises(ValueError, match="inconsistent"):
        Decision(published=published_flag, n=10, reason=reason)


@pytest.mark.parametrize(("n", "allowed"), [(9, False), (10, True), (11, True)])
def test_distributions_need_2k(n, allowed):
    assert distribution_allowed(Decision(published=True, n=n), k=5) is allowed


def test_no_distribution_or_source_mix_for_a_hidden_cell_however_large():
    hidden = Decision(published=False, n=100, reason="complementary")
    assert distribution_allowed(hidden, k=5) is False
    assert source_mix_allowed(hidden) is False


@pytest.mark.parametrize(("n", "allowed"), [(19, False), (20, True)])
def test_source_mix_needs_20(n, allowed):
    assert source_mix_allowed(Decision(published=True, n=n)) is allowed


def test_distributions_are_differenced_like_counts():
    # k = 5: Dept 15 and team A 10 both pass 2k on their own, but Dept's bins minus A's bins are the
    # bins of the other 5 people: only one of the two may show a distribution.
    parents = tree("Dept", "Dept/A", "Dept/B")
    direct_n = {"Dept/A": 10, "Dept/B": 5}
    decisions = decide_publication(parents, direct_n, k=5)
    assert published(decisions) == {"Dept", "Dept/A", "Dept/B"}
    assert all(distribution_allowed(decisions[u], k=5) for u in ("Dept", "Dept/A"))
    assert distribution_units(parents, direct_n, decisions, k=5) == {"Dept"}


def test_the_source_mix_of_a_department_head_cannot_be_differenced():
    # 5 heads on Eng plus teams of 20 and 22: every cell passes k=5 and n >= 20, but Eng's mix minus
    # the teams' would be the 5 heads' own mix, so the smaller team loses its mix instead.
    parents = tree("Eng", "Eng/A", "Eng/B")
    direct_n = {"Eng": 5, "Eng/A": 20, "Eng/B": 22}
    decisions = decide_publication(parents, direct_n, k=5)
    assert all(source_mix_allowed(decisions[u]) for u in ("Eng", "Eng/A", "Eng/B"))
    assert source_mix_units(parents, direct_n, decisions) == {"Eng", "Eng/B"}


def test_restrict_publication_never_adds_units():
    parents = tree("Dept", "Dept/A", "Dept/B")
    chosen = restrict_publication(parents, {"Dept/A": 30, "Dept/B": 30}, {"Dept/A"}, threshold=10)
    assert chosen == {"Dept/A"}
    with pytest.raises(TypeError):
        restrict_publication(parents, {}, {"Dept": Decision(True, 1)}, threshold=10)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# R7: comments


def test_a_comment_is_listed_at_the_smallest_unit_with_enough_respondents():
    parents = tree("Org", "Org/A", "Org/A/a1", "Org/A/a2", "Org/B", "Org/B/b1", "Org/B/b2")
    respondents = {"Org/A/a1": 6, "Org/A/a2": 6, "Org/B/b1": 12, "Org/B/b2": 10}
    comments = ["Org/A/a1", "Org/B/b1", "Org/A/a2", "Org/B/b2", "Org/B/b1"]
    listing = comment_listing(parents, respondents, comments, threshold=10)
    # a1 and a2 (6 each) are too small: their comments go to A (12). b1 and b2 list their own.
    # Org: 34 - (12 + 22) = 0, B: 22 - 22 = 0, so nothing needs un-listing; Org lists nothing.
    assert listing == {"Org": [], "Org/A": [0, 2], "Org/B": [], "Org/B/b1": [1, 4], "Org/B/b2": [3]}


def test_comments_move_up_when_a_list_could_be_differenced():
    # Org 14 = X 10 + Y 4. Listing X's comments at X and Y's at Org would attribute Org's list to
    # Y's 4 people: X is un-listed and every comment is listed at Org.
    parents = tree("Org", "Org/X", "Org/Y")
    listing = comment_listing(parents, {"Org/X": 10, "Org/Y": 4}, ["Org/X", "Org/Y", "Org/X"], threshold=10)
    assert listing == {"Org": [0, 1, 2]}


def test_comments_are_not_listed_when_the_organisation_is_too_small():
    parents = tree("Org", "Org/X")
    assert comment_listing(parents, {"Org/X": 9}, ["Org/X"], threshold=10) == {}


def test_listing_units_do_not_depend_on_who_commented():
    parents = tree("Org", "Org/A", "Org/B")
    respondents = {"Org": 1, "Org/A": 12, "Org/B": 15}
    with_comments = comment_listing(parents, respondents, ["Org/A", "Org/A"], threshold=10)
    without = comment_listing(parents, respondents, [], threshold=10)
    assert list(with_comments) == list(without)


def test_more_comments_than_respondents_is_an_error():
    with pytest.raises(ValueError, match="more comments than respondents"):
        comment_listing(tree("Org", "Org/A"), {"Org/A": 1}, ["Org/A", "Org/A"], threshold=3)
    with pytest.raises(ValueError, match="unknown unit"):
        comment_listing(tree("Org", "Org/A"), {"Org/A": 1}, ["Elsewhere"], threshold=3)


# --------------------------------------------------------------------------------------------------
# R4: display order


def display_rows() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"path": "Org/Eng/B", "published": True, "score": 5.5},
            # Hidden rows should carry no value at all; if one slips through, it must not matter.
            {"path": "Org/Eng/Z", "published": False, "score": 1.0},
            {"path": "Org/Eng/A", "published": True, "score": 4.2},
            {"path": "Org/Eng/C", "published": False, "score": None},
            {"path": "Org/Eng/D", "published": True, "score": math.nan},
            {"path": "Org/Eng/E", "published": True, "score": 4.2},
        ]
    )


def test_published_cells_sort_by_value_and_hidden_cells_go_last_by_path():
    ordered = sort_units_for_display(display_rows(), "score")
    assert ordered["path"].tolist() == ["Org/Eng/A", "Org/Eng/E", "Org/Eng/B", "Org/Eng/D", "Org/Eng/C", "Org/Eng/Z"]
    descending = sort_units_for_display(display_rows(), "score", descending=True)
    assert descending["path"].tolist() == ["Org/Eng/B", "Org/Eng/A", "Org/Eng/E", "Org/Eng/D", "Org/Eng/C", "Org/Eng/Z"]


def test_a_hidden_value_never_moves_a_row():
    rows = display_rows()
    baseline = sort_units_for_display(rows, "score")["path"].tolist()
    for hidden_value in (-100.0, 3.0, 100.0, math.nan):
        changed = rows.copy()
        changed.loc[changed["path"] == "Org/Eng/Z", "score"] = hidden_value
        assert sort_units_for_display(changed, "score")["path"].tolist() == baseline
    shuffled = rows.sample(frac=1, random_state=7)
    assert sort_units_for_display(shuffled, "score")["path"].tolist() == baseline
