"""API bearer tokens (knox) behind a per-client limit on invalid ones.

Knox looks a token up by its first characters and compares SHA-512 digests; nothing stops a
client from trying token after token. Each request whose `Authorization: Token …` header knox
refuses counts one failure for the client address (read as surveys.ratelimit does); the
PULSE_INVALID_API_TOKEN_LIMIT-th (default 20) within PULSE_INVALID_TOKEN_WINDOW_SECONDS (default
900) locks the client for that long: every token request from it is answered 429 without being
looked up, a valid token included (else the lock would still answer guesses). Requests without a
token header (a signed-in browser's session) are not affected.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication
from rest_framework import exceptions
from rest_framework.authentication import get_authorization_header
from rest_framework.request import Request

from config.throttle import throttle_failure_register, throttle_locked
from surveys.ratelimit import client_address

SCOPE = "api-token"
LOCKED = "token: too many invalid API tokens from this address; wait {minutes} minutes, then use a valid token."


def _throttled() -> exceptions.Throttled:
    window = settings.PULSE_INVALID_TOKEN_WINDOW_SECONDS
    return exceptions.Throttled(wait=window, detail=LOCKED.format(minutes=max(1, round(window / 60))))


class ThrottledTokenAuthentication(TokenAuthentication):  # type: ignore[misc]  # knox ships no types
    def authenticate(self, request: Request) -> Any:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.authenticate_header(request).encode().lower():
            return None  # no token offered: another authenticator's business
        client = client_address(request._request)
        if throttle_locked(scope=SCOPE, value=client):
            raise _throttled()
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            if throttle_failure_register(
                scope=SCOPE,
                value=client,
                limit=settings.PULSE_INVALID_API_TOKEN_LIMIT,
                window_seconds=settings.PULSE_INVALID_TOKEN_WINDOW_SECONDS,
            ):
                raise _throttled() from None
            raise


class ThrottledKnoxTokenScheme(KnoxTokenScheme):  # type: ignore[misc, no-untyped-call]  # knox's scheme is untyped
    """The OpenAPI security scheme of knox's class, for this subclass (drf-spectacular matches
    authenticators by exact class)."""

    target_class = "config.api_auth.ThrottledTokenAuthentication"
