"""Who may see which unit's report: one rule for pages, the API and exports.

- HR sees every unit.
- A manager sees the units they manage and everything below them (``Person.managed_teams``,
  matched against the cycle's frozen tree, so last year's report is of last year's tree).
- Everyone on the roster (engineers, and managers and HR too) sees their own team and the units
  above it, when the organisation lets engineers see their team's report (the default): the
  broader groups are where a too-small team's people find their results.
- An operator (a superuser or staff account without a roster entry) sees no report: the admin
  is their tool. Anyone else sees nothing.

Visibility is policy, not anonymity: every published figure is safe for every viewer (R4–R15
are decided against a viewer who sees everything); this decides whose business a unit is.
A unit a viewer may not see is answered with 404, never 403, so its existence is not confirmed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Subquery
from django.http import HttpRequest

from analytics.published import PublishedUnit, unit_lineage
from surveys.models import Cycle, Organisation, Person, Role


@dataclass(frozen=True)
class Viewer:
    """The signed-in user as the report pages see them."""

    person: Person | None
    is_hr: bool
    is_operator: bool  # staff or superuser without a roster entry: sent to the admin
    managed_ids: frozenset[str]  # team ids they manage (each with its subtree)
    own_team_id: str | None  # their team, when the organisation lets engineers see its report
    currency: str = "EUR"  # the organisation's, for cost figures

    @property
    def is_manager(self) -> bool:
        return bool(self.managed_ids)

    @property
    def sees_reports(self) -> bool:
        return self.is_hr or self.is_manager or self.own_team_id is not None

    @property
    def role(self) -> str:
        """The start page this viewer lands on: hr, manager, engineer, operator or none."""
        if self.is_hr:
            return "hr"
        if self.is_manager:
            return "manager"
        if self.person is not None:
            return "engineer"
        return "operator" if self.is_operator else "none"


NOBODY = Viewer(person=None, is_hr=False, is_operator=False, managed_ids=frozenset(), own_team_id=None)


def viewer_for(user: AbstractBaseUser | AnonymousUser) -> Viewer:
    """Two queries for a signed-in user (the person with the organisation's settings, then the
    team ids they manage), none for anyone else."""
    if not user.is_authenticated:
        return NOBODY
    settings = Organisation.objects.order_by("pk")
    person = (
        Person.objects.select_related("team")
        .filter(user_id=user.pk, is_active=True)
        .annotate(
            engineers_see=Subquery(settings.values("engineers_see_team_report")[:1]),
            currency=Subquery(settings.values("currency")[:1]),
        )
        .first()
    )
    if person is None:
        staff = bool(getattr(user, "is_staff", False) or getattr(user, "is_superuser", False))
        return Viewer(person=None, is_hr=False, is_operator=staff, managed_ids=frozenset(), own_team_id=None)
    managed = frozenset(str(team_id) for team_id in person.managed_teams.values_list("pk", flat=True))
    # A missing organisation row reads as "engineers see their report" (the model's default);
    # Organisation.current() is where its absence is reported.
    engineers_see = person.engineers_see is not False  # type: ignore[attr-defined]
    return Viewer(
        person=person,
        is_hr=person.role == Role.HR,
        is_operator=False,
        managed_ids=managed,
        own_team_id=str(person.team_id) if engineers_see else None,
        currency=person.currency or "EUR",  # type: ignore[attr-defined]
    )


def own_lineage_ids(viewer: Viewer, *, cycle: Cycle) -> frozenset[str]:
    """The viewer's own team and the units above it in ``cycle``'s tree (nothing if the
    organisation hides team reports from engineers, or the team was not in that cycle)."""
    if viewer.own_team_id is None:
        return frozenset()
    return frozenset(unit.unit_id for unit in unit_lineage(cycle=cycle, unit_id=viewer.own_team_id))


def unit_visible(viewer: Viewer, *, cycle: Cycle, unit_id: uuid.UUID | str) -> list[PublishedUnit] | None:
    """The unit's lineage in ``cycle`` if ``viewer`` may see it, else None (answer 404)."""
    if not viewer.sees_reports:
        return None
    # The viewer's own lineage is read first, whatever the unit: the work before a 404 must not
    # depend on whether the unit exists (unit_lineage costs the same either way too).
    own = frozenset() if viewer.is_hr else own_lineage_ids(viewer, cycle=cycle)
    lineage = unit_lineage(cycle=cycle, unit_id=unit_id)
    if lineage and lineage_allowed(viewer, lineage, own_ids=own):
        return lineage
    return None


def lineage_allowed(viewer: Viewer, lineage: Sequence[PublishedUnit], *, own_ids: frozenset[str]) -> bool:
    """Whether the first unit of ``lineage`` (the unit, then the units above it, in one cycle) is
    the viewer's: HR; a unit they manage or one below it; their own team or a unit above it
    (``own_ids``: :func:`own_lineage_ids` in the same cycle)."""
    return (
        viewer.is_hr
        or any(unit.unit_id in viewer.managed_ids for unit in lineage)
        or (bool(lineage) and lineage[0].unit_id in own_ids)
    )


def visible_in_lineage(viewer: Viewer, lineage: Sequence[PublishedUnit], *, own_ids: frozenset[str]) -> set[str]:
    """The units of ``lineage`` the viewer may see: for each, whether it is allowed as the start
    of its own lineage (a report shows its parent's and the organisation's figures only to those
    who may open them)."""
    return {
        unit.unit_id for index, unit in enumerate(lineage) if lineage_allowed(viewer, lineage[index:], own_ids=own_ids)
    }


def viewer_of(request: HttpRequest) -> Viewer:
    """:func:`viewer_for` the request's user, once per request (the page and its navigation)."""
    cached = getattr(request, "_pulse_viewer", None)
    if cached is None:
        cached = viewer_for(request.user)
        request._pulse_viewer = cached  # type: ignore[attr-defined]
    return cached
