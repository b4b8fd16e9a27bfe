"""The organisation as a tree of units: the one tree type every stage of the job uses.

Units are teams and departments (one Team row each) under the organisation, a root of its own
with the fixed id :data:`ORGANISATION`. A unit id only has to be hashable and orderable: the job
uses UUID strings; the disclosure tests use small ints. The order breaks ties, so every decision
made over a tree is reproducible whatever order its units came in.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Generic, Protocol, TypeVar

# pandas ships no type information and pandas-stubs is not a project dependency.
import pandas as pd  # type: ignore[import-untyped]

#: The organisation is the root above the top-level teams; it has no Team row of its own.
ORGANISATION_UNIT_ID: Final = uuid.UUID(int=0)
ORGANISATION: Final = str(ORGANISATION_UNIT_ID)  # unit ids travel as strings: cheap in pandas and JSON

#: Levels as stored with each unit's snapshot (analytics.models.Level has the same values).
LEVEL_ORGANISATION: Final = "organisation"
LEVEL_DEPARTMENT: Final = "department"
LEVEL_TEAM: Final = "team"


class _UnitKey(Hashable, Protocol):
    """What a unit id must support: hashing, and ``<`` for deterministic tie-breaking."""

    def __lt__(self, other: Any, /) -> bool: ...


UnitId = TypeVar("UnitId", bound=_UnitKey)


@dataclass(frozen=True, eq=False)
class UnitTree(Generic[UnitId]):
    """A validated, indexed forest of units. Build it with :meth:`from_parents` or :meth:`from_teams`.

    ``postorder`` lists every unit after all of its descendants and ``ordered`` in sorted order
    (the order decisions are returned in); ``internal_postorder`` only the units with children,
    the only ones that can fail complementary suppression (a leaf's residual is its own n).
    """

    parents: dict[UnitId, UnitId | None]
    children: dict[UnitId, tuple[UnitId, ...]]
    postorder: tuple[UnitId, ...]
    ordered: tuple[UnitId, ...]
    internal_postorder: tuple[UnitId, ...]
    names: dict[UnitId, str] = field(default_factory=dict)

    @classmethod
    def from_parents(
        cls, parents: Mapping[UnitId, UnitId | None], names: Mapping[UnitId, str] | None = None
    ) -> UnitTree[UnitId]:
        """Validate ``parents`` (unit -> parent, None for a root) as a forest and index it.

        An unknown parent or a cycle is an error rather than something to work around: a unit
        silently dropped from the tree would drop its respondents from its ancestors' counts, and
        every residual computed from those counts would be wrong.
        """
        children_lists: dict[UnitId, list[UnitId]] = {unit: [] for unit in parents}
        roots: list[UnitId] = []
        for unit, parent in parents.items():
            if parent is None:
                roots.append(unit)
            elif parent not in children_lists:
                raise ValueError(f"unit {unit!r} has unknown parent {parent!r}")
            elif parent == unit:
                raise ValueError(f"unit {unit!r} is its own parent")
            else:
                children_lists[parent].append(unit)
        # Sorted children make the traversal, and so every tie-break, independent of input order.
        children = {unit: tuple(sorted(kids)) for unit, kids in children_lists.items()}

        postorder: list[UnitId] = []
        # Iterative depth-first walk: an organisation may be deeper than Python's recursion limit.
        stack: list[tuple[UnitId, bool]] = [(root, False) for root in sorted(roots, reverse=True)]
        while stack:
            unit, expanded = stack.pop()
            if expanded:
                postorder.append(unit)
                continue
            stack.append((unit, True))
            stack.extend((child, False) for child in reversed(children[unit]))
        if len(postorder) != len(parents):
            # Units unreachable from any root sit on a cycle.
            on_cycle = sorted(set(parents) - set(postorder))
            raise ValueError(f"the unit tree has a cycle through {on_cycle[:5]!r}")
        return cls(
            parents=dict(parents),
            children=children,
            postorder=tuple(postorder),
            ordered=tuple(sorted(parents)),
            internal_postorder=tuple(unit for unit in postorder if children[unit]),
            names=dict(names or {}),
        )

    @classmethod
    def from_teams(cls, teams: Iterable[tuple[object, str, object | None]], organisation: str) -> UnitTree[str]:
        """The organisation's tree from (team id, name, parent id or None) rows, ids as strings,
        with the organisation as the root above the top-level teams."""
        parents: dict[str, str | None] = {ORGANISATION: None}
        names = {ORGANISATION: organisation}
        for team_id, name, parent_id in teams:
            parents[str(team_id)] = str(parent_id) if parent_id else ORGANISATION
            names[str(team_id)] = name
        return UnitTree.from_parents(parents, names)

    def ancestors(self, unit: UnitId) -> list[UnitId]:
        """The unit itself and every unit above it, up to its root."""
        chain = []
        node: UnitId | None = unit
        while node is not None:
            chain.append(node)
            node = self.parents[node]
        return chain

    def path(self, unit: UnitId) -> str:
        """ "Engineering/Platform/Core"; the organisation's own name for the root."""
        if unit == ORGANISATION:
            return self.names[unit]
        return "/".join(self.names[u] for u in reversed(self.ancestors(unit)) if u != ORGANISATION)

    def level(self, unit: UnitId) -> str:
        if unit == ORGANISATION:
            return LEVEL_ORGANISATION
        return LEVEL_DEPARTMENT if self.children[unit] else LEVEL_TEAM

    def is_team(self, unit: UnitId) -> bool:
        """A leaf below the organisation: a team with no sub-teams."""
        return unit != ORGANISATION and not self.children[unit]

    def top_level_units(self) -> list[UnitId]:
        return sorted(unit for unit, parent in self.parents.items() if parent == ORGANISATION)

    def subtree(self, unit: UnitId) -> set[UnitId]:
        found, stack = set(), [unit]
        while stack:
            node = stack.pop()
            found.add(node)
            stack.extend(self.children[node])
        return found

    def subtree_totals(self, direct_n: Mapping[UnitId, int]) -> dict[UnitId, int]:
        """n for every unit: ``direct_n`` (counts sitting directly on a unit; missing units have
        none) summed over the unit's subtree. Raises ``ValueError`` for an unknown unit or a count
        that is not a non-negative int."""
        unknown = direct_n.keys() - self.parents.keys()
        if unknown:
            # Respondents on a unit outside the tree would vanish from every ancestor's n.
            raise ValueError(f"direct_n has unknown unit {sorted(unknown, key=repr)[0]!r}")
        # bool is an int, but a count of True respondents is a bug upstream; so is a numpy integer here.
        if not all(type(count) is int and count >= 0 for count in direct_n.values()):
            unit, count = next((u, c) for u, c in direct_n.items() if type(c) is not int or c < 0)
            raise ValueError(f"direct_n[{unit!r}] must be a non-negative int, got {count!r}")
        counts: dict[UnitId, int] = dict.fromkeys(self.postorder, 0)
        counts.update(direct_n)
        parents = self.parents
        for unit in self.postorder:  # children first: a unit's count is final when it is added upward
            parent = parents[unit]
            if parent is not None:
                counts[parent] += counts[unit]
        return counts

    def ancestor_pairs(self) -> pd.DataFrame:
        """(team_id, unit_id) for every unit below the root and every unit that contains it,
        itself included: the join that rolls team partials up the tree."""
        rows = [(team, unit) for team in self.parents if team != ORGANISATION for unit in self.ancestors(team)]
        return pd.DataFrame(rows, columns=["team_id", "unit_id"])


#: A tree, or the ``parents`` mapping to build one from (tests and small callers pass a dict).
TreeLike = UnitTree[UnitId] | Mapping[UnitId, UnitId | None]


def as_tree(tree: TreeLike[UnitId]) -> UnitTree[UnitId]:
    """``tree`` itself, or a tree built from a ``parents`` mapping."""
    return tree if isinstance(tree, UnitTree) else UnitTree.from_parents(tree)
