"""The "results are ready" e-mail: once per cycle, to everyone on the roster, with a link to
their team's report (or to their start page where the organisation keeps team reports from
engineers). It says nothing about the results themselves: an e-mail is not a place for figures."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from analytics.published import aggregated_cycles
from surveys.models import Cycle, Organisation, Person

logger = logging.getLogger(__name__)


def results_ready_announce(*, cycle_id: int) -> int:
    """Send the e-mails if the cycle is served and nobody has announced it yet; returns how many
    were sent. The cycle is claimed first (one UPDATE), so two workers never both send; if the
    mail server fails, the claim is released for a retry."""
    cycle = next((served for served in aggregated_cycles() if served.pk == cycle_id), None)
    if cycle is None:
        return 0
    claimed = Cycle.objects.filter(pk=cycle_id, results_announced_at__isnull=True).update(
        results_announced_at=timezone.now()
    )
    if not claimed:
        return 0
    team_reports = Organisation.current().engineers_see_team_report
    messages = []
    for person in Person.objects.filter(is_active=True).order_by("pk"):
        if team_reports:
            path = reverse("reports:unit", kwargs={"unit_id": person.team_id}) + f"?cycle={cycle.label}"
        else:
            path = reverse("home")
        body = render_to_string(
            "emails/results_ready.txt",
            {"cycle": cycle, "link": f"{settings.PULSE_BASE_URL}{path}", "team_reports": team_reports},
        )
        messages.append(
            EmailMessage(
                subject=f"Results of the {cycle.label} pulse are ready",
                body=body,
                to=[person.email],
            )
        )
    try:
        with get_connection() as connection:
            sent = connection.send_messages(messages) or 0
    except OSError:
        Cycle.objects.filter(pk=cycle_id).update(results_announced_at=None)
        logger.exception("could not send the results-ready e-mails for %s", cycle.label)
        raise
    return sent
