"""The password-reset page's limits (config/password_reset.py): per client and per address, the
request that reaches a limit still served, the ones after refused with 429 and no mail, and the
same answer whether or not the address is on the roster."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db

REFUSED = "Too many requests for a link"


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.PULSE_PASSWORD_RESET_CLIENT_LIMIT = 4
    settings.PULSE_PASSWORD_RESET_ADDRESS_LIMIT = 2
    settings.PULSE_LOGIN_WINDOW_SECONDS = 900


def ask(client: Client, email: str, address: str = "10.0.0.1"):
    return client.post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=address)


def test_defaults_are_five_per_client_and_three_per_address():
    from config import settings as configured

    assert configured.PULSE_PASSWORD_RESET_CLIENT_LIMIT == 5
    assert configured.PULSE_PASSWORD_RESET_ADDRESS_LIMIT == 3


def test_one_address_gets_at_most_its_limit_of_mails_from_any_client(client, mailoutbox):
    PersonFactory(email="ana@example.com")
    answers = [ask(client, "ana@example.com", address=f"10.0.0.{i}").status_code for i in range(1, 5)]
    assert answers == [302, 302, 429, 429]
    assert [message.to for message in mailoutbox] == [["ana@example.com"], ["ana@example.com"]]


def test_one_client_gets_at_most_its_limit_whatever_addresses_it_names(client, mailoutbox):
    for name in "abcdef":
        PersonFactory(email=f"{name}@example.com")
    answers = [ask(client, f"{name}@example.com").status_code for name in "abcdef"]
    assert answers == [302, 302, 302, 302, 429, 429]
    assert len(mailoutbox) == 4
    assert ask(client, "f@example.com", address="10.9.9.9").status_code == 302  # another client is not locked
    assert len(mailoutbox) == 5


def test_the_refusal_says_what_to_do_and_keeps_the_address_typed(client, mailoutbox):
    for _ in range(2):
        ask(client, "ana@example.com")
    response = ask(client, "ana@example.com")
    html = response.content.decode()
    assert response.status_code == 429
    assert REFUSED in html and "wait 15 minutes and try again" in html
    assert 'value="ana@example.com"' in html
    assert mailoutbox == []  # nobody is on the roster: nothing was ever sent


def test_an_unknown_address_is_counted_like_a_known_one(client):
    """Otherwise the 429 arriving later for one address than another would tell who has an account."""
    PersonFactory(email="known@example.com")
    known = [ask(client, "known@example.com", address=f"10.1.0.{i}").status_code for i in range(3)]
    unknown = [ask(client, "unknown@example.com", address=f"10.2.0.{i}").status_code for i in range(3)]
    assert known == unknown == [302, 302, 429]


def test_the_address_count_ignores_case_and_spaces(client):
    ask(client, "Ana@Example.com", address="10.0.0.1")
    ask(client, " ana@example.com ", address="10.0.0.2")
    assert ask(client, "ANA@EXAMPLE.COM", address="10.0.0.3").status_code == 429


def test_an_invalid_address_is_a_field_error_and_not_counted(client):
    for _ in range(5):
        response = ask(client, "not-an-address")
        assert response.status_code == 200
        assert response.context["form"].errors["email"]
    assert ask(client, "ana@example.com").status_code == 302


@pytest.mark.parametrize("backend", ["locmem", "redis"])
def test_requests_at_the_same_moment_each_get_their_own_count(request, settings, backend):
    """What makes the limit hold under concurrency: no two requests read the same count, so no
    more than the limit are ever served in a window (a check made before counting let N at once
    through)."""
    from concurrent.futures import ThreadPoolExecutor

    from django.core.cache import caches

    from config.throttle import throttle_count

    if backend == "redis":
        location = request.getfixturevalue("redis_url")
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": location}}
    caches["default"].clear()
    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            counts = list(pool.map(lambda _: throttle_count(scope="t", value="x", window_seconds=60), range(64)))
        assert sorted(counts) == list(range(1, 65))
    finally:
        caches["default"].clear()


def test_every_valid_request_queues_one_mail_task_whether_or_not_the_address_has_an_account(client, monkeypatch):
    """The worker looks the address up, so the page does the same work for both and answers in
    the same time: no timing tells who is on the roster."""
    import config.password_reset

    queued = []
    monkeypatch.setattr(config.password_reset.password_reset_mail_task, "delay", lambda **kwargs: queued.append(kwargs))
    PersonFactory(email="known@example.com")
    answers = [ask(client, email).status_code for email in ("known@example.com", "unknown@example.com")]
    assert answers == [302, 302]
    assert queued == [
        {"email": "known@example.com", "domain": "testserver", "use_https": False},
        {"email": "unknown@example.com", "domain": "testserver", "use_https": False},
    ]


def test_the_worker_mails_a_roster_member_and_nobody_else(mailoutbox):
    from surveys.tasks import password_reset_mail_task

    PersonFactory(email="known@example.com")
    password_reset_mail_task(email="unknown@example.com", domain="pulse.example.com", use_https=True)
    assert mailoutbox == []
    password_reset_mail_task(email="known@example.com", domain="pulse.example.com", use_https=True)
    assert [message.to for message in mailoutbox] == [["known@example.com"]]
    assert "https://pulse.example.com/accounts/reset/" in mailoutbox[0].body
