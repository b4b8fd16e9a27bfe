"""Disclosure control: which cells and distributions may be published (ANONYMITY R4, R5, R11).

Pure functions, no Django: the aggregation job feeds them counts it has already computed and stores
the decisions they return (R6: decided once per cycle for the whole tree, then only read). Nothing
here touches responses, so nothing here can leak one. Beside it: :mod:`analytics.core.violations`
(an independent check of what it decides), :mod:`analytics.core.comments` (R7, where comments
are listed) and :mod:`analytics.core.display` (the order rows are shown in).

Vocabulary
----------
* The organisation is a tree (or a forest) of **units**: an :class:`analytics.core.tree.UnitTree`,
  or the ``parents`` mapping (unit id -> parent id, ``None`` for a root) to build one from. Unit
  ids must be hashable and orderable (UUIDs, strings, ints): the order is used only to break
  ties, so every decision is reproducible whatever order the input came in.
* ``direct_n[u]``: respondents to one metric sitting **directly** on ``u`` (a department head sits on
  the department itself). ``n(u)`` is ``direct_n`` summed over ``u``'s subtree.
* A unit's **nearest published descendants** are the published units below it with no published unit
  in between (hidden units are skipped over). Its **residual** is ``n(u)`` minus their ``n``: the
  respondents a viewer isolates by subtracting what is published below from what is published at ``u``.

The guarantee
-------------
After :func:`decide_publication`, every published unit has ``n >= k`` (R4) and a residual that is 0 or
``>= k`` (R5). Because units form a tree, published groups are nested or disjoint, so each respondent
belongs to exactly one residual region: that of their deepest published ancestor. Any set a viewer
can build from published groups by subtraction, union or intersection (``n(U)`` minus any
combination of pairwise disjoint published descendants, the symmetric difference of two published
groups, ...) is a union of whole residual regions, so its size is a sum of terms each 0 or ``>= k``:
it is 0 or ``>= k`` too. The property test checks exactly that by brute force.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from analytics.core.tree import TreeLike, UnitId, UnitTree, as_tree

__all__ = [
    "DISTRIBUTION_FACTOR",
    "HIDDEN_TEXT",
    "SOURCE_MIX_MIN_N",
    "Decision",
    "Reason",
    "decide_publication",
    "decide_population",
    "decide_publication_for_metrics",
    "distribution_allowed",
    "distribution_units",
    "published_units",
    "restrict_publication",
    "source_mix_allowed",
    "source_mix_units",
    "subtree_counts",
]

#: The only public explanation for anything withheld (R6): a specific reason ("below 5",
#: "hidden because of team X") would itself tell a viewer something about a hidden count.
HIDDEN_TEXT: Final = "hidden to protect anonymity"

#: Per-item distributions need n >= 2k (R4): three bins over fewer people come close to showing answers.
DISTRIBUTION_FACTOR: Final = 2

#: The workslop source mix needs n >= 20 (R4, PRODUCT): in a small group "people I manage" points at
#: the manager.
SOURCE_MIX_MIN_N: Final = 20

# below_threshold: R4; complementary: R5 (for a population, the reason its unit is hidden on its
# respondents, if it is: R11).
Reason = Literal["", "below_threshold", "complementary"]


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether one cell (unit x cycle x metric) is published.

    ``n`` is the true respondent count and is kept for the aggregation job and the audit trail
    only; ``reason`` says which rule hid the cell, also for internal audit only. Anything shown to
    a user must go through :attr:`public_n` and :attr:`public_text`, which reveal neither for a
    hidden cell (R4: a hidden cell publishes no exact count, R6: one public reason for everything).
    """

    published: bool
    n: int
    reason: Reason = ""

    def __post_init__(self) -> None:
        # A published cell with a reason, or a hidden one without, means a caller built it by hand
        # and got it wrong; fail loudly rather than store an ambiguous decision.
        if self.published != (self.reason == ""):
            raise ValueError(f"inconsistent decision: published={self.published} reason={self.reason!r}")
        if self.n < 0:
            raise ValueError("n cannot be negative")

    @property
    def public_n(self) -> int | None:
        """The count a user may see: ``n`` when published, otherwise nothing."""
        return self.n if self.published else None

    @property
    def public_text(self) -> str:
        """The text a user sees in place of a withheld value ("" when published)."""
        return "" if self.published else HIDDEN_TEXT


# --------------------------------------------------------------------------------------------------
# Counts over the tree


def _check_threshold(k: int, name: str = "k") -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"{name} must be a positive int, got {k!r}")


def subtree_counts(parents: TreeLike[UnitId], direct_n: Mapping[UnitId, int]) -> dict[UnitId, int]:
    """n for every unit: respondents sitting on it or anywhere below it.

    Units missing from ``direct_n`` have no direct respondents. Raises ``ValueError`` for an
    unknown unit or parent, a cycle, or a negative count.
    """
    tree = as_tree(parents)
    return tree.subtree_totals(direct_n)


# --------------------------------------------------------------------------------------------------
# R4 + R5


def _suppress(
    tree: UnitTree[UnitId], counts: Mapping[UnitId, int], candidates: Iterable[UnitId], threshold: int
) -> tuple[set[UnitId], set[UnitId]]:
    """Primary then complementary suppression over ``candidates``; returns (published, hidden by R5).

    Algorithm (one bottom-up pass):

    1. R4: a candidate with ``n < threshold`` is not published.
    2. Visit units children-first. For a published unit U, its nearest published descendants are
       kept in a min-heap keyed by (n, unit id). While U's residual is strictly between 0 and the
       threshold, pop the smallest of them, D, and hide it: D's respondents not covered by D's
       own nearest published descendants join U's residual, and those descendants take D's place in
       the heap (they are now U's nearest published descendants).

    Why this ends at a fixed point:

    * The loop ends: each step hides one unit, and if every descendant were hidden the residual
      would be ``n(U) >= threshold``. So U itself never has to be hidden for R5 (ANONYMITY's "or hide
      the unit" is never needed), and R5 never hides a root.
    * Hiding D changes the residual of exactly one unit, D's nearest published ancestor, which is U:
      D's descendants keep their own nearest published descendants. Units below U were visited
      earlier and are not touched again, so they keep passing; units above U are visited later and
      see U's final state. Hence after the pass every published unit passes its check, which
      :func:`analytics.core.violations.complementary_violations` verifies independently.

    Hiding smallest first keeps the larger, more useful groups; ties go to the smaller unit id so
    the outcome never depends on input order. The result is not guaranteed to hide the fewest
    cells (that is a harder optimisation problem), only to be safe and reproducible.
    """
    published = {unit for unit in candidates if counts[unit] >= threshold}
    hidden_complementary: set[UnitId] = set()
    # frontier[u]: u's nearest published proper descendants, final once u has been visited. A
    # leaf's is empty and never stored: a published leaf passes (its residual is its n >= k).
    frontier: dict[UnitId, list[UnitId]] = {}
    for unit in tree.internal_postorder:
        below: list[UnitId] = []
        for child in tree.children[unit]:
            if child in published:
                below.append(child)
            else:
                # A hidden child is skipped over; only its parent ever reads its frontier.
                below.extend(frontier.pop(child, ()))
        if unit not in published:
            frontier[unit] = below
            continue
        residual = counts[unit] - sum(map(counts.__getitem__, below))
        if not 0 < residual < threshold:  # passes as it is (most units): nothing to hide below it
            frontier[unit] = below
            continue
        heap = [(counts[d], d) for d in below]
        heapq.heapify(heap)
        while 0 < residual < threshold:
            # Non-empty: with every descendant hidden the residual would be counts[unit] >= threshold.
            _, victim = heapq.heappop(heap)
            published.discard(victim)
            hidden_complementary.add(victim)
            # frontier[victim] was left as its final heap content when the victim was visited.
            grandchildren = frontier.get(victim, ())
            residual += counts[victim] - sum(counts[d] for d in grandchildren)
            for d in grandchildren:
                heapq.heappush(heap, (counts[d], d))
        # Kept (not popped by the parent): an ancestor that later hides this unit needs it, and it
        # stays exact until then because only this unit's nearest published ancestor hides among it.
        frontier[unit] = [d for _, d in heap]
    return published, hidden_complementary


def decide_publication(parents: TreeLike[UnitId], direct_n: Mapping[UnitId, int], *, k: int) -> dict[UnitId, Decision]:
    """Publication decisions for one cycle and one metric, for every unit of the tree.

    R4 (primary): a unit with fewer than ``k`` respondents is hidden (``below_threshold``): its mean
    would be a handful of people's answers.

    R5 (complementary): for every published unit, the respondents not covered by its nearest
    published descendants (hidden units skipped over; its own direct members are never covered)
    must be 0 or at least ``k``. Otherwise "department (16) minus teams (6 + 6)" would show the
    4-person team that R4 hid. Further descendants are hidden (``complementary``), smallest first,
    until it holds; see :func:`_suppress` for why one bottom-up pass reaches a fixed point. The
    unit itself never needs hiding: with all its descendants hidden its residual is ``n >= k``.

    Returns a decision for every unit in ``parents``, in sorted unit order.
    """
    _check_threshold(k)
    tree = as_tree(parents)
    return _decide(tree, tree.subtree_totals(direct_n), k)


def _decide(tree: UnitTree[UnitId], counts: Mapping[UnitId, int], k: int) -> dict[UnitId, Decision]:
    published, hidden_complementary = _suppress(tree, counts, tree.postorder, k)
    decisions: dict[UnitId, Decision] = {}
    # Decisions are frozen values: one instance per (n, reason), not one per unit and metric.
    made: dict[tuple[int, Reason], Decision] = {}
    for unit in tree.ordered:
        n = counts[unit]
        if unit in published:
            key: tuple[int, Reason] = (n, "")
        elif unit in hidden_complementary:
            key = (n, "complementary")
        else:
            key = (n, "below_threshold")
        decision = made.get(key)
        if decision is None:
            decision = made[key] = Decision(published=key[1] == "", n=n, reason=key[1])
        decisions[unit] = decision
    return decisions


def decide_population(
    parents: TreeLike[UnitId],
    direct_n: Mapping[UnitId, int],
    respondents: Mapping[UnitId, Decision],
    *,
    k: int,
) -> dict[UnitId, Decision]:
    """R11: one population's cells (AI users, workslop receivers, those who answered an item),
    decided among the units published on their respondents.

    Populations are nested cuts of the same people, so they are suppressed together: a unit
    hidden on its respondents (``respondents``, from :func:`decide_publication` on respondent
    counts) is hidden for every population. Then R4 and R5 apply to the population's own counts
    among the remaining units, their nearest published descendants included: a department head
    alone on Lab is a residual of one respondent, so Lab/X is hidden on respondents, and its AI
    users cannot be published either (the head's "never" would be Lab's AI users minus theirs).
    """
    _check_threshold(k)
    tree = as_tree(parents)
    counts = tree.subtree_totals(direct_n)
    candidates = [unit for unit in tree.ordered if respondents[unit].published]
    published, hidden_complementary = _suppress(tree, counts, candidates, k)
    decisions: dict[UnitId, Decision] = {}
    made: dict[tuple[int, Reason], Decision] = {}
    for unit in tree.ordered:
        n = counts[unit]
        reason: Reason
        if unit in published:
            reason = ""
        elif not respondents[unit].published:
            reason = respondents[unit].reason
        elif unit in hidden_complementary:
            reason = "complementary"
        else:
            reason = "below_threshold"
        decision = made.get((n, reason))
        if decision is None:
            decision = made[(n, reason)] = Decision(published=reason == "", n=n, reason=reason)
        decisions[unit] = decision
    return decisions


def decide_publication_for_metrics(
    parents: TreeLike[UnitId],
    direct_n_by_metric: Mapping[str, Mapping[UnitId, int]],
    *,
    k: int,
) -> dict[str, dict[UnitId, Decision]]:
    """:func:`decide_publication` for each metric, with that metric's own n (R5: "for every metric").

    Metrics have different n (non-users skip the AI items, anyone may skip an item), so a
    department can be safe for one metric and need a team hidden for another. Deciding once for
    all metrics from the respondent count would let "trust" n's be differenced.
    """
    _check_threshold(k)
    tree = as_tree(parents)
    return {
        metric: _decide(tree, tree.subtree_totals(direct_n_by_metric[metric]), k)
        for metric in sorted(direct_n_by_metric)
    }


def published_units(decisions: Mapping[UnitId, Decision]) -> frozenset[UnitId]:
    """The units whose cell is published."""
    return frozenset(unit for unit, decision in decisions.items() if decision.published)


# --------------------------------------------------------------------------------------------------
# Distributions and the workslop source mix


def distribution_allowed(decision: Decision, *, k: int) -> bool:
    """Whether this cell is large enough for a per-item distribution: published and ``n >= 2k``.

    A necessary cell-level condition only. Distributions can be differenced like counts (a
    department's bins minus a team's bins are the bins of the rest), so the set of units showing
    distributions must also pass R5 at 2k: use :func:`distribution_units` to decide them.
    """
    _check_threshold(k)
    return decision.published and decision.n >= DISTRIBUTION_FACTOR * k


def source_mix_allowed(decision: Decision) -> bool:
    """Whether this cell is large enough for the ws3 source mix: published and ``n >= 20``.

    Cell-level only, as for :func:`distribution_allowed`; :func:`source_mix_units` applies R5 at 20,
    which matters most here: a department's mix minus its teams' mixes is the mix of the people
    sitting directly on the department, typically its head, whose "people I manage" is the point.
    """
    return decision.published and decision.n >= SOURCE_MIX_MIN_N


def restrict_publication(
    parents: TreeLike[UnitId],
    direct_n: Mapping[UnitId, int],
    candidates: Collection[UnitId],
    *,
    threshold: int,
) -> frozenset[UnitId]:
    """R4 and R5 at ``threshold`` applied to ``candidates`` only (e.g. the published cells).

    Used for outputs with a stricter threshold than the cell itself (distributions, source mix):
    the result is a subset of ``candidates`` in which every unit has ``n >= threshold`` and a
    residual, against its nearest descendants in the result, of 0 or ``>= threshold``. The same
    one-pass argument as :func:`decide_publication` applies; nothing requires ``candidates`` to be
    closed under ancestors.
    """
    _check_threshold(threshold, "threshold")
    if isinstance(candidates, Mapping):
        raise TypeError("pass unit ids, e.g. published_units(decisions), not the decisions")
    tree = as_tree(parents)
    counts = tree.subtree_totals(direct_n)
    unknown = set(candidates) - set(tree.parents)
    if unknown:
        raise ValueError(f"candidates has unknown units {sorted(unknown)[:5]!r}")
    published, _ = _suppress(tree, counts, candidates, threshold)
    return frozenset(published)


def distribution_units(
    parents: TreeLike[UnitId],
    direct_n: Mapping[UnitId, int],
    decisions: Mapping[UnitId, Decision],
    *,
    k: int,
) -> frozenset[UnitId]:
    """Units that may show per-item distributions: published cells, R4 and R5 at 2k among them."""
    _check_threshold(k)
    return restrict_publication(parents, direct_n, published_units(decisions), threshold=DISTRIBUTION_FACTOR * k)


def source_mix_units(
    parents: TreeLike[UnitId],
    direct_n: Mapping[UnitId, int],
    decisions: Mapping[UnitId, Decision],
) -> frozenset[UnitId]:
    """Units that may show the ws3 source mix: published cells, R4 and R5 at 20 among them."""
    return restrict_publication(parents, direct_n, published_units(decisions), threshold=SOURCE_MIX_MIN_N)
