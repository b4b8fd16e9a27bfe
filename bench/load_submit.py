"""Load benchmark: survey submissions through gunicorn, against a floor and a trivial view.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pilotpulse .venv/bin/python bench/load_submit.py

Needs PostgreSQL and Debian's wrk (apt-get install -y wrk). In one run it:

1. creates a throwaway database (<DATABASE_URL's name>_load, dropped at the end), an
   organisation of N people in teams of 8, and opens a cycle: N invitations (plus a few more
   for the double-submit check);
2. starts gunicorn on loopback (2 sync workers, the product's WSGI app) with
   bench.load_settings, which adds two views only this benchmark reaches: a trivial one (no
   database) and a floor one (the rows of one submission in one transaction, nothing else);
3. measures, with wrk and C connections, the trivial view and the floor view for a fixed time
   each, then submits all N links once each (POST of a complete, valid form; stops when every
   link is answered, or at --submit-seconds);
4. checks R2 on what the server stored: invitations consumed minus responses stored (lost),
   and, for a set of links each posted twice at the same moment and for replays of answered
   links, responses stored beyond one per link (duplicates). Both must be 0: the exit status
   is 1 otherwise.

Prints throughput and latency percentiles for all three; asserts nothing about time. The machine
is what it is: figures from a busy machine are noisy, and the conditions are printed with them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.load_settings"

WRK_MISSING = (
    "bench/load_submit.py needs wrk, the HTTP load generator: install Debian's package with "
    "`apt-get install -y wrk` (a Python client would compete with the server for the CPU)."
)
DOUBLE_SUBMIT_LINKS = 100
# One wrk thread drives every run (far more than this server can take: see the trivial view).
# More would stall the bounded run: gunicorn's sync worker closes each connection, wrk reconnects
# at once, and a thread that has sent all its links leaves idle connections a worker then blocks
# on, while another thread still waits for answers. With one thread, every request in flight is
# ahead of those idle connections in the accept queue.
WRK_THREADS = 1
REPLAYS = 200

# One script for the three runs. Each wrk thread takes every threads-th line of the request
# file (the benchmark uses one thread: see WRK_THREADS). Bounded (the submissions): each line
# is sent once; a connection with nothing left to send waits (delay), and a thread that has all
# its answers writes a marker file and stops, so the Python side can end wrk as soon as every
# thread is done (wrk itself would sleep out -d).
WRK_SCRIPT = r"""
local requests_file = os.getenv("LOAD_REQUESTS")
local bounded = os.getenv("LOAD_BOUNDED") == "1"
local done_dir = os.getenv("LOAD_DONE_DIR")
local setup_count = 0
local threads = {}

function setup(thread)
  thread:set("thread_index", setup_count)
  setup_count = setup_count + 1
  threads[setup_count] = thread
end

if requests_file then
  function init(args)
    local thread_count = tonumber(args[1])
    local headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
    requests = {}
    local line_number = 0
    for line in io.lines(requests_file) do
      if line_number % thread_count == thread_index then
        local path, body = line:match("^([^\t]*)\t(.*)$")
        requests[#requests + 1] = wrk.format("POST", path, headers, body)
      end
      line_number = line_number + 1
    end
    next_index = 1
    received = 0
    exhausted = false
    -- wrk calls request() once on its first thread, right after init(), only to check the
    -- request: that call must not use a line up.
    verifying = thread_index == 0
    request_count = #requests
  end

  function request()
    if verifying then
      verifying = false
      return requests[1]
    end
    local next_request = requests[next_index]
    next_index = next_index + 1
    if next_index > #requests then
      if bounded then exhausted = true else next_index = 1 end
    end
    return next_request
  end

  if bounded then
    function delay()
      if exhausted then return 3600000 end
      return 0
    end

    function response(status, headers, body)
      received = received + 1
      if exhausted and received >= #requests then
        local marker = io.open(done_dir .. "/" .. thread_index, "w")
        marker:close()
        wrk.thread:stop()
      end
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local histogram = io.open(os.getenv("LOAD_HISTOGRAM"), "w")
  for i = 1, #latency do
    local value, count = latency(i)
    histogram:write(string.format("%d %d\n", value, count))
  end
  histogram:close()
  for _, t in ipairs(threads) do
    io.write(string.format("LOADTHREAD %s sent %s of %s received %s\n", tostring(t:get("thread_index")),
      tostring((t:get("next_index") or 1) - 1), tostring(t:get("request_count")), tostring(t:get("received"))))
  end
  io.write(string.format(
    'LOADJSON {"duration_us": %d, "requests": %d, "status_errors": %d, "socket_errors": %d, "timeouts": %d}\n',
    summary.duration, summary.requests, e.status, e.connect + e.read + e.write, e.timeout))
end
"""


@dataclass
class Run:
    """One view's figures: from one wrk run, or merged over the rounds."""

    name: str
    requests: int
    seconds: float
    latency_us: Counter[int]  # latency in microseconds -> how many requests took it
    errors: int
    client_cpu_seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def client_cpu_share(self) -> float:
        """wrk's CPU time over the run's wall time: 1.0 is one core kept busy."""
        return self.client_cpu_seconds / self.seconds if self.seconds else 0.0

    def percentile_ms(self, percent: float) -> float:
        total = sum(self.latency_us.values())
        seen = 0
        for value in sorted(self.latency_us):
            seen += self.latency_us[value]
            if seen >= total * percent / 100:
                return value / 1000
        return 0.0

    @classmethod
    def merged(cls, runs: list[Run]) -> Run:
        latency: Counter[int] = Counter()
        for run in runs:
            latency.update(run.latency_us)
        return cls(
            name=runs[0].name,
            requests=sum(run.requests for run in runs),
            seconds=sum(run.seconds for run in runs),
            latency_us=latency,
            errors=sum(run.errors for run in runs),
            client_cpu_seconds=sum(run.client_cpu_seconds for run in runs),
        )


def status_counts(statuses: list[int]) -> dict[int, int]:
    return {status: statuses.count(status) for status in sorted(set(statuses))}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def database_url(settings_dict: dict[str, Any]) -> str:
    user = urllib.parse.quote(settings_dict["USER"] or "")
    password = settings_dict.get("PASSWORD") or ""
    credentials = f"{user}:{urllib.parse.quote(password)}" if password else user
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{credentials}@{host}:{port}/{settings_dict['NAME']}"


def form_body(raw: dict[str, str | list[str]]) -> str:
    return urllib.parse.urlencode({**raw, "action": "submit"}, doseq=True)


def wait_until_up(base: str, server: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with status {server.returncode} before serving; see its log above.")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{base}/bench/trivial/", timeout=2) as reply:  # noqa: S310 - loopback
                if reply.status == 200:
                    return
        time.sleep(0.1)
    raise SystemExit(f"gunicorn did not answer on {base} within {seconds:.0f} s.")


def post(base: str, path: str, body: str) -> int:
    """One POST on its own connection; the status, without following a redirect."""
    connection = socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), timeout=30)
    try:
        payload = body.encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        connection.sendall(head.encode() + payload)
        status_line = connection.makefile("rb").readline().decode()
        return int(status_line.split()[1])
    finally:
        connection.close()


def run_wrk(
    name: str,
    url: str,
    *,
    script: Path,
    requests_file: Path | None,
    bounded: bool,
    seconds: int,
    threads: int,
    connections: int,
    work: Path,
) -> Run:
    done_dir = Path(tempfile.mkdtemp(prefix=f"done-{name}-", dir=work))
    histogram = done_dir / "latency.txt"
    env = {**os.environ, "LOAD_BOUNDED": "1" if bounded else "0", "LOAD_DONE_DIR": str(done_dir)}
    env["LOAD_HISTOGRAM"] = str(histogram)
    if requests_file is not None:
        env["LOAD_REQUESTS"] = str(requests_file)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s", str(script)]
    command += [url, "--", str(threads)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    client = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)  # noqa: S603
    if bounded:
        while client.poll() is None:
            if sum(1 for marker in done_dir.iterdir() if marker.name.isdigit()) >= threads:
                client.send_signal(signal.SIGINT)  # every thread has all its answers: end the run now
                break
            time.sleep(0.005)
    out, err = client.communicate(timeout=seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((row for row in out.splitlines() if row.startswith("LOADJSON ")), None)
    if line is None:
        raise SystemExit(f"wrk gave no result for {name} (status {client.returncode}):\n{out}\n{err}")
    for row in out.splitlines():
        if row.startswith("LOADTHREAD ") and bounded:
            _, _, _, _, _, listed, _, received = row.split()
            if received != listed:
                print(
                    f"warning: {name} stopped at its time bound: {received} answers of {listed} links", file=sys.stderr
                )
    figures = json.loads(line.removeprefix("LOADJSON "))
    latency: Counter[int] = Counter()
    for row in histogram.read_text().splitlines():
        value, count = row.split()
        latency[int(value)] += int(count)
    return Run(
        name=name,
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        latency_us=latency,
        errors=figures["status_errors"] + figures["socket_errors"] + figures["timeouts"],
        client_cpu_seconds=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
    )


def main() -> int:  # noqa: C901 - one linear script: set up, measure, check, tear down
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invitations", "-n", type=int, default=5000, help="links submitted (N)")
    parser.add_argument("--concurrency", "-c", type=int, default=32, help="concurrent clients (C)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of trivial, floor and N/rounds submissions")
    parser.add_argument("--seconds", type=int, default=4, help="duration of each round's trivial and floor runs")
    parser.add_argument("--submit-seconds", type=int, default=120, help="time bound of each round's submissions")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    if shutil.which("wrk") is None:
        print(WRK_MISSING, file=sys.stderr)
        return 2
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        print("Set DATABASE_URL to a PostgreSQL server (postgres://user@host:5432/name).", file=sys.stderr)
        return 2
    if args.invitations < args.concurrency:
        print("--invitations must be at least --concurrency.", file=sys.stderr)
        return 2

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.db.models import Count

    from bench.load_answers import FLOOR_ANSWERS, load_answers
    from surveys.anonymous.models import Response
    from surveys.models import Cycle, Invitation, Person, Team
    from surveys.services.cycles import cycle_open

    rng = random.Random(args.seed)
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    server: subprocess.Popen[bytes] | None = None
    work = Path(tempfile.mkdtemp(prefix="pulse-load-"))
    try:
        people = args.invitations + DOUBLE_SUBMIT_LINKS
        root = Team.objects.create(name="Org")
        teams = [Team.objects.create(name=f"T{i}", parent=root) for i in range(max(1, people // 8))]
        Person.objects.bulk_create(
            Person(email=f"p{i}@bench.example", name=f"P{i}", team=teams[i % len(teams)]) for i in range(people)
        )
        opened = cycle_open(send_mail=False)
        cycle = opened.cycle
        tokens = [link.token for link in opened.links]
        rng.shuffle(tokens)
        submit_tokens, double_tokens = tokens[: args.invitations], tokens[args.invitations :]
        floor_cycle = Cycle.objects.create(
            month=dt.date(2000, 1, 1),
            status=Cycle.Status.CLOSED,
            instrument_version=cycle.instrument_version,
            k=cycle.k,
            comment_threshold=cycle.comment_threshold,
            pilot_cutoff=cycle.pilot_cutoff,
            opened_on=dt.date(2000, 1, 1),
            closes_on=dt.date(2000, 1, 15),
            closed_on=dt.date(2000, 1, 15),
        )
        floor_invitations = Invitation.objects.bulk_create(
            Invitation(
                cycle=floor_cycle,
                person=person,
                team_id=person.team_id,
                counted_team_id=person.team_id,
                token_hash=secrets.token_hex(32),
            )
            for person in Person.objects.all()
        )

        script = work / "load.lua"
        script.write_text(WRK_SCRIPT)
        floor_file = work / "floor.tsv"
        submit_files = [work / f"submit-{round_number}.tsv" for round_number in range(args.rounds)]
        for round_number, submit_file in enumerate(submit_files):
            chunk = submit_tokens[round_number :: args.rounds]
            submit_file.write_text("".join(f"/s/{token}/\t{form_body(load_answers(rng))}\n" for token in chunk))
        floor_body = form_body(dict(FLOOR_ANSWERS))
        floor_file.write_text(
            "".join(f"/bench/floor/{i.pk}/{i.team_id}/\t{floor_body}\n" for i in floor_invitations[: args.invitations])
        )

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        conn_max_age = os.environ.get("CONN_MAX_AGE", str(settings.DATABASES["default"]["CONN_MAX_AGE"]))
        server_env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.load_settings",
            "DATABASE_URL": database_url(connection.settings_dict),
            "CONN_MAX_AGE": conn_max_age,
            "PULSE_LOAD_FLOOR_CYCLE_ID": str(floor_cycle.pk),
            "PULSE_LOAD_INSTRUMENT_VERSION_ID": str(cycle.instrument_version_id),
        }
        log = (work / "gunicorn.log").open("wb")
        server = subprocess.Popen(  # noqa: S603 - fixed arguments
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(args.workers),
                "--worker-class",
                "sync",
                "--timeout",
                "60",
                "--chdir",
                str(ROOT),
                "--log-level",
                "warning",
            ],
            env=server_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_until_up(base, server)

        # Warm-up: each worker opens its database connection and parses the instrument once
        # (the survey GET; it never uses a link up), as a running site has long since done.
        spare_floor = floor_invitations[args.invitations :] or floor_invitations[:1]
        for index in range(60):
            with urllib.request.urlopen(f"{base}/bench/trivial/", timeout=10):  # noqa: S310 - loopback
                pass
            with urllib.request.urlopen(f"{base}/s/{double_tokens[index % len(double_tokens)]}/", timeout=10):  # noqa: S310
                pass
            invitation = spare_floor[index % len(spare_floor)]
            status = post(base, f"/bench/floor/{invitation.pk}/{invitation.team_id}/", floor_body)
            if status != 302:
                log.flush()
                tail = "\n".join((work / "gunicorn.log").read_text(errors="replace").splitlines()[-30:])
                raise SystemExit(f"The floor view answered {status}, not 302; gunicorn said:\n{tail}")

        load_before = os.getloadavg()
        common = {"script": script, "threads": WRK_THREADS, "connections": args.concurrency, "work": work}
        timed = {"bounded": False, "seconds": args.seconds}
        counted = {"bounded": True, "seconds": args.submit_seconds}
        # Rounds, so that the three see the same machine: on a shared one the load changes by the
        # minute, and a floor measured in a quiet minute is no floor for a busy one.
        rounds: list[tuple[Run, Run, Run]] = []
        for submit_file in submit_files:
            trivial = run_wrk("trivial", f"{base}/bench/trivial/", requests_file=None, **timed, **common)
            floor = run_wrk("floor", base, requests_file=floor_file, **timed, **common)
            submit = run_wrk("submit", base, requests_file=submit_file, **counted, **common)
            rounds.append((trivial, floor, submit))
        trivial, floor, submit = (Run.merged([row[column] for row in rounds]) for column in range(3))
        load_after = os.getloadavg()
        time.sleep(0.5)  # anything wrk gave up on (a timeout) has finished on the server by now

        consumed = Invitation.objects.filter(cycle=cycle, status=Invitation.Status.ANSWERED).count()
        stored = Response.objects.filter(cycle=cycle).count()

        # R2 under the real server: each link posted twice at the same moment, then replays.
        statuses: list[int] = []
        body = form_body(load_answers(rng))
        for token in double_tokens:
            barrier = threading.Barrier(2)

            def twice(path: str = f"/s/{token}/", gate: threading.Barrier = barrier) -> None:
                gate.wait()
                statuses.append(post(base, path, body))

            pair = [threading.Thread(target=twice) for _ in range(2)]
            for thread in pair:
                thread.start()
            for thread in pair:
                thread.join(timeout=60)
        stored_double = Response.objects.filter(cycle=cycle).count() - stored
        replayed = rng.sample(submit_tokens, k=min(REPLAYS, len(submit_tokens)))
        replay_statuses = [post(base, f"/s/{token}/", body) for token in replayed]
        stored_replays = Response.objects.filter(cycle=cycle).count() - stored - stored_double
        consumed_total = Invitation.objects.filter(cycle=cycle, status=Invitation.Status.ANSWERED).count()
        stored_total = Response.objects.filter(cycle=cycle).count()
        answer_counts = sorted(
            set(Response.objects.filter(cycle=cycle).annotate(n=Count("answers")).values_list("n", flat=True))
        )
        server_version = connection.pg_version
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        server_log = (work / "gunicorn.log").read_text(errors="replace") if (work / "gunicorn.log").exists() else ""
        shutil.rmtree(work, ignore_errors=True)
        connection.creation.destroy_test_db(old_name, verbosity=0)

    lost = consumed_total - stored_total
    duplicates = max(0, stored_double - len(double_tokens)) + stored_replays
    ratio = submit.per_second / floor.per_second if floor.per_second else 0.0
    p99_ratio = submit.percentile_ms(99) / floor.percentile_ms(99) if floor.per_second else 0.0
    goal = {True: "met", False: "NOT met"}
    pg = f"PostgreSQL {server_version // 10000}.{server_version % 10000}"
    health = settings.DATABASES["default"].get("CONN_HEALTH_CHECKS", False)
    lines = [
        f"conditions      {os.cpu_count()} CPUs, load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after; {pg} on loopback",
        f"server          gunicorn, {args.workers} sync workers, CONN_MAX_AGE={conn_max_age}, "
        f"CONN_HEALTH_CHECKS={health}",
        f"client          wrk, {WRK_THREADS} thread, C={args.concurrency} connections; {args.rounds} rounds of: "
        f"trivial {args.seconds} s, floor {args.seconds} s, submit N/{args.rounds} links "
        f"(N={args.invitations:,}; bound {args.submit_seconds} s)",
        "",
        "view      requests  seconds    req/s   p50 ms   p95 ms   p99 ms   max ms  errors  wrk CPU",
    ]
    for label, runs in [("", [trivial, floor, submit])] + [(f" {i + 1}", list(row)) for i, row in enumerate(rounds)]:
        if label == " 1":
            lines += ["", "by round"]
        for run in runs:
            figures = [run.per_second] + [run.percentile_ms(percent) for percent in (50, 95, 99, 100)]
            lines.append(
                f"{run.name + label:<9}{run.requests:>9,}{run.seconds:>9.2f}"
                + "".join(f"{figure:>9.1f}" for figure in figures)
                + f"{run.errors:>8}{run.client_cpu_share:>9.0%}"
            )
        if label:
            round_floor, round_submit = runs[1], runs[2]
            lines[-1] += (
                f"   submit/floor {round_submit.per_second / max(round_floor.per_second, 1e-9):.2f}, "
                f"p99 {round_submit.percentile_ms(99) / max(round_floor.percentile_ms(99), 1e-9):.2f}x"
            )
    lines += [
        "",
        f"submit/floor    throughput {ratio:.2f} (goal >= 0.6: {goal[ratio >= 0.6]}); "
        f"p99 {p99_ratio:.2f}x the floor's (goal <= 1.5: {goal[p99_ratio <= 1.5]})",
        f"trivial/floor   throughput {trivial.per_second / max(floor.per_second, 1e-9):.1f}x "
        "(the client, one wrk thread, takes far more than the floor needs)",
        f"submissions     {consumed:,} invitations consumed, {stored:,} responses stored in the timed run; "
        f"answers per response {answer_counts}",
        f"double submits  {len(double_tokens)} links posted twice at once: {stored_double} stored, "
        f"statuses {status_counts(statuses)}",
        f"replays         {len(replayed)} answered links posted again: {stored_replays} stored, "
        f"statuses {status_counts(replay_statuses)}",
        f"lost            {lost} (invitations consumed {consumed_total:,} - responses stored {stored_total:,}; "
        "must be 0)",
        f"duplicates      {duplicates} (responses beyond one per link; must be 0)",
    ]
    print("\n".join(lines))
    failed = lost != 0 or duplicates != 0 or any(run.errors for run in (trivial, floor, submit))
    if failed and server_log.strip():
        print("\ngunicorn said (last 40 lines):\n" + "\n".join(server_log.splitlines()[-40:]))
    return 0 if lost == 0 and duplicates == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
