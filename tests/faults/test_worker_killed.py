"""A worker killed in the middle of aggregation: the rerun gives results identical to an
undisturbed run.

One closed cycle is seeded into a throwaway database, which is then copied (CREATE DATABASE ...
TEMPLATE), so both hold the very same rows and ids. The copy is aggregated by a real worker
undisturbed. On the original, the test holds a lock on the table a stage writes, so the worker is
caught inside that stage (its fill-state row "started", its run "running"); the worker's whole
process group is SIGKILLed there, as when a container is killed. The nightly catch-up (what beat
sends at 02:30) then reruns it on a fresh worker, and every analytics row must equal the copy's.

No test hook in the product: the stage is held by an ordinary PostgreSQL lock, on the table the
stage writes, or for the flags stage (whose table the cells stage clears too) on one row: the
test inserts, uncommitted, a flag with the key the undisturbed run produced, so the worker's own
insert of that flag waits on the test's transaction while the cells stage's delete, which cannot
see an uncommitted row, goes by.
"""

from __future__ import annotations

import pytest

from tests.faults.services import (
    PgServer,
    PrivateRedis,
    ProcessGroup,
    app_env,
    celery_client,
    results_snapshot,
    seed,
    wait_for_workers,
    wait_until,
    worker_argv,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

# The stage to kill the worker in -> the table whose lock holds it there: the first stage (nothing
# of the run committed yet), the middle one (cells committed, flags not) and the last one (cells
# and flags committed, comments not). None: held by a row, see the module's docstring.
STAGES = {"cells": "analytics_metriccell", "flags": None, "comments": "analytics_releasedcomment"}
FLAG_KEY = "SELECT cycle_id, unit_id, kind, test FROM analytics_flag ORDER BY id LIMIT 1"
FLAG_HOLDER = (
    "INSERT INTO analytics_flag (cycle_id, unit_id, kind, test, metric, severity, p_value, numbers, method, "
    "explanation, actions) VALUES (%s, %s, %s, %s, '', 'watch', NULL, '{}', '', '', '[]')"
)


def _run(server: PgServer, name: str) -> tuple[str, str]:
    rows = server.query(name, "SELECT state, stage FROM analytics_aggregationrun")
    return rows[0] if rows else ("", "")


def _stage(server: PgServer, name: str, stage: str) -> str:
    return server.scalar(name, "SELECT state FROM analytics_aggregationstage WHERE stage = %s", (stage,)) or ""


@pytest.mark.parametrize("stage", list(STAGES))
def test_a_worker_killed_mid_aggregation_reruns_to_the_undisturbed_results(
    stage: str, pg_server: PgServer, fresh_db: str, private_redis: PrivateRedis, processes: ProcessGroup
):
    # Closing queues the aggregation on Redis database 9, which no worker here reads.
    seeded = seed(app_env(database_url=pg_server.url(fresh_db), redis_url=private_redis.url(9)),
                  "--open", "--submit", "--close", "--flagged")  # fmt: skip
    cycle_id = seeded["cycle_id"]
    undisturbed = pg_server.create("undisturbed", template=fresh_db)
    try:
        # The undisturbed run, on the copy.
        env_b = app_env(database_url=pg_server.url(undisturbed), redis_url=private_redis.url(1))
        client_b = celery_client(private_redis.url(1))
        worker_b = processes.start("worker-undisturbed", worker_argv("undisturbed"), env_b)
        wait_for_workers(client_b, worker_b)
        summary = client_b.send_task("analytics.job.tasks.aggregate_cycle_task", args=[cycle_id]).get(timeout=90)
        assert summary["cells_published"] > 0 and summary["comments_released"] > 0, summary
        flag_key = pg_server.query(undisturbed, FLAG_KEY)
        assert flag_key, "the seeded cycle should raise at least one flag"
        worker_b.stop()
        expected = results_snapshot(pg_server, undisturbed)
        assert _run(pg_server, undisturbed) == ("done", "")

        # The disturbed run: held inside the stage by a lock the test takes first.
        env_a = app_env(database_url=pg_server.url(fresh_db), redis_url=private_redis.url(0))
        client_a = celery_client(private_redis.url(0))
        holder = pg_server.connect(fresh_db, autocommit=False)
        try:
            table = STAGES[stage]
            if table is None:
                holder.execute(FLAG_HOLDER, flag_key[0])
            else:
                holder.execute(f'LOCK TABLE "{table}" IN ACCESS EXCLUSIVE MODE')
            worker_a = processes.start(f"worker-killed-in-{stage}", worker_argv("killed"), env_a)
            wait_for_workers(client_a, worker_a)
            client_a.send_task("analytics.job.tasks.aggregate_cycle_task", args=[cycle_id])
            wait_until(
                lambda: (
                    _stage(pg_server, fresh_db, stage) == "started"
                    and pg_server.scalar(
                        fresh_db,
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock'",
                    )
                ),
                timeout=60,
                what=f"the worker to be held inside the {stage} stage",
            )
            assert _run(pg_server, fresh_db)[0] == "running"
            worker_a.kill9()
            assert not worker_a.alive()
            # The killed worker's server process would notice only once unblocked; end it now.
            pg_server.query(
                fresh_db,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'",
            )
        finally:
            holder.rollback()
            holder.close()
        assert _stage(pg_server, fresh_db, stage) == "started"  # what the rerun must notice
        assert _run(pg_server, fresh_db)[0] == "running"  # nobody was left to record the death

        # The killed run's lock is still in Redis (cache.add with LOCK_SECONDS = 30 min): a rerun
        # before it lapses is retried with backoff (AggregationBusy). Let it lapse now.
        lock_keys = list(private_redis.client(0).scan_iter(match="*aggregate-cycle-*"))
        assert lock_keys, "the killed run's lock should still be held"
        for key in lock_keys:
            assert private_redis.client(0).ttl(key) > 60
            private_redis.client(0).delete(key)

        rerun = processes.start("worker-rerun", worker_argv("rerun"), env_a)
        wait_for_workers(client_a, rerun, count=1)
        queued = client_a.send_task("analytics.job.tasks.aggregate_nightly_task").get(timeout=60)
        assert len(queued) == 1, queued  # the interrupted cycle, found by its unfinished stage
        wait_until(lambda: _run(pg_server, fresh_db) == ("done", ""), timeout=90,
                   what="the rerun to finish", interval=0.3)  # fmt: skip
        actual = results_snapshot(pg_server, fresh_db)
        assert set(actual) == set(expected)
        for table, rows in expected.items():
            assert actual[table] == rows, f"{table} differs after the rerun\n{processes.logs()}"
        assert "redoing interrupted stage" in rerun.log.read_text(), rerun.tail()
    finally:
        pg_server.drop(undisturbed)
