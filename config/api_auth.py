"""API bearer tokens (knox) behind a per-client limit on invalid ones.

Knox looks a token up by its first characters and compares SHA-512 digests; nothing stops a
client from trying token after token. Each request whose `Authorization: Token …` header knox
refuses counts one failure for the client address (read as surveys.ratelimit does); the
PULSE_INVALID_API_TOKEN_LIMIT-th (default 20) within PULSE_INVALID_TOKEN_WINDOW_SECONDS (default
900) locks the client for that long: every token request from it is answered 429 without being
looked up, a valid token included (else the lock would still answer guesses). Requests without a
token header (a signed-in browser's session) are not affected.

A token that is not the shape knox issues (its prefix and 64 hexadecimal characters) is refused as
an invalid one before knox sees it: knox decodes the header as UTF-8 and looks its first
characters up in the database, so a header byte that is not UTF-8 or a NUL would end the request
in a 500. (A malformed session cookie is the session engine's business: config.sessions.)
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication
from knox.settings import knox_settings
from rest_framework import exceptions
from rest_framework.request import Request

from config.throttle import throttle_failure_register, throttle_locked
from surveys.ratelimit import client_address

SCOPE = "api-token"
LOCKED = "token: too many invalid API tokens from this address; wait {minutes} minutes, then use a valid token."
MALFORMED = (
    "token: not a token this API issues; send `Authorization: Token <token>`, the token being the {length} "
    "hexadecimal characters shown once on the page that made it (make one at /api/tokens/)."
)


def _token_shape() -> re.Pattern[bytes]:
    """What knox issues: TOKEN_PREFIX, then AUTH_TOKEN_CHARACTER_LENGTH hex digits (knox.crypto)."""
    prefix = re.escape(str(knox_settings.TOKEN_PREFIX).encode())
    return re.compile(prefix + b"[0-9a-f]{%d}" % int(knox_settings.AUTH_TOKEN_CHARACTER_LENGTH))


def _throttled() -> exceptions.Throttled:
    window = settings.PULSE_INVALID_TOKEN_WINDOW_SECONDS
    return exceptions.Throttled(wait=window, detail=LOCKED.format(minutes=max(1, round(window / 60))))


def _authorization(request: Request) -> list[bytes]:
    """The Authorization header's parts, as DRF's get_authorization_header reads them. A WSGI
    server hands headers on as Latin-1 text, so encoding them back cannot fail there; an
    in-process client (Django's, werkzeug's) can hand on any text, whose other characters are
    read as "?" (no token holds one) rather than ending the request in a 500."""
    header = request.META.get("HTTP_AUTHORIZATION", b"")
    if isinstance(header, str):
        header = header.encode("iso-8859-1", errors="replace")
    return list(header.split())


class ThrottledTokenAuthentication(TokenAuthentication):  # type: ignore[misc]  # knox ships no types
    def authenticate(self, request: Request) -> Any:
        header = _authorization(request)
        if not header or header[0].lower() != self.authenticate_header(request).encode().lower():
            return None  # no token offered: another authenticator's business
        client = client_address(request._request)
        if throttle_locked(scope=SCOPE, value=client):
            raise _throttled()
        try:
            # Knox itself is asked only about a header of the shape it issues.
            if len(header) != 2 or _token_shape().fullmatch(header[1]) is None:
                length = knox_settings.AUTH_TOKEN_CHARACTER_LENGTH
                raise exceptions.AuthenticationFailed(MALFORMED.format(length=length))
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
