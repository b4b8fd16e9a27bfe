"""Benchmark: the submit service alone, one process, and closing the cycle after it.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pilotpulse_bench python bench/submit.py --people 2000

Builds a throwaway organisation in its own test database (created and dropped here), opens a
cycle, submits every link through the real submit service (token lock, validation, response,
answers, comment), then closes the cycle (the R1 rewrite). Prints figures; asserts nothing.

Its "per second" is the service called in a loop on one connection: no HTTP, no server, no
concurrency. What a site takes at once is bench/load_submit.py (gunicorn, concurrent clients,
against a floor measured in the same run).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment, teardown_test_environment  # noqa: E402

ANSWER_KEYS = ["ps1", "ps2", "ps3", "ps4", "ps5", "ps6", "ps7", "voice1", "press1", "mgr1", "ag1", "ag2", "ag3", "ag4"]


def answers(rng: random.Random) -> dict[str, object]:
    raw: dict[str, object] = {key: str(rng.randint(1, 7)) for key in ANSWER_KEYS}
    raw.update(use1=str(rng.randint(2, 5)), ws1=str(rng.randint(1, 5)), trust1=str(rng.randint(1, 5)))
    raw.update(speed1=rng.choice(["0.5", "0.75", "1", "1.25"]), speed2=str(rng.randint(-2, 8)))
    raw.update(op1=str(rng.randint(1, 7)), op2=str(rng.randint(1, 7)), ws2="1.5", ws3=["teammates"])
    if rng.random() < 0.15:
        raw["c1"] = "Smaller pull requests when AI wrote most of it."
    return raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--team-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from surveys.closing import cycle_close
    from surveys.models import Person, Team
    from surveys.services.cycles import cycle_open, open_cycle_get
    from surveys.submission import response_submit

    rng = random.Random(args.seed)
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        root = Team.objects.create(name="Org")
        teams = [Team.objects.create(name=f"T{i}", parent=root) for i in range(max(1, args.people // args.team_size))]
        Person.objects.bulk_create(
            Person(email=f"p{i}@bench.example", name=f"P{i}", team=teams[i % len(teams)]) for i in range(args.people)
        )
        started = time.perf_counter()
        links = cycle_open(send_mail=False).links
        open_seconds = time.perf_counter() - started

        started = time.perf_counter()
        for link in links:
            response_submit(token=link.token, raw_answers=answers(rng))
        submit_seconds = time.perf_counter() - started

        started = time.perf_counter()
        result = cycle_close(cycle=open_cycle_get())
        close_seconds = time.perf_counter() - started
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()

    print(f"database            {connection.vendor}")
    print(f"people              {args.people:,} in {len(teams):,} teams")
    print(f"open cycle          {open_seconds:.2f} s (invitations and {len(links):,} links)")
    print(f"submissions         {submit_seconds:.2f} s, {len(links) / submit_seconds:,.0f} per second, "
          f"{1000 * submit_seconds / len(links):.2f} ms each")  # fmt: skip
    print(f"close (R1 rewrite)  {close_seconds:.2f} s for {result.responses:,} responses")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS)   {peak_mib:.0f} MiB for the whole process")


if __name__ == "__main__":
    main()
