"""Benchmark: the aggregation job on a large organisation with a year of history, against a floor.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pilotpulse_bench \
        python bench/aggregate.py --respondents 100000 --cycles 12

Builds a throwaway organisation in its own test database (created and dropped here): a tree of
departments, groups and leaf teams of about ten respondents each, and `--cycles` closed monthly
cycles as the close-cycle rewrite leaves them (invitation tallies per team; responses, answers and
comments under random UUIDs in random order). The rows are generated in bulk rather than through
the submit service, which would take hours at this size. Cycles 1..N-1 are aggregated first
(untimed), because the latest cycle's flags read their published history. Then, each in a fresh
subprocess so its peak memory is its own:

- the job: `aggregate_cycle` on the latest cycle (read, compute, trend tests, disclosure, write),
  each time as its first run (the cycle's stored results are deleted, untimed, before it);
- the floor: the same cycle's answers copied out with PostgreSQL COPY into pandas, plus one
  groupby count/mean/std per (team, item).

After one untimed read that warms the cache, the floor and the job alternate `--repeat` times
(3) and each is reported at its median. `--keep` keeps the database; `--reuse NAME` measures
again on it without building.

Prints figures and the goals (ratio job/floor <= 3, <= 2 GB, 100,000 respondents in <= 60 s);
asserts nothing. `--profile` then runs the job once more under cProfile and lists the analytics
code by cumulative time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import io
import json
import os
import resource
import subprocess
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

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models.signals import post_save  # noqa: E402
from django.test.utils import setup_test_environment, teardown_test_environment  # noqa: E402
from django.utils import timezone  # noqa: E402
from psycopg import sql  # noqa: E402

from surveys.instrument import Instrument, load_definition  # noqa: E402

# The subprocesses find the test database here: it exists only while the parent runs.
DATABASE_ENV = "PULSE_BENCH_TEST_DATABASE"
RESULT_PREFIX = "BENCH-RESULT "

GOAL_RATIO, GOAL_MIB, GOAL_SECONDS, GOAL_RESPONDENTS = 3.0, 2048.0, 60.0, 100_000

# Shape of the organisation: organisation -> departments -> groups -> leaf teams.
DEPARTMENTS = 10
TEAMS_PER_GROUP = 100
RESPONDENTS_PER_TEAM = 10  # answering, on average; invited is this over the response rate
RESPONSE_RATE, RESPONSE_RATE_SD, MONTH_RATE_JITTER = 0.85, 0.08, 0.05
TEAM_SIZE_SD, TEAM_SIZE_MIN, TEAM_SIZE_MAX = 3.5, 3, 25

# Answer model, after surveys/demo.py: per-person traits, a monthly mood per construct and
# per-item noise, rounded and clipped to each scale.
ITEM_NOISE, MOOD_NOISE = 0.75, 0.25
ITEM_SKIP = 0.02  # share of optional items left blank (gates use1/ws1 are never skipped)
COMMENT_SHARE = 0.15
PLANTED_SHARE = 0.01  # share of teams with a planted six-month trend each, so flags have work
TREND_CYCLES = 6
# The organisation answers version 1 of the instrument: items, reverse keys and options from it.
INSTRUMENT = Instrument(load_definition(1))
PS_ITEMS = tuple(item.key for item in INSTRUMENT.items if item.construct == "psychological_safety")
AGENCY_ITEMS = tuple(item.key for item in INSTRUMENT.items if item.construct == "agency")
OPTIMISM_ITEMS = tuple(item.key for item in INSTRUMENT.items if item.construct == "optimism")
SPEED_OPTIONS = np.array([float(option["value"]) for option in INSTRUMENT.item("speed1").options])
WS2_OPTIONS = np.array([float(option["value"]) for option in INSTRUMENT.item("ws2").options])
WS3_SOURCES = (("teammates", 0.55), ("other_teams", 0.4), ("leaders", 0.2), ("reports", 0.3))  # reports: managers
# Every stored answer key: the multi-select ws3 is stored as one 0/1 answer per offered source.
ITEM_KEYS = (
    *PS_ITEMS, "use1", "ws1", "trust1", "voice1", "press1", "ws2", *(f"ws3_{s}" for s, _ in WS3_SOURCES),
    "speed1", "speed2", *AGENCY_ITEMS, *OPTIMISM_ITEMS, "mgr1",
)  # fmt: skip
COMMENTS = (
    "Say in the pull request which parts were generated and how they were checked.",
    "Review is now the bottleneck. Give us time to review AI-assisted changes properly.",
    "Smaller pull requests. Generated changes are getting too big to review.",
    "Clear guidance on which data we may paste into which tools.",
    "It no longer feels OK to say a tool slowed me down. Drop the adoption targets.",
    "Keep pairing on real work; it taught me more than any training did.",
)


# --- the organisation ------------------------------------------------------------------------


@dataclass
class People:
    """The roster as arrays, one entry per person (stable across cycles)."""

    team: np.ndarray  # index into Plan.team_ids
    is_manager: np.ndarray
    safety: np.ndarray
    pressure: np.ndarray
    agency: np.ndarray
    optimism: np.ndarray
    trust: np.ndarray
    manager_modelling: np.ndarray
    workslop_rate: np.ndarray
    non_user: np.ndarray
    use_level: np.ndarray
    speed_log_ratio: np.ndarray


@dataclass
class Plan:
    team_ids: list[uuid.UUID]  # leaf teams, where everyone sits
    invited: np.ndarray  # per leaf team
    response_rate: np.ndarray  # per leaf team, before the monthly jitter
    trap: np.ndarray  # per leaf team: safety falls and pressure rises over the last cycles
    pilots: np.ndarray  # per leaf team: agency and optimism rise
    people: People
    units: int  # every Team row (departments and groups too)


def organisation_build(*, respondents: int, rng: np.random.Generator) -> Plan:
    from surveys.models import Organisation, Team

    Organisation.objects.update_or_create(pk=1, defaults={"name": "Bench organisation"})
    leaf_count = max(DEPARTMENTS, round(respondents / RESPONDENTS_PER_TEAM))
    group_count = max(DEPARTMENTS, round(leaf_count / TEAMS_PER_GROUP))
    departments = [Team(id=uuid.UUID(bytes=rng.bytes(16), version=4), name=f"Department {d + 1:02d}")
                   for d in range(DEPARTMENTS)]  # fmt: skip
    # Departments differ in size, as real ones do: groups and teams are dealt out by weight.
    department_of_group = np.sort(rng.choice(DEPARTMENTS, size=group_count, p=_weights(rng, DEPARTMENTS)))
    department_of_group[:DEPARTMENTS] = np.arange(DEPARTMENTS)  # every department has a group
    groups = []
    for g, d in enumerate(department_of_group):
        groups.append(Team(id=uuid.UUID(bytes=rng.bytes(16), version=4), name=f"Group {g + 1:03d}",
                           parent_id=departments[d].id))  # fmt: skip
    group_of_team = rng.choice(group_count, size=leaf_count, p=_weights(rng, group_count))
    group_of_team[:group_count] = np.arange(group_count)  # and every group a team
    leaves = [Team(id=uuid.UUID(bytes=rng.bytes(16), version=4), name=f"Team {t + 1:05d}",
                   parent_id=groups[g].id) for t, g in enumerate(group_of_team)]  # fmt: skip
    with transaction.atomic():
        for level in (departments, groups, leaves):
            Team.objects.bulk_create(level, batch_size=5000)

    mean_size = RESPONDENTS_PER_TEAM / RESPONSE_RATE
    invited = np.clip(np.rint(rng.normal(mean_size, TEAM_SIZE_SD, leaf_count)), TEAM_SIZE_MIN, TEAM_SIZE_MAX)
    invited = invited.astype(np.int64)
    response_rate = np.clip(rng.normal(RESPONSE_RATE, RESPONSE_RATE_SD, leaf_count), 0.45, 0.99)
    planted = rng.permutation(leaf_count)
    planted_count = max(1, round(PLANTED_SHARE * leaf_count))
    trap, pilots = np.zeros(leaf_count, bool), np.zeros(leaf_count, bool)
    trap[planted[:planted_count]] = True
    pilots[planted[planted_count : 2 * planted_count]] = True
    return Plan(
        team_ids=[team.id for team in leaves],
        invited=invited,
        response_rate=response_rate,
        trap=trap,
        pilots=pilots,
        people=_people_draw(invited=invited, rng=rng),
        units=len(departments) + len(groups) + len(leaves),
    )


def _weights(rng: np.random.Generator, count: int) -> np.ndarray:
    weights = rng.lognormal(0.0, 0.35, count)
    return weights / weights.sum()


def _people_draw(*, invited: np.ndarray, rng: np.random.Generator) -> People:
    """Team climates, then members scattered around them (as surveys/demo.py draws them)."""
    teams = len(invited)
    team = np.repeat(np.arange(teams), invited)
    size = len(team)
    first_of_team = np.r_[0, np.cumsum(invited)[:-1]]
    is_manager = np.zeros(size, bool)
    is_manager[first_of_team] = True  # the manager is on their own team, and answers too

    def climate(mean: float, sd: float) -> np.ndarray:
        return rng.normal(mean, sd, teams)[team]

    agency_offset = rng.normal(0, 0.7, size)
    optimism_climate = climate(4.8, 0.3)
    optimism = optimism_climate + 0.35 * agency_offset + rng.normal(0, 0.6, size)  # the two go together
    return People(
        team=team,
        is_manager=is_manager,
        safety=climate(5.3, 0.35) + rng.normal(0, 0.55, size),
        pressure=climate(3.6, 0.5) + rng.normal(0, 0.7, size),
        agency=climate(4.9, 0.3) + agency_offset,
        optimism=optimism,
        trust=climate(2.75, 0.3) + 0.3 * (optimism - optimism_climate) + rng.normal(0, 0.6, size),
        manager_modelling=climate(4.0, 0.6) + rng.normal(0, 0.6, size),
        workslop_rate=np.clip(rng.uniform(0.25, 0.55, teams)[team] + rng.normal(0, 0.1, size), 0.02, 0.95),
        non_user=rng.random(size) < rng.uniform(0.08, 0.25, teams)[team],
        use_level=rng.choice([2, 3, 4, 5], size=size, p=[0.15, 0.25, 0.35, 0.25]),
        speed_log_ratio=rng.normal(-0.2, 0.18, size) - 0.05 * (optimism - optimism_climate),
    )


# --- one month of answers --------------------------------------------------------------------


def month_answers(*, plan: Plan, months_ago: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """Who answered in each team this month, and their answers as one wide row each (NaN = not
    asked or skipped), with skip logic applied. Returns (rows, answered per team)."""
    people = plan.people
    rate = np.clip(plan.response_rate + rng.normal(0, MONTH_RATE_JITTER, len(plan.invited)), 0.3, 1.0)
    answered = rng.binomial(plan.invited, rate)
    # The first `answered` members of each team in a random order answer this month.
    order = np.lexsort((rng.random(len(people.team)), people.team))
    team_start = np.r_[0, np.cumsum(plan.invited)[:-1]]
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order)) - team_start[people.team[order]]
    who = np.flatnonzero(rank < answered[people.team])
    size = len(who)
    team = people.team[who]
    position = min(1.0, max(0.0, (TREND_CYCLES - 1 - months_ago) / (TREND_CYCLES - 1)))
    trap, pilots = plan.trap[team] * position, plan.pilots[team] * position

    def this_month(level: np.ndarray, drift: np.ndarray | float = 0.0) -> np.ndarray:
        return level[who] + drift + rng.normal(0, MOOD_NOISE, size)

    def agreement(level: np.ndarray, *, reverse: bool = False, high: int = 7) -> np.ndarray:
        value = level + rng.normal(0, ITEM_NOISE, size)
        if reverse:  # agreeing with a reverse-keyed item means a low level of the trait
            value = high + 1 - value
        return np.clip(np.rint(value), 1, high)

    nan = np.full(size, np.nan)
    columns: dict[str, np.ndarray] = {}
    safety = this_month(people.safety, -2.0 * trap)
    for key in PS_ITEMS:
        columns[key] = agreement(safety, reverse=key in INSTRUMENT.reverse_keys)
    user = ~people.non_user[who]
    use = np.clip(people.use_level[who] + rng.choice([-1, 0, 0, 0, 0, 0, 1], size), 2, 5)
    columns["use1"] = np.where(user, use, 1.0)
    received = rng.random(size) < people.workslop_rate[who]
    columns["ws1"] = np.where(received, rng.choice([2, 3, 4, 5], size, p=[0.35, 0.35, 0.2, 0.1]), 1.0)
    columns["trust1"] = np.where(user, agreement(people.trust[who], high=5), nan)
    columns["voice1"] = agreement(safety - 0.4)
    columns["press1"] = agreement(this_month(people.pressure, 2.0 * trap))
    bracket = np.clip(columns["ws1"] - 2 + rng.choice([-1, 0, 0, 1], size), 0, len(WS2_OPTIONS) - 1)
    columns["ws2"] = np.where(received, WS2_OPTIONS[bracket.astype(np.int64)], nan)
    manager = people.is_manager[who]
    ticks = {source: rng.random(size) < share for source, share in WS3_SOURCES}
    ticks["reports"] &= manager
    nothing = ~np.any(np.column_stack(list(ticks.values())), axis=1)
    ticks["teammates"] |= nothing  # no ticks means skipped; the demo always ticks one
    for source, _ in WS3_SOURCES:
        offered = received & (manager if source == "reports" else True)
        columns[f"ws3_{source}"] = np.where(offered, ticks[source].astype(np.float64), nan)
    log_ratio = people.speed_log_ratio[who] + rng.normal(0, 0.12, size)
    nearest = np.abs(np.log(SPEED_OPTIONS)[None, :] - log_ratio[:, None]).argmin(axis=1)
    columns["speed1"] = np.where(user, SPEED_OPTIONS[nearest], nan)  # stored as the time ratio
    columns["speed2"] = np.where(user, np.clip(np.rint(-12 * log_ratio + rng.normal(0, 2, size)), -10, 20), nan)
    agency = this_month(people.agency, 2.0 * pilots)
    for key in AGENCY_ITEMS:
        columns[key] = np.where(user, agreement(agency, reverse=key in INSTRUMENT.reverse_keys), nan)
    optimism = this_month(people.optimism, 2.0 * pilots)
    for key in OPTIMISM_ITEMS:
        columns[key] = np.where(user, agreement(optimism, reverse=key in INSTRUMENT.reverse_keys), nan)
    columns["mgr1"] = agreement(this_month(people.manager_modelling, 1.5 * pilots))

    rows = pd.DataFrame(columns)[list(ITEM_KEYS)]
    optional = [key for key in ITEM_KEYS if key not in ("use1", "ws1") and not key.startswith("ws3_")]
    rows[optional] = rows[optional].mask(rng.random((size, len(optional))) < ITEM_SKIP)
    ws3 = [key for key in ITEM_KEYS if key.startswith("ws3_")]
    rows[ws3] = rows[ws3].mask(np.repeat(rng.random((size, 1)) < ITEM_SKIP, len(ws3), axis=1))
    texts = np.array(COMMENTS, dtype=object)[rng.integers(0, len(COMMENTS), size)]
    rows.insert(0, "comment", np.where(rng.random(size) < COMMENT_SHARE, texts, None))
    rows.insert(0, "team_id", np.array([str(t) for t in plan.team_ids], dtype=object)[team])
    return rows, answered


def cycles_build(*, plan: Plan, cycles: int, rng: np.random.Generator, say: Callable[[str], None]) -> list[Any]:
    """Closed cycles, one a month, ending last month, as `cycle_close` leaves them."""
    from surveys.anonymous.models import Answer, Comment, Response
    from surveys.models import Cycle, InstrumentVersion, InvitationTally, Organisation

    organisation = Organisation.current()
    version = InstrumentVersion.latest()
    # A closed cycle saved queues the catch-up aggregation (analytics.job.tasks), which without a
    # broker runs at once: here the history is aggregated once, after the build, instead.
    post_save.disconnect(sender=Cycle, dispatch_uid="analytics-reaggregate-on-k")
    first_of_this_month = timezone.localdate().replace(day=1)
    made = []
    with connection.cursor() as cursor:
        # The staging table holds one wide row per response. The server expands it to answers,
        # gives every row a fresh random UUID and inserts in random order, as the close-cycle
        # rewrite leaves a cycle (ANONYMITY R1), far faster than building 2 M rows in Python.
        stage_columns = [sql.SQL("{} double precision").format(sql.Identifier(key)) for key in ITEM_KEYS]
        cursor.cursor.execute(
            sql.SQL("CREATE TEMPORARY TABLE bench_stage (id uuid DEFAULT gen_random_uuid(), team_id uuid, "
                    "comment text, {})").format(sql.SQL(", ").join(stage_columns))
        )  # fmt: skip
    for index in range(cycles):
        months_ago = cycles - index
        year, month0 = divmod(first_of_this_month.year * 12 + first_of_this_month.month - 1 - months_ago, 12)
        month = dt.date(year, month0 + 1, 1)
        started = time.perf_counter()
        rows, answered = month_answers(plan=plan, months_ago=months_ago - 1, rng=rng)
        closes_on = month + dt.timedelta(days=14)
        with transaction.atomic():
            cycle = Cycle.objects.create(
                month=month,
                status=Cycle.Status.CLOSED,
                instrument_version=version,
                k=organisation.anonymity_threshold,
                comment_threshold=organisation.comment_threshold,
                pilot_cutoff=organisation.pilot_cutoff,
                opened_on=month,
                closes_on=closes_on,
                closed_on=closes_on,
            )
            InvitationTally.objects.bulk_create(
                (
                    InvitationTally(cycle=cycle, team_id=team_id, invited=int(invited), answered=int(count))
                    for team_id, invited, count in zip(plan.team_ids, plan.invited, answered, strict=True)
                ),
                batch_size=5000,
            )
            answers = _rows_load(rows, cycle_id=cycle.pk, version_id=version.pk, tables=(Response, Answer, Comment))
        made.append(cycle)
        say(f"  cycle {cycle.label}: {len(rows):,} responses, {answers:,} answers "
            f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
    with connection.cursor() as cursor:
        cursor.cursor.execute("DROP TABLE bench_stage")
        # cycle_close vacuums; autovacuum would analyse these tables soon after a load this size,
        # and the job's plan depends on those statistics.
        for model in (Response, Answer, Comment):
            cursor.cursor.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(model._meta.db_table)))
    return made


def _rows_load(rows: pd.DataFrame, *, cycle_id: int, version_id: int, tables: tuple[Any, Any, Any]) -> int:
    response, answer, comment = (sql.Identifier(model._meta.db_table) for model in tables)
    buffer = io.StringIO()
    rows.to_csv(buffer, sep="\t", header=False, index=False, na_rep="\\N")
    names = sql.SQL(", ").join(sql.Identifier(column) for column in rows.columns)
    pairs = sql.SQL(", ").join(sql.SQL("({}, s.{})").format(sql.Literal(key), sql.Identifier(key)) for key in ITEM_KEYS)
    with connection.cursor() as cursor:
        raw = cursor.cursor
        raw.execute("TRUNCATE bench_stage")
        with raw.copy(sql.SQL("COPY bench_stage ({}) FROM STDIN").format(names)) as copy:
            copy.write(buffer.getvalue())
        # A big sort for the random order: in memory rather than spilled to disk (this
        # transaction only; the job later runs with the server's settings).
        raw.execute("SET LOCAL work_mem = '1GB'")
        raw.execute(
            sql.SQL("INSERT INTO {} (id, cycle_id, team_id, instrument_version_id) "
                    "SELECT id, {}, team_id, {} FROM bench_stage ORDER BY random()").format(
                response, sql.Literal(cycle_id), sql.Literal(version_id))
        )  # fmt: skip
        raw.execute(
            sql.SQL("INSERT INTO {} (id, response_id, item, value) "
                    "SELECT gen_random_uuid(), s.id, v.item, v.value FROM bench_stage s "
                    "CROSS JOIN LATERAL (VALUES {}) AS v(item, value) "
                    "WHERE v.value IS NOT NULL ORDER BY random()").format(answer, pairs)
        )  # fmt: skip
        answers = raw.rowcount
        raw.execute(
            sql.SQL("INSERT INTO {} (id, cycle_id, team_id, text, redacted) "
                    "SELECT gen_random_uuid(), {}, team_id, comment, false FROM bench_stage "
                    "WHERE comment IS NOT NULL ORDER BY random()").format(comment, sql.Literal(cycle_id))
        )  # fmt: skip
    return answers


def history_aggregate(cycles: list[Any], *, with_flags: bool) -> None:
    """The earlier cycles' published cells, cell histograms and snapshots, which the latest
    cycle's trend and shift tests read. Their own flags are read by nothing in the latest job, and
    at full size they cost minutes a cycle, so by default that stage is replaced by a no-op here
    (this process only; the timed job runs the real one)."""
    import analytics.flags.stage as flags
    from analytics.job.run import aggregate_cycle

    original = flags.flags_compute_for_cycle
    if not with_flags:
        flags.flags_compute_for_cycle = lambda **kwargs: 0
    try:
        for cycle in cycles:
            aggregate_cycle(cycle=cycle)
    finally:
        flags.flags_compute_for_cycle = original


def database_reuse(name: str) -> str:
    """Point this process at a database a --keep run left, bring its schema up to date, and
    return the database name to restore afterwards."""
    from django.core.management import call_command

    old_name = connection.settings_dict["NAME"]
    connection.close()
    settings.DATABASES["default"]["NAME"] = connection.settings_dict["NAME"] = name
    call_command("migrate", verbosity=0)
    return old_name


def results_forget(cycle: Any) -> None:
    """Deletes a cycle's stored results (untimed), so that measuring it again measures a first run."""
    from analytics.models import (
        AggregationStage,
        CellHistogram,
        Flag,
        ItemDistribution,
        MetricCell,
        ReleasedComment,
        UnitSnapshot,
    )  # fmt: skip

    with transaction.atomic():
        for model in (Flag, MetricCell, ItemDistribution, CellHistogram, UnitSnapshot, ReleasedComment,
                      AggregationStage):  # fmt: skip
            model.objects.filter(cycle=cycle).delete()
    with connection.cursor() as cursor:
        for model in (MetricCell, ItemDistribution, CellHistogram):
            cursor.cursor.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(model._meta.db_table)))


def organisation_size(cycle: Any) -> tuple[int, int, int]:
    """(teams, leaf teams, people invited) as stored, so a reused database reports the same."""
    from surveys.models import InvitationTally, Team

    tallies = InvitationTally.objects.filter(cycle=cycle)
    invited = sum(tallies.values_list("invited", flat=True))
    return Team.objects.count(), tallies.count(), invited


# --- the measured runs, each in a subprocess -------------------------------------------------


def _peak_mib() -> float:
    """Peak RSS of this process. Not ru_maxrss: on Linux a child's ru_maxrss starts from its
    parent's peak (exec folds the forked address space's high-water mark into it), which would
    charge the build's memory to the job. VmHWM belongs to this process's own address space."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux, without /proc


def measure_job(cycle_id: int, *, profile: bool) -> dict[str, Any]:
    """The timed job, with a breakdown taken by wrapping the job's own functions at run time
    (the analytics code is not changed) and from its progress messages."""
    import analytics.core.cells as cells
    import analytics.core.partials as partials
    import analytics.flags.stage as flags
    import analytics.job.run as aggregation
    from surveys.models import Cycle

    spent: dict[str, float] = {}

    def timed(module: Any, name: str, label: str) -> bool:
        original = getattr(module, name, None)
        if original is None:  # the analytics code moves on; a renamed stage is reported as missing
            return False

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - started

        setattr(module, name, wrapper)
        return True

    # Labels in the order the job runs them; an indented label is part of the one above it.
    stages = [
        (aggregation, "organisation_tree", "tree"),
        (aggregation, "answers_frame", "read answers (COPY, read_csv)"),
        (aggregation, "partials_compute", "partials per team"),
        (partials, "answers_wide", "  long to wide"),
        (partials, "respondent_variables", "  respondent variables"),
        (aggregation, "invited_by_team", "invitation tallies"),
        (aggregation, "cells_compute", "cells and disclosure"),
        (cells, "publication_decide", "  decide publication (R4-R6, R11-R14)"),
        (aggregation, "publication_require_checked", "check before storing (R15)"),
        (aggregation, "cycle_results_write", "write cells (COPY)"),
        (flags, "flags_compute_for_cycle", "flags"),
        (flags, "_published_history", "  published history (COPY)"),
        (flags, "change_questions", "  trend and shift tests, all units"),
        (flags, "_histogram_scores", "  histograms for permutations"),
        (flags, "permutation_refine", "  permutation tests"),
        (flags, "questions_decide", "  Benjamini-Hochberg"),
        (flags, "change_candidates", "  candidates, Theil-Sen"),
        (flags, "level_candidates", "  level checks"),
        (flags, "capability_trap", "  capability trap"),
        (aggregation, "comments_release", "comments"),
    ]
    found = {label: timed(module, name, label) for module, name, label in stages}
    messages: list[tuple[float, str]] = []
    cycle = Cycle.objects.select_related("instrument_version").get(pk=cycle_id)  # also opens the connection
    baseline = _peak_mib()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    summary = aggregation.aggregate_cycle(
        cycle=cycle, progress=lambda message: messages.append((time.perf_counter() - started, message))
    )
    seconds = time.perf_counter() - started
    if profiler is not None:
        import pstats

        profiler.disable()
        print("cProfile of the job, analytics code by cumulative time (timings inflated by profiling):")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(r"analytics/", 15)
    return {
        "seconds": seconds,
        "peak_mib": _peak_mib(),
        "baseline_mib": baseline,
        "stages": [(label, spent.get(label, 0.0) if found[label] else None) for _, _, label in stages],
        "messages": messages,
        "summary": summary.__dict__,
    }


def measure_floor(cycle_id: int) -> dict[str, Any]:
    """COPY out the cycle's answers (the job's read query) and one groupby: the least any job
    that reads every answer and summarises it per team could cost."""
    from analytics.job.storage import answers_frame

    connection.ensure_connection()
    baseline = _peak_mib()
    started = time.perf_counter()
    answers = answers_frame(cycle_id)  # on PostgreSQL: the job's own COPY and read_csv
    read_seconds = time.perf_counter() - started
    summary = answers.groupby(["team_id", "item"])["value"].agg(["count", "mean", "std"])
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "read_seconds": read_seconds,
        "peak_mib": _peak_mib(),
        "baseline_mib": baseline,
        "answers": len(answers),
        "groups": len(summary),
    }


def run_measured(kind: str, cycle_id: int, *, profile: bool = False) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--measure", kind, "--cycle-id", str(cycle_id)]
    if profile:
        command.append("--profile")
    env = {**os.environ, DATABASE_ENV: str(settings.DATABASES["default"]["NAME"])}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603 - our own script
    sys.stderr.write(done.stderr)
    result = None
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX) :])
        else:
            print(line)
    if done.returncode != 0 or result is None:
        raise RuntimeError(f"the {kind} subprocess failed (exit {done.returncode}); its output is above")
    return result


def measured_main(kind: str, cycle_id: int, *, profile: bool) -> None:
    name = os.environ[DATABASE_ENV]
    # Point at the parent's test database before the first query, as create_test_db does.
    settings.DATABASES["default"]["NAME"] = name
    connection.settings_dict["NAME"] = name
    result = measure_job(cycle_id, profile=profile) if kind == "job" else measure_floor(cycle_id)
    print(RESULT_PREFIX + json.dumps(result))


# --- the report --------------------------------------------------------------------------------


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median wall time (the upper one of an even count), breakdown and all."""
    ordered = sorted(runs, key=lambda run: run["seconds"])
    return ordered[len(ordered) // 2]


def _runs(runs: list[dict[str, Any]]) -> str:
    return ", ".join(f"{run['seconds']:.1f}" for run in runs) + " s"


def goal(passed: bool) -> str:
    return "PASS" if passed else "MISS"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--respondents", type=int, default=5000, help="Respondents per cycle, about.")
    parser.add_argument("--cycles", type=int, default=4, help="Closed cycles; the last one is timed.")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--profile", action="store_true", help="After the timed job, run it once more under cProfile and list it."
    )
    parser.add_argument(
        "--history-flags", action="store_true", help="Compute the earlier cycles' flags too (slow; nothing reads them)."
    )
    parser.add_argument(
        "--keep", action="store_true", help="Keep the built database (its name is printed) for --reuse."
    )
    parser.add_argument(
        "--reuse",
        metavar="NAME",
        help="Measure again on a database a --keep run left (migrated first; its history as stored).",
    )
    parser.add_argument(
        "--history", action="store_true", help="With --reuse: aggregate the earlier cycles again first."
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="Timed runs of the floor and the job each; medians are reported."
    )
    parser.add_argument("--measure", choices=["job", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--cycle-id", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measured_main(args.measure, args.cycle_id, profile=args.profile)
        return
    if connection.vendor != "postgresql":
        parser.error("needs PostgreSQL: set DATABASE_URL=postgres://...")

    def say(message: str) -> None:
        print(message, flush=True)

    rng = np.random.default_rng(args.seed)
    setup_test_environment()
    if args.reuse:
        from surveys.models import Cycle

        old_name = database_reuse(args.reuse)
        cycles = list(Cycle.objects.order_by("month"))
        build_seconds = 0.0
    else:
        old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        if not args.reuse:
            say(f"building {args.respondents:,} respondents x {args.cycles} cycles in "
                f"{connection.settings_dict['NAME']}")  # fmt: skip
            started = time.perf_counter()
            plan = organisation_build(respondents=args.respondents, rng=rng)
            cycles = cycles_build(plan=plan, cycles=args.cycles, rng=rng, say=say)
            build_seconds = time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            database_mib = cursor.fetchone()[0] / 2**20

        history_seconds = None
        if not args.reuse or args.history:
            started = time.perf_counter()
            history_aggregate(cycles[:-1], with_flags=args.history_flags)
            history_seconds = time.perf_counter() - started
            say(f"history: {len(cycles) - 1} cycles aggregated in {history_seconds:.1f} s")

        latest = cycles[-1]
        teams, leaves, invited = organisation_size(latest)
        # The first read of a cycle pays for the disk, whichever of the two comes first: an untimed
        # read warms the cache, then the floor and the job alternate and each is taken at its median.
        run_measured("floor", latest.pk)
        floors, jobs = [], []
        for _ in range(args.repeat):
            floors.append(run_measured("floor", latest.pk))
            results_forget(latest)  # every timed job writes a fresh cycle, as at its first run
            jobs.append(run_measured("job", latest.pk))
        floor, job = _median_run(floors), _median_run(jobs)
        if args.profile:  # a run of its own, so profiling overhead stays out of the figures
            results_forget(latest)
            run_measured("job", latest.pk, profile=True)
    finally:
        kept = connection.settings_dict["NAME"]
        if args.keep or args.reuse:
            connection.close()
            settings.DATABASES["default"]["NAME"] = connection.settings_dict["NAME"] = old_name
            say(f"kept the database {kept}: measure again with --reuse {kept}")
        else:
            connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()

    answers, respondents = floor["answers"], job["summary"]["respondents"]
    ratio = job["seconds"] / floor["seconds"]
    print()
    print(f"database            {connection.vendor}, {database_mib:,.0f} MiB after the build")
    print(f"organisation        {teams:,} teams ({leaves:,} leaf teams), {invited:,} people invited")
    print(f"latest cycle        {job['summary']['cycle']}: {respondents:,} respondents, {answers:,} answers, "
          f"{job['summary']['units']:,} units")  # fmt: skip
    built = "reused" if args.reuse else f"{build_seconds:.1f} s"
    print(f"build               {built} for {len(cycles)} cycles")
    flagged = "with" if args.history_flags else "without"
    if history_seconds is None:
        print(f"history             as stored ({len(cycles) - 1} earlier cycles)")
    else:
        print(f"history             {history_seconds:.1f} s to aggregate {len(cycles) - 1} earlier cycles "
              f"({flagged} flags)")  # fmt: skip
    print(f"job                 {job['seconds']:.2f} s wall (median of {_runs(jobs)}), "
          f"{answers / job['seconds']:,.0f} answers per second")  # fmt: skip
    print(f"job peak RSS        {job['peak_mib']:,.0f} MiB ({job['baseline_mib']:,.0f} MiB before the job started)")
    accounted = 0.0
    for label, seconds in job["stages"]:
        if seconds is None:
            print(f"  {label:<34}     n/a (not found in the analytics code)")
            continue
        print(f"  {label:<34}{seconds:8.2f} s")
        accounted += 0.0 if label.startswith(" ") else seconds
    print(f"  {'other (fill states, commits)':<34}{job['seconds'] - accounted:8.2f} s")
    print("  progress messages:")
    for at, message in job["messages"]:
        print(f"    {at:7.2f} s  {message}")
    summary = job["summary"]
    print(f"  result: {summary['cells_published']:,} cells published, {summary['cells_hidden']:,} hidden, "
          f"{summary['flags']:,} flags and watches, {summary['comments_released']:,} comments released")  # fmt: skip
    print(f"floor               {floor['seconds']:.2f} s wall (median of {_runs(floors)}; "
          f"{floor['read_seconds']:.2f} s COPY and read_csv), "
          f"{floor['groups']:,} (team, item) groups")  # fmt: skip
    print(f"floor peak RSS      {floor['peak_mib']:,.0f} MiB ({floor['baseline_mib']:,.0f} MiB before it started)")
    print(f"ratio job/floor     {ratio:.1f}")
    note = "" if respondents >= GOAL_RESPONDENTS else f" (the goal is for {GOAL_RESPONDENTS:,} respondents)"
    print(f"goal ratio <= {GOAL_RATIO:g}     {goal(ratio <= GOAL_RATIO)}")
    print(f"goal peak <= 2 GB    {goal(job['peak_mib'] <= GOAL_MIB)}")
    print(f"goal job <= {GOAL_SECONDS:g} s    {goal(job['seconds'] <= GOAL_SECONDS)}{note}")


if __name__ == "__main__":
    main()
