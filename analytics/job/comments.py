"""A closed cycle's comments (ANONYMITY R7): listed at close, each at one listing unit, shuffled,
no dates (the list HR reviews, which the door serves once the cycle's comments are released);
and their redaction, which deletes a comment's text from the listing and from the anonymous side.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import uuid
from dataclasses import dataclass

import pandas as pd
from django.conf import settings
from django.db import transaction

from analytics.core.comments import comment_listing
from analytics.core.tree import UnitTree
from analytics.job.storage import frame_insert
from analytics.models import ReleasedComment, UnitSnapshot
from surveys.anonymous.models import Comment
from surveys.models import AuditEvent, Cycle

logger = logging.getLogger(__name__)

COMMENT_REDACTED = "comment_redacted"
NOT_LISTED = (
    "That comment was already redacted or is not listed (any more): nothing changed. The list may have "
    "been drawn again since the page was loaded; reload it and redact from there."
)


def _listing_shuffler(cycle: Cycle, unit: str) -> random.Random:
    # PULSE_SHUFFLE_KEY (SECRET_KEY unless set): a key of its own, so that rotating SECRET_KEY does
    # not reorder comments already released when a cycle is aggregated again (docs/security.md).
    key = settings.PULSE_SHUFFLE_KEY.encode()
    seed = hmac.new(key, f"comments:{cycle.pk}:{unit}".encode(), hashlib.sha256).digest()
    return random.Random(seed)  # noqa: S311  # nosec B311 - seeded from the secret; the order is no key


def comments_release(*, cycle: Cycle, tree: UnitTree[str], respondents: dict[str, int]) -> int:
    """R7: each comment at exactly one unit (the smallest containing the author's team with at
    least the comment threshold of respondents, R5 applied at that threshold), shuffled, no dates.
    Redacted comments are never released."""
    ReleasedComment.objects.filter(cycle=cycle).delete()
    comments = list(Comment.objects.filter(cycle=cycle, redacted=False).values_list("team_id", "text"))
    direct = {unit: int(respondents.get(unit, 0)) for unit in tree.parents}
    listing = comment_listing(
        tree.parents, direct, [str(team_id) for team_id, _ in comments], threshold=cycle.comment_threshold
    )
    rows: list[tuple[str, str, int, str]] = []
    for unit, indices in listing.items():
        # Sorted by text, then shuffled with a seed derived from a server secret: the order
        # says nothing about who wrote first (R7) and cannot be predicted, yet a rerun of the job
        # lists the same comments in the same order (idempotent, and no reshuffle to compare).
        shuffled = sorted(indices, key=lambda index: comments[index][1])
        _listing_shuffler(cycle, unit).shuffle(shuffled)
        rows.extend((str(uuid.uuid4()), unit, position, comments[index][1]) for position, index in enumerate(shuffled))
    frame = pd.DataFrame(rows, columns=["id", "unit_id", "position", "text"])
    frame_insert(ReleasedComment, frame.assign(cycle_id=cycle.pk))
    return len(rows)


class CommentNotListed(Exception):
    """The comment to redact is not in the listing: redacted already, never listed, or the id of
    a listing since drawn again (a page loaded before a threshold raise)."""


@dataclass(frozen=True)
class CommentRedaction:
    """What a redaction did, in the terms its audit uses: the cycle and the listing unit's path."""

    cycle: str
    unit_path: str


def comment_redact(*, comment_id: uuid.UUID | str, actor: str, cycle: Cycle | None = None) -> CommentRedaction:
    """Redacts one listed comment (R7, R10): in one transaction the listing row is deleted and
    its source in the anonymous side keeps no text and is marked redacted, so no rerun of the job
    lists it again. Allowed before and after release (after, it takes the comment down). The
    audit names the cycle and the listing unit, never the text. The other comments keep their
    positions: a gap in the random order says nothing.

    ``cycle``: only a comment of this cycle (a page's own). Raises CommentNotListed, changing
    nothing, for an id that is not listed (a repeat of the same redaction included).
    """
    if not actor.strip():
        raise ValueError("redacting a comment needs an actor (a user's e-mail) for the audit (R10).")
    try:
        key = uuid.UUID(str(comment_id))
    except ValueError:
        raise CommentNotListed(NOT_LISTED) from None
    rows = ReleasedComment.objects.filter(pk=key)
    if cycle is not None:
        rows = rows.filter(cycle_id=cycle.pk)
    cycle_id = rows.values_list("cycle_id", flat=True).first()
    if cycle_id is None:
        raise CommentNotListed(NOT_LISTED)
    with transaction.atomic():
        # The cycle first: two redactions of one cycle at once (of two comments with the same text,
        # say) take turns, so each wipes its own source. The listing row next: a rerun of the job
        # deletes the cycle's rows first, so one of the two waits for the other to commit.
        locked_cycle = Cycle.objects.select_for_update().get(pk=cycle_id)
        listed = ReleasedComment.objects.select_for_update().filter(pk=key, cycle_id=cycle_id).first()
        if listed is None:  # redacted, or listed again, while this request waited
            raise CommentNotListed(NOT_LISTED)
        paths, source = _listed_source(locked_cycle, listed)
        if source is None:
            # Nothing left to wipe (its source was redacted by other means since the listing):
            # the listing row still goes, which is all a redaction must leave behind.
            logger.warning("comment redaction: no unredacted source left for a comment of %s", locked_cycle.label)
        else:
            Comment.objects.filter(pk=source).update(text="", redacted=True)
        listed.delete()
        unit_path = paths.get(listed.unit_id, "")
        AuditEvent.objects.create(
            actor=actor, action=COMMENT_REDACTED, detail={"cycle": locked_cycle.label, "unit": unit_path}
        )
    return CommentRedaction(cycle=locked_cycle.label, unit_path=unit_path)


def _listed_source(cycle: Cycle, listed: ReleasedComment) -> tuple[dict[uuid.UUID, str], uuid.UUID | None]:
    """The cycle's unit paths, and the anonymous comment a listing row was drawn from: same text,
    not redacted, and listed at that unit, i.e. its team's nearest unit that lists comments is the
    row's unit. (A comment with the same text under a smaller listing unit below it is another
    comment; wiping it would list this one again at the next run.) Among identical candidates any
    one will do: they are indistinguishable in every list."""
    snapshots = list(UnitSnapshot.objects.filter(cycle=cycle).values_list("unit_id", "parent_id", "path"))
    paths = {unit: path for unit, _, path in snapshots}
    parents = {unit: parent for unit, parent, _ in snapshots}
    # Every unit an unredacted comment is listed at has a row, so the nearest of these is exactly
    # the job's nearest listing unit for any candidate (listing units without rows hold no comment).
    listing_units = set(ReleasedComment.objects.filter(cycle=cycle).values_list("unit_id", flat=True).distinct())
    candidates = Comment.objects.select_for_update().filter(cycle=cycle, text=listed.text, redacted=False)
    for source, team in candidates.order_by("pk").values_list("id", "team_id"):
        if _nearest_listing(team, parents, listing_units) == listed.unit_id:
            return paths, source
    return paths, None


def _nearest_listing(
    team: uuid.UUID, parents: dict[uuid.UUID, uuid.UUID | None], listing_units: set[uuid.UUID]
) -> uuid.UUID | None:
    """The team's nearest ancestor-or-self among ``listing_units`` in the cycle's frozen tree
    (top-level units have the organisation as parent, the organisation none)."""
    node: uuid.UUID | None = team
    while node is not None:
        if node in listing_units:
            return node
        node = parents.get(node)
    return None
