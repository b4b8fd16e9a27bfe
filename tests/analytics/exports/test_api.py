"""The exports API: POST /api/v1/exports/ starts a job (202), GET its status, GET its download;
HR only, requester only, errors as JSON naming the field."""

from __future__ import annotations

import pytest

from analytics.exports.models import ExportJob
from analytics.exports.services import EXPIRED_TEXT, export_jobs_expire
from surveys.models import AuditEvent
from tests.analytics.builders import K
from tests.analytics.exports.helpers import canonical_rows, door_cells, door_flags, read_export

pytestmark = pytest.mark.django_db
START = "/api/v1/exports/"


def post(client, django_capture_on_commit_callbacks, body):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(START, body, content_type="application/json")


def test_start_status_and_download(client, hr, world, django_capture_on_commit_callbacks):
    client.force_login(hr)
    response = post(client, django_capture_on_commit_callbacks, {"format": "csv"})
    assert response.status_code == 202, response.content
    job = ExportJob.objects.get()
    body = response.json()
    download_url = f"http://testserver/api/v1/exports/{job.pk}/download/"
    # Tests hold the request in a transaction, so the task runs after the response: queued.
    assert (body["id"], body["state"], body["progress"], body["download_url"]) == (job.pk, "queued", 0, None)
    assert (body["format"], body["cycle"]) == ("csv", None)
    assert set(body) == {"id", "format", "cycle", "state", "progress", "k", "created_at", "finished_at",
                         "expires_at", "error", "download_url"}  # fmt: skip

    status = client.get(f"{START}{job.pk}/")
    assert status.status_code == 200
    assert (status.json()["state"], status.json()["progress"], status.json()["k"]) == ("done", 100, [K])
    assert status.json()["download_url"] == download_url

    response = client.get(download_url)
    assert response.status_code == 200
    cells, flags = read_export(b"".join(response.streaming_content), "csv")
    assert canonical_rows(cells) == door_cells()
    assert list(zip(flags["cycle"], flags["unit_id"], flags["kind"], flags["test"], strict=True)) == door_flags()
    assert set(flags["severity"]) == {"flag"}
    assert [e.action for e in AuditEvent.objects.filter(action__startswith="export").order_by("pk")] == [
        "export_started",
        "export_downloaded",
    ]


def test_a_cycle_can_be_named(client, hr, world, django_capture_on_commit_callbacks):
    client.force_login(hr)
    response = post(client, django_capture_on_commit_callbacks, {"format": "parquet", "cycle": "2026-03"})
    assert response.status_code == 202 and response.json()["cycle"] == "2026-03"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"format": "pdf"}, "format: 'pdf' is not a format we export; choose one of csv, xlsx, parquet."),
        ({}, "format: choose one of csv, xlsx, parquet."),
        (
            {"format": "csv", "cycle": "2025-01"},
            "cycle: '2025-01' is not a published cycle; choose one of 2026-03, or leave it empty for all of them.",
        ),
    ],
)
def test_bad_input_is_json_naming_the_field_and_starts_nothing(
    client, hr, world, django_capture_on_commit_callbacks, body, detail
):
    client.force_login(hr)
    response = post(client, django_capture_on_commit_callbacks, body)
    assert response.status_code == 400
    assert response.json() == {"detail": detail}
    assert not ExportJob.objects.exists() and not AuditEvent.objects.filter(action="export_started").exists()


def test_hr_only_and_requester_only(client, hr, other_hr, engineer, world, django_capture_on_commit_callbacks):
    client.force_login(hr)
    post(client, django_capture_on_commit_callbacks, {"format": "xlsx"})
    job = ExportJob.objects.get()
    status_url, download_url = f"{START}{job.pk}/", f"{START}{job.pk}/download/"

    client.force_login(other_hr)
    for url in (status_url, download_url):
        response = client.get(url)
        assert response.status_code == 404 and response.json()["detail"].startswith("id: no such export of yours")

    client.force_login(engineer)
    assert post(client, django_capture_on_commit_callbacks, {"format": "csv"}).status_code == 404
    for url in (status_url, download_url):
        assert client.get(url).status_code == 404

    client.logout()
    assert post(client, django_capture_on_commit_callbacks, {"format": "csv"}).status_code in (401, 403)
    for url in (status_url, download_url):
        assert client.get(url).status_code in (401, 403)
    assert ExportJob.objects.count() == 1
    assert not AuditEvent.objects.filter(action="export_downloaded").exists()


def test_an_expired_export_is_gone(client, hr, world, django_capture_on_commit_callbacks):
    client.force_login(hr)
    post(client, django_capture_on_commit_callbacks, {"format": "csv"})
    job = ExportJob.objects.get()
    export_jobs_expire(now=job.expires_at)
    assert client.get(f"{START}{job.pk}/").json()["state"] == "expired"
    assert client.get(f"{START}{job.pk}/").json()["download_url"] is None
    response = client.get(f"{START}{job.pk}/download/")
    assert response.status_code == 410 and response.json() == {"detail": f"id: {EXPIRED_TEXT}"}


def test_the_schema_documents_every_status(client, hr, world):
    client.force_login(hr)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    if schema.status_code != 200:
        pytest.skip("the API's schema view is not mounted")
    paths = schema.json()["paths"] if schema["Content-Type"].startswith("application/json") else None
    if paths is None:
        import yaml

        paths = yaml.safe_load(schema.content)["paths"]
    # The views' own statuses, and those the framework answers on every operation
    # (analytics.api.docs: 406, 429; 413, 415 and the CSRF 403 where a body is sent).
    from analytics.api.docs import BODY_STATUSES, FRAMEWORK_STATUSES, UNSAFE_STATUSES

    framework = set(FRAMEWORK_STATUSES)
    sent = framework | set(BODY_STATUSES) | set(UNSAFE_STATUSES)
    assert set(paths["/api/v1/exports/"]["post"]["responses"]) == {"202", "400", "401", "404"} | sent
    downloaded = {"200", "401", "404", "409", "410"} | framework
    assert set(paths["/api/v1/exports/{job_id}/download/"]["get"]["responses"]) == downloaded
