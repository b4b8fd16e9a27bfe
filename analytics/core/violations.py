"""An independent check of R4 and R5 over a set of published units.

Written apart from the decider in :mod:`analytics.core.disclosure`, and differently on purpose
(each published unit walks up to its nearest published ancestor and is subtracted there, where
the decider suppresses bottom-up with a heap), so a bug in one is unlikely to be repeated in the
other. The tests call it on every decision the decider returns. Pure functions, no Django.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Generic, Literal

from analytics.core.tree import TreeLike, UnitId, as_tree

__all__ = ["DisclosureError", "Violation", "complementary_violations", "require_no_violations"]


class DisclosureError(RuntimeError):
    """Raised when a set of publication decisions would let a viewer isolate fewer than k people.

    A RuntimeError rather than an ``assert``: the guard must still run under ``python -O``.
    """


@dataclass(frozen=True, slots=True)
class Violation(Generic[UnitId]):
    """One published unit that breaks R4 (``n < k``) or R5 (residual strictly between 0 and k).

    ``uncovered`` is the unit's residual: its respondents not covered by ``nearest_published``,
    the published units directly below it once hidden units are skipped over. Internal only: it
    is a count a viewer must never see.
    """

    unit: UnitId
    rule: Literal["R4", "R5"]
    n: int
    uncovered: int
    nearest_published: tuple[UnitId, ...]


def complementary_violations(
    parents: TreeLike[UnitId],
    direct_n: Mapping[UnitId, int],
    published: Collection[UnitId],
    *,
    k: int,
) -> list[Violation[UnitId]]:
    """Every published unit that breaks R4 (``n < k``) or R5 (residual strictly between 0 and k).

    An independent check of a set of published units, written differently from the decider on
    purpose (each published unit walks up to its nearest published ancestor and is subtracted
    there), so a bug in one is unlikely to be repeated in the other; the tests call it on every
    result. An empty list means no combination of published counts isolates 1..k-1
    people (see :mod:`analytics.core.disclosure`).
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if isinstance(published, Mapping):
        # A dict of decisions is a Collection of *all* unit ids: checking it as "published" would
        # silently check the wrong set.
        raise TypeError("pass the published unit ids, e.g. published_units(decisions), not the decisions")
    tree = as_tree(parents)
    counts = tree.subtree_totals(direct_n)
    published_set = set(published)
    unknown = published_set - set(tree.parents)
    if unknown:
        raise ValueError(f"published has unknown units {sorted(unknown)[:5]!r}")
    residual = {unit: counts[unit] for unit in published_set}
    nearest: dict[UnitId, list[UnitId]] = {unit: [] for unit in published_set}
    for unit in published_set:
        ancestor = tree.parents[unit]
        while ancestor is not None and ancestor not in published_set:
            ancestor = tree.parents[ancestor]
        if ancestor is not None:
            residual[ancestor] -= counts[unit]
            nearest[ancestor].append(unit)
    violations: list[Violation[UnitId]] = []
    for unit in sorted(published_set):
        below = tuple(sorted(nearest[unit]))
        if counts[unit] < k:
            violations.append(Violation(unit, "R4", counts[unit], residual[unit], below))
        elif 0 < residual[unit] < k:
            violations.append(Violation(unit, "R5", counts[unit], residual[unit], below))
    return violations


def require_no_violations(
    parents: TreeLike[UnitId],
    direct_n: Mapping[UnitId, int],
    published: Collection[UnitId],
    *,
    k: int,
) -> None:
    """Raise :class:`DisclosureError` if :func:`complementary_violations` finds anything.

    The message names units and rules but no counts: it may end up in a log (R7 side doors).
    """
    violations = complementary_violations(parents, direct_n, published, k=k)
    if violations:
        summary = ", ".join(f"{v.unit!r} ({v.rule})" for v in violations[:10])
        raise DisclosureError(f"{len(violations)} published unit(s) would disclose a small group: {summary}")
