"""Login throttling (config/login_throttle.py) and the API token limit (config/api_auth.py):
per account, per client, the lock's window, what a success resets, the login page's message."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from knox.models import AuthToken

pytestmark = pytest.mark.django_db

PASSWORD = "right-horse-battery"
LOGIN = "/accounts/login/"
PAUSED = "Signing in is paused for"


@pytest.fixture(autouse=True)
def _small_limits(settings):
    settings.PULSE_LOGIN_ACCOUNT_LIMIT = 3
    settings.PULSE_LOGIN_CLIENT_LIMIT = 5
    settings.PULSE_LOGIN_WINDOW_SECONDS = 900
    settings.PULSE_INVALID_API_TOKEN_LIMIT = 3


@pytest.fixture
def user():
    return get_user_model().objects.create_user(username="ana@example.com", email="ana@example.com", password=PASSWORD)


def sign_in(client: Client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_defaults_are_five_per_account_and_twenty_per_client_for_fifteen_minutes():
    from config import settings as configured

    assert configured.PULSE_LOGIN_ACCOUNT_LIMIT == 5
    assert configured.PULSE_LOGIN_CLIENT_LIMIT == 20
    assert configured.PULSE_LOGIN_WINDOW_SECONDS == 900
    assert configured.PULSE_INVALID_API_TOKEN_LIMIT == 20
    assert configured.AUTHENTICATION_BACKENDS == ["config.login_throttle.ThrottledModelBackend"]


def test_the_nth_failure_locks_the_account_even_for_the_right_password(client, user):
    for _ in range(2):
        page = sign_in(client, "ana@example.com", "wrong")
        assert PAUSED not in page.content.decode()
    third = sign_in(client, "ana@example.com", "wrong")
    assert PAUSED in third.content.decode() and "15 minutes" in third.content.decode()
    # From another address too: the lock is on the account.
    refused = sign_in(Client(), "ANA@example.com ", PASSWORD, address="10.0.0.2")
    assert PAUSED in refused.content.decode()
    refused = sign_in(Client(), "ana@example.com", PASSWORD, address="10.0.0.2")
    assert refused.status_code == 200 and PAUSED in refused.content.decode()


def test_the_lock_ends_with_the_window(client, user, monkeypatch):
    import time

    for _ in range(3):
        sign_in(client, "ana@example.com", "wrong")
    start = time.time()
    monkeypatch.setattr("django.core.cache.backends.locmem.time.time", lambda: start + 899)
    assert PAUSED in sign_in(client, "ana@example.com", PASSWORD).content.decode()
    monkeypatch.setattr("django.core.cache.backends.locmem.time.time", lambda: start + 901)
    assert sign_in(client, "ana@example.com", PASSWORD).status_code == 302
    assert signed_in(client)


def test_a_success_resets_the_account_count(client, user):
    for _ in range(2):
        sign_in(client, "ana@example.com", "wrong")
    assert sign_in(client, "ana@example.com", PASSWORD).status_code == 302
    client.post(reverse("logout"))
    for _ in range(2):
        page = sign_in(client, "ana@example.com", "wrong")
        assert PAUSED not in page.content.decode()
    assert sign_in(client, "ana@example.com", PASSWORD).status_code == 302


def test_the_client_limit_covers_many_accounts(client, user):
    # One password tried against five names from one address: the fifth failure locks the address.
    for number in range(5):
        page = sign_in(client, f"person{number}@example.com", "guess")
    assert PAUSED in page.content.decode()
    # Ana's account has no failure, but this address is locked...
    assert PAUSED in sign_in(client, "ana@example.com", PASSWORD).content.decode()
    # ...and she signs in from elsewhere.
    other = Client()
    assert sign_in(other, "ana@example.com", PASSWORD, address="10.0.0.9").status_code == 302


def test_a_success_does_not_reset_the_client_count(client, user):
    for number in range(4):
        sign_in(client, f"person{number}@example.com", "guess")
    assert sign_in(client, "ana@example.com", PASSWORD).status_code == 302
    client.post(reverse("logout"))
    assert PAUSED in sign_in(client, "someone@example.com", "guess").content.decode()


def test_unknown_names_lock_like_known_ones(client):
    for _ in range(3):
        page = sign_in(client, "nobody@example.com", "guess")
    assert PAUSED in page.content.decode()


def test_the_admin_login_is_throttled_too(client):
    get_user_model().objects.create_superuser(username="op", email="op@example.com", password=PASSWORD)
    for _ in range(3):
        client.post("/admin/login/", {"username": "op", "password": "wrong"}, REMOTE_ADDR="10.0.0.1")
    page = client.post("/admin/login/", {"username": "op", "password": PASSWORD}, REMOTE_ADDR="10.0.0.1")
    assert page.status_code == 200 and not signed_in(client)


def test_knox_offers_no_password_login():
    from django.urls import get_resolver

    views = {getattr(p.callback, "__module__", "") for p in get_resolver().url_patterns if hasattr(p, "callback")}
    assert not any(module.startswith("knox") for module in views)
    from tests.test_permission_matrix import resolver_routes

    assert not any("login" in path for _, path in resolver_routes() if path.startswith("api/"))


# --- API bearer tokens ----------------------------------------------------------------------------


def api_get(token: str, address: str = "10.0.0.1"):
    return Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token}", REMOTE_ADDR=address)


def test_invalid_api_tokens_lock_the_client_valid_ones_included(user):
    _, token = AuthToken.objects.create(user=user)
    assert api_get(token).status_code != 401
    assert api_get("0" * 64).status_code == 401
    assert api_get("1" * 64).status_code == 401
    third = api_get("2" * 64)
    assert third.status_code == 429
    assert third.json()["detail"].startswith("token: too many invalid API tokens")
    assert int(third["Retry-After"]) == 900
    # Locked: even the valid token is not looked up from this address; elsewhere it works.
    assert api_get(token).status_code == 429
    assert api_get(token, address="10.0.0.2").status_code == 200


def test_a_session_request_is_not_affected_by_the_token_lock(client, user):
    for number in range(3):
        api_get(str(number) * 64)
    client.force_login(user)
    assert client.get("/api/v1/me/", REMOTE_ADDR="10.0.0.1").status_code == 200


def test_the_schema_still_names_the_token_scheme(client, user):
    client.force_login(user)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert "knoxApiToken" in schema.content.decode()
