"""The submit service: the only writer of the anonymous side while a cycle is open.

Consuming the one-time token and storing the response happen in one transaction, under a row
lock on the invitation, so two concurrent submissions of one token store exactly one response
(ANONYMITY R2). Nothing stored on the anonymous side points back at the invitation (R1).

It is also the hot path of the busiest minutes the site has (everyone answers after the
invitation mail), so it does the least that keeps R2: one locked lookup of the columns it needs,
the instrument from the per-process cache, one UPDATE and one INSERT per table.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from django.db import connection, transaction
from django.views.decorators.debug import sensitive_variables

from config.text_input import text_problem
from surveys.anonymous.models import Answer, Comment, Response
from surveys.instrument import AnswerErrors, CleanAnswers, Instrument, RawAnswers
from surveys.models import Cycle, Invitation, Role
from surveys.models.cycles import token_digest
from surveys.selectors import LinkState, instrument_for_version, issued_link_state, missing_link_state

# What Django's form parser puts where the body held bytes that are not UTF-8 (it decodes with
# errors="replace"). Browsers always send the form as UTF-8, so in a comment it means the text was
# garbled on its way here; stored, it could never be corrected (nobody can edit an anonymous
# comment), so it is refused like the characters text_problem refuses.
REPLACEMENT_CHARACTER = "\ufffd"


class SubmissionRefused(Exception):
    """The link cannot take an answer: `state` says why (unknown, answered, closed)."""

    def __init__(self, state: LinkState):
        super().__init__(state.value)
        self.state = state


class _LockedLink(NamedTuple):
    invitation_id: int
    status: str
    team_id: uuid.UUID
    cycle_id: int
    cycle_status: str
    instrument_version_id: int
    person_is_active: bool
    person_role: str


# The one lookup of a submission, written out. It locks the invitation row alone (FOR UPDATE OF
# i, below) until the transaction ends: that lock is what serialises two submissions of one token (the
# second waits, then reads "answered"). It reads only what the link state and the answer rules
# need, and never the instrument version's definition (a 12 KB JSON document; the parsed
# instrument is cached per process). Written out because building the same query through the
# ORM (select_for_update + select_related + only) took about three times what PostgreSQL takes
# to run it, on every submission (bench/load_submit.py); everything else here is the ORM.
_LOCKED_LOOKUP = """
    SELECT i.id, i.status, i.team_id, c.id, c.status, c.instrument_version_id, p.is_active, p.role
    FROM surveys_invitation AS i
    JOIN surveys_cycle AS c ON c.id = i.cycle_id
    JOIN surveys_person AS p ON p.id = i.person_id
    WHERE i.token_hash = %s
"""


def _link_locked(*, token_hash: str) -> _LockedLink | None:
    # As the ORM's select_for_update does, the lock clause is left out where the database has no
    # row locks: SQLite (the no-configuration demo) serialises writers on the whole database.
    lock = " FOR UPDATE OF i" if connection.features.has_select_for_update_of else ""
    with connection.cursor() as cursor:
        cursor.execute(_LOCKED_LOOKUP + lock, [token_hash])
        row = cursor.fetchone()
    return None if row is None else _LockedLink(*row)


@sensitive_variables("token", "raw_answers")
def response_submit(*, token: str, raw_answers: Mapping[str, str | Sequence[str] | None]) -> None:
    """Validates and stores one anonymous response, consuming the token.

    Raises AnswerErrors (nothing stored) for bad answers and SubmissionRefused when the link is
    not open for answers. `raw_answers` may hold keys that are not items: only the instrument's
    own keys are read.
    """
    with transaction.atomic():
        link = _link_locked(token_hash=token_digest(token))
        if link is None:
            raise SubmissionRefused(missing_link_state(token=token))
        state = issued_link_state(
            status=link.status,
            person_is_active=link.person_is_active,
            cycle_is_open=link.cycle_status == Cycle.Status.OPEN,
        )
        if state is not LinkState.OPEN:
            raise SubmissionRefused(state)
        instrument = instrument_for_version(version_id=link.instrument_version_id)
        # Person.is_manager, from the locked row's role: managers are offered managers-only options.
        is_manager = link.person_role == Role.MANAGER
        # Checked here, before anything is written: PostgreSQL refuses NUL in text, which would end
        # the submission in a 500 with every answer lost.
        text_errors = _comment_errors(instrument, raw_answers, is_manager=is_manager)
        try:
            clean: CleanAnswers = instrument.clean(raw_answers, is_manager=is_manager)
        except AnswerErrors as errors:
            raise AnswerErrors(_merged(errors.errors, text_errors)) from None
        if text_errors:
            raise AnswerErrors(text_errors)
        # The lock guarantees the row is still pending: a plain UPDATE by key, no re-read.
        Invitation.objects.filter(pk=link.invitation_id).update(status=Invitation.Status.ANSWERED)
        response = Response.objects.create(
            cycle_id=link.cycle_id, team_id=link.team_id, instrument_version_id=link.instrument_version_id
        )
        # One multi-row INSERT. The keys are UUID4s made here, so nothing is read back.
        Answer.objects.bulk_create(
            [Answer(response=response, item=item, value=value) for item, value in clean.values.items()]
        )
        if clean.comment:
            Comment.objects.create(cycle_id=link.cycle_id, team_id=link.team_id, text=clean.comment)


def comment_problem(text: str) -> str | None:
    """What stops ``text`` from being stored as a comment, as the fix to make, or None.

    The characters config.text_input refuses in multi-line text, and the replacement character
    (see REPLACEMENT_CHARACTER). Refused, never stripped: the engineer sees the form again with
    every answer kept and decides what the comment should say."""
    problem = text_problem(text, multiline=True)
    if problem is not None:
        return f"Your comment holds a character that cannot be stored: {problem}."
    position = text.find(REPLACEMENT_CHARACTER)
    if position >= 0:
        return (
            f"Your comment holds a garbled character (U+FFFD) at character {position + 1}, where the text did not "
            "arrive as UTF-8: retype that part of your comment."
        )
    return None


def _comment_errors(instrument: Instrument, raw_answers: RawAnswers, *, is_manager: bool) -> dict[str, str]:
    """A message per asked free-text item whose text cannot be stored. The text is read as
    Instrument.clean reads it: the last value of a repeated field."""
    context = instrument.context_from(raw_answers, is_manager=is_manager)
    errors: dict[str, str] = {}
    for item in instrument.asked_items(context):
        if item.kind != "text":
            continue
        value = raw_answers.get(item.key)
        text = value if isinstance(value, str) else (value[-1] if value else "")
        problem = comment_problem(text)
        if problem is not None:
            errors[item.key] = problem
    return errors


def _merged(first: dict[str, str], second: dict[str, str]) -> dict[str, str]:
    """Both sets of messages; an item with one in each says both (a comment too long *and* holding
    a NUL), so that one more try is enough."""
    merged = dict(first)
    for key, message in second.items():
        merged[key] = f"{merged[key]} {message}" if key in merged else message
    return merged
