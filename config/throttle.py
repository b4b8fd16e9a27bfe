"""Failure counters with a lock-out, in the cache: the login throttle and the API token limit;
and a plain request counter (``throttle_count``) for the password-reset limits.

Only failures are counted. A counter starts at a key's first failure and lasts one window; the
failure that reaches the limit sets a lock for a full window from then. Keys are SHA-256 digests
of what they count (an address, a sign-in name), so the cache never holds either in clear.

With the cache unreachable (Redis down) the counters fail open: nothing is counted or locked and
a warning is logged, so signing in and answering keep working through an outage; passwords and
256-bit tokens are still required, the throttle is a second line.
"""

from __future__ import annotations

import hashlib
import logging

from django.core.cache import cache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# What the cache raises when it cannot be reached (django's Redis backend lets redis-py's errors
# through; a socket error may surface as OSError).
CACHE_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def throttle_locked(*, scope: str, value: str) -> bool:
    try:
        return cache.get(f"throttle:{scope}:lock:{_digest(value)}") is not None
    except CACHE_ERRORS:
        logger.warning("throttle %s: cache unavailable; not locked", scope)
        return False


def throttle_failure_register(*, scope: str, value: str, limit: int, window_seconds: int) -> bool:
    """Counts one failure for ``value``; True when this failure reached the limit and locked it."""
    try:
        return _failure_register(scope=scope, value=value, limit=limit, window_seconds=window_seconds)
    except CACHE_ERRORS:
        logger.warning("throttle %s: cache unavailable; failure not counted", scope)
        return False


def _failure_register(*, scope: str, value: str, limit: int, window_seconds: int) -> bool:
    digest = _digest(value)
    key = f"throttle:{scope}:count:{digest}"
    cache.add(key, 0, timeout=window_seconds)
    try:
        failures = int(cache.incr(key))
    except ValueError:  # the counter expired between add and incr
        cache.set(key, 1, timeout=window_seconds)
        failures = 1
    if failures >= limit:
        cache.set(f"throttle:{scope}:lock:{digest}", 1, timeout=window_seconds)
        cache.delete(key)
        return True
    return False


def throttle_count(*, scope: str, value: str, window_seconds: int) -> int:
    """Counts one request for ``value`` and returns how many there have been in the window that
    started with the first of them (0 with the cache unreachable: fail open). The increment is
    atomic, so requests sent at the same moment each get their own number and a limit compared
    with it holds under concurrency, unlike a "locked?" check made before counting."""
    try:
        key = f"throttle:{scope}:requests:{_digest(value)}"
        cache.add(key, 0, timeout=window_seconds)
        try:
            return int(cache.incr(key))
        except ValueError:  # the counter expired between add and incr
            cache.set(key, 1, timeout=window_seconds)
            return 1
    except CACHE_ERRORS:
        logger.warning("throttle %s: cache unavailable; request not counted", scope)
        return 0


def throttle_reset(*, scope: str, value: str) -> None:
    """Forgets the failures counted for ``value`` (not a lock already set)."""
    try:
        cache.delete(f"throttle:{scope}:count:{_digest(value)}")
    except CACHE_ERRORS:
        logger.warning("throttle %s: cache unavailable; count not reset", scope)
