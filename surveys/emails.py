"""Survey e-mails: plain text and HTML, built from templates, sent in batches."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.urls import reverse

from surveys.models import Cycle, Person
from surveys.services.actions import open_action_titles_by_team

# What is protected and what is not (ANONYMITY.md, "What k-anonymity cannot promise"), in the
# words of the privacy page; each clause is what the code does (thresholds: the cycle's own).
ANONYMITY_SENTENCE = (
    "Nobody \u2013 not your manager, HR or an administrator \u2013 can see what you answered. Your answers "
    "are stored without your name, e-mail or link. Results are shown only after the pulse closes and only "
    "for groups of at least {k} people, and a group is also hidden when subtracting one report from another "
    "would single out a smaller one. Comments are shown only for groups of at least {comment_threshold} "
    "people, shuffled and without dates."
)
LIMITS_SENTENCE = (
    "What this cannot promise: if everyone in a group gives the same answer, the group's result shows it; "
    "someone who knows their own answer can work out the average of the rest of the group; when someone "
    "joins or leaves a team, comparing two months can hint at their answers; and while a pulse is open, "
    "someone with direct access to the database server could link answers to the people who gave them "
    "from the way the rows are stored."
)


# Closing the loop (issue 9): what the team's managers are trying because of earlier results, in
# one sentence. "Recent pulses", not "last month's": an open action may follow any earlier cycle.
TRYING_SENTENCE = "Because of what recent pulses showed, your team's managers are trying: {titles}"
#: The kinds of mail that say it: the invitation and its reminders, not a link sent on request.
TRYING_KINDS = frozenset({"invitation", "reminder"})


def trying_sentence(titles: Sequence[str]) -> str:
    """The sentence naming the open actions' titles ("" when there are none); the caller escapes
    it where it is HTML (a template does)."""
    parts = [title.strip().rstrip(".").strip() for title in titles]
    parts = [part for part in parts if part]
    if not parts:
        return ""
    text = TRYING_SENTENCE.format(titles="; ".join(parts))
    return text if text.endswith(("?", "!")) else text + "."


@dataclass(frozen=True)
class SurveyMail:
    person: Person
    token: str
    kind: str  # invitation | reminder | resend


def survey_link(token: str) -> str:
    base_url: str = settings.PULSE_BASE_URL
    return base_url + reverse("survey", kwargs={"token": token})


def privacy_link() -> str:
    base_url: str = settings.PULSE_BASE_URL
    return base_url + reverse("privacy")


def survey_mail_build(*, cycle: Cycle, mail: SurveyMail, trying: Sequence[str] = ()) -> EmailMultiAlternatives:
    """One mail; ``trying``: the open actions' titles for the person's team and the units above
    it (said in invitations and reminders only)."""
    context = {
        "person": mail.person,
        "cycle": cycle,
        "kind": mail.kind,
        "link": survey_link(mail.token),
        "closes_on": cycle.closes_on,
        "k": cycle.k,
        "anonymity_sentence": ANONYMITY_SENTENCE.format(k=cycle.k, comment_threshold=cycle.comment_threshold),
        "limits_sentence": LIMITS_SENTENCE,
        "privacy_link": privacy_link(),
        "trying": trying_sentence(trying) if mail.kind in TRYING_KINDS else "",
    }
    subjects = {
        "invitation": f"Your {cycle.month:%B} pulse: 3 minutes, anonymous",
        "reminder": f"Reminder: your {cycle.month:%B} pulse closes on {cycle.closes_on:%-d %B}",
        "resend": f"Your new link for the {cycle.month:%B} pulse",
    }
    message = EmailMultiAlternatives(
        subject=subjects[mail.kind],
        body=render_to_string("emails/survey.txt", context),
        to=[mail.person.email],
    )
    message.attach_alternative(render_to_string("emails/survey.html", context), "text/html")
    return message


def survey_mails_send(*, cycle: Cycle, mails: Iterable[SurveyMail]) -> int:
    """Sends over one connection; returns how many were accepted by the backend. The open actions
    are read once for the whole batch (a query per level of the tree and one more, however many
    teams it spans)."""
    batch = list(mails)
    if not batch:
        return 0
    teams = {str(mail.person.team_id) for mail in batch if mail.kind in TRYING_KINDS}
    titles = open_action_titles_by_team(team_ids=teams) if teams else {}
    messages = [
        survey_mail_build(cycle=cycle, mail=mail, trying=titles.get(str(mail.person.team_id), ())) for mail in batch
    ]
    with get_connection() as connection:
        return connection.send_messages(messages) or 0
