"""The database gone during a submit: a clear 503 page, nothing half-saved, the link still usable.

gunicorn (as the compose file runs it, persistent connections included) reaches PostgreSQL
through a TCP proxy in the test; the proxy is cut before the submit, and in the middle of the
submit's transaction (after the answers are written but before the link is used up; at the
commit). Each time the engineer gets the 503 page, the throwaway database shows nothing of the
attempt, and once the proxy is back the same link stores exactly one response.
"""

from __future__ import annotations

import hashlib

import pytest
from django.conf import settings

from tests.faults.services import (
    Browser,
    PgServer,
    ProcessGroup,
    TcpProxy,
    app_env,
    free_port,
    gunicorn_argv,
    seed,
    wait_for_web,
)

pytestmark = pytest.mark.postgres

MIDDLEWARE = "config.db_unavailable.DatabaseUnavailableMiddleware"
# Where the proxy cuts: None = before the request (nothing listens any more); otherwise the moment
# the web sends bytes containing the pattern, before PostgreSQL sees them.
CUTS = {
    "before the submit": None,
    "after the answers, before the link is used up": b'UPDATE "surveys_invitation"',
    "at the commit": b"COMMIT",
}


def test_the_settings_install_the_503_middleware():
    assert MIDDLEWARE in settings.MIDDLEWARE, f"add {MIDDLEWARE!r} to MIDDLEWARE in config/settings.py"


def _stored(server: PgServer, name: str, token: str) -> tuple[int, int, str]:
    digest = hashlib.sha256(token.encode()).hexdigest()
    return (
        server.scalar(name, "SELECT count(*) FROM anonymous_response"),
        server.scalar(name, "SELECT count(*) FROM anonymous_answer"),
        server.scalar(name, "SELECT status FROM surveys_invitation WHERE token_hash = %s", (digest,)),
    )


def test_the_database_gone_during_a_submit_gives_a_clear_503_and_the_link_still_works(
    pg_server: PgServer, fresh_db: str, processes: ProcessGroup
):
    seeded = seed(app_env(database_url=pg_server.url(fresh_db)), "--open")
    proxy = TcpProxy(pg_server.host, pg_server.port).start()
    try:
        port = free_port()
        env = app_env(
            database_url=pg_server.url(fresh_db, host="127.0.0.1", port=proxy.port),
            CONN_MAX_AGE="60",  # as the compose file: a worker's connection outlives the cut
            DJANGO_SETTINGS_MODULE="config.settings",
        )
        web = processes.start("web", gunicorn_argv(port, workers=2), env)
        base = f"http://127.0.0.1:{port}"
        wait_for_web(base, web)
        stored_responses = 0
        for (where, pattern), link in zip(CUTS.items(), seeded["links"], strict=False):
            token, answers = link["token"], link["answers"]
            path = f"/s/{token}/"
            browser = Browser(base)
            assert browser.get(path).status == 200
            assert browser.post(path, {**answers, "action": "next"}).status == 200
            before = _stored(pg_server, fresh_db, token)
            assert before[2] == "pending"

            if pattern is None:
                proxy.cut()
            else:
                proxy.cut_when_sent(pattern)
            page = browser.post(path, {**answers, "action": "submit"})
            if pattern is not None:
                assert proxy.triggered.is_set(), f"{where}: the submit never sent {pattern!r}"
            assert page.status == 503, f"{where}: {page.status} {page.text()[:400]}\n{processes.logs()}"
            text = page.text()
            for promise in ("We could not save your answers", "Nothing was stored", "your link still works",
                            "try again in a minute"):  # fmt: skip
                assert promise in text, f"{where}: the 503 page does not say {promise!r}: {text[:500]}"
            assert page.headers.get("Retry-After") == "60"
            assert token not in page.body  # the page never echoes the link
            assert _stored(pg_server, fresh_db, token) == before, f"{where}: something was half-saved"

            proxy.restore()
            again = browser.post(path, {**answers, "action": "submit"})
            assert again.status == 302 and again.location.endswith("/thanks/"), (
                f"{where}: the same link did not submit once the database was back: {again.status} "
                f"{again.text()[:400]}\n{processes.logs()}"
            )
            stored_responses += 1
            responses, _, status = _stored(pg_server, fresh_db, token)
            assert (responses, status) == (stored_responses, "answered")
            assert browser.post(path, {**answers, "action": "submit"}).status == 409  # once only
        assert "Traceback" not in web.log.read_text(), web.tail()
    finally:
        proxy.close()
