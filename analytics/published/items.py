"""Readers of the three-bin item distributions (ANONYMITY R4, R14: stored only where a cell may
show one, n >= 2k with R5 at 2k among the units showing them) and of comments (R7): those
released, for every reader, and HR's review list of a closed cycle's listed comments."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from dataclasses import dataclass

from django.utils import timezone

from analytics.models import AggregationStage, ItemDistribution, ReleasedComment, UnitSnapshot
from analytics.published.cells import unit_id_parse
from analytics.published.cycles import door_state
from surveys.models import Cycle

# The job's stage that lists the comments (analytics.job.run.STAGE_COMMENTS).
COMMENTS_STAGE = "comments"


@dataclass(frozen=True, slots=True)
class PublishedDistribution:
    """One item's answers in three bins for one unit and cycle, as shares of those who answered it."""

    cycle: str
    unit_id: str
    item: str
    n: int
    unfavourable: float  # shares in [0, 1]; they sum to 1
    neutral: float
    favourable: float


@dataclass(frozen=True, slots=True)
class PublishedComment:
    """A released comment: its cycle, its one listing unit and its text. Nothing else is kept
    about it (no date, no author, no team below the listing unit: R7)."""

    cycle: str
    unit_id: str
    unit_path: str
    text: str


@dataclass(frozen=True, slots=True)
class ReviewComment:
    """A listed comment as HR reviews it: its id (what a redaction names), its one listing unit,
    its place in the random order drawn at listing, and its text. Still no date or author (R7)."""

    id: str
    cycle: str
    unit_id: str
    unit_path: str
    position: int
    text: str


@dataclass(frozen=True, slots=True)
class CommentsInReview:
    """HR's review list of one closed cycle. ``listed``: the job has listed the cycle's comments
    under its current thresholds (until then ``comments`` is empty whether or not any were left)."""

    listed: bool
    comments: tuple[ReviewComment, ...]


def unit_distributions(*, cycle: Cycle, unit_id: uuid.UUID | str) -> list[PublishedDistribution]:
    """The unit's item distributions in a served cycle, by item key; empty where none may be
    shown (a hidden unit stores none). One query beside the door's."""
    unit = unit_id_parse(unit_id)
    served = door_state().served_cycle(cycle.pk)
    if served is None:
        return []
    rows = ItemDistribution.objects.filter(cycle_id=served.pk, unit_id=unit).order_by("item")
    records = (
        distribution_record(served, str(unit), *row)
        for row in rows.values_list("item", "unfavourable", "neutral", "favourable")
    )
    return [record for record in records if record is not None]


def distribution_record(
    cycle: Cycle, unit_id: str, item: str, unfavourable: int, neutral: int, favourable: int
) -> PublishedDistribution | None:
    """Shares of the three bins (None for an empty row, which the job never writes)."""
    n = unfavourable + neutral + favourable
    if not n:
        return None
    return PublishedDistribution(cycle.label, unit_id, item, n, unfavourable / n, neutral / n, favourable / n)


def listed_comments(*, cycle: Cycle, unit_ids: Collection[uuid.UUID | str]) -> list[PublishedComment]:
    """The comments listed at the given units in a served cycle whose comments are released (R7:
    not during HR's review window), by unit path, then in the random order drawn at listing. Two
    queries beside the door's."""
    served = door_state().served_cycle(cycle.pk)
    units = [unit_id_parse(unit) for unit in unit_ids]
    if served is None or served.comments_released_at is None or not units:
        return []
    paths = dict(UnitSnapshot.objects.filter(cycle_id=served.pk, unit_id__in=units).values_list("unit_id", "path"))
    rows = ReleasedComment.objects.filter(cycle_id=served.pk, unit_id__in=units).values_list(
        "unit_id", "position", "text"
    )
    listed = sorted(rows, key=lambda row: (paths.get(row[0], ""), str(row[0]), row[1]))
    return [PublishedComment(served.label, str(unit), paths.get(unit, ""), text) for unit, _, text in listed]


def comments_listed_on(*, cycle: Cycle) -> dt.date | None:
    """The day the job last finished listing the cycle's comments under its current thresholds
    (served cycles only); None while they are not listed. The review window runs from then."""
    if door_state().served_cycle(cycle.pk) is None:
        return None
    finished = (
        AggregationStage.objects.filter(cycle_id=cycle.pk, stage=COMMENTS_STAGE, state=AggregationStage.State.DONE)
        .values_list("finished_at", flat=True)
        .first()
    )
    return timezone.localtime(finished).date() if finished is not None else None


def comments_in_review(*, cycle: Cycle) -> CommentsInReview:
    """Every comment the job listed for a served cycle, before and after their release (HR
    reviews and redacts them), by listing unit path, then in the random order drawn at listing:
    the order readers will see. Three queries beside the door's."""
    served = door_state().served_cycle(cycle.pk)
    if served is None:
        return CommentsInReview(listed=False, comments=())
    stage = AggregationStage.objects.filter(
        cycle_id=served.pk, stage=COMMENTS_STAGE, state=AggregationStage.State.DONE
    ).exists()
    if not stage:
        return CommentsInReview(listed=False, comments=())
    rows = list(ReleasedComment.objects.filter(cycle_id=served.pk).values_list("id", "unit_id", "position", "text"))
    units = {unit for _, unit, _, _ in rows}
    paths = dict(UnitSnapshot.objects.filter(cycle_id=served.pk, unit_id__in=units).values_list("unit_id", "path"))
    rows.sort(key=lambda row: (paths.get(row[1], ""), str(row[1]), row[2]))
    return CommentsInReview(
        listed=True,
        comments=tuple(
            ReviewComment(str(key), served.label, str(unit), paths.get(unit, ""), position, text)
            for key, unit, position, text in rows
        ),
    )
