"""The roster API: a dry-run preview and its all-or-nothing apply, HR only, the same import,
checks, messages and audit as the browser upload (tests/surveys/test_programme_roster.py)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client
from knox.models import AuthToken

from surveys.models import AuditEvent, Invitation, Person, Team
from surveys.programme import roster_forms
from surveys.roster import roster_fingerprint, roster_import, roster_parse
from surveys.services import roster_apply
from surveys.services.cycles import cycle_open
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db

PREVIEW = "/api/v1/programme/roster/preview/"
APPLY = "/api/v1/programme/roster/apply/"
HEADER = "email,name,team,role,manages\n"
START = HEADER + (
    "ana@example.com,Ana,Engineering/Platform/Core,engineer,\n"
    "bo@example.com,Bo,Engineering/Platform/Core,engineer,\n"
    "di@example.com,Di,Engineering/Platform/Edge,engineer,\n"
    "hr@example.com,Hera,People,hr,\n"
)
CHANGED = HEADER + (
    "ana@example.com,Ana,Engineering/Platform/Edge,engineer,\n"  # mover
    "bo@example.com,Bo,Engineering/Platform/Core,manager,\n"  # role change
    "hr@example.com,Hera,People,hr,\n"
    "new@example.com,Nia,Research/Lab,engineer,\n"  # joiner, two new teams
    "head@example.com,Hed,Engineering,engineer,\n"  # sits directly on a unit with sub-teams (R5)
)  # di@ is missing: a leaver when deactivating
BAD_ROW = CHANGED + "x@example.com,X,Eng/A,wizard,\n"  # line 7


def token_client(user) -> Client:
    _, token = AuthToken.objects.create(user=user)
    return Client(HTTP_AUTHORIZATION=f"Token {token}")


@pytest.fixture
def hr():
    roster_import(rows=roster_parse(START), invite=False)
    return token_client(Person.objects.get(email="hr@example.com").user)


def roster_state():
    return sorted(
        (p.email, p.name, p.team.path, p.role, p.is_active, tuple(sorted(t.path for t in p.managed_teams.all())))
        for p in Person.objects.select_related("team")
    ), sorted(t.path for t in Team.objects.all())


def post_json(client: Client, url: str, body) -> object:
    return client.post(url, body, content_type="application/json")


def preview(client: Client, text: str, **extra) -> object:
    return post_json(client, PREVIEW, {"csv": text, **extra})


def changes(body, name):
    return [(c["email"], c["before"], c["after"]) for c in body[name]]


# --- preview -------------------------------------------------------------------------------------


def test_the_preview_is_a_dry_run_with_every_change_the_r5_warning_and_a_fingerprint(hr, mailoutbox):
    cycle_open(send_mail=False)
    before, events = roster_state(), AuditEvent.objects.count()
    response = preview(hr, CHANGED, deactivate_missing=True)
    assert response.status_code == 200
    body = response.json()
    assert body["fingerprint"] == roster_fingerprint()
    assert (body["rows"], body["deactivate_missing"]) == (5, True)
    assert changes(body, "joiners") == [
        ("new@example.com", "", "Research/Lab (engineer)"),
        ("head@example.com", "", "Engineering (engineer)"),
    ]
    assert changes(body, "movers") == [("ana@example.com", "Engineering/Platform/Core", "Engineering/Platform/Edge")]
    assert changes(body, "role_changes") == [("bo@example.com", "engineer", "manager")]
    assert changes(body, "leavers") == [("di@example.com", "Engineering/Platform/Edge", "")]
    assert body["teams_created"] == ["Research", "Research/Lab"]
    assert any("directly on Engineering, which has sub-teams" in warning for warning in body["warnings"])
    assert (body["created"], body["moved"], body["deactivated"]) == (2, 1, 1)
    assert body["changes"] > 0 and body["open_cycle"] is not None
    # Nothing stored, audited or mailed.
    assert roster_state() == before and AuditEvent.objects.count() == events and mailoutbox == []


def test_without_deactivating_the_missing_are_listed_and_not_leavers(hr):
    body = preview(hr, CHANGED).json()
    assert body["leavers"] == [] and body["deactivate_missing"] is False
    assert [c["email"] for c in body["missing_active"]] == ["di@example.com"]


def test_a_multipart_file_previews_like_the_json_text(hr):
    upload = SimpleUploadedFile("roster.csv", CHANGED.encode("utf-8-sig"), "text/csv")  # Excel's BOM
    by_file = hr.post(PREVIEW, {"file": upload, "deactivate_missing": "true"})
    assert by_file.status_code == 200
    assert by_file.json() == preview(hr, CHANGED, deactivate_missing=True).json()


def test_previewing_the_roster_as_it_is_says_nothing_changes(hr):
    body = preview(hr, START).json()
    assert body["changes"] == 0 and body["unchanged"] == 4 and body["joiners"] == []


# --- apply ---------------------------------------------------------------------------------------


def test_apply_applies_audits_like_the_browser_and_invites_joiners(hr, mailoutbox):
    cycle = cycle_open(send_mail=False).cycle
    fingerprint = preview(hr, CHANGED, deactivate_missing=True).json()["fingerprint"]
    response = post_json(hr, APPLY, {"csv": CHANGED, "deactivate_missing": True, "fingerprint": fingerprint})
    assert response.status_code == 200
    assert response.json() == {
        "rows": 5,
        "created": 2,
        "updated": 2,  # moved, promoted (a deactivation is counted apart)
        "moved": 1,
        "role_changes": 1,
        "unchanged": 1,
        "deactivated": 1,
        "teams_created": 2,
        "warnings": 1,
        "mail_error": None,
    }
    people = {p.email: p for p in Person.objects.select_related("team")}
    assert people["ana@example.com"].team.path == "Engineering/Platform/Edge"
    assert people["bo@example.com"].role == "manager"
    assert not people["di@example.com"].is_active
    assert people["new@example.com"].team.path == "Research/Lab"
    # The browser's audit: one roster_imported event and the per-person ones, by the token's person.
    summary = AuditEvent.objects.get(action="roster_imported")
    assert summary.actor == "hr@example.com"
    assert summary.detail == {
        "subject": "roster upload: 5 rows",
        "rows": 5,
        "created": 2,
        "updated": 2,
        "moved": 1,
        "role_changes": 1,
        "unchanged": 1,
        "deactivated": 1,
        "deactivate_missing": True,
        "teams_created": 2,
        "warnings": 1,
    }
    assert AuditEvent.objects.filter(action="role_changed", actor="hr@example.com").count() == 1
    assert AuditEvent.objects.filter(action="role_set", actor="hr@example.com").count() == 2  # the joiners
    invitations = {i.person.email: i for i in Invitation.objects.filter(cycle=cycle).select_related("person")}
    assert invitations["new@example.com"].status == Invitation.Status.PENDING  # joiner invited
    assert invitations["di@example.com"].status == Invitation.Status.VOID  # leaver's link stops
    assert sorted(m.to for m in mailoutbox if m.to in (["new@example.com"], ["head@example.com"])) == [
        ["head@example.com"],
        ["new@example.com"],
    ]


def test_a_stale_fingerprint_is_409_and_nothing_is_applied(hr):
    fingerprint = preview(hr, CHANGED, deactivate_missing=True).json()["fingerprint"]
    Person.objects.filter(email="bo@example.com").update(name="Bo Changed")  # someone else, meanwhile
    before, events = roster_state(), AuditEvent.objects.count()
    response = post_json(hr, APPLY, {"csv": CHANGED, "deactivate_missing": True, "fingerprint": fingerprint})
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert detail.startswith("fingerprint: the roster has changed since this preview")
    assert PREVIEW in detail
    assert roster_state() == before and AuditEvent.objects.count() == events


def test_applying_twice_with_one_preview_is_refused_the_second_time(hr):
    fingerprint = preview(hr, CHANGED).json()["fingerprint"]
    body = {"csv": CHANGED, "fingerprint": fingerprint}
    assert post_json(hr, APPLY, body).status_code == 200
    after, events = roster_state(), AuditEvent.objects.count()
    assert post_json(hr, APPLY, body).status_code == 409  # the first apply changed the roster
    assert roster_state() == after and AuditEvent.objects.count() == events
    # A fresh preview of the same file says nothing changes; applying it changes nothing.
    again = preview(hr, CHANGED).json()
    assert again["changes"] == 0
    assert post_json(hr, APPLY, {"csv": CHANGED, "fingerprint": again["fingerprint"]}).json()["unchanged"] == 5
    assert roster_state() == after


@pytest.mark.parametrize("url", [PREVIEW, APPLY])
def test_a_file_with_one_bad_row_is_400_with_its_line_and_nothing_is_applied(hr, url):
    before, events = roster_state(), AuditEvent.objects.count()
    body = {"csv": BAD_ROW} if url == PREVIEW else {"csv": BAD_ROW, "fingerprint": roster_fingerprint()}
    response = post_json(hr, url, body)
    assert response.status_code == 400
    body = response.json()
    assert body["row_errors"] == [{"line": 7, "message": "role 'wizard' is not one of engineer, manager, hr"}]
    assert body["detail"].startswith("csv: the file has errors; fix them and send it again: line 7: role 'wizard'")
    assert roster_state() == before and AuditEvent.objects.count() == events
    assert not Person.objects.filter(email="new@example.com").exists()  # the good rows are not applied either


def test_every_bad_line_is_listed_with_its_number(hr):
    text = HEADER + "not-an-email,A,Eng/A,engineer,\nb@example.com,,Eng/A,engineer,\nb@example.com,B,Eng/A,engineer,\n"
    body = preview(hr, text).json()
    assert [(error["line"], error["message"].split(" ")[0]) for error in body["row_errors"]] == [
        (2, "email"),
        (3, "name"),
        (4, "email"),  # appears again
    ]


class FailingMail(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise OSError("mail server unreachable")


def test_a_mail_failure_after_the_commit_says_the_roster_was_applied(hr, settings):
    cycle_open(send_mail=False)
    fingerprint = preview(hr, CHANGED).json()["fingerprint"]
    settings.EMAIL_BACKEND = f"{__name__}.FailingMail"
    response = post_json(hr, APPLY, {"csv": CHANGED, "fingerprint": fingerprint})
    assert response.status_code == 200
    body = response.json()
    assert body["mail_error"].startswith("The roster was applied, but the invitation e-mails to joiners could not")
    assert (body["rows"], body["created"], body["moved"], body["role_changes"]) == (5, 2, 1, 1)
    assert Person.objects.get(email="new@example.com").team.path == "Research/Lab"
    assert AuditEvent.objects.filter(action="roster_imported", actor="hr@example.com").count() == 1


# --- bad bodies: the field and the fix, nothing stored -------------------------------------------


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("roster.csv", "email,name\xe9".encode("latin-1"), "file: The file is not UTF-8 text"),
        ("roster.xlsx", b"PK\x03\x04", "file: roster.xlsx is not a CSV file"),
        ("roster.csv", b"email,name,team,role\n\x00\x01", "file: The file is not CSV text"),
        ("roster.csv", b"", "file: The file is empty"),
        ("roster.csv", b"\n  \n", "file: The file is empty"),
        ("roster.csv", b"name,email,team,role\nx@example.com,X,A,engineer\n", "file: the file has errors"),
        ("roster.csv", HEADER.encode(), "file: the file has errors; fix them and send it again: line 2: the file"),
        ("roster.csv", b"a" * (2 * 1024 * 1024 + 1), "file: The file is larger than 2 MB"),
    ],
)
def test_a_bad_upload_names_the_file_field_and_stores_nothing(hr, name, raw, message):
    before, events = roster_state(), AuditEvent.objects.count()
    response = hr.post(PREVIEW, {"file": SimpleUploadedFile(name, raw, "text/csv")})
    assert response.status_code == 400
    assert response.json()["detail"].startswith(message)
    assert roster_state() == before and AuditEvent.objects.count() == events


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "csv: send the roster CSV: as text in the JSON field csv, or as a multipart upload named file"),
        ({"csv": ""}, "csv: The file is empty"),
        ({"csv": "a" * (2 * 1024 * 1024 + 1)}, "csv: The file is larger than 2 MB"),
        # Refused by the API's JSON parser (config.api_parsers) before the roster is read.
        ({"csv": "email,name,team,role\n\x00"}, "csv: the text holds a NUL; remove the control character U+0000"),
        ({"csv": START, "deactivate": True}, "deactivate: unknown field; this endpoint accepts csv, file,"),
        ({"csv": START, "deactivate_missing": "maybe"}, "deactivate_missing: write true or false."),
        ({"csv": 12}, "csv: give the CSV as a JSON string"),
        ({"csv": START, "fingerprint": "0" * 64}, "fingerprint: unknown field; this endpoint accepts csv, file, "),
        (["email,name,team,role"], "body: send a JSON object"),
    ],
)
def test_a_bad_json_body_names_the_field(hr, body, message):
    before = roster_state()
    response = post_json(hr, PREVIEW, body)
    assert response.status_code == 400, response.json()
    assert response.json()["detail"].startswith(message)
    assert response.json()["row_errors"] == []
    assert roster_state() == before


def test_malformed_json_names_the_body(hr):
    response = hr.post(PREVIEW, "{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["detail"].startswith("body: JSON parse error")


def test_csv_and_file_together_are_refused(hr):
    upload = SimpleUploadedFile("roster.csv", CHANGED.encode(), "text/csv")
    response = hr.post(PREVIEW, {"file": upload, "csv": CHANGED})
    assert response.status_code == 400 and response.json()["detail"].startswith("csv: send the roster once")


@pytest.mark.parametrize(
    ("fingerprint", "message"),
    [
        (None, "fingerprint: send the fingerprint the preview returned"),
        ("", "fingerprint: send the fingerprint the preview returned"),
        ("abc", "fingerprint: not a fingerprint (64 lower-case hex digits)"),
        ("G" * 64, "fingerprint: not a fingerprint"),
    ],
)
def test_apply_needs_the_previews_fingerprint(hr, fingerprint, message):
    body = {"csv": CHANGED} if fingerprint is None else {"csv": CHANGED, "fingerprint": fingerprint}
    before = roster_state()
    response = post_json(hr, APPLY, body)
    assert response.status_code == 400 and response.json()["detail"].startswith(message)
    assert roster_state() == before


def test_the_limits_and_words_are_the_upload_forms():
    """The form keeps its own copies until it reads them from surveys.services.roster_apply."""
    for name in ("ROSTER_MAX_BYTES", "ROSTER_MAX_LABEL", "ROSTER_EXTENSIONS", "SAVE_AS_CSV"):
        assert getattr(roster_apply, name) == getattr(roster_forms, name), name
    assert roster_apply.EMPTY_FILE == roster_forms.RosterUploadForm.base_fields["file"].error_messages["empty"]


# --- who may ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["engineer", "manager", "operator"])
@pytest.mark.parametrize("url", [PREVIEW, APPLY])
def test_anyone_but_hr_gets_a_json_404_and_nothing_happens(hr, django_user_model, role, url):
    if role == "operator":  # a superuser with no roster entry
        user = django_user_model.objects.create_superuser("op@example.com", "op@example.com", "pw")
    else:
        user = PersonFactory(role=role).user
    before, events = roster_state(), AuditEvent.objects.count()
    response = post_json(token_client(user), url, {"csv": CHANGED, "fingerprint": roster_fingerprint()})
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["detail"].startswith("path: no such API endpoint")
    assert roster_state() == before and AuditEvent.objects.count() == events


@pytest.mark.parametrize("url", [PREVIEW, APPLY])
def test_anonymous_gets_a_json_401(hr, url):
    before = roster_state()
    response = post_json(Client(), url, {"csv": CHANGED, "fingerprint": roster_fingerprint()})
    assert response.status_code == 401 and response.json()["detail"]
    assert roster_state() == before


@pytest.mark.parametrize("url", [PREVIEW, APPLY])
def test_get_is_405_for_hr(hr, url):
    assert hr.get(url).status_code == 405


def test_a_session_signed_in_hr_may_preview_too(client):
    roster_import(rows=roster_parse(START), invite=False)
    client.force_login(Person.objects.get(email="hr@example.com").user)
    assert client.post(PREVIEW, {"csv": CHANGED}, content_type="application/json").status_code == 200


def test_the_schema_documents_both_routes():
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path, statuses in ((PREVIEW, {"200", "400", "401", "404"}), (APPLY, {"200", "400", "401", "404", "409"})):
        operation = schema["paths"][path]["post"]
        assert statuses <= set(operation["responses"]), path
        assert {"application/json", "multipart/form-data"} <= set(operation["requestBody"]["content"]), path


def test_a_large_csv_text_field_in_a_multipart_body_is_refused_by_size(hr):
    response = hr.post(PREVIEW, {"csv": "a" * (2 * 1024 * 1024 + 1)})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("csv: ") and "larger than 2 MB" in response.json()["detail"]


def test_a_body_over_the_request_limit_is_refused_before_it_is_read(hr):
    response = hr.post(PREVIEW, {"csv": "a" * (3 * 1024 * 1024)})  # with the framing, over 3 MB
    assert response.status_code == 413
    assert response.json()["detail"].startswith("body: the request is larger than 3 MB")
