"""The submit service: the only writer of the anonymous side while a cycle is open.

Consuming the one-time token and storing the response happen in one transaction, under a row
lock on the invitation, so two concurrent submissions of one token store exactly one response
(ANONYMITY R2). Nothing stored on the anonymous side points back at the invitation (R1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from surveys.anonymous.models import Answer, Comment, Response
from surveys.instrument import CleanAnswers
from surveys.models import Invitation
from surveys.models.cycles import token_digest
from surveys.selectors import LinkState, survey_link_state


class SubmissionRefused(Exception):
    """The link cannot take an answer: `state` says why (unknown, answered, closed)."""

    def __init__(self, state: LinkState):
        super().__init__(state.value)
        self.state = state


@sensitive_variables("token", "raw_answers")
def response_submit(*, token: str, raw_answers: Mapping[str, str | Sequence[str] | None]) -> None:
    """Validates and stores one anonymous response, consuming the token.

    Raises AnswerErrors (nothing stored) for bad answers and SubmissionRefused when the link is
    not open for answers.
    """
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update(of=("self",))
            .select_related("cycle__instrument_version", "person")
            .filter(token_hash=token_digest(token))
            .first()
        )
        state = survey_link_state(token=token, invitation=invitation)
        if invitation is None or state is not LinkState.OPEN:
            raise SubmissionRefused(state)
        cycle = invitation.cycle
        instrument = cycle.instrument_version.instrument
        clean: CleanAnswers = instrument.clean(raw_answers, is_manager=invitation.person.is_manager)
        response = Response.objects.create(
            cycle=cycle, team_id=invitation.team_id, instrument_version=cycle.instrument_version
        )
        Answer.objects.bulk_create(
            Answer(response=response, item=item, value=value) for item, value in clean.values.items()
        )
        if clean.comment:
            Comment.objects.create(cycle=cycle, team_id=invitation.team_id, text=clean.comment)
        invitation.status = Invitation.Status.ANSWERED
        invitation.save(update_fields=["status"])
