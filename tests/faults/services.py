"""Private services and real processes for the fault and deployment tests.

Nothing here touches the shared PostgreSQL or Redis beyond creating and dropping databases of its
own (ARCHITECTURE.md: fault tests never stop the shared services): Redis faults use a private
`redis-server` on a free port, database faults a small TCP proxy in front of PostgreSQL that the
test cuts. Every wait is bounded; every process and database is cleaned up by its owner.
"""

from __future__ import annotations

import contextlib
import email
import html
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the venv's gunicorn and celery scripts
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(predicate: Callable[[], T], *, timeout: float, what: str, interval: float = 0.1) -> T:
    """Polls until `predicate` returns something truthy; fails with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception as error:  # noqa: BLE001 - retried until the deadline
            last_error, value = error, None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last error: {last_error!r})")


# --- PostgreSQL: throwaway databases on the shared server ---------------------------------------


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int
    user: str
    prefix: str  # names of the databases made here start with it (the test database's name)

    def url(self, name: str, *, host: str | None = None, port: int | None = None) -> str:
        return f"postgres://{self.user}@{host or self.host}:{port or self.port}/{name}"

    def connect(self, name: str = "postgres", *, autocommit: bool = True) -> Any:
        import psycopg

        return psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname=name, autocommit=autocommit, connect_timeout=5
        )

    def create(self, purpose: str, *, template: str | None = None) -> str:
        name = f"{self.prefix}_f{os.getpid()}_{secrets.token_hex(3)}_{purpose}"[:63]
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return name

    def drop(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def query(self, name: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        with self.connect(name) as conn:
            return list(conn.execute(sql, params).fetchall())

    def scalar(self, name: str, sql: str, params: tuple[object, ...] = ()) -> Any:
        rows = self.query(name, sql, params)
        return rows[0][0] if rows else None


def pg_server_from_settings() -> PgServer | None:
    from django.conf import settings

    db = settings.DATABASES["default"]
    if "postgresql" not in db["ENGINE"]:
        return None
    return PgServer(
        host=db.get("HOST") or "127.0.0.1",
        port=int(db.get("PORT") or 5432),
        user=db.get("USER") or "postgres",
        prefix=str(db["NAME"])[:20],
    )


# --- Redis: a private server on a port of its own -------------------------------------------------


class PrivateRedis:
    """`redis-server` on a free port with nothing persisted, as the compose file runs it."""

    def __init__(self, log_dir: Path):
        self.port = free_port()
        self.log_dir = log_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 0) -> Any:
        import redis

        return redis.Redis.from_url(self.url(db), socket_connect_timeout=1, socket_timeout=5)

    def start(self) -> PrivateRedis:
        self.starts += 1
        log = (self.log_dir / f"redis-{self.starts}.log").open("w")
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_until(lambda: self.client().ping(), timeout=10, what=f"private redis on port {self.port}")
        return self

    def kill(self) -> None:
        """Gone at once, as a crashed or OOM-killed Redis (SIGKILL, no shutdown)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def alive(self) -> bool:
        try:
            return bool(self.client().ping())
        except Exception:  # noqa: BLE001 - any failure means down
            return False


# --- A TCP proxy in front of PostgreSQL that the test can cut ------------------------------------


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target. `cut()` drops every connection and refuses new ones
    (the database host is gone); `restore()` listens again on the same port. `cut_when_sent(b"...")`
    cuts everything the moment a client sends bytes containing the pattern, before they are
    forwarded: a database lost in the middle of a transaction."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = free_port()
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._listener: socket.socket | None = None
        self._trigger: bytes | None = None
        self.triggered = threading.Event()
        self._stop = threading.Event()
        self._selector_thread: threading.Thread | None = None

    def start(self) -> TcpProxy:
        self.restore()
        return self

    def restore(self) -> None:
        with self._lock:
            if self._listener is not None:
                return
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(64)
            self._listener = listener
        thread = threading.Thread(target=self._accept_loop, args=(listener,), daemon=True)
        thread.start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            pairs, self._pairs = self._pairs, []
            self._trigger = None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for client, server in pairs:
            for sock in (client, server):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def cut_when_sent(self, pattern: bytes) -> None:
        self.triggered.clear()
        with self._lock:
            self._trigger = pattern

    def close(self) -> None:
        self._stop.set()
        self.cut()

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut: the listener is closed
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:  # cut meanwhile
                    client.close()
                    server.close()
                    return
                self._pairs.append((client, server))
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                with contextlib.suppress(OSError):
                    sink.shutdown(socket.SHUT_WR)
                return
            trigger = self._trigger
            if from_client and trigger is not None and trigger in data:
                self.triggered.set()
                self.cut()
                return
            try:
                sink.sendall(data)
            except OSError:
                return


# --- Processes: web, worker, beat, manage.py ------------------------------------------------------


def app_env(*, database_url: str, redis_url: str = "", **extra: str) -> dict[str, str]:
    """The environment of one app process: the compose file's variables, pointed at private
    services. No REDIS_URL means eager Celery and the in-process cache, as settings.py says."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PULSE_", "CELERY_"))}
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY="fault-tests-" + "x" * 50,
        PULSE_PRODUCTION="0",
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
        DJANGO_SETTINGS_MODULE="config.settings",
        LOG_LEVEL="INFO",
    )
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra)
    return env


@dataclass
class Proc:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, chars: int = 3000) -> str:
        try:
            return f"--- {self.name} ({self.log}) ---\n" + self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return f"--- {self.name}: no log ---"

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM to the whole process group (a container stop), then SIGKILL."""
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
        # prefork children or gunicorn workers left behind by a parent that exited on its own
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def kill9(self) -> None:
        """SIGKILL to the whole process group: the container is killed, no warm shutdown."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


def spawn(name: str, argv: list[str], *, env: Mapping[str, str], log_dir: Path, cwd: Path = PROJECT_ROOT) -> Proc:
    log = log_dir / f"{name}.log"
    process = subprocess.Popen(  # noqa: S603 - arguments built here
        argv, cwd=cwd, env=dict(env), stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )
    return Proc(name=name, process=process, log=log)


class ProcessGroup:
    """Every process a test starts; `stop_all()` in a finally block ends them, newest first."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.procs: list[Proc] = []

    def start(self, name: str, argv: list[str], env: Mapping[str, str]) -> Proc:
        proc = spawn(name, argv, env=env, log_dir=self.log_dir)
        self.procs.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join(proc.tail() for proc in self.procs)

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()


def manage(env: Mapping[str, str], *args: str, timeout: float = 90) -> str:
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "manage.py", *args], cwd=PROJECT_ROOT, env=dict(env), capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise AssertionError(
            f"manage.py {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout + result.stderr


def seed(env: Mapping[str, str], *args: str, timeout: float = 90) -> dict[str, Any]:
    """Runs tests/faults/seed.py in its own process on env's database; returns its JSON."""
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [sys.executable, "-m", "tests.faults.seed", *args], cwd=PROJECT_ROOT, env=dict(env), capture_output=True,
        text=True, timeout=timeout, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise AssertionError(f"seed {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def gunicorn_argv(port: int, *, workers: int = 2, timeout: int = 30) -> list[str]:
    return [str(BIN / "gunicorn"), "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers), "--timeout", str(timeout)]  # fmt: skip


def worker_argv(name: str, *, concurrency: int = 1) -> list[str]:
    """The compose worker command (prefork), one named node, no gossip or mingle to start fast."""
    return [str(BIN / "celery"), "-A", "config", "worker", "--loglevel", "INFO", "--concurrency", str(concurrency),
            "--prefetch-multiplier=1", "--without-gossip", "--without-mingle",
            "-n", f"{name}-{os.getpid()}@%h"]  # fmt: skip


def wait_for_web(base_url: str, proc: Proc, *, timeout: float = 45) -> None:
    def up() -> bool:
        if not proc.alive():
            raise AssertionError(f"the web process exited:\n{proc.tail()}")
        try:
            with urllib.request.urlopen(base_url + "/privacy/", timeout=2) as answer:  # noqa: S310 - local
                return bool(answer.status == 200)
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if up():
            return
        time.sleep(0.2)
    raise AssertionError(f"the web did not answer within {timeout:.0f} s:\n{proc.tail()}")


def celery_client(broker: str) -> Any:
    from celery import Celery

    # Not the current app: nothing this process sends by itself goes to the private broker.
    return Celery(broker=broker, backend=broker, set_as_current=False)


def wait_for_workers(client: Any, proc: Proc, *, count: int = 1, timeout: float = 45) -> None:
    def answered() -> bool:
        if not proc.alive():
            raise AssertionError(f"the worker exited:\n{proc.tail()}")
        return len(client.control.ping(timeout=0.5) or []) >= count

    wait_until(answered, timeout=timeout, what=f"{count} worker(s) to answer a ping", interval=0.2)


# --- HTTP as a browser does it --------------------------------------------------------------------


@dataclass
class Page:
    status: int
    body: str
    headers: Mapping[str, str]

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")

    def text(self) -> str:
        """The visible text, tags dropped and whitespace collapsed."""
        return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", self.body)).split())

    def csrf(self) -> str:
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', self.body)
        assert match, f"no CSRF token on the page ({self.status}): {self.text()[:300]}"
        return match.group(1)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


@dataclass
class Browser:
    """A cookie-keeping HTTP client that shows redirects instead of following them."""

    base_url: str
    timeout: float = 20
    cookies: dict[str, str] = field(default_factory=dict)

    def _open(self, request: urllib.request.Request) -> Page:
        if self.cookies:
            request.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        opener = urllib.request.build_opener(_NoRedirects)
        try:
            answer = opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as error:
            answer = error
        with answer:
            body = answer.read().decode("utf-8", errors="replace")
            headers = dict(answer.headers.items())
            for cookie in answer.headers.get_all("Set-Cookie") or []:
                name, _, rest = cookie.partition("=")
                value = rest.split(";", 1)[0]
                if value and "expires=Thu, 01 Jan 1970" not in cookie:
                    self.cookies[name.strip()] = value
                else:
                    self.cookies.pop(name.strip(), None)
            return Page(status=answer.status, body=body, headers=headers)

    def get(self, path: str) -> Page:
        return self._open(urllib.request.Request(self.base_url + path))  # noqa: S310 - local

    def post(self, path: str, data: Mapping[str, object] | list[tuple[str, str]]) -> Page:
        pairs: list[tuple[str, str]] = []
        items = data.items() if isinstance(data, Mapping) else data
        for key, value in items:
            for one in value if isinstance(value, list) else [value]:
                pairs.append((key, str(one)))
        request = urllib.request.Request(  # noqa: S310 - local
            self.base_url + path,
            data=urllib.parse.urlencode(pairs).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Referer": self.base_url + path},
            method="POST",
        )
        return self._open(request)

    def sign_in(self, username: str, password: str) -> None:
        form = self.get("/accounts/login/")
        page = self.post(
            "/accounts/login/", {"csrfmiddlewaretoken": form.csrf(), "username": username, "password": password}
        )
        assert page.status == 302, f"sign-in failed ({page.status}): {page.text()[:500]}"


def answer_survey(browser: Browser, token: str, answers: Mapping[str, object]) -> Page:
    """The engineer's path: open the link, fill in step one, Next, fill in step two, Send.
    Returns the response to the final POST (a redirect to the thanks page when stored)."""
    path = f"/s/{token}/"
    opened = browser.get(path)
    assert opened.status == 200, f"the survey link did not open ({opened.status}): {opened.text()[:300]}"
    step_two = browser.post(path, {**answers, "action": "next"})
    assert step_two.status == 200, f"step one was refused ({step_two.status}): {step_two.text()[:500]}"
    return browser.post(path, {**answers, "action": "submit"})


def survey_links_from_mail(mail_dir: Path) -> dict[str, str]:
    """Recipient address -> one-time token, read from the mails the file backend wrote."""
    links: dict[str, str] = {}
    for path in sorted(mail_dir.glob("*.log")):
        for chunk in path.read_text().split("-" * 79):
            if not chunk.strip():
                continue
            message = email.message_from_string(chunk.strip())
            parts = message.walk() if message.is_multipart() else [message]
            for part in parts:
                if part.get_content_type() != "text/plain":
                    continue
                payload = part.get_payload(decode=True)
                text = payload.decode() if isinstance(payload, bytes) else str(payload)
                match = re.search(r"/s/([A-Za-z0-9_\-]+)/", text)
                if match:
                    links[str(message["To"])] = match.group(1)
    return links


@contextlib.contextmanager
def databases(server: PgServer) -> Iterator[list[str]]:
    """Names appended to the yielded list are dropped on the way out, whatever happened."""
    made: list[str] = []
    try:
        yield made
    finally:
        for name in made:
            with contextlib.suppress(Exception):
                server.drop(name)


def results_snapshot(server: PgServer, name: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every analytics table, without surrogate ids and run times, floats to 12
    significant digits (as tests/analytics/test_tasks.py compares), in a fixed order."""
    tables = [
        row[0]
        for row in server.query(
            name,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
            "AND table_name LIKE 'analytics\\_%%' AND table_name NOT LIKE 'analytics\\_export%%' ORDER BY 1",
        )
    ]
    snapshot: dict[str, list[tuple[Any, ...]]] = {}
    for table in tables:
        columns = [
            column
            for column, data_type in server.query(
                name,
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s "
                "ORDER BY ordinal_position",
                (table,),
            )
            if column != "id" and not data_type.startswith("timestamp")
        ]
        rows = server.query(name, f'SELECT {", ".join(chr(34) + c + chr(34) for c in columns)} FROM "{table}"')  # noqa: S608 - catalogue names
        snapshot[table] = sorted((tuple(_rounded(value) for value in row) for row in rows), key=repr)
    return snapshot


def _rounded(value: object) -> object:
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, dict):
        return json.dumps({key: _rounded(item) for key, item in value.items()}, sort_keys=True)
    if isinstance(value, list):
        return json.dumps([_rounded(item) for item in value], sort_keys=True)
    return value


@contextlib.contextmanager
def running_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A private Redis for one test, killed after it (the fault and deployment fixtures)."""
    server = PrivateRedis(tmp_path).start()
    try:
        yield server
    finally:
        server.kill()


@contextlib.contextmanager
def process_group(tmp_path: Path) -> Iterator[ProcessGroup]:
    """The test's app processes, every one stopped after it, whatever happened."""
    group = ProcessGroup(tmp_path)
    try:
        yield group
    finally:
        group.stop_all()
