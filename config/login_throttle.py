"""Login throttling: failed password sign-ins are capped per account and per client.

An authentication backend, so every password sign-in passes through it: the site's login page,
the admin's, and any API login added later (knox's LoginView is not routed: API tokens are made
on /api/tokens/ by a signed-in person). The numbers are settings (docs/security.md):

- per account: PULSE_LOGIN_ACCOUNT_LIMIT failures (default 5) lock that sign-in name;
- per client: PULSE_LOGIN_CLIENT_LIMIT failures (default 20), whatever accounts they named, lock
  the client address (read as surveys.ratelimit does, behind PULSE_TRUSTED_PROXIES);

each for PULSE_LOGIN_WINDOW_SECONDS (default 900) from the failure that reached the limit, and
failures are counted over the same window from the first. While locked, every attempt is refused
without checking the password, the right one included (else the lock would still answer
guesses). A successful sign-in forgets the account's failures, not the client's: otherwise an
attacker could clear their address's count by signing in to an account of their own between
guesses. Names that match no account are counted the same way, so a lock says nothing about
whether an account exists.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from config.throttle import throttle_failure_register, throttle_locked, throttle_reset
from surveys.ratelimit import client_address

ACCOUNT = "login-account"
CLIENT = "login-client"
# The attribute the login template reads to say why sign-in is refused (the minutes to wait).
LOCKED_ATTRIBUTE = "login_throttled_minutes"


def _account(username: str | None) -> str:
    return (username or "").strip().casefold()


def _mark_locked(request: HttpRequest) -> None:
    setattr(request, LOCKED_ATTRIBUTE, max(1, round(settings.PULSE_LOGIN_WINDOW_SECONDS / 60)))


def login_locked(*, request: HttpRequest, username: str | None) -> bool:
    return throttle_locked(scope=ACCOUNT, value=_account(username)) or throttle_locked(
        scope=CLIENT, value=client_address(request)
    )


def login_failure_register(*, request: HttpRequest, username: str | None) -> bool:
    """Counts one failed sign-in for the account and the client; True when either is now locked."""
    window = settings.PULSE_LOGIN_WINDOW_SECONDS
    account_locked = throttle_failure_register(
        scope=ACCOUNT, value=_account(username), limit=settings.PULSE_LOGIN_ACCOUNT_LIMIT, window_seconds=window
    )
    client_locked = throttle_failure_register(
        scope=CLIENT, value=client_address(request), limit=settings.PULSE_LOGIN_CLIENT_LIMIT, window_seconds=window
    )
    return account_locked or client_locked


class ThrottledModelBackend(ModelBackend):
    """Django's ModelBackend behind the per-account and per-client failure limits."""

    def authenticate(  # type: ignore[override]  # ModelBackend's own signature, as its stub has it
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if request is None:
            # No client to count (a management command, a script calling authenticate()).
            return super().authenticate(request, username=username, password=password, **kwargs)
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if login_locked(request=request, username=username):
            _mark_locked(request)
            # PermissionDenied stops authenticate() trying any other backend and sends
            # user_login_failed; the form shows its error, the template says why.
            raise PermissionDenied
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            if login_failure_register(request=request, username=username):
                _mark_locked(request)
        else:
            throttle_reset(scope=ACCOUNT, value=_account(username))
        return user
