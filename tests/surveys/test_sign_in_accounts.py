"""Sign-in for roster members: a first password by Django's reset flow (expiring, single use),
sent unasked to the managers and HR a roster import adds; never to engineers, never on a dry run."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from surveys.roster import roster_import, roster_parse

pytestmark = pytest.mark.django_db
ROSTER = (
    "email,name,team,role,manages\n"
    "ana@example.com,Ana,Engineering/Core,engineer,\n"
    "cy@example.com,Cy,Engineering/Leadership,manager,Engineering\n"
    "hr@example.com,Hera,People,hr,\n"
)


def imported(django_capture_on_commit_callbacks, *, dry_run=False):
    with django_capture_on_commit_callbacks(execute=True):
        roster_import(rows=roster_parse(ROSTER), dry_run=dry_run)


def link_in(message) -> str:
    match = re.search(r"https?://[^/\s]+(/accounts/reset/\S+)", message.body)
    assert match, message.body
    return match.group(1)


def test_managers_and_hr_are_sent_a_link_to_choose_a_password(django_capture_on_commit_callbacks):
    imported(django_capture_on_commit_callbacks)
    assert sorted(m.to[0] for m in mail.outbox) == ["cy@example.com", "hr@example.com"]
    assert all("choose a password" in m.subject.lower() for m in mail.outbox)
    # A second import of the same roster changes nobody: nothing is sent again.
    mail.outbox.clear()
    imported(django_capture_on_commit_callbacks)
    assert mail.outbox == []


def test_a_dry_run_sends_nothing(django_capture_on_commit_callbacks):
    imported(django_capture_on_commit_callbacks, dry_run=True)
    assert mail.outbox == []


def test_an_engineer_without_a_password_sets_one_by_email_and_signs_in(client, django_capture_on_commit_callbacks):
    imported(django_capture_on_commit_callbacks)
    mail.outbox.clear()
    form = client.get(reverse("password_reset"))
    assert "expires in 3 days" in form.content.decode()
    client.post(reverse("password_reset"), {"email": "ANA@example.com"})
    [message] = mail.outbox
    assert message.to == ["ana@example.com"]
    confirm = client.get(link_in(message), follow=True)
    assert confirm.status_code == 200 and "Choose a password" in confirm.content.decode()
    done = client.post(
        confirm.redirect_chain[-1][0], {"new_password1": "a-long-pass-phrase", "new_password2": "a-long-pass-phrase"}
    )
    assert done.status_code == 302
    assert client.login(username="ana@example.com", password="a-long-pass-phrase")
    # The link works once.
    assert "This link no longer works" in client.get(link_in(message), follow=True).content.decode()


def test_an_unknown_address_is_told_the_same_and_sent_nothing(client):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    assert mail.outbox == []


def test_a_leaver_gets_no_link(client, django_capture_on_commit_callbacks):
    imported(django_capture_on_commit_callbacks)
    mail.outbox.clear()
    get_user_model().objects.filter(username="ana@example.com").update(is_active=False)
    client.post(reverse("password_reset"), {"email": "ana@example.com"})
    assert mail.outbox == []


def test_a_malformed_address_is_refused_with_the_field_and_the_fix(client):
    response = client.post(reverse("password_reset"), {"email": "not an address"})
    body = response.content.decode()
    assert response.status_code == 200 and "Enter it like name@example.com" in body
