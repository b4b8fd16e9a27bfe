"""Live participation of an open cycle: per unit, how many were invited and, where ANONYMITY R4
and R5 allow it, the share of them who have answered (R8: while a cycle is open, the response
rate is all anyone sees).

Pure: counts in, decisions out, no Django. The job (analytics.job.participation) reads the
invitation log, calls :func:`live_participation` for the whole tree and stores what it returns;
pages read the stored figures through analytics.published (R6).

Live figures are published again every ten minutes, and the cycle's own figures at close, so a
viewer can subtract one snapshot from another, or from the closed cycle. Three choices keep
every such difference about a group of at least k people, never about one person:

* **Counted where invited.** Every invitation counts for the team it was issued on, for the
  whole cycle and at close: a leaver's void invitation stays among the invited, a mover's stays
  with the old team. Only an answer or a joiner changes a count.
* **The same people as at close.** Everyone counts where they sit, people directly on a unit
  with sub-teams (a department head) included, exactly as the closed cycle counts them.
* **Structure from head counts.** Which units may show a figure at all is decided by R4 and R5
  on the *invited* counts (roster facts, which answering never changes): a department head alone
  on Engineering makes Engineering's smallest team hidden for the whole cycle, whether or not
  the head answers. Within that structure R4 and R5 apply to the answered counts
  (:func:`analytics.core.disclosure.decide_population`), so a unit shows a rate only from k
  answers, and any region a subtraction isolates holds 0 or at least k answers, drawn from at
  least k invited people. When answers arrive, a figure can appear or another be hidden, but
  only because a group of at least k invited people changed. The aggregation job decides the
  closed cycle inside the same structure (analytics.core.publication), so the last snapshot and
  the closed figures cut the tree the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic

from analytics.core.disclosure import decide_population, decide_publication
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
    issued, direct members of inner units included), void invitations included in ``invited``.
    Raises ``ValueError`` for an unknown unit, a count that is not a non-negative int, or more
    answered than invited on a unit.
    """
    invited_totals = tree.subtree_totals(invited)
    answered_totals = tree.subtree_totals(answered)
    for unit, count in answered.items():
        if count > invited.get(unit, 0):
            raise ValueError(f"answered[{unit!r}] = {count!r} is more than the {invited.get(unit, 0)} invited there")
    structure = decide_publication(tree, invited, k=k)
    decisions = decide_population(tree, answered, structure, k=k)
    figures: dict[UnitId, LiveFigure[UnitId]] = {}
    for unit, decision in decisions.items():
        if decision.published:
            # Published means answered >= k >= 1, so at least that many were invited.
            done = answered_totals[unit]
            figures[unit] = LiveFigure(unit, invited_totals[unit], True, done, round(100 * done / invited_totals[unit]))
        else:
            figures[unit] = LiveFigure(unit, invited_totals[unit], False, None, None)
    return figures
