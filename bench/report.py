"""Benchmark: the report pages and the cells API as a signed-in user waits for them, on the
10,000-team organisation that bench/aggregate.py --keep leaves.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pilotpulse_bench \
        python bench/aggregate.py --respondents 100000 --cycles 12 --keep
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pilotpulse_bench \
        python bench/report.py --reuse test_pilotpulse_bench

Starts gunicorn (``--workers``, 2 sync workers by default, persistent database connections as
the compose file runs it) on loopback against the kept database, signs in an HR viewer and a
department's manager (added once to the roster of one of the department's teams: they were not
invited to any cycle, so no result changes),
then sends ``--clients`` concurrent clients (as many as workers, so each worker is always busy
and a request's time is the server's; more clients add queueing on top) through
``--requests`` requests (200) of each target, alternating targets round by round so that none
gets a warmer cache than another:

- floor: the sign-in page (middleware, a template, no query): what any page costs here;
- team report: a random team's report (every cycle, flags, distributions) as HR sees it;
- heatmap: the manager's department, its ~1,000 teams side by side;
- cells API: one page (500 cells) of the department's subtree over the 12 cycles.

Prints p50, p95 and the worst request time (client side: connect, request, full response), the
throughput, and each target's p95 over the floor's. Goals (issue 8): p95 <= 100 ms for the
report and the API page, <= 300 ms for the heatmap. Asserts nothing.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

PASSWORD = "bench-password-not-secret"  # noqa: S105 - a throwaway login on a benchmark database
GOALS_MS = {"team report": 100.0, "heatmap": 300.0, "cells API": 100.0}


def database_point(name: str) -> str:
    connection.close()
    settings.DATABASES["default"]["NAME"] = connection.settings_dict["NAME"] = name
    url = os.environ["DATABASE_URL"]
    return url.rsplit("/", 1)[0] + "/" + name


def viewers_ensure() -> tuple[str, str, str, list[str]]:
    """(HR e-mail, manager e-mail, the manager's department id, team ids to open)."""
    from django.contrib.auth import get_user_model

    from analytics.models import UnitSnapshot
    from analytics.published import aggregated_cycles
    from surveys.models import Person, Role, Team

    latest = aggregated_cycles()[-1]
    departments = list(
        UnitSnapshot.objects.filter(cycle=latest, level="department", depth=1).values_list("unit_id", flat=True)
    )
    department = sorted(departments)[0]
    teams = [
        str(unit)
        for unit in UnitSnapshot.objects.filter(cycle=latest, level="team").values_list("unit_id", flat=True)[:2000]
    ]
    # An existing team, so that the organisation's tree (and a later aggregation) stays as built.
    bench_team = Team.objects.get(pk=teams[0])
    emails = []
    for email, role in (("bench-hr@example.com", Role.HR), ("bench-manager@example.com", Role.MANAGER)):
        user = get_user_model().objects.filter(username=email).first() or get_user_model().objects.create_user(
            username=email, email=email
        )
        user.set_password(PASSWORD)
        user.save()
        person, _ = Person.objects.update_or_create(
            email=email, defaults={"name": email, "team": bench_team, "role": role, "user": user, "is_active": True}
        )
        if role == Role.MANAGER:
            person.managed_teams.set([Team.objects.get(pk=department)])
        emails.append(email)
    return emails[0], emails[1], str(department), teams


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def session_cookie(port: int, email: str) -> str:
    """Sign in through the login form; returns the Cookie header of the signed-in session."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/accounts/login/")
    response = conn.getresponse()
    page = response.read().decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    cookie = response.getheader("Set-Cookie", "").split(";")[0]
    if csrf is None or not cookie:
        sys.exit("the sign-in page did not offer a form")
    body = urlencode({"username": email, "password": PASSWORD, "csrfmiddlewaretoken": csrf.group(1)})
    conn.request(
        "POST",
        "/accounts/login/",
        body=body,
        headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded", "Referer": "http://127.0.0.1/"},
    )
    response = conn.getresponse()
    response.read()
    session = [part.split(";")[0] for part in response.headers.get_all("Set-Cookie") or [] if "sessionid" in part]
    if response.status != 302 or not session:
        sys.exit(f"could not sign in as {email} (HTTP {response.status})")
    return session[0]


@dataclass
class Target:
    name: str
    path: Callable[[random.Random], str]
    cookie: str
    times: list[float] = field(default_factory=list)
    errors: int = 0


def run_round(port: int, target: Target, requests: int, clients: int, seed: int) -> float:
    """``requests`` requests of one target from ``clients`` threads; returns the wall time."""
    lock = threading.Lock()
    remaining = [requests]

    def client(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        while True:
            with lock:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            started = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request("GET", target.path(rng), headers={"Cookie": target.cookie})
                response = conn.getresponse()
                response.read()
                conn.close()
                ok = response.status == 200
            except OSError:
                ok = False
            elapsed = time.perf_counter() - started
            with lock:
                if ok:
                    target.times.append(elapsed)
                else:
                    target.errors += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse", metavar="NAME", required=True, help="A database bench/aggregate.py --keep left.")
    parser.add_argument("--requests", type=int, default=200, help="Timed requests per target (default 200).")
    parser.add_argument("--clients", type=int, help="Concurrent clients (default: as many as --workers).")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2).")
    parser.add_argument("--rounds", type=int, default=4, help="Rounds the requests are split into (default 4).")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    args.clients = args.clients or args.workers
    if connection.vendor != "postgresql":
        parser.error("needs PostgreSQL: set DATABASE_URL=postgres://...")
    url = database_point(args.reuse)
    hr, manager, department, teams = viewers_ensure()
    connection.close()
    port = free_port()
    environment = {**os.environ, "DATABASE_URL": url, "CONN_MAX_AGE": "60", "DEBUG": "false"}
    server = subprocess.Popen(  # noqa: S603 - our own gunicorn, fixed arguments
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
        ],  # fmt: skip
        cwd=ROOT,
        env=environment,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        hr_cookie, manager_cookie = session_cookie(port, hr), session_cookie(port, manager)
        targets = [
            Target("floor", lambda rng: "/accounts/login/", ""),
            Target("team report", lambda rng: f"/units/{rng.choice(teams)}/", hr_cookie),
            Target("heatmap", lambda rng: f"/units/{department}/heatmap/", manager_cookie),
            Target("cells API", lambda rng: f"/api/v1/cells/?unit={department}", manager_cookie),
        ]
        for target in targets:  # untimed: each worker's first requests pay for imports and caches
            run_round(port, target, 4 * args.workers, args.clients, args.seed)
            target.times.clear()
            target.errors = 0
        walls = {target.name: 0.0 for target in targets}
        per_round = max(1, args.requests // args.rounds)
        for round_index in range(args.rounds):
            for target in targets:
                walls[target.name] += run_round(port, target, per_round, args.clients, args.seed + round_index)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    floor = targets[0]
    print(f"database   {args.reuse}: {len(teams):,} teams sampled for reports, department {department}")
    print(f"server     gunicorn, {args.workers} sync workers, CONN_MAX_AGE 60; {args.clients} concurrent clients")
    print("figures    client-side time of the whole HTTP request on loopback (connect, request, response)")
    print()
    print(f"{'target':<14}{'p50':>10}{'p95':>10}{'max':>10}{'req/s':>9}{'errors':>8}{'p95/floor':>11}  goal")
    for target in targets:
        if not target.times:
            print(f"{target.name:<14} no successful request ({target.errors} errors)")
            continue
        p50, p95 = statistics.median(target.times) * 1000, percentile(target.times, 0.95) * 1000
        ratio = p95 / (percentile(floor.times, 0.95) * 1000) if floor.times else float("nan")
        goal = GOALS_MS.get(target.name)
        verdict = "" if goal is None else f"p95 <= {goal:.0f} ms {'PASS' if p95 <= goal else 'MISS'}"
        print(
            f"{target.name:<14}{p50:>8.1f}ms{p95:>8.1f}ms{max(target.times) * 1000:>8.1f}ms"
            f"{len(target.times) / walls[target.name]:>9.1f}{target.errors:>8}{ratio:>11.1f}  {verdict}"
        )


if __name__ == "__main__":
    main()
