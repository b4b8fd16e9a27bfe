"""R7: where each free-text comment is listed. Pure functions, no Django."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from analytics.core.disclosure import restrict_publication
from analytics.core.tree import TreeLike, UnitId, UnitTree, as_tree

__all__ = ["comment_listing"]


def comment_listing(
    parents: TreeLike[UnitId],
    respondents_direct: Mapping[UnitId, int],
    comment_units: Sequence[UnitId],
    *,
    threshold: int,
) -> dict[UnitId, list[int]]:
    """Where each comment is listed: listing unit -> indices into ``comment_units``.

    ``comment_units[i]`` is the team of the i-th comment's author; ``respondents_direct`` counts the
    cycle's respondents sitting directly on each unit.

    Rules (R7): a comment is listed at exactly one level, the smallest unit that contains the
    author's team and has at least ``threshold`` respondents, so a comment is only ever attributable
    to a group that large. Lists can be compared (a department's list next to its teams'), so the
    set of listing units must pass R5 with the comment threshold: the respondents of a listing unit
    not covered by its nearest listing descendants (the people its own comments may come from)
    must be 0 or ``>= threshold``. That is exactly :func:`decide_publication` with ``k=threshold``
    on respondent counts; a unit it un-lists hands its comments up to its nearest listing ancestor.

    The listing units depend on respondent counts only, never on who commented, so the choice of
    level cannot itself leak anything about authors. Every listing unit appears in the result, with
    an empty list if no comment landed there. A comment whose team has no ancestor with
    ``threshold`` respondents (an organisation that small) is not listed anywhere. Comment order
    within a unit is index order; the caller shuffles before showing them (R7).
    """
    tree = as_tree(parents)
    comments_per_unit: dict[UnitId, int] = {}
    for unit in comment_units:
        if unit not in tree.parents:
            raise ValueError(f"a comment has unknown unit {unit!r}")
        comments_per_unit[unit] = comments_per_unit.get(unit, 0) + 1
    for unit, number in comments_per_unit.items():
        # One comment item per response: more comments than respondents means the inputs don't
        # belong together, and listing them could attribute a comment to an empty group.
        if number > respondents_direct.get(unit, 0):
            raise ValueError(f"more comments than respondents on unit {unit!r}")
    listing = restrict_publication(tree, respondents_direct, tree.postorder, threshold=threshold)

    listed: dict[UnitId, list[int]] = {unit: [] for unit in sorted(listing)}
    level_of: dict[UnitId, UnitId | None] = {}  # memo: team -> its nearest listing ancestor-or-self
    for index, team in enumerate(comment_units):
        level = _nearest_in(team, listing, tree, level_of)
        if level is not None:
            listed[level].append(index)
    return listed


def _nearest_in(
    unit: UnitId, chosen: Collection[UnitId], tree: UnitTree[UnitId], memo: dict[UnitId, UnitId | None]
) -> UnitId | None:
    """The nearest ancestor-or-self of ``unit`` in ``chosen``, or None."""
    path: list[UnitId] = []
    node: UnitId | None = unit
    found: UnitId | None = None
    while node is not None:
        if node in memo:
            found = memo[node]
            break
        if node in chosen:
            found = node
            break
        path.append(node)
        node = tree.parents[node]
    for visited in path:
        memo[visited] = found
    return found
