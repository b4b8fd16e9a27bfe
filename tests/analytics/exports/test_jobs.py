"""The export task: progress per cycle up to 100, a redelivered task acts once, a failure is
shown to the requester without its words, the sweep is a periodic task with `expires`."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.core.files.storage import default_storage

from analytics.exports import services
from analytics.exports.models import ExportJob
from analytics.exports.services import FAILED_TEXT, export_job_start
from analytics.exports.tasks import export_jobs_expire_task, export_task
from analytics.job.run import aggregate_cycle
from surveys.models import AuditEvent, Cycle
from tests.analytics.builders import K, cycle_run, standard_answers

pytestmark = pytest.mark.django_db


def started(user, django_capture_on_commit_callbacks, fmt="csv", cycle=None):
    with django_capture_on_commit_callbacks(execute=True):
        job = export_job_start(requester=user, fmt=fmt, cycle_label=cycle)
    job.refresh_from_db()
    return job


def test_progress_moves_per_cycle_and_reaches_100(hr, world, django_capture_on_commit_callbacks, monkeypatch):
    april = cycle_run(world.org, standard_answers(world.org, label="apr"), month=dt.date(2026, 4, 1)).cycle
    aggregate_cycle(cycle=april)
    seen: list[int] = []
    read = services.tables_read

    def spying(cycles, *, progress):
        def record(done, total):
            progress(done, total)
            seen.append(ExportJob.objects.get().progress)

        return read(cycles, progress=record)

    monkeypatch.setattr(services, "tables_read", spying)
    job = started(hr, django_capture_on_commit_callbacks)
    assert seen == [45, 90]
    assert (job.state, job.progress) == ("done", 100)


def test_a_redelivered_task_for_a_done_job_changes_nothing(hr, world, media, django_capture_on_commit_callbacks):
    job = started(hr, django_capture_on_commit_callbacks)
    files = sorted(p for p in media.rglob("*") if p.is_file())
    before = ExportJob.objects.filter(pk=job.pk).values().get()
    result = export_task.apply(args=[job.pk]).get()
    assert result == {"job": job.pk, "state": "done", "rows": job.rows}
    assert ExportJob.objects.filter(pk=job.pk).values().get() == before
    assert sorted(p for p in media.rglob("*") if p.is_file()) == files
    assert AuditEvent.objects.filter(action__startswith="export").count() == 1
    assert export_task.apply(args=[job.pk + 1000]).get()["skipped"] == "no such export job"


def test_a_job_left_running_by_a_lost_worker_is_written_again(hr, world, django_capture_on_commit_callbacks):
    job = started(hr, django_capture_on_commit_callbacks)
    ExportJob.objects.filter(pk=job.pk).update(state="running", progress=45)
    old = job.file.name
    export_task.apply(args=[job.pk]).get()
    job.refresh_from_db()
    assert (job.state, job.progress) == ("done", 100)
    assert default_storage.exists(job.file.name) and job.file.name != old


def test_a_failure_marks_the_job_failed_without_its_words(hr, world, django_capture_on_commit_callbacks, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret detail 4.25")

    monkeypatch.setattr(services, "tables_write", broken)
    with pytest.raises(RuntimeError):
        started(hr, django_capture_on_commit_callbacks)
    job = ExportJob.objects.get()
    assert (job.state, job.error) == ("failed", FAILED_TEXT)
    assert not job.file.name


def test_a_cycle_no_longer_served_when_the_job_runs_fails_it_with_the_reason(
    hr, world, django_capture_on_commit_callbacks, monkeypatch
):
    # k raised between the start and the run: the cycle is not served until it is aggregated again.
    monkeypatch.setattr("analytics.exports.services.transaction.on_commit", lambda callback: None)
    job = export_job_start(requester=hr, fmt="csv", cycle_label="2026-03")
    assert AuditEvent.objects.get(action="export_started").detail["k"] == [K]
    Cycle.objects.filter(pk=world.march.cycle.pk).update(k=K + 1)
    export_task.apply(args=[job.pk]).get()
    job.refresh_from_db()
    assert job.state == "failed" and "2026-03 cycle is not published while it is aggregated again" in job.error


def test_the_sweep_is_a_periodic_task_with_expires(hr, world, django_capture_on_commit_callbacks):
    entry = settings.CELERY_BEAT_SCHEDULE["expire-exports"]
    assert entry["task"] == export_jobs_expire_task.name and entry["options"]["expires"] > 0
    job = started(hr, django_capture_on_commit_callbacks)
    assert export_jobs_expire_task.apply().get() == 0  # not yet expired
    ExportJob.objects.filter(pk=job.pk).update(expires_at=job.finished_at)
    assert export_jobs_expire_task.apply().get() == 1
    assert export_jobs_expire_task.apply().get() == 0  # run twice, acted once


def test_the_ttl_comes_from_settings(hr, world, settings, django_capture_on_commit_callbacks):
    settings.PULSE_EXPORT_TTL_HOURS = 2
    job = started(hr, django_capture_on_commit_callbacks)
    assert job.expires_at - job.finished_at == dt.timedelta(hours=2)
