"""Cycles: opening (frozen settings, one-time links by e-mail), reminders, resend, joiners,
leavers, closing (ANONYMITY R1, R2, R3)."""

import datetime as dt
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from surveys.anonymous.models import Answer, Comment, Response
from surveys.closing import cycle_close
from surveys.models import Cycle, Invitation, InvitationTally, Organisation, Person, RetiredLink
from surveys.models.cycles import token_digest
from surveys.services.cycles import CycleError, cycle_open, link_resend, reminders_send
from surveys.submission import response_submit
from tests.surveys.helpers import FULL_ANSWERS, team_with_people

pytestmark = pytest.mark.django_db
LINK = re.compile(r"http://127\.0\.0\.1:8000/s/([A-Za-z0-9_\-]+)/")
NOV = dt.date(2026, 11, 2)


@pytest.fixture
def roster():
    return team_with_people("Core", 6)


def links_in(message) -> list[str]:
    return LINK.findall(message.body)


def test_open_cycle_freezes_settings_and_mails_one_link_each(roster, mailoutbox):
    organisation = Organisation.current()
    organisation.anonymity_threshold = 7
    organisation.save()
    result = cycle_open(today=NOV)
    cycle = result.cycle
    assert (cycle.month, cycle.k, cycle.instrument_version.version, cycle.closes_on) == (
        dt.date(2026, 11, 1),
        7,
        1,
        dt.date(2026, 11, 16),
    )
    # Changing the organisation later does not reach the open cycle (ANONYMITY R3).
    organisation.anonymity_threshold = 3
    organisation.save()
    cycle.refresh_from_db()
    assert cycle.k == 7
    assert len(mailoutbox) == 6
    message = mailoutbox[0]
    assert message.alternatives and message.alternatives[0][1] == "text/html"
    token = links_in(message)[0]
    assert len(token) >= 43  # 256 bits, URL-safe base64
    for text in (message.body, message.alternatives[0][0]):
        assert "Monday 16 November 2026" in text
        assert "at least 7 people" in text
        assert token in text
    # Only the SHA-256 of the token is stored.
    invitation = Invitation.objects.get(token_hash=token_digest(token))
    assert invitation.person.email == message.to[0]
    assert not Invitation.objects.filter(token_hash=token).exists()


def test_open_cycle_is_idempotent_and_invites_joiners(roster, mailoutbox):
    first = cycle_open(today=NOV)
    again = cycle_open(today=NOV)
    assert first.created and not again.created and again.links == []
    assert Cycle.objects.count() == 1 and Invitation.objects.count() == 6 and len(mailoutbox) == 6
    Person.objects.create(email="late@example.com", name="Late", team=roster)
    joined = cycle_open(today=NOV)
    assert [link.person_email for link in joined.links] == ["late@example.com"]
    assert mailoutbox[-1].to == ["late@example.com"]


def test_only_one_cycle_open_and_closed_cycles_stay_closed(roster):
    cycle = cycle_open(month=dt.date(2026, 10, 1), today=dt.date(2026, 10, 1), send_mail=False).cycle
    with pytest.raises(CycleError, match="2026-10 cycle is still open; close it first"):
        cycle_open(today=NOV, send_mail=False)
    cycle_close(cycle=cycle)
    with pytest.raises(CycleError, match="already closed"):
        cycle_open(month=dt.date(2026, 10, 1), send_mail=False)


def test_open_cycle_command_reports_and_rejects_bad_months(roster, mailoutbox):
    out = StringIO()
    call_command("open_cycle", "--month", "2026-11", stdout=out)
    assert "Opened 2026-11" in out.getvalue() and "6 links e-mailed" in out.getvalue()
    with pytest.raises(CommandError, match="--month must look like 2026-11"):
        call_command("open_cycle", "--month", "November", stdout=StringIO())


def test_mail_failure_keeps_old_links_and_a_rerun_mails_them(roster, mailoutbox, monkeypatch):
    import surveys.services.cycles as cycles_module

    def broken_send(**kwargs):
        raise ConnectionError("mail server down")

    monkeypatch.setattr(cycles_module, "survey_mails_send", broken_send)
    with pytest.raises(ConnectionError):
        cycle_open(today=NOV)
    assert Invitation.objects.filter(mailed=False).count() == 6  # the batch rolled back
    monkeypatch.undo()
    result = cycle_open(today=NOV)
    assert len(result.links) == 6 and len(mailoutbox) == 6
    assert not Invitation.objects.filter(mailed=False).exists()


def test_reminders_go_on_days_3_and_5_only_to_those_who_have_not_answered(roster, mailoutbox):
    cycle_open(today=NOV)
    answered_token = links_in(mailoutbox[0])[0]
    response_submit(token=answered_token, raw_answers=FULL_ANSWERS)
    mailoutbox.clear()
    assert reminders_send(today=NOV + dt.timedelta(days=2)) == 0
    assert reminders_send(today=NOV + dt.timedelta(days=3)) == 5
    assert reminders_send(today=NOV + dt.timedelta(days=3)) == 0  # twice the same day acts once
    assert len(mailoutbox) == 5
    assert "Reminder" in mailoutbox[0].subject and "replaces the one in your earlier e-mail" in mailoutbox[0].body
    assert reminders_send(today=NOV + dt.timedelta(days=5)) == 5
    assert reminders_send(today=NOV + dt.timedelta(days=6)) == 0


def test_resend_issues_a_fresh_link_and_voids_the_old_one(roster, mailoutbox):
    cycle_open(today=NOV)
    message = mailoutbox[0]
    old_token = links_in(message)[0]
    link_resend(email=message.to[0].upper())
    assert len(mailoutbox) == 7
    new_token = links_in(mailoutbox[-1])[0]
    assert new_token != old_token
    assert not Invitation.objects.filter(token_hash=token_digest(old_token)).exists()
    assert Invitation.objects.filter(token_hash=token_digest(new_token)).exists()


def test_resend_for_unknown_answered_or_departed_people_sends_nothing(roster, mailoutbox):
    cycle_open(today=NOV)
    response_submit(token=links_in(mailoutbox[0])[0], raw_answers=FULL_ANSWERS)
    answered_email = mailoutbox[0].to[0]
    leaver = Person.objects.exclude(email=answered_email).first()
    leaver.is_active = False
    leaver.save()
    mailoutbox.clear()
    for email in ("nobody@example.com", answered_email, leaver.email):
        link_resend(email=email)
    assert mailoutbox == []


def test_close_reduces_the_invitation_log_to_counts_and_rewrites_anonymous_rows(roster, mailoutbox):
    cycle = cycle_open(today=NOV).cycle
    tokens = [links_in(m)[0] for m in mailoutbox]
    for token in tokens[:4]:
        response_submit(token=token, raw_answers=FULL_ANSWERS)
    before_ids = set(Response.objects.values_list("id", flat=True))
    before_answers = sorted(Answer.objects.values_list("item", "value"))
    result = cycle_close(cycle=cycle, today=dt.date(2026, 11, 17))
    assert result.closed_now and result.responses == 4
    cycle.refresh_from_db()
    assert cycle.status == Cycle.Status.CLOSED and cycle.closed_on == dt.date(2026, 11, 17)
    assert not Invitation.objects.filter(cycle=cycle).exists()  # who answered is gone
    tally = InvitationTally.objects.get(cycle=cycle)
    assert (tally.team_id, tally.invited, tally.answered) == (roster.pk, 6, 4)
    after_ids = set(Response.objects.values_list("id", flat=True))
    assert len(after_ids) == 4 and not after_ids & before_ids  # new random keys
    assert sorted(Answer.objects.values_list("item", "value")) == before_answers  # same content
    assert Comment.objects.filter(cycle=cycle).count() == 4
    assert RetiredLink.objects.filter(cycle=cycle).count() == 6
    assert not cycle_close(cycle=cycle).closed_now  # idempotent


def test_close_cycle_command(roster):
    cycle_open(today=NOV, send_mail=False)
    out = StringIO()
    call_command("close_cycle", stdout=out)
    assert "Closed 2026-11: 0 responses rewritten" in out.getvalue()
    out = StringIO()
    call_command("close_cycle", "--month", "2026-11", stdout=out)
    assert "already closed" in out.getvalue()
    with pytest.raises(CommandError, match="no 2026-01 cycle"):
        call_command("close_cycle", "--month", "2026-01", stdout=StringIO())


def test_close_due_only_closes_cycles_past_their_date(roster):
    cycle = cycle_open(today=timezone.localdate(), send_mail=False).cycle
    out = StringIO()
    call_command("close_cycle", "--due", stdout=out)
    assert "No cycle to close" in out.getvalue()
    Cycle.objects.filter(pk=cycle.pk).update(closes_on=timezone.localdate() - dt.timedelta(days=1))
    call_command("close_cycle", "--due", stdout=StringIO())
    cycle.refresh_from_db()
    assert not cycle.is_open


def test_a_leavers_void_invitation_still_counts_as_invited(roster, mailoutbox):
    """Dropping it would change the team's invited count by whether the leaver had answered."""
    cycle = cycle_open(today=NOV).cycle
    Invitation.objects.filter(pk=Invitation.objects.first().pk).update(status=Invitation.Status.VOID)
    cycle_close(cycle=cycle)
    tally = InvitationTally.objects.get(cycle=cycle)
    assert (tally.invited, tally.answered) == (6, 0)
