"""A signed-in engineer who answers looks exactly like anyone else: the survey pages never read
the session or the user, set no cookie, and the stored response holds nothing of either."""

from __future__ import annotations

import pytest
from django.urls import reverse

from surveys.anonymous.models import Response
from surveys.models import Person
from surveys.services.cycles import cycle_open
from tests.factories import UserFactory
from tests.surveys.helpers import FULL_ANSWERS, STEP1, team_with_people

pytestmark = pytest.mark.django_db


def test_answering_while_signed_in_touches_no_session_user_or_cookie(client):
    team_with_people("Core", 5)
    person = Person.objects.get(email="core-0@example.com")
    person.user = UserFactory(username=person.email)
    person.save()
    token = next(link.token for link in cycle_open(send_mail=False).links if link.person_email == person.email)
    client.force_login(person.user)
    url = reverse("survey", kwargs={"token": token})
    for response in (
        client.get(url),
        client.post(url, {**STEP1, "action": "next"}),
        client.post(url, {**FULL_ANSWERS, "action": "submit"}),
    ):
        assert response.status_code in (200, 302)
        assert not response.wsgi_request.session.accessed
        assert not response.cookies  # no session, CSRF or other cookie set
        assert "Sign out" not in response.content.decode()
    assert Response.objects.count() == 1
    stored = Response.objects.values()[0]
    assert not any("user" in key or "session" in key for key in stored)
