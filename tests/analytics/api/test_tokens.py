"""API tokens: knox tokens made on /api/tokens/ (shown once, stored as a digest with an expiry),
accepted by the API until they expire or are revoked, and nobody's but their owner's to revoke."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone
from knox.crypto import hash_token
from knox.models import AuthToken

from tests.factories import PersonFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def someone(db):
    return PersonFactory(email="dev@example.com", role="engineer")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make_token(client: Client) -> str:
    page = client.post("/api/tokens/new/")
    assert page.status_code == 201
    assert page["Cache-Control"].startswith("max-age=0") and "no-store" in page["Cache-Control"]
    match = re.search(r'id="new-token" type="text" value="([0-9a-f]{64})"', page.content.decode())
    assert match, "the new token is shown on the page that made it"
    return match.group(1)


def with_token(token: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {token}")


def test_the_page_makes_a_token_shown_once_and_stored_only_as_a_digest(someone):
    client = signed_in(someone.user)
    token = make_token(client)
    stored = AuthToken.objects.get(user=someone.user)
    assert stored.digest == hash_token(token) and token not in stored.digest
    # About 90 days (REST_KNOX TOKEN_TTL).
    assert abs(stored.expiry - (timezone.now() + dt.timedelta(days=90))) < dt.timedelta(minutes=1)
    listing = client.get("/api/tokens/")
    body = listing.content.decode()
    assert listing.status_code == 200 and token not in body  # never shown again
    assert stored.digest[:8] in body and "active" in body
    assert '<th scope="col">Expires</th>' in body and "<h1>API tokens</h1>" in body


def test_a_token_authenticates_the_api(someone):
    token = make_token(signed_in(someone.user))
    me = with_token(token).get("/api/v1/me/")
    assert me.status_code == 200 and me.json()["email"] == "dev@example.com"
    assert with_token("0" * 64).get("/api/v1/me/").status_code == 401


def test_an_expired_token_is_refused(someone):
    token = make_token(signed_in(someone.user))
    AuthToken.objects.filter(user=someone.user).update(expiry=timezone.now() - dt.timedelta(seconds=1))
    response = with_token(token).get("/api/v1/me/")
    assert response.status_code == 401 and response.json()["detail"]


def test_a_revoked_token_is_refused(someone):
    client = signed_in(someone.user)
    token = make_token(client)
    assert with_token(token).get("/api/v1/me/").status_code == 200
    digest = AuthToken.objects.get(user=someone.user).digest
    revoked = client.post("/api/tokens/revoke/", {"digest": digest}, follow=True)
    assert revoked.status_code == 200 and "revoked" in revoked.content.decode()
    assert not AuthToken.objects.filter(digest=digest).exists()
    assert with_token(token).get("/api/v1/me/").status_code == 401


def test_another_users_token_cannot_be_revoked_or_seen(someone):
    token = make_token(signed_in(someone.user))
    digest = AuthToken.objects.get(user=someone.user).digest
    operator = UserFactory(username="ops@example.com", is_staff=True, is_superuser=True)
    other = signed_in(operator)
    assert digest[:8] not in other.get("/api/tokens/").content.decode()
    assert other.post("/api/tokens/revoke/", {"digest": digest}).status_code == 404
    assert AuthToken.objects.filter(digest=digest).exists()
    assert with_token(token).get("/api/v1/me/").status_code == 200


def test_the_page_needs_a_sign_in_and_csrf(someone, client):
    assert client.get("/api/tokens/").status_code == 302  # to the login page
    assert client.post("/api/tokens/new/").status_code == 302
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(someone.user)
    assert csrf_client.post("/api/tokens/new/").status_code == 403
    assert not AuthToken.objects.exists()
    assert signed_in(someone.user).get("/api/tokens/new/").status_code == 405  # making one is a POST


def test_a_person_holds_at_most_ten_tokens(someone):
    client = signed_in(someone.user)
    for _ in range(10):
        make_token(client)
    refused = client.post("/api/tokens/new/")
    assert refused.status_code == 409 and "revoke one" in refused.content.decode()
    assert AuthToken.objects.filter(user=someone.user).count() == 10
