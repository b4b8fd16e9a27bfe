"""The deployment as it runs: the web, worker and beat commands of docker-compose.yml as real
processes (gunicorn, a Celery worker, Celery beat) on PostgreSQL and a private Redis. HR opens a
cycle on the cycles page, engineers answer it over HTTP through the links in their mail, HR
closes it, the worker aggregates it and the team's report shows the published count.

CI has no Docker engine: this is the closest real check of the compose topology. What differs
from the containers is only what must differ on one machine without Docker (see `_commands` and
`_environment`): the bind address, the beat schedule file, the hosts of the services, the media
directory, and `python`/`gunicorn`/`celery` found on PATH in the venv instead of the image.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import service_missing
from tests.faults.services import (
    BIN,
    PROJECT_ROOT,
    Browser,
    PgServer,
    PrivateRedis,
    Proc,
    ProcessGroup,
    answer_survey,
    app_env,
    celery_client,
    free_port,
    manage,
    pg_server_from_settings,
    process_group,
    running_redis,
    seed,
    survey_links_from_mail,
    wait_for_web,
    wait_for_workers,
    wait_until,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
COMPOSE_BIND = "0.0.0.0:8000"
COMPOSE_SCHEDULE = "/tmp/celerybeat-schedule"  # noqa: S108 - the compose file's path, replaced below
DONE = "Done: the results are published"
HIDDEN = "hidden to protect anonymity"


def _compose() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    for name in ("web", "worker", "beat"):
        assert name in services, f"docker-compose.yml has no {name} service"
    return services


def _argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else list(command)


def _commands(services: dict[str, Any], *, port: int, schedule: Path) -> dict[str, list[str]]:
    """The compose commands, with two substitutions: gunicorn binds 127.0.0.1:<free port> instead
    of 0.0.0.0:8000 (a fixed port may be taken on a CI machine, and nothing outside should reach
    it), and beat keeps its schedule file in the test's temp dir instead of /tmp (shared by every
    run on the machine). Everything else (migrate before gunicorn, 3 workers, --timeout 60, the
    worker's concurrency 2, log levels) runs as written."""
    web = _argv(services["web"]["command"])
    assert web[:2] == ["sh", "-c"] and web[2].count(COMPOSE_BIND) == 1, f"unexpected web command: {web}"
    web[2] = web[2].replace(COMPOSE_BIND, f"127.0.0.1:{port}")
    worker = _argv(services["worker"]["command"])
    assert worker[:4] == ["celery", "-A", "config", "worker"], f"unexpected worker command: {worker}"
    beat = _argv(services["beat"]["command"])
    assert beat[:4] == ["celery", "-A", "config", "beat"] and COMPOSE_SCHEDULE in beat, f"unexpected beat: {beat}"
    beat[beat.index(COMPOSE_SCHEDULE)] = str(schedule)
    return {"web": web, "worker": worker, "beat": beat}


def _environment(
    services: dict[str, Any], *, database_url: str, redis_url: str, base_url: str, tmp: Path
) -> dict[str, str]:
    """The compose `environment` of the app services (the same for all three, from x-app), with
    the services' addresses replaced (DATABASE_URL at a fresh database, REDIS_URL at a private
    redis-server; the compose hosts `postgres` and `redis` exist only on its network) and
    MEDIA_ROOT in the temp dir (/srv/media is a volume there). PULSE_PRODUCTION and CONN_MAX_AGE
    stay as the compose file sets them. What .env would give: SECRET_KEY, ALLOWED_HOSTS,
    PULSE_BASE_URL (the gunicorn URL) and EMAIL_URL (a file backend in the temp dir, so the
    survey links can be read; EMAIL_BACKEND alone has no setting for the directory).
    SECURE_SSL_REDIRECT=0 with PULSE_PRODUCTION=1: there is no TLS proxy in front of gunicorn
    here, so plain HTTP on loopback must not be redirected to https. Heartbeats every 10 s, stale
    after 30 s, so beat's health is seen within the test."""
    environments = [services[name].get("environment") or {} for name in ("web", "worker", "beat")]
    assert environments[0] == environments[1] == environments[2], "web, worker and beat differ in environment"
    compose_env = {key: str(value) for key, value in environments[0].items()}
    substituted = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MEDIA_ROOT": str(tmp / "media"),
    }
    assert set(substituted) <= set(compose_env), f"the compose environment changed: {sorted(compose_env)}"
    env = app_env(database_url=database_url, redis_url=redis_url)
    env.update(compose_env)
    env.update(substituted)
    env.update(
        SECRET_KEY="deployment-processes-" + "y" * 50,
        ALLOWED_HOSTS="127.0.0.1",
        PULSE_BASE_URL=base_url,
        EMAIL_URL=f"filemail:///{tmp / 'mail'}",  # four slashes: an absolute path
        PULSE_HEARTBEAT_SECONDS="10",
        PULSE_HEARTBEAT_STALE_SECONDS="30",
        # The venv's python, gunicorn and celery for the image's: the commands name them bare.
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    if env.get("PULSE_PRODUCTION") == "1":
        env["SECURE_SSL_REDIRECT"] = "0"
    return env


@pytest.fixture
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


@pytest.fixture
def empty_db(pg_server: PgServer) -> Iterator[str]:
    """An empty database: the web command's own `migrate` builds it, as on a first deployment."""
    name = pg_server.create("deploy")
    try:
        yield name
    finally:
        pg_server.drop(name)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        service_missing("needs the redis-server binary to run a private Redis (apt-get install redis-server)")
    for tool in ("gunicorn", "celery"):
        if not (BIN / tool).exists():
            service_missing(f"needs {tool} in the venv ({BIN})")
    with running_redis(tmp_path) as server:
        yield server


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[ProcessGroup]:
    with process_group(tmp_path) as group:
        yield group


def _post_confirmed(hr: Browser, action: str, prefix: str) -> None:
    form = hr.get("/programme/cycles/")
    assert form.status == 200, f"HR's cycles page: {form.status} {form.text()[:300]}"
    page = hr.post(f"/programme/cycles/{action}/", {"csrfmiddlewaretoken": form.csrf(), f"{prefix}-confirm": "on"})
    assert page.status == 302, f"{action} was refused ({page.status}): {page.text()[:800]}"


def _healthy(base: str, component: str) -> bool:
    page = Browser(base).get(f"/healthz/{component}/")
    return page.status == 200 and '"ok": true' in page.body.replace('"ok":true', '"ok": true')


def test_the_compose_processes_run_a_cycle_from_opening_to_the_published_report(
    pg_server: PgServer, empty_db: str, private_redis: PrivateRedis, processes: ProcessGroup, tmp_path: Path
) -> None:
    from tests.analytics.builders import answers_make

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    services = _compose()
    commands = _commands(services, port=port, schedule=tmp_path / "celerybeat-schedule")
    env = _environment(
        services, database_url=pg_server.url(empty_db), redis_url=private_redis.url(0), base_url=base, tmp=tmp_path
    )
    (tmp_path / "media").mkdir()

    def logs() -> str:
        return processes.logs()

    # The image's build step (Dockerfile: collectstatic); production serves the hashed files it
    # writes to staticfiles/ (STATIC_ROOT, git-ignored). Run before the web starts, as in the image.
    manage(env, "collectstatic", "--noinput", "--verbosity", "0", timeout=120)

    web: Proc = processes.start("web", commands["web"], env)
    wait_for_web(base, web, timeout=90)  # includes the command's own migrate of the empty database
    seeded = seed(env)  # the standard organisation (k = 5) and an HR login
    worker = processes.start("worker", commands["worker"], env)
    beat = processes.start("beat", commands["beat"], env)
    wait_for_workers(celery_client(private_redis.url(0)), worker, timeout=45)

    def beat_ok() -> bool:
        assert beat.alive(), f"beat exited:\n{logs()}"
        return _healthy(base, "beat")

    try:
        wait_until(beat_ok, timeout=30, what="/healthz/beat/ to report beat's heartbeat ok", interval=0.5)
        wait_until(lambda: _healthy(base, "worker"), timeout=30, what="/healthz/worker/ ok", interval=0.5)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{logs()}") from None

    # HR opens the cycle on the page; the web mails everyone their link (file backend).
    hr = Browser(base)
    hr.sign_in(seeded["hr"]["username"], seeded["hr"]["password"])
    _post_confirmed(hr, "open", "open")
    roster = dict(pg_server.query(empty_db, "SELECT email, team_id::text FROM surveys_person WHERE role <> 'hr'"))
    team_of_path = seeded["teams"]
    answering: dict[str, list[str]] = {}  # team path -> the addresses that answer
    for path, count in seeded["respondents"].items():
        emails = sorted(email for email, team in roster.items() if team == team_of_path[path])
        assert len(emails) >= count, f"{path}: {len(emails)} people for {count} answers"
        answering[path] = emails[:count]
    wanted = {address for addresses in answering.values() for address in addresses}
    mail_dir = tmp_path / "mail"

    def mailed() -> dict[str, str]:
        found = survey_links_from_mail(mail_dir)
        return found if wanted <= set(found) else {}

    try:
        links = wait_until(mailed, timeout=30, what=f"{len(wanted)} survey links in {mail_dir}", interval=0.3)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{logs()}") from None

    # Engineers answer over HTTP, each in their own browser: the standard respondents per team.
    answered = 0
    for path, addresses in answering.items():
        for index, address in enumerate(addresses):
            answers = answers_make(f"{path}-{index}", ai_user=index % 4 != 3)
            page = answer_survey(Browser(base), links[address], answers)
            assert page.status == 302 and page.location.endswith("/thanks/"), (
                f"{address}'s answers were not stored: {page.status} {page.text()[:500]}\n{web.tail()}"
            )
            answered += 1
    assert pg_server.scalar(empty_db, "SELECT count(*) FROM anonymous_response") == answered

    # HR closes it; the worker aggregates it (queued by the close, not by this test).
    _post_confirmed(hr, "close", "close")

    def published() -> bool:
        page = hr.get("/programme/cycles/")
        assert page.status == 200, f"HR's cycles page: {page.status}"
        assert "Failed" not in page.text(), f"the aggregation failed: {page.text()[-1500:]}"
        return DONE in page.text()

    try:
        wait_until(published, timeout=90, what=f'"{DONE}" on HR\'s cycles page', interval=1)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{logs()}") from None

    # A team of 7 with 6 answering in a safe department: its responses section shows the count,
    # nothing hidden. (Engineering/Beta, also 6, is hidden by design: Gamma is below k and R5
    # hides a sibling so that Gamma cannot be worked out by subtraction; Gamma itself is too small.)
    design = "Product/Design"
    report = hr.get(f"/units/{team_of_path[design]}/")
    assert report.status == 200, f"{design}'s report: {report.status} {report.text()[:500]}\n{web.tail()}"
    section = re.search(r'id="responses-heading".*?</section>', report.body, re.S)
    assert section, f"no responses section on {design}'s report: {report.text()[:1500]}"
    responses = " ".join(re.sub(r"<[^>]+>", " ", section.group(0)).split())
    assert f"n = {seeded['respondents'][design]}" in responses, responses
    assert HIDDEN not in responses, responses
    gamma = hr.get(f"/units/{team_of_path['Engineering/Gamma']}/")
    assert gamma.status == 200 and "too small to show" in gamma.text(), gamma.text()[:1500]
    # Aggregated by the worker process (the web is not eager: REDIS_URL is set), as queued by the close.
    assert re.search(r"aggregate_cycle_task\[[^]]+\] succeeded", worker.log.read_text()), worker.tail()
    for proc in (web, worker, beat):
        assert proc.alive(), f"{proc.name} exited during the run:\n{logs()}"
