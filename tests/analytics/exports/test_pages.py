"""HR's export pages: a job started from the form runs (eager Celery) and its file holds the door's
cells and only the flags that survived Benjamini-Hochberg; only HR sees the pages, only the
requester downloads, bad input names the field, an expired export says so (R6, R10)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from analytics.exports.models import ExportJob
from analytics.exports.services import EXPIRED_TEXT, export_jobs_expire
from surveys.models import AuditEvent
from tests.analytics.builders import K
from tests.analytics.exports.helpers import canonical_rows, door_cells, door_flags, read_export

pytestmark = pytest.mark.django_db
HOME = "/exports/"


def start(client, django_capture_on_commit_callbacks, **data):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(HOME, data)
    return response, callbacks


def download(client, job):
    response = client.get(reverse("exports:download", args=[job.pk]))
    assert response.status_code == 200, response.content
    return response, b"".join(response.streaming_content)


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
def test_an_export_started_on_the_page_holds_the_doors_cells_and_only_bh_flags(
    client, hr, world, django_capture_on_commit_callbacks, fmt
):
    client.force_login(hr)
    response, callbacks = start(client, django_capture_on_commit_callbacks, format=fmt, cycle="")
    assert response.status_code == 302 and response["Location"] == HOME
    assert len(callbacks) == 1  # the task is queued once the job is committed
    job = ExportJob.objects.get()
    assert (job.state, job.progress, job.requester, job.cycle, job.k_values) == ("done", 100, hr, None, [K])
    assert default_storage.exists(job.file.name)

    page = client.get(HOME)
    assert page.status_code == 200
    assert reverse("exports:download", args=[job.pk]) in page.content.decode()

    response, content = download(client, job)
    extension = "xlsx" if fmt == "xlsx" else "zip"
    assert response["Content-Disposition"] == f'attachment; filename="pilotpulse-all.{extension}"'
    cells, flags = read_export(content, fmt)
    assert canonical_rows(cells) == door_cells()
    assert job.rows == len(cells)
    got = list(zip(flags["cycle"], flags["unit_id"], flags["kind"], flags["test"], strict=True))
    assert got == door_flags() and ("psych_safety_low", world.org.id("Engineering/Alpha")) in {
        (kind, unit) for _, unit, kind, _ in got
    }
    assert set(flags["severity"]) == {"flag"}  # the "worth watching" result stayed in Alpha's report
    assert {int(k) for k in flags["k"]} == {int(k) for k in cells["k"]} == {K}  # k in every row (R3)

    # R10: one audit for the start and one for the download, naming format, cycle, k and job only.
    started = AuditEvent.objects.get(action="export_started")
    downloaded = AuditEvent.objects.get(action="export_downloaded")
    for event in (started, downloaded):
        assert event.actor == "hr@example.com"
        assert event.detail == {"job": job.pk, "format": fmt, "cycle": "all", "k": [K]}
    assert AuditEvent.objects.filter(action__startswith="export").count() == 2
    assert not AuditEvent.objects.filter(action="aggregates_exported").exists()  # no second audit per export


def test_one_cycle_and_its_status(client, hr, world, django_capture_on_commit_callbacks):
    client.force_login(hr)
    start(client, django_capture_on_commit_callbacks, format="xlsx", cycle=world.march.cycle.label)
    job = ExportJob.objects.get()
    assert job.cycle == world.march.cycle
    status = client.get(reverse("exports:status", args=[job.pk])).json()
    assert status == {
        "id": job.pk,
        "state": "done",
        "state_display": "Done",
        "progress": 100,
        "download_url": reverse("exports:download", args=[job.pk]),
    }
    assert AuditEvent.objects.get(action="export_started").detail["cycle"] == "2026-03"
    _, content = download(client, job)
    cells, _ = read_export(content, "xlsx")
    assert canonical_rows(cells) == door_cells([world.march.cycle])


def test_a_running_job_shows_a_progress_bar_and_polls_its_status(client, hr, world):
    job = ExportJob.objects.create(requester=hr, format="csv", state="running", progress=45)
    client.force_login(hr)
    page = client.get(HOME).content.decode()
    assert '<progress max="100" value="45"' in page and ">45%</progress>" in page
    assert f'data-export-status="{reverse("exports:status", args=[job.pk])}"' in page
    assert "js/exports.js" in page
    # Not done: nothing to download yet, and the download says why.
    response = client.get(reverse("exports:download", args=[job.pk]))
    assert response.status_code == 409 and "This export is running" in response.content.decode()
    assert not AuditEvent.objects.filter(action="export_downloaded").exists()


def test_only_hr_may_use_the_pages_and_only_the_requester_downloads(
    client, hr, other_hr, engineer, world, django_capture_on_commit_callbacks
):
    client.force_login(hr)
    start(client, django_capture_on_commit_callbacks, format="csv", cycle="")
    job = ExportJob.objects.get()
    urls = [HOME, reverse("exports:status", args=[job.pk]), reverse("exports:download", args=[job.pk])]

    client.force_login(other_hr)  # HR, but not the requester: the job does not exist for them
    assert client.get(HOME).status_code == 200
    assert reverse("exports:download", args=[job.pk]) not in client.get(HOME).content.decode()
    assert [client.get(url).status_code for url in urls[1:]] == [404, 404]

    client.force_login(engineer)
    assert [client.get(url).status_code for url in urls] == [404, 404, 404]
    assert client.post(HOME, {"format": "csv"}).status_code == 404

    client.logout()
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert ExportJob.objects.count() == 1
    assert not AuditEvent.objects.filter(action="export_downloaded").exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"format": "pdf", "cycle": ""}, "Format: pdf is not a format we export; choose CSV, Excel or Parquet."),
        ({"cycle": ""}, "Format: choose CSV, Excel or Parquet."),
        (
            {"format": "csv", "cycle": "2025-01"},
            "Cycle: 2025-01 is not a published cycle; choose one from the list, or All published cycles.",
        ),
    ],
)
def test_bad_input_gives_the_form_back_naming_the_field_and_starts_nothing(
    client, hr, world, django_capture_on_commit_callbacks, data, message
):
    client.force_login(hr)
    response, callbacks = start(client, django_capture_on_commit_callbacks, **data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode()
    assert not ExportJob.objects.exists() and not callbacks
    assert not AuditEvent.objects.filter(action="export_started").exists()


def test_nothing_published_yet_names_the_cycle(client, db, django_capture_on_commit_callbacks):
    from tests.factories import PersonFactory

    client.force_login(PersonFactory(email="hr@example.com", role="hr").user)
    response, _ = start(client, django_capture_on_commit_callbacks, format="csv", cycle="")
    assert response.status_code == 400
    assert "Cycle: no cycle has been closed and aggregated yet" in response.content.decode()
    assert not ExportJob.objects.exists()


def test_an_expired_export_is_deleted_from_storage_and_says_so(
    client, hr, world, media, django_capture_on_commit_callbacks
):
    client.force_login(hr)
    start(client, django_capture_on_commit_callbacks, format="parquet", cycle="")
    job = ExportJob.objects.get()
    stored = media / job.file.name
    assert stored.is_file() and job.expires_at == job.finished_at + dt.timedelta(hours=24)

    # Past its expiry the download refuses it even before the sweep has run.
    ExportJob.objects.filter(pk=job.pk).update(expires_at=job.finished_at)
    response = client.get(reverse("exports:download", args=[job.pk]))
    assert response.status_code == 410 and EXPIRED_TEXT in response.content.decode()

    assert export_jobs_expire() == 1
    assert export_jobs_expire() == 0  # a second sweep acts on nothing
    job.refresh_from_db()
    assert (job.state, job.file.name) == ("expired", "")
    assert not stored.exists() and not default_storage.exists(stored.relative_to(media).as_posix())
    response = client.get(reverse("exports:download", args=[job.pk]))
    assert response.status_code == 410 and EXPIRED_TEXT in response.content.decode()
    assert EXPIRED_TEXT in client.get(HOME).content.decode()
    assert not AuditEvent.objects.filter(action="export_downloaded").exists()
