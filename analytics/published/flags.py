"""Readers of stored flags: one unit's (flags and "worth watching"), and the organisation's
(flags only). Two queries each: which cycles are served, then the flags with their unit path,
kept only where every cell they are computed from is published (index lookups per flag)."""

from __future__ import annotations

import uuid

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from analytics.models import Flag, MetricCell, UnitSnapshot
from analytics.published.cells import unit_id_parse
from analytics.published.cycles import door_state
from analytics.published.records import PublishedFlag, read_only
from surveys.models import Cycle

# The cells each kind of flag is computed from, besides its own metric's.
FLAG_INPUTS = {"trust_use_gap": ("daily_use_share",), "capability_trap": ("psych_safety",)}


def _published(metric: str | OuterRef) -> Exists:
    """Whether the flag's unit has a published cell of ``metric`` in the flag's cycle: one probe of
    MetricCell's unique (cycle, unit_id, metric) index."""
    return Exists(
        MetricCell.objects.filter(
            cycle_id=OuterRef("cycle_id"), unit_id=OuterRef("unit_id"), metric=metric, published=True
        )
    )


def _of_published_cells(flags: QuerySet[Flag]) -> QuerySet[Flag]:
    """R4: a flag is a derived output of its cells, served only while they are published. The
    flags stage writes none for hidden cells, but a rerun that re-decides disclosure (k raised)
    and dies before that stage leaves the previous run's flags, numbers and n included, behind."""
    # Written as one OR of branches, each with every cell its kind needs: PostgreSQL never turns
    # an EXISTS under OR into a join, so each stays a probe of MetricCell's unique index per flag
    # (as a top-level EXISTS it was planned as a join reading the cycle's published cells per flag).
    own = Q(_published(OuterRef("metric")))
    shown = own & ~Q(kind__in=list(FLAG_INPUTS))
    for kind, metrics in FLAG_INPUTS.items():
        branch = own & Q(kind=kind)
        for metric in metrics:
            branch &= Q(_published(metric))
        shown |= branch
    path = UnitSnapshot.objects.filter(cycle_id=OuterRef("cycle_id"), unit_id=OuterRef("unit_id")).values("path")
    return flags.filter(shown).annotate(unit_path=Subquery(path[:1]))


def _records(cycle: Cycle, flags: QuerySet[Flag]) -> list[PublishedFlag]:
    state = door_state()
    # Served only while the cycle and the cycles its trend flags look back on are current.
    if not state.history_is_current(cycle.pk):
        return []
    return [flag_record(cycle, flag) for flag in _of_published_cells(flags)]


def flag_record(cycle: Cycle, flag: Flag) -> PublishedFlag:
    """The record of a stored flag read through :func:`_of_published_cells` (which adds its path)."""
    return PublishedFlag(
        cycle=cycle.label,
        unit_id=str(flag.unit_id),
        unit_path=flag.unit_path or "",  # type: ignore[attr-defined]
        kind=flag.kind,
        metric=flag.metric,
        test=flag.test,
        severity=flag.severity,
        p_value=flag.p_value,
        numbers=read_only(flag.numbers),
        method=flag.method,
        explanation=flag.explanation,
        actions=tuple(flag.actions),
    )


def organisation_flags(*, cycle: Cycle) -> list[PublishedFlag]:
    """Flags that survived Benjamini-Hochberg, by kind then unit; "worth watching" results stay in
    the unit's own report and never reach organisation views."""
    return _records(
        cycle,
        Flag.objects.filter(cycle_id=cycle.pk, severity=Flag.Severity.FLAG).order_by("kind", "unit_id", "test"),
    )


def unit_flags(*, cycle: Cycle, unit_id: uuid.UUID | str) -> list[PublishedFlag]:
    """A unit's own flags and its "worth watching" results (flags first)."""
    unit = unit_id_parse(unit_id)
    return _records(cycle, Flag.objects.filter(cycle_id=cycle.pk, unit_id=unit).order_by("severity", "kind", "test"))
