"""import_roster: all or nothing, every bad row reported with its line, idempotent re-imports."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from surveys.models import AuditEvent, Invitation, Person, Team
from surveys.roster import RosterErrors, roster_parse
from surveys.services.cycles import cycle_open

HEADER = "email,name,team,role,manages\n"
GOOD = HEADER + (
    "ana@example.com,Ana,Engineering/Platform/Core,engineer,\n"
    "bo@example.com,Bo,Engineering/Platform/Core,manager,\n"
    "cy@example.com,Cy,Engineering/Leadership,manager,Engineering\n"
    "di@example.com,Di,Engineering/Platform/Edge,engineer,\n"
    "hr@example.com,Hera,People,hr,\n"
)


def write(tmp_path, text, name="roster.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(path, *args):
    out, err = StringIO(), StringIO()
    call_command("import_roster", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def team(path):
    return next(t for t in Team.objects.all() if t.path == path)


@pytest.mark.django_db
def test_import_creates_teams_with_parents_people_and_users(tmp_path):
    out, _ = run(write(tmp_path, GOOD))
    assert "5 created" in out
    assert {t.path for t in Team.objects.all()} == {
        "Engineering", "Engineering/Platform", "Engineering/Platform/Core", "Engineering/Platform/Edge",
        "Engineering/Leadership", "People",
    }  # fmt: skip
    bo = Person.objects.get(email="bo@example.com")
    assert bo.role == "manager"
    assert [t.path for t in bo.managed_teams.all()] == ["Engineering/Platform/Core"]  # default: own team
    cy = Person.objects.get(email="cy@example.com")
    assert [t.path for t in cy.managed_teams.all()] == ["Engineering"]
    assert bo.user is not None and bo.user.username == "bo@example.com" and not bo.user.has_usable_password()


@pytest.mark.django_db
def test_reimport_is_idempotent(tmp_path):
    path = write(tmp_path, GOOD)
    run(path)
    before = (Team.objects.count(), Person.objects.count(), AuditEvent.objects.count())
    out, _ = run(path)
    assert "0 created, 0 updated (0 moved), 5 unchanged" in out
    assert (Team.objects.count(), Person.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.django_db
def test_reimport_moves_people_and_keeps_team_ids(tmp_path):
    run(write(tmp_path, GOOD))
    core_id = team("Engineering/Platform/Core").pk
    moved = GOOD.replace(
        "ana@example.com,Ana,Engineering/Platform/Core", "ana@example.com,Ana,Engineering/Platform/Edge"
    )
    out, _ = run(write(tmp_path, moved, "moved.csv"))
    assert "1 updated (1 moved)" in out
    assert Person.objects.get(email="ana@example.com").team.path == "Engineering/Platform/Edge"
    assert team("Engineering/Platform/Core").pk == core_id


@pytest.mark.django_db
def test_role_changes_are_audited(tmp_path):
    run(write(tmp_path, GOOD))
    promoted = GOOD.replace(
        "ana@example.com,Ana,Engineering/Platform/Core,engineer,",
        "ana@example.com,Ana,Engineering/Platform/Core,manager,",
    )
    run(write(tmp_path, promoted, "promoted.csv"))
    event = AuditEvent.objects.get(action="role_changed")
    assert event.detail == {"email": "ana@example.com", "from": "engineer", "to": "manager"}


BAD_ROWS = [
    ("not-an-email,X,Eng/A,engineer,\n", "is not a valid e-mail address"),
    ("x@example.com,,Eng/A,engineer,\n", "name is empty"),
    ("x@example.com,X,Eng//A,engineer,\n", "has an empty part"),
    ("x@example.com,X,,engineer,\n", "has an empty part"),
    ("x@example.com,X,Eng/A,boss,\n", "is not one of engineer, manager, hr"),
    ("x@example.com,X,Eng/A,admin,\n", "createsuperuser"),
    ("x@example.com,X,Eng/A,engineer,Eng/A\n", "manages is only for managers"),
    ("x@example.com,X,Eng/A,manager,Nowhere/Team\n", "no such team exists"),
    ("x@example.com,X,Eng/A\n", "expected 5 columns"),
    ("x@example.com,X,Eng/A,engineer,,extra\n", "expected 5 columns"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("row", "message"), BAD_ROWS)
def test_each_bad_row_is_reported_with_its_line_and_nothing_is_written(tmp_path, row, message):
    path = write(tmp_path, GOOD + row)
    err = StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_roster", str(path), stdout=StringIO(), stderr=err)
    assert "line 7: " in err.getvalue()
    assert message in err.getvalue()
    assert Person.objects.count() == 0 and Team.objects.count() == 0


@pytest.mark.django_db
def test_all_bad_rows_are_reported_together(tmp_path):
    rows = ["a@example.com,A,Eng/A,engineer,", "bad,B,Eng/A,engineer,", "c@example.com,C,Eng/A,wizard,"]
    text = HEADER + "\n".join([*rows, "a@example.com,A2,Eng/B,engineer,"]) + "\n"
    with pytest.raises(RosterErrors) as raised:
        roster_parse(text)
    lines = [line for line, _ in raised.value.errors]
    assert lines == [3, 4, 5]
    assert "first on line 2" in raised.value.errors[-1][1]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "message"),
    [("", "the file is empty"), ("name,email,team,role\n", "the header must be"), (HEADER, "no people")],
)
def test_malformed_files_are_explained(text, message):
    with pytest.raises(RosterErrors) as raised:
        roster_parse(text)
    assert message in str(raised.value)


@pytest.mark.django_db
def test_missing_and_non_utf8_files_are_clear_errors(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        run(tmp_path / "nope.csv")
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + "zo\u00eb@example.com,Zo\u00eb,Eng/A,engineer,\n").encode("latin-1"))
    with pytest.raises(CommandError, match="not UTF-8"):
        run(path)


@pytest.mark.django_db
def test_header_without_manages_column_and_excel_bom_are_accepted(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffemail,name,team,role\r\nx@example.com,X,Eng/A,engineer\r\n".encode())
    out, _ = run(path)
    assert "1 created" in out


@pytest.mark.django_db
def test_dry_run_reports_but_writes_nothing(tmp_path):
    out, _ = run(write(tmp_path, GOOD), "--dry-run")
    assert "Dry run, nothing written: would have 5 rows read: 5 created" in out
    assert Person.objects.count() == 0 and Team.objects.count() == 0


@pytest.mark.django_db
def test_deactivate_missing(tmp_path):
    run(write(tmp_path, GOOD))
    without_di = "\n".join(line for line in GOOD.splitlines() if not line.startswith("di@")) + "\n"
    out, _ = run(write(tmp_path, without_di, "less.csv"), "--deactivate-missing")
    assert "1 deactivated" in out
    di = Person.objects.get(email="di@example.com")
    assert not di.is_active and not di.user.is_active
    # Without the flag, people missing from the file are left alone.
    run(write(tmp_path, GOOD, "again.csv"))
    assert Person.objects.get(email="di@example.com").is_active


@pytest.mark.django_db
def test_warns_about_people_directly_on_a_team_with_sub_teams(tmp_path):
    text = GOOD + "ed@example.com,Ed,Engineering/Platform,engineer,\n"
    _, err = run(write(tmp_path, text))
    assert "1 person sits directly on Engineering/Platform, which has sub-teams" in err
    _, err = run(write(tmp_path, GOOD, "clean.csv"), "--deactivate-missing")
    assert "directly on" not in err


@pytest.mark.django_db
def test_roster_changes_follow_into_the_open_cycle(tmp_path, mailoutbox):
    run(write(tmp_path, GOOD))
    cycle = cycle_open(send_mail=False).cycle
    changed = GOOD.replace(
        "ana@example.com,Ana,Engineering/Platform/Core", "ana@example.com,Ana,Engineering/Platform/Edge"
    )
    changed = "\n".join(line for line in changed.splitlines() if not line.startswith("di@")) + "\n"
    changed += "new@example.com,Nia,People,engineer,\n"
    run(write(tmp_path, changed, "changed.csv"), "--deactivate-missing")
    invitations = {i.person.email: i for i in Invitation.objects.filter(cycle=cycle).select_related("team", "person")}
    # A mover counts for the team they were invited on until the cycle closes (decision 64).
    assert invitations["ana@example.com"].team.path == "Engineering/Platform/Core"
    assert invitations["di@example.com"].status == Invitation.Status.VOID  # leaver's link stops
    assert invitations["new@example.com"].status == Invitation.Status.PENDING  # joiner invited
    assert [m.to for m in mailoutbox] == [["new@example.com"]]
