"""Size limits stated as numbers (config/request_limits.py): a body over PULSE_MAX_REQUEST_BYTES is
refused with 413 before anything reads it, a form with too many fields with 400, each with a page
(or JSON under /api/) that says the limit; on the survey nothing is stored and the link works."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from config.request_limits import limit_label
from surveys.anonymous.models import Response
from surveys.models import Invitation, Person
from surveys.services.cycles import cycle_open
from tests.factories import PersonFactory
from tests.surveys.helpers import FULL_ANSWERS, team_with_people

pytestmark = pytest.mark.django_db


@pytest.fixture
def token() -> str:
    team_with_people("Core", 6)
    return cycle_open(send_mail=False).links[0].token


def survey_url(token: str) -> str:
    return reverse("survey", kwargs={"token": token})


def test_the_limits_are_three_megabytes_and_a_thousand_fields():
    from config import settings as configured

    assert configured.PULSE_MAX_REQUEST_BYTES == configured.DATA_UPLOAD_MAX_MEMORY_SIZE == 3 * 1024 * 1024
    assert configured.DATA_UPLOAD_MAX_NUMBER_FIELDS == 1000
    assert limit_label(configured.PULSE_MAX_REQUEST_BYTES) == "3 MB"
    assert [limit_label(size) for size in (1536 * 1024, 4096, 100)] == ["1.5 MB", "4 KB", "100 bytes"]


def test_an_oversized_survey_post_is_refused_and_the_link_still_works(client, token, settings):
    settings.PULSE_MAX_REQUEST_BYTES = 4096
    page = client.post(survey_url(token), {**FULL_ANSWERS, "c1": "x" * 5000, "action": "submit"})
    html = page.content.decode()
    assert page.status_code == 413
    assert "the request is larger than 4 KB" in html
    assert "Nothing was stored" in html and "your link still works" in html
    assert Response.objects.count() == 0 and not Invitation.objects.filter(status="answered").exists()
    assert client.post(survey_url(token), {**FULL_ANSWERS, "action": "submit"}).status_code == 302
    assert Response.objects.count() == 1


def test_the_refusal_states_the_limit_in_megabytes(client, token):
    body = "x" * (3 * 1024 * 1024 + 1)
    page = client.post(survey_url(token), body, content_type="text/plain")
    assert page.status_code == 413
    assert "the request is larger than 3 MB, the most one request may carry" in page.content.decode()


def test_too_many_fields_is_a_400_page_that_says_how_many(client, token):
    fields = {f"extra{i}": "1" for i in range(1001)}
    page = client.post(survey_url(token), {**FULL_ANSWERS, **fields, "action": "submit"})
    assert page.status_code == 400
    html = page.content.decode()
    assert "the form sent more than 1,000 fields" in html and "your link still works" in html
    assert Response.objects.count() == 0


def test_a_content_length_that_is_not_a_number_is_a_400(client, token):
    page = client.post(survey_url(token), FULL_ANSWERS, CONTENT_LENGTH="lots")
    assert page.status_code == 400 and "Content-Length is not a number" in page.content.decode()


def test_an_oversized_roster_upload_is_refused_before_it_is_read(client):
    client.force_login(PersonFactory(role="hr").user)
    people_before = Person.objects.count()
    upload = SimpleUploadedFile("roster.csv", b"email,name,team,role\n" + b"x" * (3 * 1024 * 1024), "text/csv")
    page = client.post(reverse("programme:roster"), {"file": upload})
    assert page.status_code == 413
    assert "send a smaller file (a roster of at most 2 MB)" in page.content.decode()
    assert Person.objects.count() == people_before


def test_the_api_answers_an_oversized_body_in_json(client):
    response = client.post(
        "/api/v1/actions/", "x" * (3 * 1024 * 1024 + 1), content_type="application/json", HTTP_AUTHORIZATION="Token x"
    )
    assert response.status_code == 413
    assert response.json() == {
        "detail": "body: the request is larger than 3 MB, the most one request may carry; send a smaller file "
        "(a roster of at most 2 MB) or shorter text"
    }


def test_a_bad_content_length_on_an_api_read_is_a_documented_json_400(client):
    response = client.get("/api/v1/actions/", CONTENT_LENGTH="lots")
    assert response.status_code == 400
    assert response.json() == {"detail": "body: its Content-Length is not a number; send the request again"}
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path in ("/api/v1/actions/", "/api/v1/exports/{job_id}/", "/api/v1/exports/{job_id}/download/"):
        assert "400" in schema["paths"][path]["get"]["responses"], path
