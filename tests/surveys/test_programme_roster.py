"""The roster in the browser: upload, dry-run preview, apply (all or nothing, audited, stale-safe)."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from surveys.models import AuditEvent, Invitation, Person, Team
from surveys.programme.roster_views import SESSION_KEY
from surveys.roster import roster_import, roster_parse
from surveys.services.cycles import cycle_open
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db

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


@pytest.fixture
def hr_client(client):
    roster_import(rows=roster_parse(START), invite=False)
    client.force_login(Person.objects.get(email="hr@example.com").user)
    return client


def upload(client, text, *, name="roster.csv", deactivate=False, raw=None):
    data = {"file": SimpleUploadedFile(name, raw if raw is not None else text.encode(), "text/csv")}
    if deactivate:
        data["deactivate_missing"] = "on"
    return client.post(reverse("programme:roster"), data)


def preview_id(response) -> str:
    match = re.search(r'name="preview" value="([^"]+)"', response.content.decode())
    assert match, "no preview id on the page"
    return match.group(1)


def apply(client, response_or_id):
    pid = response_or_id if isinstance(response_or_id, str) else preview_id(response_or_id)
    return client.post(reverse("programme:roster_apply"), {"preview": pid})


def roster_state():
    return sorted(
        (p.email, p.name, p.team.path, p.role, p.is_active, tuple(sorted(t.path for t in p.managed_teams.all())))
        for p in Person.objects.select_related("team")
    ), sorted(t.path for t in Team.objects.all())


def test_upload_preview_apply_happy_path(hr_client, mailoutbox):
    cycle = cycle_open(send_mail=False).cycle
    before, events_before = roster_state(), AuditEvent.objects.count()

    page = upload(hr_client, CHANGED, deactivate=True)
    assert page.status_code == 200
    html = page.content.decode()
    report = page.context["report"]
    assert [c.email for c in report.joiners] == ["new@example.com", "head@example.com"]
    assert [(c.email, c.before, c.after) for c in report.movers] == [
        ("ana@example.com", "Engineering/Platform/Core", "Engineering/Platform/Edge")
    ]
    assert [(c.email, c.before, c.after) for c in report.role_changes] == [("bo@example.com", "engineer", "manager")]
    assert [c.email for c in report.leavers] == ["di@example.com"]
    assert report.teams_created == ["Research", "Research/Lab"]
    for text in ("new@example.com", "Engineering/Platform/Edge", "di@example.com", "Research/Lab", "Joiners", "Movers"):
        assert text in html
    assert "directly on Engineering, which has sub-teams" in html  # the R5 warning
    assert 'class="table-scroll" role="region"' in html
    # The dry run changed nothing, mailed nobody.
    assert roster_state() == before and AuditEvent.objects.count() == events_before and mailoutbox == []

    done = apply(hr_client, page)
    assert done.status_code == 302 and done["Location"] == reverse("programme:roster")
    people = {p.email: p for p in Person.objects.select_related("team")}
    assert people["ana@example.com"].team.path == "Engineering/Platform/Edge"
    assert people["bo@example.com"].role == "manager"
    assert not people["di@example.com"].is_active
    assert people["new@example.com"].team.path == "Research/Lab"
    summary = AuditEvent.objects.get(action="roster_imported")
    assert summary.actor == "hr@example.com"
    assert summary.detail["created"] == 2 and summary.detail["rows"] == 5
    assert (summary.detail["moved"], summary.detail["deactivated"], summary.detail["role_changes"]) == (1, 1, 1)
    assert AuditEvent.objects.filter(action="role_changed", actor="hr@example.com").count() == 1
    invitations = {i.person.email: i for i in Invitation.objects.filter(cycle=cycle).select_related("team", "person")}
    assert invitations["new@example.com"].status == Invitation.Status.PENDING  # joiner invited
    assert invitations["di@example.com"].status == Invitation.Status.VOID  # leaver's link stops
    assert invitations["ana@example.com"].team.path == "Engineering/Platform/Core"  # invited there (decision 64)
    survey_mails = [m.to for m in mailoutbox if "new@example.com" in m.to or "head@example.com" in m.to]
    assert sorted(survey_mails) == [["head@example.com"], ["new@example.com"]]
    follow = hr_client.get(done["Location"])
    assert "Roster applied from roster.csv" in follow.content.decode()


def test_without_deactivating_the_missing_are_counted_and_stay(hr_client):
    page = upload(hr_client, CHANGED)
    assert page.context["missing_count"] == 1 and page.context["report"].leavers == []
    assert "1 active person is missing from the file" in page.content.decode()
    # The stored file previewed again, now deactivating: same file, no re-upload.
    again = hr_client.post(reverse("programme:roster"), {"preview": preview_id(page), "deactivate_missing": "on"})
    assert [c.email for c in again.context["report"].leavers] == ["di@example.com"]
    assert apply(hr_client, again).status_code == 302
    assert not Person.objects.get(email="di@example.com").is_active
    assert apply(hr_client, page).status_code == 400  # the replaced preview is gone


def test_a_bad_row_shows_the_commands_line_error_and_cannot_be_applied(hr_client):
    bad = CHANGED + "x@example.com,X,Eng/A,wizard,\n"
    page = upload(hr_client, bad)
    assert page.status_code == 400
    html = page.content.decode()
    assert "line 7: role &#x27;wizard&#x27; is not one of engineer, manager, hr" in html
    assert 'href="#id_file"' in html and "Roster CSV file" in html
    assert SESSION_KEY not in hr_client.session
    assert 'action="/programme/roster/apply/"' not in html
    before = roster_state()
    assert apply(hr_client, "anything").status_code == 400
    assert roster_state() == before


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("roster.csv", "email,name\xe9".encode("latin-1"), "is not UTF-8 text"),
        ("roster.xlsx", b"PK\x03\x04", "is not a CSV file"),
        ("roster.csv", b"email,name,team,role\n\x00\x01", "not CSV text"),
        ("roster.csv", b"", "The file is empty"),
        ("roster.csv", b"\n  \n", "The file is empty"),
        ("roster.csv", b"name,email,team,role\nx@example.com,X,A,engineer\n", "line 1: the header must be"),
        ("roster.csv", HEADER.encode(), "line 2: the file has a header but no people"),
        ("roster.csv", b"a" * (2 * 1024 * 1024 + 1), "larger than 2 MB"),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(hr_client, name, raw, message):
    before, events = roster_state(), AuditEvent.objects.count()
    page = upload(hr_client, "", name=name, raw=raw)
    assert page.status_code == 400
    html = page.content.decode()
    assert message in html
    assert "Roster CSV file:" in html  # the summary names the field, linked to it
    assert 'href="#id_file"' in html and 'aria-invalid="true"' in html
    assert SESSION_KEY not in hr_client.session
    assert roster_state() == before and AuditEvent.objects.count() == events


def test_no_file_names_the_field(hr_client):
    page = hr_client.post(reverse("programme:roster"), {})
    assert page.status_code == 400 and "Choose the roster CSV file to upload." in page.content.decode()


def test_a_stale_preview_is_refused(hr_client):
    page = upload(hr_client, CHANGED, deactivate=True)
    Person.objects.filter(email="bo@example.com").update(name="Bo Changed")  # someone else, meanwhile
    before, events = roster_state(), AuditEvent.objects.count()
    refused = apply(hr_client, page)
    assert refused.status_code == 409
    assert "the roster has changed since this preview" in refused.content.decode()
    assert roster_state() == before and AuditEvent.objects.count() == events


def test_a_preview_cannot_be_tampered_with(hr_client):
    """The client holds only the id: what is applied is the stored text, nothing it posts."""
    page = upload(hr_client, CHANGED)
    hr_client.post(
        reverse("programme:roster_apply"),
        {"preview": preview_id(page), "deactivate_missing": "on", "text": HEADER + "evil@example.com,E,X,hr,\n"},
    )
    assert not Person.objects.filter(email="evil@example.com").exists()
    assert Person.objects.get(email="di@example.com").is_active


def test_apply_twice_is_idempotent(hr_client):
    page = upload(hr_client, CHANGED, deactivate=True)
    assert apply(hr_client, page).status_code == 302
    after, events = roster_state(), AuditEvent.objects.count()
    assert apply(hr_client, page).status_code == 400  # the preview is used up
    assert roster_state() == after and AuditEvent.objects.count() == events
    # The same file again: the preview says nothing changes, and applying changes nothing.
    again = upload(hr_client, CHANGED, deactivate=True)
    assert "applying changes nothing" in again.content.decode()
    assert apply(hr_client, again).status_code == 302
    assert roster_state() == after
    assert AuditEvent.objects.filter(action="roster_imported").count() == 2
    assert AuditEvent.objects.latest("pk").detail["unchanged"] == 5


@pytest.mark.parametrize("role", ["engineer", "manager", "operator"])
def test_non_hr_gets_404(client, django_user_model, role):
    if role == "operator":  # a superuser with no roster entry
        client.force_login(django_user_model.objects.create_superuser("op@example.com", "op@example.com", "pw"))
    else:
        client.force_login(PersonFactory(role=role).user)
    assert client.get(reverse("programme:roster")).status_code == 404
    assert client.get(reverse("programme:roster_apply")).status_code == 404
    assert upload(client, CHANGED).status_code == 404
    assert client.post(reverse("programme:roster_apply"), {"preview": "x"}).status_code == 404
    assert not Person.objects.filter(email="new@example.com").exists()


def test_anonymous_goes_to_sign_in(client):
    for page in (
        client.get(reverse("programme:roster")),
        client.post(reverse("programme:roster"), {}),
        client.post(reverse("programme:roster_apply"), {"preview": "x"}),
    ):
        assert page.status_code == 302 and page["Location"].startswith(reverse("login"))


def test_upload_page_and_apply_get(hr_client):
    page = hr_client.get(reverse("programme:roster"))
    assert page.status_code == 200 and "at most 2 MB" in page.content.decode()
    assert hr_client.get(reverse("programme:roster_apply")).status_code == 405
    assert hr_client.post(reverse("programme:roster_apply"), {}).status_code == 400
