"""Roster import: `email,name,team,role[,manages]` rows, all or nothing.

Every bad row is reported with its line number and what to fix, and nothing is written unless
the whole file is good. Re-importing the same file changes nothing; a changed team moves the
person (their answers in the open cycle then count for the new team).
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models.functions import Lower

from config.text_input import spaces_trimmed, text_problem
from surveys.models import AuditEvent, Organisation, Person, Role, Team
from surveys.services.accounts import password_invitations_send
from surveys.services.cycles import invitations_follow_roster

COLUMNS = ["email", "name", "team", "role", "manages"]
REQUIRED_COLUMNS = COLUMNS[:4]
ROSTER_ROLES = {Role.ENGINEER.value, Role.MANAGER.value, Role.HR.value}
TEAM_NAME_MAX = 120
PERSON_NAME_MAX = 200  # Person.name
# The account's username holds the address, and Django's auth_user.username holds 150 characters
# (Person.email and SMTP would take 254); tests/surveys/test_roster_bulk.py keeps them equal.
EMAIL_MAX = 150
# The most people one file may hold, so that a preview or an apply stays a bounded piece of work
# inside one request (the README's limits table says what it costs).
ROSTER_MAX_ROWS = 10_000
TOO_MANY_PEOPLE = (
    f"the file holds more than {ROSTER_MAX_ROWS:,} people, the most one file may hold; split it into files "
    f"of at most {ROSTER_MAX_ROWS:,} and import each without deactivating people missing from the file"
)


@dataclass(frozen=True)
class RosterRow:
    line: int
    email: str
    name: str
    team: str
    role: str
    manages: tuple[str, ...]


@dataclass(frozen=True)
class PersonChange:
    """One person in a roster report, for a preview: ``before``/``after`` are team paths (a
    mover), roles (a role change) or the managed team paths joined by "; "; a joiner or a
    leaver has their team in ``after``/``before``."""

    email: str
    name: str
    before: str = ""
    after: str = ""


@dataclass
class RosterReport:
    people_created: int = 0
    people_updated: int = 0
    people_moved: int = 0
    people_deactivated: int = 0
    people_unchanged: int = 0
    teams_created: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    changed_people: list[Person] = field(default_factory=list)
    # Who, for the browser's preview (the counts above stay the command's summary).
    joiners: list[PersonChange] = field(default_factory=list)
    movers: list[PersonChange] = field(default_factory=list)
    leavers: list[PersonChange] = field(default_factory=list)
    role_changes: list[PersonChange] = field(default_factory=list)
    manages_changes: list[PersonChange] = field(default_factory=list)
    reactivated: list[PersonChange] = field(default_factory=list)
    renamed: list[PersonChange] = field(default_factory=list)
    # Active people not in the file: deactivated with ``deactivate_missing``, else left alone.
    missing_active: list[PersonChange] = field(default_factory=list)


class RosterStale(Exception):
    """The roster changed between a preview and its apply; nothing was written."""


class RosterErrors(Exception):
    def __init__(self, errors: list[tuple[int, str]]):
        self.errors = sorted(errors)
        super().__init__("\n".join(f"line {line}: {message}" for line, message in self.errors))


def team_path_normalise(raw: str) -> str:
    """`Engineering / Platform/Core` -> `Engineering/Platform/Core`; raises ValueError if malformed."""
    problem = text_problem(raw, multiline=False)
    if problem:
        raise ValueError(f"team path: {problem}")
    parts = [part.strip() for part in raw.split("/")]
    if not raw.strip() or any(not part for part in parts):
        shown = raw if len(raw) <= 60 else raw[:60] + "\u2026"  # a whole 128 KB cell is no message
        raise ValueError(f"team path {shown!r} has an empty part; write it like Engineering/Platform/Core")
    too_long = [part for part in parts if len(part) > TEAM_NAME_MAX]
    if too_long:
        raise ValueError(f"team name {too_long[0][:40]!r}\u2026 is longer than {TEAM_NAME_MAX} characters")
    return "/".join(parts)


def roster_parse(text: str) -> list[RosterRow]:
    """Parses and validates the whole file; raises RosterErrors listing every bad line."""
    reader = csv.reader(io.StringIO(text))
    errors: list[tuple[int, str]] = []
    try:
        header = [cell.strip().lower() for cell in next(reader)]
    except StopIteration:
        raise RosterErrors(
            [(1, "the file is empty; the first line must be the header email,name,team,role[,manages]")]
        ) from None
    if header[:4] != REQUIRED_COLUMNS or header[4:] not in ([], ["manages"]):
        raise RosterErrors(
            [(1, f"the header must be email,name,team,role or email,name,team,role,manages; found {','.join(header)}")]
        )
    rows: list[RosterRow] = []
    first_line_of: dict[str, int] = {}
    people_lines = 0
    for cells in reader:
        line = reader.line_num
        if not any(spaces_trimmed(cell) for cell in cells):
            continue  # blank lines are harmless (a line of control characters is not blank)
        people_lines += 1
        if people_lines > ROSTER_MAX_ROWS:
            raise RosterErrors([(line, TOO_MANY_PEOPLE)])
        if len(cells) < 4 or len(cells) > len(header):
            errors.append((line, f"expected {len(header)} columns ({','.join(header)}), found {len(cells)}"))
            continue
        # Spaces only: a control character at either end is kept and refused below, not dropped.
        cells = [spaces_trimmed(cell) for cell in cells] + [""] * (5 - len(cells))
        email, name, team, role, manages_raw = cells[:5]
        email = email.lower()
        row_errors = []
        try:
            if len(email) > EMAIL_MAX:
                raise ValidationError("too long")
            validate_email(email)
        except ValidationError:
            shown = email if len(email) <= 60 else email[:60] + "\u2026"
            row_errors.append(f"email {shown!r} is not a valid e-mail address (at most {EMAIL_MAX} characters)")
        else:
            if email in first_line_of:
                row_errors.append(
                    f"email {email} appears again (first on line {first_line_of[email]}); keep one row per person"
                )
            else:
                first_line_of[email] = line
        name_problem = text_problem(name, multiline=False)
        if not name:
            row_errors.append("name is empty; give the person's name")
        elif name_problem:
            row_errors.append(f"name: {name_problem}")
        elif len(name) > PERSON_NAME_MAX:
            row_errors.append(f"name is longer than {PERSON_NAME_MAX} characters; shorten it")
        try:
            team = team_path_normalise(team)
        except ValueError as error:
            row_errors.append(str(error))
        role = role.lower()
        if role not in ROSTER_ROLES:
            hint = " (operators are made with `python manage.py createsuperuser`)" if role == "admin" else ""
            row_errors.append(f"role {role!r} is not one of engineer, manager, hr{hint}")
        manages: list[str] = []
        for raw_path in filter(None, (part.strip() for part in manages_raw.split(";"))):
            try:
                manages.append(team_path_normalise(raw_path))
            except ValueError as error:
                row_errors.append(f"manages: {error}")
        if manages and role != Role.MANAGER:
            row_errors.append("manages is only for managers; clear it or set the role to manager")
        if role == Role.MANAGER and not manages and not row_errors:
            manages = [team]  # a manager manages their own team unless told otherwise
        errors.extend((line, message) for message in row_errors)
        if not row_errors:
            rows.append(RosterRow(line, email, name, team, role, tuple(dict.fromkeys(manages))))
    if not rows and not errors:
        errors.append((2, "the file has a header but no people"))
    if errors:
        raise RosterErrors(errors)
    _check_managed_teams_exist(rows)
    return rows


def _check_managed_teams_exist(rows: list[RosterRow]) -> None:
    known = set(_existing_team_paths())
    for row in rows:
        parts = row.team.split("/")
        known.update("/".join(parts[: depth + 1]) for depth in range(len(parts)))
    errors = [
        (row.line, f"manages {path!r}, but no such team exists or is named in the file; check the spelling")
        for row in rows
        for path in row.manages
        if path not in known
    ]
    if errors:
        raise RosterErrors(errors)


def _existing_team_paths() -> dict[str, Team]:
    teams = {team.pk: team for team in Team.objects.all()}
    paths: dict[str, Team] = {}
    for team in teams.values():
        names = []
        node: Team | None = team
        while node is not None:
            names.append(node.name)
            node = teams.get(node.parent_id) if node.parent_id else None
        paths["/".join(reversed(names))] = team
    return paths


def roster_import(
    *,
    rows: list[RosterRow],
    deactivate_missing: bool = False,
    dry_run: bool = False,
    actor: str = "import_roster",
    invite: bool = True,
) -> RosterReport:
    """Applies parsed rows in one transaction (rolled back for a dry run). With ``invite``, the
    managers and HR it adds or promotes who have no password yet are e-mailed a link to set one,
    once the import has committed."""
    report = RosterReport()
    with transaction.atomic():
        teams = _teams_ensure(rows, report)
        paths = {team.pk: path for path, team in teams.items()}
        # Managed teams prefetched: one query for everyone, not one per unchanged person.
        people = {
            person.email: person
            for person in Person.objects.select_related("team", "user").prefetch_related("managed_teams")
        }
        listed = {row.email for row in rows}
        report.missing_active = [
            PersonChange(email, person.name, before=paths.get(person.team_id, ""))
            for email, person in sorted(people.items())
            if email not in listed and person.is_active
        ]
        joiners: list[RosterRow] = []
        for row in rows:
            person = people.get(row.email)
            if person is None:
                joiners.append(row)
                report.joiners.append(PersonChange(row.email, row.name, after=f"{row.team} ({row.role})"))
            else:
                _person_update(row, teams, person, report, actor, paths)
        _joiners_create(joiners, teams, report, actor)
        if deactivate_missing:
            for email, person in people.items():
                if email not in listed and person.is_active:
                    report.leavers.append(PersonChange(email, person.name, before=paths.get(person.team_id, "")))
                    person.is_active = False
                    person.save(update_fields=["is_active"])
                    if person.user is not None:
                        person.user.is_active = False
                        person.user.save(update_fields=["is_active"])
                    report.people_deactivated += 1
                    report.changed_people.append(person)
        report.warnings.extend(_direct_member_warnings())
        if dry_run:
            transaction.set_rollback(True)
        elif invite:
            readers = [
                person.user_id
                for person in report.changed_people
                if person.is_active and person.role in (Role.MANAGER, Role.HR) and person.user_id is not None
            ]
            if readers:
                transaction.on_commit(lambda: password_invitations_send(user_ids=readers))
    return report


def _teams_ensure(rows: list[RosterRow], report: RosterReport) -> dict[str, Team]:
    teams = _existing_team_paths()
    for path in sorted({row.team for row in rows} | {p for row in rows for p in row.manages}):
        parts = path.split("/")
        for depth in range(len(parts)):
            sub_path = "/".join(parts[: depth + 1])
            if sub_path not in teams:
                parent = teams.get("/".join(parts[:depth])) if depth else None
                teams[sub_path] = Team.objects.create(name=parts[depth], parent=parent)
                report.teams_created.append(sub_path)
    return teams


def _joiners_create(rows: list[RosterRow], teams: dict[str, Team], report: RosterReport, actor: str) -> None:
    """People new to the roster, in a fixed number of bulk statements whatever their number on
    PostgreSQL (SQLite splits each into batches of its parameter limit): their accounts (an
    existing account with the same name, made by SSO or the admin, is linked instead), their
    Person rows, the teams they manage, and one ``role_set`` audit event each, in file order."""
    if not rows:
        return
    user_model = get_user_model()
    # The names create_user would have stored: NFKC-normalised (as the sign-in form normalises
    # what is typed) and, for the e-mail, Django's domain normalisation.
    usernames = {row.email: user_model.normalize_username(row.email) for row in rows}
    matching = user_model.objects.annotate(username_lower=Lower("username")).filter(
        username_lower__in=[name.lower() for name in usernames.values()]
    )
    accounts: dict[str, Any] = {}
    for user in matching.order_by("-pk"):  # two names differing by case: the oldest account wins
        accounts[user.username_lower] = user
    # make_password(None) is what set_unusable_password stores: sign-in is set up by SSO or a reset.
    new_accounts = [
        user_model(
            username=usernames[row.email],
            email=user_model.objects.normalize_email(row.email),
            password=make_password(None),
        )
        for row in rows
        if usernames[row.email].lower() not in accounts
    ]
    for created in user_model.objects.bulk_create(new_accounts):
        accounts[created.username.lower()] = created
    people = Person.objects.bulk_create(
        Person(
            email=row.email,
            name=row.name,
            team=teams[row.team],
            role=row.role,
            user=accounts[usernames[row.email].lower()],
        )
        for row in rows
    )
    Person.managed_teams.through.objects.bulk_create(
        Person.managed_teams.through(person_id=person.pk, team_id=teams[path].pk)
        for row, person in zip(rows, people, strict=True)
        for path in row.manages
    )
    AuditEvent.objects.bulk_create(
        AuditEvent(actor=actor, action="role_set", detail={"email": row.email, "role": row.role}) for row in rows
    )
    report.people_created += len(people)
    report.changed_people.extend(people)


def _person_update(
    row: RosterRow,
    teams: dict[str, Team],
    person: Person,
    report: RosterReport,
    actor: str,
    paths: dict[uuid.UUID, str],
) -> None:
    team = teams[row.team]
    managed = [teams[path] for path in row.manages]
    managed_ids = {team.pk for team in managed}
    changed = False
    if person.team_id != team.pk:
        report.people_moved += 1
        report.movers.append(PersonChange(row.email, row.name, paths.get(person.team_id, ""), row.team))
        changed = True
    if person.role != row.role:
        report.role_changes.append(PersonChange(row.email, row.name, person.role, row.role))
        AuditEvent.objects.create(
            actor=actor, action="role_changed", detail={"email": row.email, "from": person.role, "to": row.role}
        )
        changed = True
    if person.name != row.name:
        report.renamed.append(PersonChange(row.email, row.name, person.name, row.name))
        changed = True
    if not person.is_active:
        report.reactivated.append(PersonChange(row.email, row.name, after=row.team))
        changed = True
    current_managed = {managed_team.pk for managed_team in person.managed_teams.all()}  # prefetched
    if current_managed != managed_ids:
        before = "; ".join(sorted(paths.get(pk, "") for pk in current_managed))
        report.manages_changes.append(PersonChange(row.email, row.name, before, "; ".join(sorted(row.manages))))
        AuditEvent.objects.create(
            actor=actor, action="managed_teams_changed", detail={"email": row.email, "manages": sorted(row.manages)}
        )
        person.managed_teams.set(managed)
        changed = True
    if not changed:
        report.people_unchanged += 1
        return
    person.name, person.team, person.role, person.is_active = row.name, team, row.role, True
    person.save(update_fields=["name", "team", "role", "is_active"])
    if person.user is not None and not person.user.is_active:
        person.user.is_active = True
        person.user.save(update_fields=["is_active"])
    report.people_updated += 1
    report.changed_people.append(person)


def _direct_member_warnings() -> list[str]:
    """ANONYMITY R5: people sitting directly on a team with sub-teams force a sibling to be hidden."""
    warnings = []
    for team in Team.objects.filter(children__isnull=False).distinct():
        direct = Person.objects.filter(team=team, is_active=True).count()
        if direct:
            who = "1 person sits" if direct == 1 else f"{direct} people sit"
            warnings.append(
                f"{who} directly on {team.path}, which has sub-teams. Their answers "
                f"will force a sub-team to be hidden; consider giving them a team of their own "
                f"(e.g. {team.path}/Leadership)."
            )
    return warnings


def roster_fingerprint() -> str:
    """A digest of the roster as an import sees it (every person's e-mail, name, team path, role,
    active flag and managed teams, and every team path): equal digests mean an import of the
    same rows does the same thing. The browser's preview stores it, and applying refuses when
    it has changed since (someone imported or edited the roster meanwhile)."""
    paths = {team.pk: path for path, team in _existing_team_paths().items()}
    managed: dict[object, list[str]] = {}
    for person_id, team_id in Person.managed_teams.through.objects.values_list("person_id", "team_id"):
        managed.setdefault(person_id, []).append(paths.get(team_id, ""))
    digest = hashlib.sha256()
    for path in sorted(paths.values()):
        digest.update(f"team\x1f{path}\x1e".encode())
    people = Person.objects.values_list("pk", "email", "name", "team_id", "role", "is_active").order_by("email")
    for pk, email, name, team_id, role, is_active in people:
        fields = [email, name, paths.get(team_id, ""), role, str(is_active), ";".join(sorted(managed.get(pk, [])))]
        digest.update(("person\x1f" + "\x1f".join(fields) + "\x1e").encode())
    return digest.hexdigest()


def roster_apply(*, rows: list[RosterRow], deactivate_missing: bool, fingerprint: str, actor: str) -> RosterReport:
    """Applies a previewed import, all or nothing, as ``import_roster`` does (and then, like it,
    brings the open cycle's invitations in step: joiners are invited, leavers' links stop).

    Refuses with RosterStale when the roster's fingerprint is no longer the preview's, so what
    was previewed is what happens. The organisation row is locked for the check and the import,
    so two applies of previews of the same roster cannot both pass the check (PostgreSQL;
    SQLite serialises writers anyway). Audited as one ``roster_imported`` event besides the
    per-person events the import writes."""
    with transaction.atomic():
        list(Organisation.objects.select_for_update().all())
        if roster_fingerprint() != fingerprint:
            raise RosterStale(
                "the roster has changed since this preview (someone imported or edited it meanwhile); "
                "nothing was changed. Upload the file again to see what it would do now."
            )
        report = roster_import(rows=rows, deactivate_missing=deactivate_missing, actor=actor)
        AuditEvent.objects.create(
            actor=actor,
            action="roster_imported",
            detail={
                "subject": f"roster upload: {len(rows)} rows",
                "rows": len(rows),
                "created": report.people_created,
                "updated": report.people_updated,
                "moved": report.people_moved,
                "role_changes": len(report.role_changes),
                "unchanged": report.people_unchanged,
                "deactivated": report.people_deactivated,
                "deactivate_missing": deactivate_missing,
                "teams_created": len(report.teams_created),
                "warnings": len(report.warnings),
            },
        )
    if report.changed_people:
        invitations_follow_roster(people=report.changed_people)
    return report
