"""Closing a cycle: the point where the last physical links between people and answers go.

While a cycle is open, a response row and the invitation it consumed share a transaction id
(PostgreSQL's xmin) and sit in insertion order on disk. On close, in one transaction, the cycle's
anonymous rows are rewritten with new random keys in a random order, and the invitation log is
reduced to counts per team (ANONYMITY R1). Afterwards, on PostgreSQL, the anonymous tables are
vacuumed so the dead copies of the old rows are reclaimed.

The close also starts HR's comment review (R7): the comments are released the organisation's
``comment_review_days`` after the close, or at once when that leaves no review window.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from surveys.anonymous.models import Answer, Comment, Response
from surveys.models import Cycle, Invitation, InvitationTally, Organisation, RetiredLink
from surveys.services.comments import CLOSE_ACTOR, comments_release_record
from surveys.signals import cycle_closed

_shuffler = random.SystemRandom()
BULK_BATCH = 2000


@dataclass(frozen=True)
class CycleCloseResult:
    cycle: Cycle
    closed_now: bool
    responses: int
    teams: int


def cycle_close(*, cycle: Cycle, today: dt.date | None = None) -> CycleCloseResult:
    """Closes a cycle (idempotent: closing a closed cycle does nothing and says so)."""
    with transaction.atomic():
        cycle = Cycle.objects.select_for_update().get(pk=cycle.pk)
        if not cycle.is_open:
            return CycleCloseResult(cycle=cycle, closed_now=False, responses=0, teams=0)
        responses = _anonymous_rows_rewrite(cycle)
        teams = _invitation_log_reduce(cycle)
        cycle.status = Cycle.Status.CLOSED
        cycle.closed_on = today or timezone.localdate()
        cycle.comments_release_on = cycle.closed_on + dt.timedelta(days=Organisation.current().comment_review_days)
        cycle.save(update_fields=["status", "closed_on", "comments_release_on"])
        # No window left (0 review days, or a close dated far enough back): release now rather
        # than leave it to the next daily run, which would release them without a review anyway.
        if cycle.comments_release_on <= timezone.localdate():
            comments_release_record(cycle=cycle, actor=CLOSE_ACTOR)
        cycle_closed.send(sender=Cycle, cycle=cycle)
    _vacuum_anonymous_tables()
    return CycleCloseResult(cycle=cycle, closed_now=True, responses=responses, teams=teams)


def _anonymous_rows_rewrite(cycle: Cycle) -> int:
    """Re-inserts the cycle's responses, answers and comments under new UUIDs in random order."""
    old_responses = list(Response.objects.filter(cycle=cycle).values("id", "team_id", "instrument_version_id"))
    answers_by_response: dict[uuid.UUID, list[tuple[str, float]]] = defaultdict(list)
    for response_id, item, value in Answer.objects.filter(response__cycle=cycle).values_list(
        "response_id", "item", "value"
    ):
        answers_by_response[response_id].append((item, value))
    comments = list(Comment.objects.filter(cycle=cycle).values("team_id", "text", "redacted"))

    Comment.objects.filter(cycle=cycle).delete()
    Answer.objects.filter(response__cycle=cycle).delete()
    Response.objects.filter(cycle=cycle).delete()

    _shuffler.shuffle(old_responses)
    new_responses: list[Response] = []
    new_answers: list[Answer] = []
    for old in old_responses:
        response = Response(
            id=uuid.uuid4(), cycle=cycle, team_id=old["team_id"], instrument_version_id=old["instrument_version_id"]
        )
        new_responses.append(response)
        items = answers_by_response.get(old["id"], [])
        _shuffler.shuffle(items)
        new_answers.extend(Answer(id=uuid.uuid4(), response=response, item=item, value=value) for item, value in items)
    _shuffler.shuffle(new_answers)
    Response.objects.bulk_create(new_responses, batch_size=BULK_BATCH)
    Answer.objects.bulk_create(new_answers, batch_size=BULK_BATCH)

    _shuffler.shuffle(comments)
    Comment.objects.bulk_create(
        (Comment(id=uuid.uuid4(), cycle=cycle, **comment) for comment in comments), batch_size=BULK_BATCH
    )
    return len(new_responses)


def _invitation_log_reduce(cycle: Cycle) -> int:
    """Counts per team replace the log of who answered; the hashes of the links are kept only to
    tell a late visitor that the pulse has closed."""
    counts: dict[uuid.UUID, list[int]] = defaultdict(lambda: [0, 0])
    hashes = []
    for team_id, status, token_hash in Invitation.objects.filter(cycle=cycle).values_list(
        "team_id", "status", "token_hash"
    ):
        hashes.append(token_hash)
        # A leaver's void invitation stays among the invited, as in live participation: leaving
        # mid-cycle must not change a count by whether they had answered.
        counts[team_id][0] += 1
        if status == Invitation.Status.ANSWERED:
            counts[team_id][1] += 1
    InvitationTally.objects.bulk_create(
        InvitationTally(cycle=cycle, team_id=team_id, invited=invited, answered=answered)
        for team_id, (invited, answered) in counts.items()
    )
    _shuffler.shuffle(hashes)
    RetiredLink.objects.bulk_create((RetiredLink(token_hash=h, cycle=cycle) for h in hashes), batch_size=BULK_BATCH)
    Invitation.objects.filter(cycle=cycle).delete()
    return len(counts)


def _vacuum_anonymous_tables() -> None:
    """Reclaims the dead tuples the rewrite left behind. VACUUM cannot run inside a transaction,
    so it is skipped when the caller holds one (tests, or a close inside a larger atomic block)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        for model in (Answer, Response, Comment):
            cursor.execute(f'VACUUM "{model._meta.db_table}"')  # noqa: S608 - table names from models
