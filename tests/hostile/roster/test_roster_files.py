"""Roster files as real traffic brings them: Excel's encodings, bytes that are not text, names a
spreadsheet would run, more people than a file may hold. Every refusal is an error on the form's
file field that names the line and the fix, and nothing is stored."""

from __future__ import annotations

import codecs

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from surveys.models import AuditEvent, Person, Team
from surveys.roster import PERSON_NAME_MAX, ROSTER_MAX_ROWS, TOO_MANY_PEOPLE, roster_import, roster_parse
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db

HEADER = "email,name,team,role,manages\n"
GOOD = (
    HEADER
    + "ana@example.com,Ana Müller,Engineering/Platform,engineer,\n"
    + "bo@example.com,Bø Ærø,Engineering/Platform,engineer,\n"
)


@pytest.fixture
def hr_client(client):
    hr = PersonFactory(role="hr")
    client.force_login(hr.user)
    return client


def stored() -> tuple[int, int, int]:
    return Person.objects.count(), Team.objects.count(), AuditEvent.objects.count()


def upload(client, raw: bytes, *, name: str = "roster.csv"):
    return client.post(reverse("programme:roster"), {"file": SimpleUploadedFile(name, raw, "text/csv")})


def file_errors(response) -> list[str]:
    assert response.status_code == 400, response.status_code  # the form again, with its errors
    form = response.context["form"]
    return list(form.errors.get("file", []))


def preview_names(response) -> list[str]:
    assert response.status_code == 200
    report = response.context["report"]
    return sorted(change.name for change in report.joiners)


def test_utf8_with_byte_order_mark_previews_like_plain_utf8(hr_client):
    before = stored()
    response = upload(hr_client, codecs.BOM_UTF8 + GOOD.encode())
    assert preview_names(response) == ["Ana Müller", "Bø Ærø"]
    assert stored() == before  # a preview stores nothing


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_its_byte_order_mark_is_read(hr_client, encoding):
    raw = GOOD.encode(encoding)
    if encoding != "utf-16":  # the plain codec writes its own BOM; the explicit ones need one
        raw = (codecs.BOM_UTF16_LE if encoding.endswith("le") else codecs.BOM_UTF16_BE) + raw
    assert preview_names(upload(hr_client, raw)) == ["Ana Müller", "Bø Ærø"]


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_latin1_file_is_refused_with_the_line_and_the_letter_to_find(hr_client, encoding):
    before = stored()
    errors = file_errors(upload(hr_client, GOOD.encode(encoding)))
    assert len(errors) == 1
    # Line 2 is Ana Müller's; "ü" is 0xFC in both encodings.
    assert "line 2 holds the byte 0xFC (\u201cü\u201d in Windows-1252 or Latin-1)" in errors[0]
    assert "CSV UTF-8" in errors[0]
    assert stored() == before


def test_broken_utf16_is_refused(hr_client):
    errors = file_errors(upload(hr_client, codecs.BOM_UTF16_LE + b"e\x00m\x00\x00\xd8"))  # a lone surrogate
    assert errors == [
        "The file starts like UTF-16 text but is not valid UTF-16. "
        "In Excel or Numbers, use Save As / Export and choose \u201cCSV UTF-8\u201d."
    ]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("Ana\x07Bell", "name: remove the control character U+0007 at character 4"),
        ("Ana\u202eevil", "name: remove the text-direction character U+202E at character 4"),
        ("Ana\x85x", "name: remove the control character U+0085 at character 4"),
        ("Ana\x7f", "name: remove the control character U+007F at character 4"),
    ],
)
def test_control_and_direction_characters_in_a_name_are_line_errors(hr_client, cell, expected):
    before = stored()
    raw = (HEADER + f"ana@example.com,{cell},Engineering,engineer,\n").encode()
    assert file_errors(upload(hr_client, raw)) == [f"line 2: {expected}"]
    assert stored() == before


def test_a_line_break_inside_a_quoted_name_is_refused_as_a_single_line_value(hr_client):
    raw = (HEADER + 'ana@example.com,"Ana\nSecond",Engineering,engineer,\n').encode()
    errors = file_errors(upload(hr_client, raw))
    assert errors == ["line 3: name: remove the line break or tab U+000A at character 4"]


def test_control_characters_in_team_and_manages_paths_are_line_errors(hr_client):
    raw = (
        HEADER
        + "ana@example.com,Ana,Engi\x1bneering,engineer,\n"
        + "bo@example.com,Bo,Engineering,manager,Eng\u2066x\n"
    ).encode()
    assert file_errors(upload(hr_client, raw)) == [
        "line 2: team path: remove the control character U+001B at character 5",
        "line 3: manages: team path: remove the text-direction character U+2066 at character 4",
    ]


def test_nul_bytes_are_refused_as_binary(hr_client):
    errors = file_errors(upload(hr_client, GOOD.encode().replace(b"Ana", b"A\x00na")))
    assert errors == [
        "The file is not CSV text (it holds binary data). "
        "In Excel or Numbers, use Save As / Export and choose \u201cCSV UTF-8\u201d."
    ]


@pytest.mark.usefixtures("require_postgres")
def test_overlong_name_and_email_are_line_errors_not_database_errors(hr_client):
    """PostgreSQL refuses a value longer than its column; the parser says so first, per line."""
    long_email = "a" * 250 + "@example.com"
    raw = (
        HEADER
        + f"ana@example.com,{'N' * (PERSON_NAME_MAX + 1)},Engineering,engineer,\n"
        + f"{long_email},Bo,Engineering,engineer,\n"
    ).encode()
    before = stored()
    errors = file_errors(upload(hr_client, raw))
    assert errors[0] == f"line 2: name is longer than {PERSON_NAME_MAX} characters; shorten it"
    assert errors[1].startswith("line 3: email '" + "a" * 60 + "\u2026' is not a valid e-mail address")
    assert "(at most 254 characters)" in errors[1]
    assert stored() == before


def test_a_name_of_exactly_the_limit_is_accepted():
    rows = roster_parse(HEADER + f"ana@example.com,{'N' * PERSON_NAME_MAX},Engineering,engineer,\n")
    assert len(rows[0].name) == PERSON_NAME_MAX


def test_more_people_than_a_file_may_hold_is_refused_on_the_first_line_too_many():
    people = "".join(f"p{i}@example.com,P {i},Engineering,engineer,\n" for i in range(ROSTER_MAX_ROWS + 1))
    with pytest.raises(Exception) as raised:
        roster_parse(HEADER + people)
    assert raised.value.errors == [(ROSTER_MAX_ROWS + 2, TOO_MANY_PEOPLE)]
    assert "10,000" in TOO_MANY_PEOPLE


def test_exactly_the_most_people_a_file_may_hold_parses():
    people = "".join(f"p{i}@example.com,P {i},Engineering,engineer,\n\n" for i in range(ROSTER_MAX_ROWS))
    assert len(roster_parse(HEADER + people)) == ROSTER_MAX_ROWS  # blank lines are not people


def test_formula_like_names_are_kept_as_typed():
    """Names are stored as HR wrote them (a team may really be called "+Growth"); the exports
    are what keep a spreadsheet from running them (tests/hostile/roster/test_formula_exports.py)."""
    rows = roster_parse(HEADER + "ana@example.com,=1+1,+Growth/@Home,engineer,\n")
    roster_import(rows=rows, invite=False)
    person = Person.objects.select_related("team__parent").get()
    assert (person.name, person.team.name, person.team.parent.name) == ("=1+1", "@Home", "+Growth")
