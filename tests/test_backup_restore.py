"""The backup procedure of docs/operations.md, tested: `pg_dump -Fc` of a real database with
aggregated cycles (one of them purged by retention), `pg_restore` into a fresh database, and
every aggregate table compared row for row, with what the published door serves from each.

Runs against the PostgreSQL server of DATABASE_URL, in two databases of its own that it drops
afterwards; skips (fails in CI) without PostgreSQL or the client tools.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings

from tests.conftest import service_missing

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parent.parent
STEP_SECONDS = 300  # each command; the whole test takes well under a minute

# Two closed cycles answered through the real services and aggregated by the job; March's raw
# answers then purged (its aggregates stay), as the retention run would two years on.
BUILD = """
import datetime as dt
from analytics.job.retention import answers_purge
from tests.analytics.builders import march_and_april, org_build
march, april = march_and_april(org_build())
assert answers_purge(today=dt.date(2028, 4, 10), months=24).purged == ["2026-03"]
"""

# What the door serves: every cell of every served cycle, and each cycle's flags.
DOOR = """
import json
from dataclasses import fields, is_dataclass
from types import MappingProxyType
from analytics.published import aggregated_cycles, organisation_flags, published_cells

def plain(value):
    if is_dataclass(value):
        return {field.name: plain(getattr(value, field.name)) for field in fields(value)}
    if isinstance(value, (dict, MappingProxyType)):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)

cycles = aggregated_cycles()
print(json.dumps({
    "cycles": [cycle.label for cycle in cycles],
    "cells": plain(list(published_cells(cycles=cycles))),
    "flags": {cycle.label: plain(organisation_flags(cycle=cycle)) for cycle in cycles},
}, sort_keys=True))
"""


def _server() -> dict[str, str]:
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.postgresql":
        service_missing("needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/pilotpulse")
    for tool in ("pg_dump", "pg_restore"):
        if shutil.which(tool) is None:
            service_missing(f"needs the PostgreSQL client tools ({tool} is not on PATH)")
    return {
        "host": str(database.get("HOST") or "127.0.0.1"),
        "port": str(database.get("PORT") or 5432),
        "user": str(database.get("USER") or "postgres"),
        "password": str(database.get("PASSWORD") or ""),
        "name": str(database["NAME"]),
    }


def _url(server: dict[str, str], name: str) -> str:
    credentials = server["user"] + (f":{server['password']}" if server["password"] else "")
    return f"postgres://{credentials}@{server['host']}:{server['port']}/{name}"


def _connect(server: dict[str, str], name: str):
    import psycopg

    return psycopg.connect(
        host=server["host"],
        port=server["port"],
        user=server["user"],
        password=server["password"] or None,
        dbname=name,
        autocommit=True,
    )


@pytest.fixture
def databases() -> Iterator[tuple[dict[str, str], str, str]]:
    server = _server()
    suffix = secrets.token_hex(4)
    source, restored = f"pp_backup_source_{suffix}", f"pp_backup_restored_{suffix}"
    with _connect(server, "postgres") as admin:
        for name in (source, restored):
            admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server, source, restored
    finally:
        with _connect(server, "postgres") as admin:
            for name in (source, restored):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run(args: list[str], *, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(  # noqa: S603 - our own commands with fixed arguments
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=STEP_SECONDS, check=False
    )
    assert done.returncode == 0, f"{args[:3]} failed:\n{done.stderr[-3000:]}"
    return done.stdout


def _django(server: dict[str, str], name: str, *args: str) -> str:
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "PULSE_PRODUCTION")}
    env.update(DATABASE_URL=_url(server, name), DJANGO_SETTINGS_MODULE="config.settings")
    return _run([sys.executable, *args], env=env)


def _pg_env(server: dict[str, str]) -> dict[str, str]:
    return {**os.environ, "PGPASSWORD": server["password"]} if server["password"] else dict(os.environ)


def _aggregate_tables() -> list[str]:
    """Every table the aggregation job writes (the analytics app's models), PurgedCycle included."""
    return sorted(model._meta.db_table for model in apps.get_app_config("analytics").get_models())


def _rows(server: dict[str, str], name: str) -> dict[str, list[str]]:
    rows = {}
    with _connect(server, name) as connection:
        for table in _aggregate_tables():
            fetched = connection.execute(f'SELECT * FROM "{table}"').fetchall()  # noqa: S608 - model tables
            rows[table] = sorted(json.dumps(list(row), default=str, sort_keys=True) for row in fetched)
    return rows


def test_a_restored_backup_holds_the_same_aggregates_and_serves_the_same_results(databases, tmp_path):
    server, source, restored = databases
    _django(server, source, "manage.py", "migrate", "--noinput")
    _django(server, source, "-c", f"import django; django.setup()\n{BUILD}")

    dump = tmp_path / "pulse.dump"
    connection = ["-h", server["host"], "-p", server["port"], "-U", server["user"]]
    _run(["pg_dump", "-Fc", *connection, "-f", str(dump), source], env=_pg_env(server))
    _run(
        ["pg_restore", "--no-owner", "--exit-on-error", *connection, "-d", restored, str(dump)],
        env=_pg_env(server),
    )

    before, after = _rows(server, source), _rows(server, restored)
    assert len(before["analytics_metriccell"]) > 100
    assert len(before["analytics_purgedcycle"]) == 1
    for table in _aggregate_tables():
        assert after[table] == before[table], f"{table} differs after the restore"

    door = "import django; django.setup()\n" + DOOR
    served_before = json.loads(_django(server, source, "-c", door))
    served_after = json.loads(_django(server, restored, "-c", door))
    assert served_before["cycles"] == ["2026-03", "2026-04"]
    assert served_after == served_before
    # The restored database is complete: no migration is missing.
    _django(server, restored, "manage.py", "migrate", "--check")
