"""The health endpoints (config.health), the heartbeats (config.heartbeat) and
``manage.py healthcheck``: JSON 200/503 for anyone, nothing written, no secret, no figure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery.signals import after_task_publish
from django.core.management import CommandError, call_command
from django.db.utils import OperationalError
from django.test import Client
from django.urls import include, path

import config.heartbeat as heartbeat
from config.heartbeat import BEAT, HEARTBEAT_TASK, WORKER, heartbeat_read, heartbeat_task, heartbeat_write
from tests.factories import PersonFactory

# The routes as config/urls.py mounts them, so these tests do not depend on the site's urls.py.
urlpatterns = [path("healthz/", include("config.health_urls"))]
pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def with_broker(settings):
    """As in production: tasks go to a worker, so worker and beat must show heartbeats."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.PULSE_HEARTBEAT_STALE_SECONDS = 120


@pytest.fixture(autouse=True)
def _not_beat(monkeypatch):
    monkeypatch.setattr(heartbeat, "_in_beat", False)


def signed_in_client(role: str) -> Client:
    client = Client()
    client.force_login(PersonFactory(role=role).user)
    return client


def test_web_is_healthy_for_anyone_and_nothing_is_written(client):
    from django.contrib.sessions.models import Session

    clients = [client, signed_in_client("engineer"), signed_in_client("hr")]
    sessions = Session.objects.count()
    for each in clients:
        response = each.get("/healthz/")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"component": "web", "ok": True, "database": "ok", "cache": "ok"}
        assert "no-store" in response["Cache-Control"]
        assert not response.cookies  # no session, no CSRF cookie
    assert Session.objects.count() == sessions


def test_web_is_never_rate_limited(client):
    assert {client.get("/healthz/").status_code for _ in range(60)} == {200}


def test_web_answers_head_but_not_post(client):
    assert client.head("/healthz/").status_code == 200
    assert client.post("/healthz/").status_code == 405


class _Broken:
    """Stands in for the connection or the cache: every use fails with a message holding a secret."""

    def __init__(self, error: Exception):
        self.error = error

    def cursor(self):
        raise self.error

    def get(self, *args, **kwargs):
        raise self.error


def test_an_unreachable_database_is_503_without_its_error(client, monkeypatch):
    monkeypatch.setattr("config.health.connection", _Broken(OperationalError("password=hunter2 host=db.internal")))
    response = client.get("/healthz/")
    assert response.status_code == 503
    assert response.json() == {"component": "web", "ok": False, "database": "unreachable", "cache": "ok"}
    assert b"hunter2" not in response.content and b"db.internal" not in response.content


def test_an_unreachable_cache_is_503(client, monkeypatch):
    monkeypatch.setattr("config.health.cache", _Broken(ConnectionError("redis://:secret@redis:6379")))
    response = client.get("/healthz/")
    assert response.status_code == 503
    assert response.json()["cache"] == "unreachable"
    assert b"secret" not in response.content


@pytest.mark.parametrize("component", [WORKER, BEAT])
def test_without_a_broker_worker_and_beat_are_not_waited_for(client, component):
    response = client.get(f"/healthz/{component}/")
    assert response.status_code == 200
    assert response.json()["state"] == "eager"


@pytest.mark.parametrize("component", [WORKER, BEAT])
def test_no_heartbeat_yet_is_503(client, with_broker, component):
    response = client.get(f"/healthz/{component}/")
    assert response.status_code == 503
    assert response.json() == {
        "component": component,
        "ok": False,
        "state": "never",
        "last_heartbeat_age_seconds": None,
        "stale_after_seconds": 120,
    }


def test_the_worker_heartbeat_is_written_by_heartbeat_task(client, with_broker):
    heartbeat_task()
    body = client.get("/healthz/worker/").json()
    assert body["ok"] is True and body["state"] == "ok"
    assert 0 <= body["last_heartbeat_age_seconds"] <= 5


@pytest.mark.parametrize("component", [WORKER, BEAT])
def test_an_old_heartbeat_is_stale_past_the_stated_threshold(client, with_broker, component):
    heartbeat_write(component, now=time.time() - 119)
    assert client.get(f"/healthz/{component}/").status_code == 200
    heartbeat_write(component, now=time.time() - 300)
    response = client.get(f"/healthz/{component}/")
    assert response.status_code == 503
    body = response.json()
    assert body["state"] == "stale" and body["stale_after_seconds"] == 120
    assert body["last_heartbeat_age_seconds"] >= 300


def test_beat_writes_its_heartbeat_when_it_starts_and_when_it_publishes_the_heartbeat(with_broker):
    # Published by anything but beat (a shell, the web): not beat's heartbeat.
    after_task_publish.send(sender=HEARTBEAT_TASK, headers={}, body=(), exchange="", routing_key="celery")
    assert heartbeat_read(BEAT).state == "never"
    heartbeat._beat_init()
    heartbeat_write(BEAT, now=time.time() - 1000)
    assert heartbeat_read(BEAT).state == "stale"
    # Another task published by beat does not count either; the heartbeat task does.
    after_task_publish.send(
        sender="surveys.tasks.send_reminders_task", headers={}, body=(), exchange="", routing_key=""
    )
    assert heartbeat_read(BEAT).state == "stale"
    after_task_publish.send(sender=HEARTBEAT_TASK, headers={}, body=(), exchange="", routing_key="celery")
    assert heartbeat_read(BEAT).state == "ok"


def test_a_ready_worker_writes_its_heartbeat(with_broker):
    heartbeat._worker_ready()
    assert heartbeat_read(WORKER).state == "ok"


def test_an_unreadable_cache_makes_a_heartbeat_unknown(with_broker, monkeypatch):
    monkeypatch.setattr("config.heartbeat.cache", _Broken(ConnectionError("down")))
    assert heartbeat_read(WORKER).state == "unknown"
    heartbeat_write(WORKER)  # never raises: the task or signal writing it goes on


def test_the_heartbeat_task_is_registered_with_the_celery_app():
    from config.celery import app

    app.loader.import_default_modules()
    assert HEARTBEAT_TASK in app.tasks


# --- manage.py healthcheck -------------------------------------------------------------------


def test_the_command_checks_the_web(capsys):
    call_command("healthcheck", component="web")
    assert capsys.readouterr().out.strip() == "web: database ok, cache ok"


def test_the_command_fails_with_exit_code_1_on_a_missing_heartbeat(with_broker):
    with pytest.raises(CommandError) as raised:
        call_command("healthcheck", component="worker")
    assert raised.value.returncode == 1
    assert "worker: never (no heartbeat yet; stale after 120s)" in str(raised.value)
    heartbeat_task()
    call_command("healthcheck", component="worker")


@pytest.mark.redis
def test_the_command_as_a_compose_healthcheck_runs_it(redis_url):
    """The exit code docker compose reads, against a real Redis shared by two processes."""
    env = {**os.environ, "REDIS_URL": redis_url}

    def manage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own manage.py, fixed arguments
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )

    clear = "from django.core.cache import cache; cache.delete('pulse:heartbeat:beat')"
    assert manage("shell", "-c", clear).returncode == 0
    try:
        missing = manage("healthcheck", "--component", "beat")
        assert missing.returncode == 1, missing.stderr
        assert "beat: never" in missing.stderr
        write = "from config.heartbeat import heartbeat_write; heartbeat_write('beat')"
        assert manage("shell", "-c", write).returncode == 0
        fresh = manage("healthcheck", "--component", "beat")
        assert fresh.returncode == 0, fresh.stderr
        assert fresh.stdout.startswith("beat: ok (last heartbeat ")
    finally:
        manage("shell", "-c", clear)


def test_no_body_carries_anything_but_states_and_ages(client, with_broker):
    heartbeat_task()
    for url in ("/healthz/", "/healthz/worker/", "/healthz/beat/"):
        body = json.loads(client.get(url).content)
        assert set(body) <= {
            "component",
            "ok",
            "database",
            "cache",
            "state",
            "last_heartbeat_age_seconds",
            "stale_after_seconds",
        }
