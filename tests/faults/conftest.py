"""Fixtures of the fault tests: the PostgreSQL server (its own throwaway databases, made from one
migrated template per session), a private Redis, and the processes a test starts.

Without PostgreSQL or `redis-server` they skip with the reason; with PULSE_REQUIRE_SERVICES=1
(CI) they fail instead (tests/conftest.py service_missing).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import service_missing
from tests.faults.services import (
    PgServer,
    PrivateRedis,
    ProcessGroup,
    app_env,
    manage,
    pg_server_from_settings,
    process_group,
    running_redis,
)


@pytest.fixture(scope="session")
def pg_server() -> PgServer:
    server = pg_server_from_settings()
    if server is None:
        service_missing("needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/pilotpulse")
    assert server is not None
    try:
        server.query("postgres", "SELECT 1")
    except Exception as error:  # noqa: BLE001 - any failure means no server to make databases on
        service_missing(f"needs PostgreSQL at {server.host}:{server.port} with CREATE DATABASE: {error}")
    return server


@pytest.fixture(scope="session")
def migrated_template(pg_server: PgServer) -> Iterator[str]:
    """One migrated, empty database per session; each test copies it (CREATE DATABASE ... TEMPLATE)."""
    name = pg_server.create("template")
    try:
        manage(app_env(database_url=pg_server.url(name)), "migrate", "--noinput", "-v0", timeout=120)
        yield name
    finally:
        pg_server.drop(name)


@pytest.fixture
def fresh_db(pg_server: PgServer, migrated_template: str) -> Iterator[str]:
    name = pg_server.create("db", template=migrated_template)
    try:
        yield name
    finally:
        pg_server.drop(name)


@pytest.fixture
def redis_server_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        service_missing("needs the redis-server binary to run a private Redis (apt-get install redis-server)")
    assert binary is not None
    return binary


@pytest.fixture
def private_redis(redis_server_binary: str, tmp_path: Path) -> Iterator[PrivateRedis]:
    with running_redis(tmp_path) as server:
        yield server


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[ProcessGroup]:
    with process_group(tmp_path) as group:
        yield group
