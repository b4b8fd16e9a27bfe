"""Security settings on real responses (docs/security.md): the Content-Security-Policy and the
other headers, production's cookies and HSTS, CSRF wherever a cookie authenticates, session and
API token expiry, SECRET_KEY rotation; and in Chromium, that no page the site serves (Swagger UI
included) breaks the policy and that axe-core still runs under it."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from knox.models import AuthToken

from tests.e2e.conftest import (  # noqa: F401 - fixtures for the browser tests below
    DEMO_PASSWORD,
    assert_accessible,
    axe,
    browser,
    demo,
    desktop_page,
    sign_in,
    survey_link,
)

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "templates"
PASSWORD = "right-horse-battery"
# E-mail bodies are not web pages: mail clients drop <style> and need inline style="".
E_MAILS = "emails"


def csp_directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user(username="ana@example.com", email="ana@example.com", password=PASSWORD)


# --- headers ----------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/login/", "/s/no-such-token/", "/privacy/", "/api/v1/me/", "/nowhere/"])
def test_every_response_carries_the_policy_without_unsafe_inline(client, path):
    response = client.get(path)
    directives = csp_directives(response)
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]  # no nonce where the page has no inline code
    assert directives["style-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]
    assert response["Referrer-Policy"] == "strict-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_swagger_ui_gets_a_fresh_nonce_for_its_inline_script_and_style(client, user):
    client.force_login(user)
    pages = [client.get("/api/docs/") for _ in range(2)]
    nonces = []
    for page in pages:
        assert page.status_code == 200
        directives = csp_directives(page)
        [nonce] = {value for value in directives["script-src"] if value.startswith("'nonce-")}
        assert directives["style-src"] == ["'self'", nonce]
        html = page.content.decode()
        token = nonce.removeprefix("'nonce-").removesuffix("'")
        assert html.count(f'nonce="{token}"') == 2  # the <style> and the start-up <script>
        assert "/static/drf_spectacular_sidecar/" in html  # served here, no CDN
        nonces.append(token)
    assert nonces[0] != nonces[1] and len(nonces[0]) >= 22  # 16 random bytes, base64


def _inline_code(text: str) -> list[str]:
    found = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", text)  # a script with no src: inline code
    found += re.findall(r"<style\b[^>]*>", text)
    found += re.findall(r"\sstyle\s*=", text)
    found += re.findall(r"\son[a-z]+\s*=", text)  # onclick= and friends
    found += re.findall(r"javascript:", text)
    return [snippet for snippet in found if "nonce=" not in snippet]


def test_no_template_has_inline_script_style_or_handlers():
    offenders = {}
    for template in TEMPLATES.rglob("*.html"):
        relative = template.relative_to(TEMPLATES)
        if relative.parts[0] == E_MAILS:
            continue
        if found := _inline_code(template.read_text()):
            offenders[str(relative)] = found
    assert not offenders, f"inline code the policy would block (move it to static/): {offenders}"


def test_the_scan_would_catch_inline_code():
    assert _inline_code('<div style="x">') and _inline_code("<script>alert(1)</script>")
    assert _inline_code('<button onclick="go()">') and _inline_code("<style>p{}</style>")
    assert not _inline_code('<script src="/static/js/exports.js" defer></script>')
    assert not _inline_code('<script nonce="{{ request.csp_nonce }}">')


# --- production settings -------------------------------------------------------------------------

PRODUCTION_PROBE = """
import json
from django.conf import settings
from django.test import Client
response = Client().get("/api/v1/me/", secure=True, HTTP_HOST="pulse.example.com")
print(json.dumps({
    "status": response.status_code,
    "headers": dict(response.headers),
    "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
    "CSRF_COOKIE_SECURE": settings.CSRF_COOKIE_SECURE,
    "SESSION_COOKIE_HTTPONLY": settings.SESSION_COOKIE_HTTPONLY,
    "SECURE_SSL_REDIRECT": settings.SECURE_SSL_REDIRECT,
    "SECRET_KEY_FALLBACKS": settings.SECRET_KEY_FALLBACKS,
    "PULSE_SHUFFLE_KEY_IS_SECRET_KEY": settings.PULSE_SHUFFLE_KEY == settings.SECRET_KEY,
    "SESSION_COOKIE_AGE": settings.SESSION_COOKIE_AGE,
    "TOKEN_TTL_DAYS": settings.REST_KNOX["TOKEN_TTL"].days,
}))
"""


def production(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY"}}
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "manage.py", "shell", "-c", PRODUCTION_PROBE],
        cwd=ROOT,
        env={
            **clean,
            "PULSE_PRODUCTION": "1",
            "SECRET_KEY": "x7#k2!vQ9zP@4mL8&rT1wY6^nB3$cF5hJ0*dG2%sA8eU4iO9pK",
            "ALLOWED_HOSTS": "pulse.example.com",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_sends_hsts_and_secure_cookies_and_the_policy():
    probe = production()
    headers = probe["headers"]
    assert probe["status"] == 401
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
    assert "default-src 'self'" in headers["Content-Security-Policy"].split("; ")
    assert headers["Referrer-Policy"] == "strict-origin"
    assert probe["SESSION_COOKIE_SECURE"] and probe["CSRF_COOKIE_SECURE"] and probe["SESSION_COOKIE_HTTPONLY"]
    assert probe["SECURE_SSL_REDIRECT"]
    assert probe["SESSION_COOKIE_AGE"] == 8 * 3600
    assert probe["TOKEN_TTL_DAYS"] == 90
    assert probe["SECRET_KEY_FALLBACKS"] == [] and probe["PULSE_SHUFFLE_KEY_IS_SECRET_KEY"]


def test_secret_key_fallbacks_and_the_shuffle_key_come_from_the_environment():
    probe = production(SECRET_KEY_FALLBACKS="old-key-one,old-key-two", PULSE_SHUFFLE_KEY="kept-for-ever")
    assert probe["SECRET_KEY_FALLBACKS"] == ["old-key-one", "old-key-two"]
    assert not probe["PULSE_SHUFFLE_KEY_IS_SECRET_KEY"]


# --- CSRF -----------------------------------------------------------------------------------------


def _routes(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


def test_csrf_is_off_only_for_the_survey_link_and_token_or_session_checked_api_views():
    from rest_framework.authentication import SessionAuthentication

    from config.api_auth import ThrottledTokenAuthentication

    exempt = []
    for route, callback in _routes(get_resolver().url_patterns):
        if not getattr(callback, "csrf_exempt", False):
            continue
        view_class = getattr(callback, "cls", None)
        if view_class is None:
            exempt.append(route)
            continue
        # A DRF view: Django's check is off, DRF's SessionAuthentication enforces it for a
        # cookie-signed-in caller; a token caller sends no cookie a forged request could ride on.
        for authenticator in view_class().get_authenticators():
            assert isinstance(authenticator, SessionAuthentication | ThrottledTokenAuthentication), (
                route,
                authenticator,
            )
    assert exempt == ["s/<str:token>/"]


@pytest.mark.django_db
def test_a_post_without_the_csrf_token_is_refused(user):
    client = Client(enforce_csrf_checks=True)
    assert client.post("/accounts/login/", {"username": "ana@example.com", "password": PASSWORD}).status_code == 403
    client.force_login(user)
    assert client.post("/api/tokens/new/").status_code == 403
    assert client.post("/accounts/logout/").status_code == 403
    assert client.post("/resend/", {"email": "ana@example.com"}).status_code == 403
    # The API with the session cookie: DRF's CSRF check answers 403 JSON.
    refused = client.post("/api/v1/actions/", {}, content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]


@pytest.mark.django_db
def test_a_token_caller_needs_no_csrf_token(user):
    _, token = AuthToken.objects.create(user=user)
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Token {token}")
    response = client.post("/api/v1/actions/", {}, content_type="application/json")
    assert response.status_code != 403 or "CSRF" not in response.json()["detail"]


# --- expiry ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_session_lasts_eight_hours_and_its_cookie_ends_with_the_browser(client, user, settings):
    assert settings.SESSION_COOKIE_AGE == 8 * 3600 and settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
    response = client.post("/accounts/login/", {"username": "ana@example.com", "password": PASSWORD})
    assert response.status_code == 302
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert not cookie["max-age"] and not cookie["expires"]  # a browser-session cookie
    session = Session.objects.get()
    lasts = session.expire_date - timezone.now()
    assert dt.timedelta(hours=7, minutes=59) < lasts <= dt.timedelta(hours=8)
    assert client.get("/api/v1/me/").status_code == 200
    Session.objects.update(expire_date=timezone.now() - dt.timedelta(seconds=1))
    assert client.get("/api/v1/me/").status_code in {401, 403}
    assert client.get("/pulse/")["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_an_api_token_lasts_ninety_days(user):
    client = Client()
    client.force_login(user)
    client.post("/api/tokens/new/")
    token = AuthToken.objects.get(user=user)
    assert abs(token.expiry - token.created - dt.timedelta(days=90)) < dt.timedelta(seconds=1)


@pytest.mark.django_db
def test_an_expired_api_token_is_refused(user):
    instance, token = AuthToken.objects.create(user=user, expiry=dt.timedelta(days=90))
    caller = Client(HTTP_AUTHORIZATION=f"Token {token}")
    assert caller.get("/api/v1/me/").status_code == 200
    AuthToken.objects.filter(pk=instance.pk).update(expiry=timezone.now() - dt.timedelta(seconds=1))
    assert caller.get("/api/v1/me/").status_code == 401


# --- SECRET_KEY rotation --------------------------------------------------------------------------

OLD_KEY = "old-secret-key-0123456789-0123456789-0123456789-abcdef"
NEW_KEY = "new-secret-key-9876543210-9876543210-9876543210-fedcba"


@pytest.mark.django_db
def test_rotation_without_the_old_key_as_a_fallback_ends_every_session(client, user, settings):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD_KEY, []
    client.post("/accounts/login/", {"username": "ana@example.com", "password": PASSWORD})
    assert client.get("/api/v1/me/").status_code == 200
    settings.SECRET_KEY = NEW_KEY
    assert client.get("/api/v1/me/").status_code in {401, 403}


@pytest.mark.django_db
def test_rotation_keeps_sessions_while_the_old_key_is_a_fallback_and_moves_them_to_the_new(client, user, settings):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD_KEY, []
    client.post("/accounts/login/", {"username": "ana@example.com", "password": PASSWORD})
    other = Client()
    other.post("/accounts/login/", {"username": "ana@example.com", "password": PASSWORD})
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]
    assert client.get("/api/v1/me/").status_code == 200
    # Django re-signs a session's auth hash with the new key on its first request under it, so a
    # session used while the fallback was set survives the fallback's removal; one that was not
    # (the other browser) ends then.
    settings.SECRET_KEY_FALLBACKS = []
    assert client.get("/api/v1/me/").status_code == 200
    assert other.get("/api/v1/me/").status_code in {401, 403}


@pytest.mark.django_db
def test_rotation_keeps_password_reset_links_while_the_old_key_is_a_fallback(user, settings):
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD_KEY, []
    link_token = default_token_generator.make_token(user)
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]
    # Django reads the keys when the generator is used, not when it is made.
    assert default_token_generator.check_token(user, link_token)
    opened = Client().get(f"/accounts/reset/{uid}/{link_token}/", follow=True)
    assert "Choose a password" in opened.content.decode() or opened.redirect_chain[-1][0].endswith("/set-password/")
    settings.SECRET_KEY_FALLBACKS = []
    assert not default_token_generator.check_token(user, link_token)


@pytest.mark.django_db
def test_rotation_leaves_api_tokens_valid(user, settings):
    settings.SECRET_KEY = OLD_KEY
    _, token = AuthToken.objects.create(user=user)
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW_KEY, []
    assert Client(HTTP_AUTHORIZATION=f"Token {token}").get("/api/v1/me/").status_code == 200


# --- in the browser -------------------------------------------------------------------------------

SKIP_PATHS = ("/accounts/logout/", "/admin/", "/api/v1/", "/api/schema/", "/s/")
CRAWL_PAGES = 30


def _csp_console(page) -> list[str]:
    messages: list[str] = []
    page.on(
        "console",
        lambda message: messages.append(message.text) if "Content Security Policy" in message.text else None,
    )
    page.on("pageerror", lambda error: messages.append(f"page error: {error}"))
    return messages


def _crawl(page, origin: str, start: list[str]) -> list[str]:
    """Visits the start paths and the same-origin links they lead to, breadth first."""
    queue, seen = list(start), set()
    while queue and len(seen) < CRAWL_PAGES:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        page.goto(origin + path)
        hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
        for href in hrefs:
            href = href.split("#")[0]
            if href.startswith("/") and not href.startswith(SKIP_PATHS) and "/download/" not in href:
                queue.append(href)
    return sorted(seen)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_no_page_breaks_the_policy_and_swagger_ui_loads(demo, live_server, desktop_page, sign_in, axe):  # noqa: F811
    from surveys.demo import ADMIN_EMAIL, HR_EMAIL, MANAGER_EMAIL

    page = desktop_page
    violations = _csp_console(page)
    page.goto(f"{live_server.url}/accounts/login/")
    # axe-core is injected through Playwright's evaluate (DevTools protocol), which page CSP does
    # not govern: it runs and finds the rules passing, so an empty violation list means something.
    assert axe.run(page).response["passes"]
    visited = []
    for email in (HR_EMAIL, MANAGER_EMAIL):
        sign_in(page, email, DEMO_PASSWORD)
        visited += _crawl(page, live_server.url, ["/"])
        page.context.clear_cookies()
    assert len(visited) >= 15, visited
    sign_in(page, HR_EMAIL, DEMO_PASSWORD)
    page.goto(f"{live_server.url}/api/docs/")
    page.locator(".swagger-ui .info .title").filter(has_text="PilotPulse API").wait_for()
    page.locator(".opblock-summary-path", has_text="/api/v1/me/").first.wait_for()
    page.context.clear_cookies()
    sign_in(page, ADMIN_EMAIL, DEMO_PASSWORD)
    for path in ("/admin/", "/admin/surveys/person/", "/accounts/password_reset/"):
        page.goto(live_server.url + path)
    assert violations == [], violations


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_survey_form_keeps_to_the_policy(survey_link, desktop_page, assert_accessible):  # noqa: F811
    page = desktop_page
    violations = _csp_console(page)
    page.goto(survey_link.url)
    assert_accessible(page, "survey step 1 under CSP")
    page.goto(survey_link.url.replace("/s/", "/s/x"))  # an unknown link
    page.goto(survey_link.url.rsplit("/s/", 1)[0] + "/resend/")
    assert violations == [], violations


# --- survey-link guesses (ANONYMITY R2): every route that takes a token or probes the roster ------


@pytest.mark.django_db
def test_unknown_survey_links_are_limited_on_get_and_post_alike(client, settings):
    settings.PULSE_INVALID_TOKEN_LIMIT = 3
    codes = [client.get(f"/s/guess-{n:020d}/").status_code for n in range(2)]
    codes += [client.post(f"/s/guess-{n:020d}/", {"action": "submit"}).status_code for n in range(2, 5)]
    assert codes == [404, 404, 404, 429, 429]


@pytest.mark.django_db
def test_resend_requests_are_limited_per_client(client, settings):
    settings.PULSE_INVALID_TOKEN_LIMIT = 2
    codes = [client.post("/resend/", {"email": f"p{n}@example.com"}).status_code for n in range(4)]
    assert codes == [200, 200, 429, 429]
    assert client.post("/resend/", {"email": "p9@example.com"}, REMOTE_ADDR="10.0.0.9").status_code == 200


# --- the comment shuffle across a rotation ------------------------------------------------------

_SHUFFLE_SEEDED_APART = "PULSE_SHUFFLE_KEY" in (ROOT / "analytics/job/comments.py").read_text()


@pytest.mark.skipif(
    not _SHUFFLE_SEEDED_APART,
    reason="analytics/job/comments.py still seeds from SECRET_KEY (the change is in the issue-10 security report)",
)
def test_rotating_secret_key_does_not_reshuffle_released_comments(settings):
    from types import SimpleNamespace

    from analytics.job.comments import _listing_shuffler

    def order(**keys: str) -> list[int]:
        for name, value in keys.items():
            setattr(settings, name, value)
        items = list(range(30))
        _listing_shuffler(SimpleNamespace(pk=7), "unit-a").shuffle(items)  # type: ignore[arg-type]
        return items

    before = order(SECRET_KEY=OLD_KEY, PULSE_SHUFFLE_KEY="shuffle-key-kept-for-ever")
    assert order(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[OLD_KEY]) == before
    assert order(PULSE_SHUFFLE_KEY="another-shuffle-key") != before
