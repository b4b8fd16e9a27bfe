"""A first import creates its joiners in bulk: the number of queries does not grow with the
number of people, an account that already exists is linked rather than duplicated, and every
joiner gets what one-at-a-time creation gave them (an unusable password, the teams they manage,
a role_set audit event in file order)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from surveys.models import AuditEvent, Person, Team
from surveys.roster import roster_import, roster_parse

pytestmark = pytest.mark.django_db

HEADER = "email,name,team,role,manages\n"


def roster(people: int) -> str:
    rows = [f"p{index}@example.com,P {index},Engineering/Team {index % 3},engineer," for index in range(people)]
    rows.append("lead@example.com,Lead,Engineering,manager,Engineering/Team 0;Engineering/Team 1")
    return HEADER + "\n".join(rows) + "\n"


def queries_for(people: int) -> int:
    rows = roster_parse(roster(people))
    with CaptureQueriesContext(connection) as captured:
        roster_import(rows=rows, invite=False)
    return len(captured.captured_queries)


@pytest.mark.usefixtures("require_postgres")  # SQLite splits a bulk insert by its parameter limit
def test_the_queries_of_a_first_import_do_not_grow_with_its_people():
    small = queries_for(5)
    Person.objects.all().delete()
    get_user_model().objects.all().delete()
    Team.objects.exclude(parent=None).delete()  # the same four teams are created again
    Team.objects.all().delete()
    assert queries_for(300) == small


def test_joiners_get_unusable_passwords_managed_teams_and_audit_events_in_file_order():
    roster_import(rows=roster_parse(roster(4)), invite=False)
    lead = Person.objects.get(email="lead@example.com")
    assert sorted(team.path for team in lead.managed_teams.all()) == ["Engineering/Team 0", "Engineering/Team 1"]
    assert all(not person.user.has_usable_password() for person in Person.objects.select_related("user"))
    assert [person.user.username for person in Person.objects.select_related("user")] == [
        person.email for person in Person.objects.all()
    ]
    events = AuditEvent.objects.filter(action="role_set").order_by("pk")
    assert [event.detail["email"] for event in events] == [
        "p0@example.com",
        "p1@example.com",
        "p2@example.com",
        "p3@example.com",
        "lead@example.com",
    ]


def test_a_joiners_account_name_is_normalised_as_create_user_would():
    """NFKC, as the sign-in form normalises what is typed: else the person could never sign in."""
    roster_import(rows=roster_parse(HEADER + "ana@ｅxample.com,Ana,Engineering,engineer,\n"), invite=False)
    user = Person.objects.select_related("user").get().user
    assert user.username == "ana@example.com"


def test_two_accounts_differing_by_case_link_the_oldest():
    model = get_user_model()
    oldest = model.objects.create_user(username="P0@example.com", email="p0@example.com")
    model.objects.create_user(username="p0@EXAMPLE.com", email="p0@example.com")
    roster_import(rows=roster_parse(roster(2)), invite=False)
    assert Person.objects.get(email="p0@example.com").user_id == oldest.pk


def test_an_existing_account_is_linked_whatever_the_case_of_its_name():
    existing = get_user_model().objects.create_user(username="P1@Example.com", email="p1@example.com", password="x")
    report = roster_import(rows=roster_parse(roster(3)), invite=False)
    assert report.people_created == 4
    assert Person.objects.get(email="p1@example.com").user_id == existing.pk
    assert get_user_model().objects.filter(username__iexact="p1@example.com").count() == 1
    assert get_user_model().objects.get(pk=existing.pk).has_usable_password()  # left as it was
