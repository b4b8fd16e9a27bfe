"""Survey e-mails: plain text and HTML, built from templates, sent in batches."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.urls import reverse

from surveys.models import Cycle, Person

ANONYMITY_SENTENCE = (
    "Your answers are stored without your name, e-mail or link, and results are shown only for "
    "groups of at least {k} people, so nobody \u2013 not your manager, HR or an administrator \u2013 "
    "can see what you answered."
)


@dataclass(frozen=True)
class SurveyMail:
    person: Person
    token: str
    kind: str  # invitation | reminder | resend


def survey_link(token: str) -> str:
    base_url: str = settings.PULSE_BASE_URL
    return base_url + reverse("survey", kwargs={"token": token})


def survey_mail_build(*, cycle: Cycle, mail: SurveyMail) -> EmailMultiAlternatives:
    context = {
        "person": mail.person,
        "cycle": cycle,
        "kind": mail.kind,
        "link": survey_link(mail.token),
        "closes_on": cycle.closes_on,
        "k": cycle.k,
        "anonymity_sentence": ANONYMITY_SENTENCE.format(k=cycle.k),
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
