"""Aggregation on Celery: closing queues it, the nightly run catches up, and the fan-out over real
workers gives the same numbers as one process."""

from __future__ import annotations

import datetime as dt
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import Celery
from celery.exceptions import Retry
from django.conf import settings
from django.db import connection

from analytics.job.run import AggregationBusy, aggregate_cycle, cycle_lock, fanout_team_groups, organisation_tree
from analytics.job.tasks import (
    AGGREGATION_TASK_OPTIONS,
    aggregate_cycle_task,
    aggregate_nightly_task,
    cycle_partials_task,
    merge_and_aggregate_task,
)
from analytics.models import AggregationStage, CellHistogram, Flag, ItemDistribution, MetricCell, ReleasedComment
from surveys.closing import cycle_close
from surveys.models import Cycle, Team
from surveys.services.cycles import cycle_open
from surveys.services.thresholds import cycle_k_raise
from surveys.submission import response_submit
from tests.surveys.helpers import team_with_people

PROJECT_ROOT = Path(__file__).resolve().parents[2]
OCT = dt.date(2026, 10, 1)


def varied_answers(rng: random.Random) -> dict[str, object]:
    """A plausible response; varied so that sums, histograms and bins are not all alike."""
    likert = {key: str(rng.randint(1, 7)) for key in ("ps1", "ps2", "ps3", "ps4", "ps5", "ps6", "ps7", "voice1")}
    answers: dict[str, object] = {**likert, "press1": str(rng.randint(1, 7)), "mgr1": str(rng.randint(1, 7))}
    use = rng.choice(["1", "2", "3", "4", "5"])
    answers.update(use1=use, ws1=rng.choice(["1", "2", "3", "4"]))
    if use != "1":
        answers.update(trust1=str(rng.randint(1, 5)), speed1=rng.choice(["0.5", "0.75", "1", "1.25"]))
        answers.update({key: str(rng.randint(1, 7)) for key in ("ag1", "ag2", "ag3", "ag4", "op1", "op2")})
    if answers["ws1"] != "1":
        answers.update(ws2=rng.choice(["0.5", "1.5", "3.5"]), ws3=[rng.choice(["teammates", "leaders", "other_teams"])])
    if rng.random() < 0.3:
        answers["c1"] = rng.choice(["More review time.", "Fewer AI-written specs.", "Pairing helps."])
    return answers


def closed_cycle_with_three_departments(seed: int = 3) -> Cycle:
    """Three top-level units (two departments and a lone team), 46 people, most of them answering."""
    rng = random.Random(seed)
    for department, sizes in (("Engineering", (7, 9, 4)), ("Product", (6, 8))):
        parent = Team.objects.create(name=department)
        for number, size in enumerate(sizes):
            team_with_people(f"{department} {number}", size, parent=parent)
    team_with_people("People", 12)
    opened = cycle_open(month=OCT, today=OCT, send_mail=False)
    for link in opened.links:
        if rng.random() < 0.85:
            response_submit(token=link.token, raw_answers=varied_answers(rng))
    return cycle_close(cycle=opened.cycle, today=dt.date(2026, 10, 15)).cycle


def _significant(value: object) -> object:
    # Sums of squares of team partials can differ in the 16th digit depending on which other
    # teams share pandas' groupby call; 12 significant digits is far beyond any figure shown.
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, tuple):
        return tuple(_significant(part) for part in value)
    return value


def stored_results(cycle: Cycle) -> dict[str, list[tuple[object, ...]]]:
    """Every aggregate row of the cycle, without surrogate ids, in a fixed order (floats to 12
    significant digits)."""
    results = {
        "cells": sorted(
            MetricCell.objects.filter(cycle=cycle).values_list(
                "unit_id", "metric", "published", "hidden_because", "n", "value", "ci_low", "ci_high", "extra"
            ),
            key=str,
        ),
        "distributions": sorted(
            ItemDistribution.objects.filter(cycle=cycle).values_list(
                "unit_id", "item", "unfavourable", "neutral", "favourable"
            ),
            key=str,
        ),
        "histograms": sorted(
            CellHistogram.objects.filter(cycle=cycle).values_list("unit_id", "variable", "counts"), key=str
        ),
        "flags": sorted(
            Flag.objects.filter(cycle=cycle).values_list("unit_id", "kind", "test", "severity", "p_value", "numbers"),
            key=str,
        ),
        "comments": sorted(ReleasedComment.objects.filter(cycle=cycle).values_list("unit_id", "position", "text")),
    }
    return {name: [_significant(row) for row in rows] for name, rows in results.items()}


def test_task_options_make_redelivery_safe_and_retry_only_what_may_pass():
    for task in (aggregate_cycle_task, cycle_partials_task, merge_and_aggregate_task, aggregate_nightly_task):
        assert task.acks_late and task.reject_on_worker_lost
        assert task.soft_time_limit < task.time_limit
    retried = AGGREGATION_TASK_OPTIONS["autoretry_for"]
    assert AggregationBusy in retried
    assert not any(issubclass(ValueError, error) for error in retried)  # a bug is not retried


def test_beat_runs_the_aggregation_nightly():
    entry = settings.CELERY_BEAT_SCHEDULE["aggregate-nightly"]
    assert entry["task"] == "analytics.job.tasks.aggregate_nightly_task"
    assert aggregate_nightly_task.name == entry["task"]


@pytest.mark.django_db
def test_closing_a_cycle_queues_its_aggregation_after_the_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        cycle = closed_cycle_with_three_departments()
    assert not MetricCell.objects.exists()  # nothing ran inside the closing transaction
    for callback in callbacks:
        callback()  # eager Celery: runs the task here
    assert MetricCell.objects.filter(cycle=cycle).exists()
    assert set(AggregationStage.objects.filter(cycle=cycle).values_list("state", flat=True)) == {"done"}


@pytest.mark.django_db
def test_the_task_skips_an_open_or_missing_cycle_without_retrying():
    team_with_people("Core", 6)
    opened = cycle_open(month=OCT, today=OCT, send_mail=False)
    assert aggregate_cycle_task.apply(args=[opened.cycle.pk]).get()["skipped"] == "no such closed cycle"
    assert aggregate_cycle_task.apply(args=[999_999]).get()["skipped"] == "no such closed cycle"
    assert not MetricCell.objects.exists()


@pytest.mark.django_db
def test_a_locked_cycle_is_retried_later_not_failed():
    cycle = closed_cycle_with_three_departments()
    with cycle_lock(cycle.pk), pytest.raises(Retry, match="AggregationBusy"):
        # Eager Celery propagates the retry it asks for: later, with backoff, not now and not twice.
        aggregate_cycle_task.apply(args=[cycle.pk])
    assert not MetricCell.objects.filter(cycle=cycle).exists()


@pytest.mark.django_db
def test_nightly_run_aggregates_unfinished_cycles_and_nothing_else():
    cycle = closed_cycle_with_three_departments()
    assert aggregate_nightly_task.apply().get() == [cycle.label]
    assert set(AggregationStage.objects.filter(cycle=cycle).values_list("state", flat=True)) == {"done"}
    assert aggregate_nightly_task.apply().get() == []  # everything current: nothing to do


@pytest.mark.django_db
def test_raising_k_after_close_withholds_the_cycle_until_it_is_aggregated_again(django_capture_on_commit_callbacks):
    from analytics.published import aggregated_cycles, organisation_flags

    cycle = closed_cycle_with_three_departments()
    aggregate_cycle(cycle=cycle)
    assert aggregated_cycles() == [cycle]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        cycle = cycle_k_raise(cycle=cycle, k=9, actor="hr@example.com")  # as the admin does
    # Stored decisions were made under k = 5: nothing of the cycle is served, flags included.
    assert aggregated_cycles() == [] and organisation_flags(cycle=cycle) == []
    assert len(callbacks) == 1
    callbacks[0]()  # on commit: cycle_k_raised, whose receiver queues the catch-up (eager here)
    assert aggregated_cycles() == [cycle]
    assert not MetricCell.objects.filter(cycle=cycle, published=True, n__lt=9).exists()


@pytest.mark.django_db
def test_raising_k_of_an_open_cycle_queues_nothing(django_capture_on_commit_callbacks, monkeypatch):
    team_with_people("Core", 6)
    opened = cycle_open(month=OCT, today=OCT, send_mail=False)
    queued = []
    monkeypatch.setattr(aggregate_nightly_task, "delay", lambda *args, **kwargs: queued.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        cycle_k_raise(cycle=opened.cycle, k=7, actor="hr@example.com")
    assert queued == []  # nothing is stored before close; the close aggregates under k = 7


@pytest.mark.django_db
def test_saving_a_closed_cycle_for_another_reason_queues_nothing(django_capture_on_commit_callbacks, monkeypatch):
    """The generic post_save receiver is gone: only a raise through the service re-runs disclosure."""
    cycle = closed_cycle_with_three_departments()
    queued = []
    monkeypatch.setattr(aggregate_nightly_task, "delay", lambda *args, **kwargs: queued.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        cycle.closes_on = cycle.closes_on + dt.timedelta(days=1)
        cycle.save()
    assert queued == []


@pytest.mark.django_db
def test_a_broker_down_when_k_is_raised_does_not_undo_the_raise(django_capture_on_commit_callbacks, monkeypatch):
    cycle = closed_cycle_with_three_departments()

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(aggregate_nightly_task, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        cycle_k_raise(cycle=cycle, k=8, actor="hr@example.com")  # logged, not raised
    cycle.refresh_from_db()
    assert cycle.k == 8
    assert aggregate_nightly_task.apply().get() == [cycle.label]  # the nightly run still finds it


@pytest.mark.django_db
def test_a_rerun_keeps_the_tree_the_cycle_closed_with(settings):
    """R6: moving a team after close must not give a second, subtractable set of numbers."""
    cycle = closed_cycle_with_three_departments()
    aggregate_cycle(cycle=cycle)
    before = stored_results(cycle)
    moved = Team.objects.get(name="Engineering 2")
    moved.parent = Team.objects.get(name="Product")
    moved.save()
    Team.objects.filter(name="People").update(name="People and Culture")
    aggregate_cycle(cycle=cycle)
    assert stored_results(cycle) == before


@pytest.mark.django_db
def test_fan_out_in_process_gives_the_same_rows_as_one_process(settings):
    cycle = closed_cycle_with_three_departments()
    aggregate_cycle(cycle=cycle)
    one_process = stored_results(cycle)
    settings.PULSE_AGGREGATION_FANOUT_TEAMS = 0
    groups = fanout_team_groups(organisation_tree(), min_teams=0)
    assert groups is not None and len(groups) == 3
    summary = aggregate_cycle_task.apply(args=[cycle.pk]).get()
    assert summary["fanned_out"] == 3
    assert stored_results(cycle) == one_process


def test_small_organisations_are_not_fanned_out():
    from analytics.core.tree import UnitTree

    tree = UnitTree.from_teams([("a", "A", None), ("b", "B", None), ("c", "C", "a")], "Org")
    assert fanout_team_groups(tree, min_teams=10) is None
    assert fanout_team_groups(UnitTree.from_teams([("a", "A", None)], "Org"), min_teams=0) is None  # one unit
    assert fanout_team_groups(tree, min_teams=3) == [["a", "c"], ["b"]]


def start_worker(name: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - fixed arguments
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--concurrency=1",
         "--prefetch-multiplier=1", "--without-gossip", "--without-mingle", "-Q", "celery", "-n", name],
        cwd=PROJECT_ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_real_workers_on_redis_give_the_numbers_of_one_process(require_postgres, redis_url, tmp_path):
    """Two `celery worker` processes share the chord; the merged result equals the in-process one."""
    cycle = closed_cycle_with_three_departments()
    aggregate_cycle(cycle=cycle)
    one_process = stored_results(cycle)

    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": redis_url,
        "PULSE_AGGREGATION_FANOUT_TEAMS": "0",
    }
    suffix = os.getpid()
    names = [f"agg-a-{suffix}@%h", f"agg-b-{suffix}@%h"]
    workers = [start_worker(name, env, tmp_path / f"worker{i}.log") for i, name in enumerate(names)]
    # Not the current app: shared tasks called later in this process (eagerly, by other tests)
    # would otherwise be sent to this broker, where no worker is left to run them.
    client = Celery(broker=redis_url, backend=redis_url, set_as_current=False)
    try:
        client.control.purge()
        deadline = time.monotonic() + 60
        replies: list[dict[str, object]] = []
        while time.monotonic() < deadline and len(replies) < 2:
            replies = client.control.ping(timeout=1.0) or []
        assert len(replies) >= 2, "both workers should answer a ping before work is queued"
        started = client.send_task("analytics.job.tasks.aggregate_cycle_task", args=[cycle.pk]).get(timeout=120)
        assert started["fanned_out"] == 3
        summary = client.AsyncResult(started["result_id"]).get(timeout=180)
    finally:
        stop(workers)
    logs = "\n".join((tmp_path / f"worker{i}.log").read_text()[-1500:] for i in range(2))
    assert len(summary["partials_from"]) == 2, logs  # the chord's header really was shared
    assert stored_results(cycle) == one_process, logs
