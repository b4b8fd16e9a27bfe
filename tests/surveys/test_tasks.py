"""Celery: the beat schedule, idempotent tasks, and a real worker on Redis against PostgreSQL."""

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings
from django.db import connection
from django.utils import timezone

from surveys.models import Cycle, Invitation
from surveys.tasks import close_due_cycles_task, open_cycle_task, send_reminders_task
from tests.surveys.helpers import team_with_people

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_beat_runs_every_programme_job_on_a_schedule():
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert tasks == {
        "surveys.tasks.open_cycle_task",
        "surveys.tasks.send_reminders_task",
        "surveys.tasks.close_due_cycles_task",
        "analytics.job.tasks.aggregate_nightly_task",
        "analytics.exports.tasks.export_jobs_expire_task",
        "analytics.job.tasks.participation_count_task",
        "surveys.tasks.comments_release_due_task",
        "analytics.job.tasks.answers_purge_task",
        "config.heartbeat.heartbeat_task",
    }
    assert all(entry["options"]["expires"] > 0 for entry in settings.CELERY_BEAT_SCHEDULE.values())


def test_schedule_is_configurable_and_bad_values_are_explained(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from config.settings import env_crontab, env_int_list

    monkeypatch.setenv("PULSE_OPEN_CRON", "30 6 2 * *")
    schedule = env_crontab("PULSE_OPEN_CRON", "0 7 1 * *")
    assert schedule.minute == {30} and schedule.hour == {6} and schedule.day_of_month == {2}
    monkeypatch.setenv("PULSE_OPEN_CRON", "every month")
    with pytest.raises(ImproperlyConfigured, match="PULSE_OPEN_CRON must be a five-field cron expression"):
        env_crontab("PULSE_OPEN_CRON", "0 7 1 * *")
    monkeypatch.setenv("PULSE_REMINDER_DAYS", "3,five")
    with pytest.raises(ImproperlyConfigured, match="PULSE_REMINDER_DAYS must be whole numbers"):
        env_int_list("PULSE_REMINDER_DAYS", "3,5")


def test_task_options_make_redelivery_safe():
    for task in (open_cycle_task, send_reminders_task, close_due_cycles_task):
        assert task.acks_late and task.reject_on_worker_lost
        assert task.time_limit and task.soft_time_limit
        assert ValueError not in task.autoretry_for  # programming errors are not retried


@pytest.mark.django_db
def test_running_each_task_twice_acts_once(mailoutbox):
    team_with_people("Core", 5)
    assert "5 links e-mailed" in open_cycle_task.delay().get()
    assert "0 links e-mailed" in open_cycle_task.delay().get()
    assert Invitation.objects.count() == 5 and len(mailoutbox) == 5
    cycle = Cycle.objects.get()
    Cycle.objects.filter(pk=cycle.pk).update(opened_on=timezone.localdate() - dt.timedelta(days=3))
    assert send_reminders_task.delay().get() == 5
    assert send_reminders_task.delay().get() == 0
    Cycle.objects.filter(pk=cycle.pk).update(closes_on=timezone.localdate() - dt.timedelta(days=1))
    assert close_due_cycles_task.delay().get() == [cycle.label]
    assert close_due_cycles_task.delay().get() == []


def test_open_cycle_task_reports_instead_of_retrying_when_last_month_is_open(db):
    team_with_people("Core", 5)
    from surveys.services.cycles import cycle_open

    cycle_open(month=dt.date(2020, 1, 1), today=dt.date(2020, 1, 1), send_mail=False)
    assert "2020-01 cycle is still open" in open_cycle_task.delay().get()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_runs_the_tasks_through_redis(require_postgres, redis_url, tmp_path):
    """Starts `celery worker` as its own process on the Redis broker and the test database."""
    team_with_people("Core", 6)
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    }
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(  # noqa: S603 - fixed arguments
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--concurrency=1",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-Q", "celery", "-n", f"test-{os.getpid()}@%h"],
        cwd=PROJECT_ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    client = Celery(broker=redis_url, backend=redis_url)
    try:
        client.control.purge()
        result = client.send_task("surveys.tasks.open_cycle_task")
        assert "6 links e-mailed" in result.get(timeout=60)
        assert Invitation.objects.filter(mailed=True).count() == 6
        again = client.send_task("surveys.tasks.open_cycle_task").get(timeout=60)
        assert "0 links e-mailed" in again
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        time.sleep(0.1)
    assert Cycle.objects.filter(status="open").count() == 1, log.read_text()[-2000:]


@pytest.mark.django_db
def test_the_daily_task_invites_people_who_joined_after_the_cycle_opened(mailoutbox):
    team = team_with_people("Core", 5)
    open_cycle_task.delay().get()
    from surveys.models import Person

    Person.objects.create(email="joiner@example.com", name="Joiner", team=team)
    mailoutbox.clear()
    send_reminders_task.delay().get()
    send_reminders_task.delay().get()
    assert [m.to for m in mailoutbox] == [["joiner@example.com"]]
    assert Invitation.objects.filter(person__email="joiner@example.com", status="pending").exists()
