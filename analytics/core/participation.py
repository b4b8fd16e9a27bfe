"""Live participation of an open cycle: per unit, how many were invited and, where ANONYMITY R4
and R5 allow it, the share of them who have answered (R8: while a cycle is open, the response
rate is all anyone sees).

Pure: counts in, decisions out, no Django. The job (analytics.job.participation) reads the
invitation log, calls :func:`live_participation` for the whole tree and stores what it returns;
pages read the stored figures through analytics.published (R6).

Two choices make the figures safe while people are still answering:

* **Counted where invited.** Every invitation counts for the team it was issued on, whatever
  happens later: a leaver's void invitation stays in ``invited``, a mover's stays with the old
  team. So only an answer or a joiner changes a count; a move or a leave never shows whether the
  person had answered.
* **Nobody on an inner unit.** People sitting directly on a unit with sub-teams (a department
  head; the organisation root) are left out of every figure: of their unit and of every unit
  above it. Any figure that included them, next to its children's, would show by subtraction
  whether they had answered, and a suppression pattern decided on answered counts would flip
  when they did. The closed cycle's response rates, decided once by the aggregation job, include
  them.

Publication is :func:`analytics.core.disclosure.decide_publication` on the answered counts of
the leaf teams (inner units contribute 0), with the cycle's k: a unit shows a percentage only
where it is published. ``invited`` is a head count from the roster and is kept for every unit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic

from analytics.core.disclosure import decide_publication
from analytics.core.tree import UnitId, UnitTree

__all__ = ["LiveFigure", "live_participation"]


@dataclass(frozen=True, slots=True)
class LiveFigure(Generic[UnitId]):
    """One unit's live participation. A hidden unit (``published`` False) has no ``answered`` and
    no ``percent``: nothing hidden is handed on to be stored."""

    unit: UnitId
    invited: int
    published: bool
    answered: int | None
    percent: int | None

    def __post_init__(self) -> None:
        if self.published != (self.answered is not None and self.percent is not None):
            raise ValueError(f"inconsistent live figure for {self.unit!r}: published={self.published}")


def live_participation(
    tree: UnitTree[UnitId],
    *,
    invited: Mapping[UnitId, int],
    answered: Mapping[UnitId, int],
    k: int,
) -> dict[UnitId, LiveFigure[UnitId]]:
    """Live participation of every unit of ``tree``, in sorted unit order.

    ``invited`` and ``answered`` are counts per unit the invitations count for (their team when
    issued), void invitations included in ``invited``. Counts on units with children are dropped
    (see the module docstring). Raises ``ValueError`` for an unknown unit, a count that is not a
    non-negative int, or more answered than invited on a unit.
    """
    # Validated (unknown units, negative or non-int counts) before anything is dropped.
    tree.subtree_totals(invited)
    tree.subtree_totals(answered)
    for unit, count in answered.items():
        if count > invited.get(unit, 0):
            raise ValueError(f"answered[{unit!r}] = {count!r} is more than the {invited.get(unit, 0)} invited there")
    on_leaves_invited = {unit: count for unit, count in invited.items() if not tree.children[unit]}
    on_leaves_answered = {unit: count for unit, count in answered.items() if not tree.children[unit]}
    invited_totals = tree.subtree_totals(on_leaves_invited)
    answered_totals = tree.subtree_totals(on_leaves_answered)
    decisions = decide_publication(tree, on_leaves_answered, k=k)
    figures: dict[UnitId, LiveFigure[UnitId]] = {}
    for unit, decision in decisions.items():
        if decision.published:
            # Published means answered >= k >= 1, so at least that many were invited.
            done = answered_totals[unit]
            figures[unit] = LiveFigure(unit, invited_totals[unit], True, done, round(100 * done / invited_totals[unit]))
        else:
            figures[unit] = LiveFigure(unit, invited_totals[unit], False, None, None)
    return figures
