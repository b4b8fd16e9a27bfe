"""Release of a closed cycle's comments (ANONYMITY R7): each at one listing unit, shuffled, no dates."""

from __future__ import annotations

import hashlib
import hmac
import random
import uuid

import pandas as pd
from django.conf import settings

from analytics.core.comments import comment_listing
from analytics.core.tree import UnitTree
from analytics.job.storage import frame_insert
from analytics.models import ReleasedComment
from surveys.anonymous.models import Comment
from surveys.models import Cycle


def _listing_shuffler(cycle: Cycle, unit: str) -> random.Random:
    seed = hmac.new(settings.SECRET_KEY.encode(), f"comments:{cycle.pk}:{unit}".encode(), hashlib.sha256).digest()
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
        # Sorted by text, then shuffled with a seed derived from the server's secret: the order
        # says nothing about who wrote first (R7) and cannot be predicted, yet a rerun of the job
        # lists the same comments in the same order (idempotent, and no reshuffle to compare).
        shuffled = sorted(indices, key=lambda index: comments[index][1])
        _listing_shuffler(cycle, unit).shuffle(shuffled)
        rows.extend((str(uuid.uuid4()), unit, position, comments[index][1]) for position, index in enumerate(shuffled))
    frame = pd.DataFrame(rows, columns=["id", "unit_id", "position", "text"])
    frame_insert(ReleasedComment, frame.assign(cycle_id=cycle.pk))
    return len(rows)
