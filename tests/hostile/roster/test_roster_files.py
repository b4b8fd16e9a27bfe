"""Roster files as real traffic brings them: Excel's encodings, bytes that are not text, names a
spreadsheet would run, more people than a file may hold. Every refusal is an error on the form's
file field that names the line and the fix, and nothing is stored."""

from __future__ import annotations

import codecs
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from surveys.models import AuditEvent, Person, Team
from surveys.roster import (
    EMAIL_MAX,
    PERSON_NAME_MAX,
    ROSTER_MAX_ROWS,
    TOO_MANY_PEOPLE,
    RosterErrors,
    roster_import,
    roster_parse,
)
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


def test_the_byte_and_line_are_right_behind_a_utf8_byte_order_mark(hr_client):
    raw = codecs.BOM_UTF8 + HEADER.encode() + "ana@example.com,Ana Müller,Engineering,engineer,\n".encode("latin-1")
    errors = file_errors(upload(hr_client, raw))
    assert "line 2 holds the byte 0xFC (\u201cü\u201d in Windows-1252 or Latin-1)" in errors[0]


def test_a_windows_1252_only_letter_is_named_as_windows_1252(hr_client):
    raw = (HEADER + "ana@example.com,Ana \u0160imek,Engineering,engineer,\n").encode("cp1252")  # Š is 0x8A
    errors = file_errors(upload(hr_client, raw))
    assert "line 2 holds the byte 0x8A (\u201c\u0160\u201d in Windows-1252)" in errors[0]


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


@pytest.mark.parametrize("cell", ["Ana\x1c", "\x1fAna", "Ana\x85", "Ana\x0b"])
def test_a_control_character_at_either_end_is_refused_not_trimmed(hr_client, cell):
    raw = (HEADER + f"ana@example.com,{cell},Engineering,engineer,\n").encode()
    errors = file_errors(upload(hr_client, raw))
    assert len(errors) == 1 and errors[0].startswith("line 2: name: remove the control character U+00")


def test_spaces_at_either_end_are_trimmed():
    rows = roster_parse(HEADER + " ana@example.com ,\u00a0Ana Müller\t, Engineering ,engineer,\n")
    assert (rows[0].email, rows[0].name, rows[0].team) == ("ana@example.com", "Ana Müller", "Engineering")


def test_a_line_of_control_characters_is_not_taken_for_a_blank_line(hr_client):
    raw = (HEADER + "ana@example.com,Ana,Engineering,engineer,\n\x1c,\x1c,\x1c,\x1c\n").encode()
    errors = file_errors(upload(hr_client, raw))
    assert errors and all(error.startswith("line 3: ") for error in errors)


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
    assert f"(at most {EMAIL_MAX} characters)" in errors[1]
    assert stored() == before


@pytest.mark.usefixtures("require_postgres")
def test_an_address_one_past_what_an_account_holds_is_a_line_error_and_one_at_it_is_stored():
    """The account's username holds the address: 150 characters, though an address may have 254."""
    from django.contrib.auth import get_user_model

    assert get_user_model()._meta.get_field("username").max_length == EMAIL_MAX
    at_limit = "a" * (EMAIL_MAX - len("@example.com")) + "@example.com"
    with pytest.raises(RosterErrors) as raised:
        roster_parse(HEADER + f"b{at_limit},Bo,Engineering,engineer,\n")
    assert "is not a valid e-mail address (at most 150 characters)" in raised.value.errors[0][1]
    roster_import(rows=roster_parse(HEADER + f"{at_limit},Ana,Engineering,engineer,\n"), invite=False)
    assert Person.objects.get(email=at_limit).user.username == at_limit


def test_a_name_of_exactly_the_limit_is_accepted():
    rows = roster_parse(HEADER + f"ana@example.com,{'N' * PERSON_NAME_MAX},Engineering,engineer,\n")
    assert len(rows[0].name) == PERSON_NAME_MAX


def test_more_people_than_a_file_may_hold_is_refused_on_the_first_line_too_many():
    people = "".join(f"p{i}@example.com,P {i},Engineering,engineer,\n" for i in range(ROSTER_MAX_ROWS + 1))
    with pytest.raises(RosterErrors) as raised:
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


def test_the_command_reads_files_as_the_upload_does(tmp_path):
    from django.core.management import CommandError, call_command

    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes(GOOD.encode("utf-16"))
    call_command("import_roster", str(utf16), stdout=io.StringIO())
    assert sorted(Person.objects.values_list("name", flat=True)) == ["Ana Müller", "Bø Ærø"]

    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes(GOOD.encode("latin-1"))
    with pytest.raises(CommandError, match="line 2 holds the byte 0xFC"):
        call_command("import_roster", str(latin1), stdout=io.StringIO())
    broken = tmp_path / "broken.csv"
    broken.write_bytes(HEADER.encode() + b'"unclosed' + b"x" * 200_000)
    with pytest.raises(CommandError, match="not valid CSV"):
        call_command("import_roster", str(broken), stdout=io.StringIO())
