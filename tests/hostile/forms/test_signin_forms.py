"""Fuzzing the forms anyone can reach without a link or a session: sign-in, the password reset
(ask for a link, then choose a password at it) and "resend my survey link".

Properties: never a 5xx; a sign-in succeeds only with the right password and then goes to a page
of this site, whatever ``next`` says; a refused reset, new password or resend changes no account,
invitation or password and says why at the field; a reset or resend mails only a roster member."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote, urljoin, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.html import escape
from django.utils.http import urlsafe_base64_encode
from hypothesis import given
from hypothesis import strategies as st

from surveys.models import Invitation, Person
from tests.hostile.forms.fuzzing import assert_errors_shown, assert_not_server_error, fuzz, post, rolled_back
from tests.hostile.forms.strategies import form_pairs, hostile_text, salted, utf8_char

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

EMAIL = "core-1@example.com"  # an engineer of tests.hostile.forms.conftest's Core, with a password
PASSWORD = "a long enough pass phrase"
emails = st.one_of(
    st.sampled_from(
        [EMAIL.upper(), f" {EMAIL} ", f"{EMAIL}\x00", "core-1@example", "@example.com", "a" * 300 + "@x.io"]
    ),
    salted(EMAIL),
    hostile_text(40),
)
nexts = st.one_of(
    st.sampled_from(
        ["/", "/pulse/", "//evil.example", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"]
    ),
    hostile_text(30),
)


@pytest.fixture
def account(links):
    """An account with a password for Core's engineer core-1 (the roster makes none)."""
    user = get_user_model().objects.create_user(username=EMAIL, email=EMAIL, password=PASSWORD)
    Person.objects.filter(email=EMAIL).update(user=user)
    return user


def accounts_state() -> tuple[object, ...]:
    return (
        tuple(Person.objects.order_by("pk").values_list("pk", "user__password", "is_active")),
        tuple(Invitation.objects.order_by("pk").values_list("pk", "status", "token_hash")),
        len(mail.outbox),
    )


def lands_on_this_site(location: str) -> bool:
    """Where a browser goes with this Location: it drops leading spaces and controls and any tab
    or line break, reads a backslash as a slash, then resolves it against the login page."""
    cleaned = location.lstrip("".join(map(chr, range(0x21))))
    cleaned = "".join(char for char in cleaned if char not in "\t\n\r").replace("\\", "/")
    target = urlsplit(urljoin("http://testserver/accounts/login/", cleaned))
    return (target.scheme, target.netloc) == ("http", "testserver")


SIGN_IN = {"username": EMAIL, "password": PASSWORD, "next": "/pulse/"}
SIGN_IN_HOSTILE = {"username": emails, "password": st.one_of(hostile_text(30), salted(PASSWORD)), "next": nexts}


@fuzz(max_examples=60)
@given(pairs=form_pairs(SIGN_IN, SIGN_IN_HOSTILE), multipart=st.booleans())
def test_a_sign_in_succeeds_only_with_the_password_and_stays_on_the_site(client, account, pairs, multipart):
    with rolled_back(client):
        response = post(client, reverse("login"), pairs, multipart=multipart)
        assert_not_server_error(response)
        sent = dict(pairs)
        if response.status_code == 302:
            # Django's username field strips and NFKC-normalises; the password is taken as typed.
            username = unicodedata.normalize("NFKC", sent.get("username", "").strip())
            assert sent.get("password") == PASSWORD and username.casefold() == EMAIL
            assert lands_on_this_site(response["Location"]), response["Location"]
        else:
            assert response.status_code == 200
            assert "_auth_user_id" not in client.session


@fuzz(max_examples=30)
@given(pairs=form_pairs(SIGN_IN, SIGN_IN_HOSTILE, focus=["username", "password"]))
def test_a_refused_sign_in_says_why_at_the_field(client, account, pairs):
    with rolled_back(client):
        response = post(client, reverse("login"), pairs)
        if response.status_code == 200:
            assert_errors_shown(response, response.context["form"])


@fuzz(max_examples=40)
@given(email=emails | st.just(EMAIL), multipart=st.booleans())
def test_a_reset_request_mails_only_a_roster_member_and_a_refusal_names_the_address(client, account, email, multipart):
    with rolled_back(client):
        before = accounts_state()
        response = post(client, reverse("password_reset"), [("email", email)], multipart=multipart)
        assert_not_server_error(response)
        if response.status_code == 302:
            assert accounts_state()[:2] == before[:2]
            assert len(mail.outbox) == before[2] + (email.strip().casefold() == EMAIL)
        else:
            assert response.status_code in (200, 429) and accounts_state() == before
            body = response.content.decode()
            for message in response.context["form"].errors.get("email", []):
                assert escape(message) in body and "Check your e-mail address" in body


def _reset_url(user, token: str | None = None) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return reverse(
        "password_reset_confirm", kwargs={"uidb64": uid, "token": token or default_token_generator.make_token(user)}
    )


@fuzz(max_examples=40)
@given(
    uid=st.text(alphabet=utf8_char, min_size=1, max_size=40), token=st.text(alphabet=utf8_char, min_size=1, max_size=60)
)
def test_a_hostile_reset_link_is_a_page_that_says_it_no_longer_works(client, account, uid, token):
    with rolled_back(client):
        before = accounts_state()
        response = client.get(f"/accounts/reset/{quote(uid, safe='')}/{quote(token, safe='')}/")
        assert_not_server_error(response)
        assert response.status_code in (200, 404), response.status_code
        if response.status_code == 200:
            assert "This link no longer works" in response.content.decode()
        assert accounts_state() == before


passwords = st.one_of(
    hostile_text(40), salted("another long pass phrase"), st.sampled_from(["", "12345678", "password"])
)


@fuzz(max_examples=40)
@given(first=passwords, second=st.one_of(passwords, st.just("<same>")))
def test_a_new_password_is_set_or_refused_at_the_field_and_the_old_one_kept(client, account, first, second):
    with rolled_back(client):
        user = get_user_model().objects.get(pk=account.pk)  # as stored: an earlier example's change was undone
        landing = client.get(_reset_url(user))  # Django moves the token into the session first
        assert landing.status_code == 302
        before = accounts_state()
        data = {"new_password1": first, "new_password2": first if second == "<same>" else second}
        response = client.post(landing["Location"], data)
        assert_not_server_error(response)
        user.refresh_from_db()
        if response.status_code == 302:
            assert user.check_password(first)
        else:
            assert response.status_code == 200 and accounts_state() == before
            assert user.check_password(PASSWORD)
            body = response.content.decode()
            for field, messages in response.context["form"].errors.items():
                label = response.context["form"][field].label
                for message in messages:
                    assert f"{escape(label)}: {escape(message)}" in body, (field, message)


@fuzz(max_examples=40)
@given(email=emails | st.just(EMAIL), multipart=st.booleans())
def test_resend_issues_a_link_only_to_a_known_address_and_refuses_at_the_field(client, links, email, multipart):
    with rolled_back(client):
        before = accounts_state()
        response = post(client, reverse("link_resend"), [("email", email)], multipart=multipart)
        assert_not_server_error(response)
        body = response.content.decode()
        if response.status_code == 200:
            assert "a new link is on its way" in body
            if email.strip().casefold() != EMAIL:
                assert accounts_state()[1] == before[1]  # nobody else's link was touched
        else:
            assert response.status_code in (400, 429) and accounts_state() == before
            if response.status_code == 400:
                assert 'id="email-error"' in body and "Enter your work e-mail address" in body


def test_a_nul_in_a_new_password_is_refused_with_the_fix(client, account):
    with rolled_back(client):
        user = get_user_model().objects.get(pk=account.pk)
        landing = client.get(_reset_url(user))
        response = client.post(landing["Location"], {"new_password1": "long\x00phrase", "new_password2": "x"})
        assert response.status_code == 200
        assert "New password: remove the control character U+0000 and type the password again." in (
            response.content.decode()
        )
