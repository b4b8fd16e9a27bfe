"""Health endpoints for load balancers, monitors and compose healthchecks.

- ``/healthz/``: the web process answers, the database answers ``SELECT 1``, the cache answers;
- ``/healthz/worker/`` and ``/healthz/beat/``: the age of the component's last heartbeat
  (config.heartbeat) against a stated threshold.

Each answers JSON, 200 when healthy and 503 when not. No sign-in (a probe has none), no rate limit,
nothing written (no session, no cookie, no cache entry), and nothing in the body but states and
ages: no figure of the survey, no host name, no error text (an exception's words can carry a
connection string); the log gets the exception's class. ``manage.py healthcheck`` runs the same
checks in-process, for a container's healthcheck.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from config.heartbeat import BEAT, WORKER, heartbeat_read

logger = logging.getLogger(__name__)

#: A key nobody writes: reading it is a round trip to the cache that changes nothing.
CACHE_PROBE_KEY = "pulse:health:probe"


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return bool(cursor.fetchone() == (1,))
    except Exception as error:  # noqa: BLE001 - any failure means "unreachable"
        logger.warning("health: database check failed (%s)", type(error).__name__)
        return False


def cache_ok() -> bool:
    try:
        cache.get(CACHE_PROBE_KEY)
    except Exception as error:  # noqa: BLE001 - any failure means "unreachable"
        logger.warning("health: cache check failed (%s)", type(error).__name__)
        return False
    return True


def web_health() -> dict[str, Any]:
    database, cache_reachable = database_ok(), cache_ok()
    return {
        "ok": database and cache_reachable,
        "database": "ok" if database else "unreachable",
        "cache": "ok" if cache_reachable else "unreachable",
    }


def _answer(component: str, body: dict[str, Any]) -> JsonResponse:
    return JsonResponse({"component": component, **body}, status=200 if body["ok"] else 503)


@never_cache
@require_safe
def web(request: HttpRequest) -> JsonResponse:
    return _answer("web", web_health())


@never_cache
@require_safe
def worker(request: HttpRequest) -> JsonResponse:
    return _answer(WORKER, heartbeat_read(WORKER).as_json())


@never_cache
@require_safe
def beat(request: HttpRequest) -> JsonResponse:
    return _answer(BEAT, heartbeat_read(BEAT).as_json())
