"""Per-client limit on invalid survey-link attempts (ANONYMITY R2).

Only failures count and only failures are refused: a valid link always works, whatever the
client did before. The client address is hashed before it becomes a cache key.
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from config.throttle import CACHE_ERRORS

logger = logging.getLogger(__name__)


def client_address(request: HttpRequest) -> str:
    proxies = settings.PULSE_TRUSTED_PROXIES
    if proxies > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return str(forwarded[-proxies])
    return str(request.META.get("REMOTE_ADDR", "unknown"))


def _cache_key(scope: str, request: HttpRequest) -> str:
    digest = hashlib.sha256(client_address(request).encode()).hexdigest()[:32]
    return f"ratelimit:{scope}:{digest}"


def failed_attempt_register(request: HttpRequest, *, scope: str = "survey-link") -> bool:
    """Counts one failure; returns True when this client is over the limit for the window.

    With the cache unreachable the attempt is not counted (a 256-bit token cannot be guessed in
    an outage's time anyway) and the page answers as for any invalid link, never a 500."""
    key = _cache_key(scope, request)
    window = settings.PULSE_INVALID_TOKEN_WINDOW_SECONDS
    try:
        cache.add(key, 0, timeout=window)
        try:
            attempts = int(cache.incr(key))
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window)
            attempts = 1
    except CACHE_ERRORS:
        logger.warning("rate limit %s: cache unavailable; attempt not counted", scope)
        return False
    limit: int = settings.PULSE_INVALID_TOKEN_LIMIT
    return attempts > limit
