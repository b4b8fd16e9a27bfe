"""Closing the loop with respondents (issue 9, item 6): the invitation and reminder e-mails and the
survey's first page say what the team's managers are trying (the open actions' titles, on the team
and the units above it, at most three), and nothing when nothing is tried. The survey page only
reads; the e-mails read the actions once per batch."""

from __future__ import annotations

import datetime as dt
from html import unescape
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from surveys.closing import cycle_close
from surveys.emails import SurveyMail, survey_mails_send, trying_sentence
from surveys.models import Person, Role, Team
from surveys.services.actions import ActionInput, action_close, action_create
from surveys.services.cycles import cycle_open, link_resend, reminders_send
from tests.factories import PersonFactory
from tests.surveys.helpers import STEP1, team_with_people

pytestmark = pytest.mark.django_db
MARCH, APRIL = dt.date(2026, 3, 1), dt.date(2026, 4, 1)
WRITES = ("INSERT", "UPDATE", "DELETE")


@pytest.fixture
def world():
    """Engineering (Alpha, Beta) and Product (Design), a manager of Engineering, March closed."""
    eng = Team.objects.create(name="Engineering")
    product = Team.objects.create(name="Product")
    alpha = team_with_people("Alpha", 2, parent=eng)
    beta = team_with_people("Beta", 2, parent=eng)
    design = team_with_people("Design", 2, parent=product)
    manager = PersonFactory(email="eng-lead@example.com", role=Role.MANAGER, team=beta)
    manager.managed_teams.set([eng])
    march = cycle_open(month=MARCH, today=MARCH, send_mail=False).cycle
    cycle_close(cycle=march, today=MARCH + dt.timedelta(days=15))
    march.refresh_from_db()

    def act(unit: Team, title: str):
        return action_create(
            actor=manager,
            unit=unit,
            started_cycle=march,
            data=ActionInput(metric="psych_safety", title=title, owner_id=manager.pk, check_back_month=APRIL),
        )

    return SimpleNamespace(eng=eng, alpha=alpha, beta=beta, design=design, manager=manager, march=march, act=act)


def mail_to(outbox, email: str):
    return next(message for message in outbox if message.to == [email])


def test_the_sentence_names_the_titles_once_each_without_doubled_full_stops():
    assert trying_sentence([]) == ""
    assert trying_sentence(["Drop adoption targets.", "Pair on real work"]) == (
        "Because of what recent pulses showed, your team's managers are trying: Drop adoption targets; "
        "Pair on real work."
    )
    assert trying_sentence(["Ask: when did AI hurt?"]).endswith("trying: Ask: when did AI hurt?")


def test_the_invitation_names_what_the_team_and_its_department_are_trying(world, mailoutbox):
    world.act(world.alpha, "Pair AI-fluent engineers with others on real work.")
    world.act(world.eng, "Drop adoption targets.")
    cycle_open(month=APRIL, today=APRIL)
    alpha = mail_to(mailoutbox, "alpha-0@example.com")
    expected = (
        "Because of what recent pulses showed, your team's managers are trying: Drop adoption targets; "
        "Pair AI-fluent engineers with others on real work."
    )
    assert expected in alpha.body and expected in unescape(alpha.alternatives[0][0])
    beta = mail_to(mailoutbox, "beta-0@example.com")
    assert "trying: Drop adoption targets." in beta.body and "Pair AI-fluent" not in beta.body
    design = mail_to(mailoutbox, "design-0@example.com")
    assert "managers are trying" not in design.body and "managers are trying" not in design.alternatives[0][0]


def test_at_most_three_open_titles_newest_first_and_escaped_in_html(world, mailoutbox):
    for title in ("First.", "Second.", "Third.", "Fourth <b>bold</b> & more."):
        world.act(world.alpha, title)
    action_close(actor=world.manager, action=world.act(world.alpha, "Closed one."), outcome="Done.")
    cycle_open(month=APRIL, today=APRIL)
    message = mail_to(mailoutbox, "alpha-1@example.com")
    assert "trying: Fourth <b>bold</b> & more; Third; Second." in message.body  # plain text, as written
    html = message.alternatives[0][0]
    assert "<b>bold</b>" not in html and "Fourth &lt;b&gt;bold&lt;/b&gt; &amp; more; Third; Second." in html
    assert "First" not in message.body and "Closed one" not in message.body


def test_reminders_say_it_and_a_link_sent_on_request_does_not(world, mailoutbox):
    world.act(world.alpha, "Drop adoption targets.")
    cycle_open(month=APRIL, today=APRIL)
    mailoutbox.clear()
    reminders_send(today=APRIL + dt.timedelta(days=3), force=True)
    assert "trying: Drop adoption targets." in mail_to(mailoutbox, "alpha-0@example.com").body
    mailoutbox.clear()
    link_resend(email="alpha-0@example.com")
    assert "managers are trying" not in mail_to(mailoutbox, "alpha-0@example.com").body


def test_a_batch_reads_the_actions_once_however_many_teams_it_spans(world, mailoutbox):
    world.act(world.alpha, "Drop adoption targets.")
    cycle = cycle_open(month=APRIL, today=APRIL, send_mail=False).cycle
    people = list(Person.objects.select_related("team").order_by("email"))
    assert len({person.team_id for person in people}) >= 3
    with CaptureQueriesContext(connection) as queries:
        sent = survey_mails_send(cycle=cycle, mails=[SurveyMail(person, "token", "invitation") for person in people])
    assert sent == len(people)
    assert len([q for q in queries.captured_queries if "surveys_action" in q["sql"]]) == 1
    assert len(queries) == 3  # the teams, the departments above them, then the open actions on all of them


def test_the_surveys_first_page_says_it_and_writes_nothing(world, client):
    world.act(world.eng, "Say in the pull request what was generated & how it was checked.")
    links = {link.person_email: link.token for link in cycle_open(month=APRIL, today=APRIL, send_mail=False).links}
    url = reverse("survey", kwargs={"token": links["alpha-0@example.com"]})
    with CaptureQueriesContext(connection) as queries:
        page = client.get(url)
    body = page.content.decode()
    assert page.status_code == 200
    assert (
        '<p class="trying">Because of what recent pulses showed, your team\'s managers are trying: Say in the pull '
        "request what was generated &amp; how it was checked.</p>"
    ) in body.replace("&#x27;", "'")
    assert not [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith(WRITES)]
    step_two = client.post(url, {**STEP1, "action": "next"}).content.decode()
    assert "managers are trying" not in step_two  # the first page only
    design = reverse("survey", kwargs={"token": links["design-0@example.com"]})
    assert 'class="trying"' not in client.get(design).content.decode()
