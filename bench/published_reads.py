"""Benchmark: the door's page readers (analytics.published) on a database built by bench/aggregate.py.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pilotpulse_bench \
        python bench/aggregate.py --respondents 100000 --cycles 12 --keep
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pilotpulse_bench \
        python bench/published_reads.py --reuse test_pilotpulse_bench

Times each reader over ``--calls`` calls (200) on random units, teams and departments of the kept
database, after ``--warm`` untimed calls, and prints the median, p95 and worst call, the queries per
call (counted in a separate pass with django.test.utils.CaptureQueriesContext, so that counting
costs nothing in the timings) and the records returned. A figure covers the reader call: what a
page or an API view waits for from the door (its queries and building the frozen records), not
templates or serialisers. Read-only; prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.migrations.executor import MigrationExecutor  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

# A handful of the metrics a report page shows side by side.
HEATMAP_METRICS = ["responses", "psych_safety", "pilot_ratio", "trust", "workslop_prevalence"]
TREND_METRICS = ["psych_safety", "pilot_ratio", "responses"]


@dataclass
class Reader:
    name: str
    call: Callable[[], Any]  # one call on a fresh random sample


def database_point(name: str) -> None:
    """Point this process at a database a bench/aggregate.py --keep run left, as its --reuse does,
    but without migrating it (this benchmark only reads): an out-of-date schema is refused."""
    connection.close()
    settings.DATABASES["default"]["NAME"] = connection.settings_dict["NAME"] = name
    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        sys.exit(f"{name} needs migrating first: run bench/aggregate.py --reuse {name} once (it migrates).")


def readers(rng: random.Random, page_size: int) -> tuple[list[Reader], str]:
    from analytics.core.tree import ORGANISATION_UNIT_ID
    from analytics.models import Flag, UnitSnapshot
    from analytics.published import (
        aggregated_cycles,
        children_cells,
        organisation_flags,
        subtree_cells_page,
        unit_cells,
        unit_flags,
    )

    cycles = aggregated_cycles()
    if not cycles:
        sys.exit("no aggregated cycle in this database: build it with bench/aggregate.py --keep.")
    latest = cycles[-1]
    units = list(UnitSnapshot.objects.filter(cycle=latest).values_list("unit_id", "level", "depth"))
    teams = [unit for unit, level, _ in units if level == "team"]
    inner = [unit for unit, level, _ in units if level != "team"]
    departments = [unit for unit, _, depth in units if depth == 1]
    flagged = sorted(set(Flag.objects.filter(cycle=latest).values_list("unit_id", flat=True)))
    half_year = cycles[-6].month if len(cycles) >= 6 else None
    cursors = _cursors(rng, departments, page_size, subtree_cells_page)

    def subtree_page() -> Any:
        root, cursor = rng.choice(cursors)
        return subtree_cells_page(unit_id=root, cursor=cursor, size=page_size).cells

    found = [
        Reader("unit_cells: a team, all metrics, every cycle", lambda: unit_cells(unit_id=rng.choice(teams))),
        Reader(
            f"unit_cells: a team, {len(TREND_METRICS)} metrics, last 6 cycles",
            lambda: unit_cells(unit_id=rng.choice(teams), since=half_year, metrics=TREND_METRICS),
        ),
        Reader("unit_flags: a team", lambda: unit_flags(cycle=latest, unit_id=rng.choice(teams))),
        Reader(
            "unit_flags: a flagged unit",
            lambda: unit_flags(cycle=latest, unit_id=rng.choice(flagged or teams)),
        ),
        Reader("organisation_flags", lambda: organisation_flags(cycle=latest)),
        Reader(
            f"children_cells: an inner unit, {len(HEATMAP_METRICS)} metrics",
            lambda: children_cells(cycle=latest, unit_id=rng.choice(inner), metrics=HEATMAP_METRICS),
        ),
        Reader(
            f"children_cells: the organisation, {len(HEATMAP_METRICS)} metrics",
            lambda: children_cells(cycle=latest, unit_id=ORGANISATION_UNIT_ID, metrics=HEATMAP_METRICS),
        ),
        Reader(f"subtree_cells_page: a department, {page_size} cells", subtree_page),
        Reader(
            f"subtree_cells_page: the organisation, {page_size} cells",
            lambda: _organisation_page(rng, page_size, subtree_cells_page),
        ),
    ]
    shape = (
        f"{len(units):,} units in {latest.label} ({len(teams):,} teams, {len(departments):,} departments), "
        f"{len(cycles)} aggregated cycles, {len(flagged):,} units with flags or watches"
    )
    return found, shape


_ORGANISATION_CURSORS: list[str | None] = []


def _cursors(rng: random.Random, departments: list[uuid.UUID], size: int, page: Any) -> list[tuple[Any, Any]]:
    """(root, cursor) positions all over a few departments' subtrees, collected by an untimed walk."""
    positions: list[tuple[Any, Any]] = []
    for root in rng.sample(departments, min(3, len(departments))):
        cursor = None
        while True:
            positions.append((root, cursor))
            cursor = page(unit_id=root, cursor=cursor, size=size).next_cursor
            if cursor is None or len(positions) > 3000:
                break
    return positions


def _organisation_page(rng: random.Random, size: int, page: Any) -> Any:
    """A page at a random position of the organisation's walk (the walk is collected once, untimed,
    the first time a cursor past its end is wanted)."""
    from analytics.core.tree import ORGANISATION_UNIT_ID

    if not _ORGANISATION_CURSORS:
        cursor: str | None = None
        while len(_ORGANISATION_CURSORS) < 400:
            _ORGANISATION_CURSORS.append(cursor)
            cursor = page(unit_id=ORGANISATION_UNIT_ID, cursor=cursor, size=size).next_cursor
            if cursor is None:
                break
    return page(unit_id=ORGANISATION_UNIT_ID, cursor=rng.choice(_ORGANISATION_CURSORS), size=size).cells


def measure(reader: Reader, *, calls: int, warm: int, count: int) -> dict[str, float]:
    for _ in range(warm):
        reader.call()
    seconds, records = [], []
    for _ in range(calls):
        started = time.perf_counter()
        result = reader.call()
        seconds.append(time.perf_counter() - started)
        records.append(len(result))
    queries = []
    for _ in range(count):
        with CaptureQueriesContext(connection) as captured:
            reader.call()
        queries.append(len(captured.captured_queries))
    ordered = sorted(seconds)
    return {
        "median_ms": 1000 * statistics.median(ordered),
        "p95_ms": 1000 * ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
        "max_ms": 1000 * ordered[-1],
        "queries": max(queries),
        "records": statistics.median(records),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--reuse", metavar="NAME", required=True, help="A database a bench/aggregate.py --keep run left."
    )
    parser.add_argument("--calls", type=int, default=200, help="Timed calls per reader (random samples).")
    parser.add_argument("--warm", type=int, default=20, help="Untimed calls per reader first.")
    parser.add_argument("--count", type=int, default=20, help="Calls per reader whose queries are counted.")
    parser.add_argument("--page-size", type=int, default=500, help="Cells per subtree page.")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        parser.error("needs PostgreSQL: set DATABASE_URL=postgres://...")
    database_point(args.reuse)
    rng = random.Random(args.seed)  # noqa: S311 - reproducible samples, not security
    found, shape = readers(rng, args.page_size)
    print(f"database   {args.reuse}: {shape}")
    print(f"calls      {args.calls} timed per reader after {args.warm} untimed; queries counted over {args.count}")
    print("figures    the reader call only: what a page waits for from the door (queries and frozen records)")
    print()
    print(f"{'reader':<52}{'median':>9}{'p95':>9}{'max':>9}{'queries':>9}{'records':>9}")
    for reader in found:
        figures = measure(reader, calls=args.calls, warm=args.warm, count=args.count)
        print(
            f"{reader.name:<52}{figures['median_ms']:7.2f}ms{figures['p95_ms']:7.2f}ms{figures['max_ms']:7.2f}ms"
            f"{figures['queries']:>9}{figures['records']:>9.0f}"
        )
    print()
    print("goal: <= 3 queries and <= 20 ms a call or page at 10,000 teams (issue 7, item 10)")


if __name__ == "__main__":
    main()
