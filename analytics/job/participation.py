"""Counting the open cycle's live participation (ANONYMITY R4, R5, R8) and storing it for the door.

Reads the identity side only (the invitation log: which team each invitation counts for and
whether it has been answered), never the anonymous side. The counts go through the pure
:func:`analytics.core.participation.live_participation` for the whole tree, and the result
replaces the cycle's stored rows in one transaction, with one ``computed_at`` (R6: decided once
for the whole tree, then only read). Celery beat runs it every ten minutes; opening a cycle runs
it once more straight after the commit. On close the rows are deleted (see
analytics.job.tasks.aggregation_on_close): the published response rates take over.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from analytics.core.participation import live_participation
from analytics.core.violations import require_no_violations
from analytics.job.run import organisation_tree
from analytics.models import LiveParticipation
from surveys.models import Cycle, Invitation


@dataclass(frozen=True)
class ParticipationCounted:
    """What one count stored: the cycle and how many units (no figure: the task's result is kept
    in the result backend and shown in logs)."""

    cycle: str
    units: int
    computed_at: dt.datetime


def participation_count(*, now: dt.datetime | None = None) -> ParticipationCounted | None:
    """Count the open cycle's live participation and replace its stored rows; None (and nothing
    done) when no cycle is open.

    The open cycle's row is locked for the count, as closing locks it: a count and a close never
    interleave, so no row is written for a cycle that has just closed.
    """
    with transaction.atomic():
        cycle = Cycle.objects.select_for_update().filter(status=Cycle.Status.OPEN).first()
        if cycle is None:
            return None
        tree = organisation_tree()
        invited: dict[str, int] = {}
        answered: dict[str, int] = {}
        # By the team each invitation counts for, void ones included (decision 1 in the module
        # docstring of analytics.core.participation): a move or a leave changes no count.
        for team_id, invited_here, answered_here in (
            Invitation.objects.filter(cycle=cycle)
            .values("counted_team_id")
            .annotate(invited=Count("pk"), answered=Count("pk", filter=Q(status=Invitation.Status.ANSWERED)))
            .values_list("counted_team_id", "invited", "answered")
        ):
            invited[str(team_id)] = invited_here
            answered[str(team_id)] = answered_here
        figures = live_participation(tree, invited=invited, answered=answered, k=cycle.k)
        # R15 for the live figures: the independent check (written apart from the decider) on
        # what is about to be stored, on the answered counts and on the head counts. A finding
        # raises here, inside the transaction, so nothing is stored and the last count stays.
        shown = [unit for unit, figure in figures.items() if figure.published]
        require_no_violations(tree, answered, shown, k=cycle.k)
        require_no_violations(tree, invited, shown, k=cycle.k)
        computed_at = now or timezone.now()
        LiveParticipation.objects.filter(cycle=cycle).delete()
        LiveParticipation.objects.bulk_create(
            LiveParticipation(
                cycle=cycle,
                unit_id=unit,
                parent_id=tree.parents[unit],
                path=tree.path(unit),
                level=tree.level(unit),
                depth=len(tree.ancestors(unit)) - 1,  # 0 for the organisation
                invited=figure.invited,
                published=figure.published,
                answered=figure.answered,
                percent=figure.percent,
                k=cycle.k,
                computed_at=computed_at,
            )
            for unit, figure in figures.items()
        )
    return ParticipationCounted(cycle=cycle.label, units=len(figures), computed_at=computed_at)


def participation_clear(*, cycle: Cycle) -> int:
    """Delete a cycle's live rows (it has closed: its published response rates take over)."""
    deleted, _ = LiveParticipation.objects.filter(cycle=cycle).delete()
    return deleted
