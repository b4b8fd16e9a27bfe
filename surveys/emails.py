"""Survey e-mails: plain text and HTML, built from templates, sent in batches."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.urls import reverse

from surveys.models import Cycle, Person

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


def survey_mail_build(*, cycle: Cycle, mail: SurveyMail) -> EmailMultiAlternatives:
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
    """Sends over one connection; returns how many were accepted by the backend."""
    messages = [survey_mail_build(cycle=cycle, mail=mail) for mail in mails]
    if not messages:
        return 0
    with get_connection() as connection:
        return connection.send_messages(messages) or 0
