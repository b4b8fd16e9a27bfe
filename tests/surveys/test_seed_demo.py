"""seed_demo: the demo organisation, its cycles and planted patterns, built through the real doors."""

from __future__ import annotations

import io
import re
from collections import Counter

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Avg
from django.utils import timezone

from surveys.anonymous.models import Answer, Comment, Response
from surveys.emails import survey_link
from surveys.models import AuditEvent, Cycle, Invitation, InvitationTally, Person, Role, Team
from surveys.selectors import LinkState, invitation_for_token, survey_link_state
from tests.factories import PersonFactory

SMALL = {"teams": 8, "months": 3}
PS_POSITIVE = ["ps2", "ps4", "ps6", "ps7"]
AI_ITEMS = {"trust1", "speed1", "speed2", "ag1", "ag2", "ag3", "ag4", "op1", "op2"}
LINK = re.compile(re.escape(survey_link("TOKEN")).replace("TOKEN", r"([A-Za-z0-9_-]+)"))


def seed(**options: object) -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out, stderr=io.StringIO(), **{**SMALL, **options})
    return out.getvalue()


def team(path: str) -> Team:
    name = path.rsplit("/", 1)[-1]
    return next(t for t in Team.objects.filter(name=name) if t.path == path)


def links_in(output: str) -> list[str]:
    return LINK.findall(output)


def live_token_of(output: str, email: str) -> str:
    for token in links_in(output):
        invitation = invitation_for_token(token=token)
        if invitation is not None and invitation.person.email == email:
            return token
    raise AssertionError(f"no live link for {email} in the output")


def test_logins_exist_and_authenticate_with_the_password(db):
    seed(password="s3cret-demo")

    for email in ("hr@demo.example", "manager@demo.example", "engineer@demo.example", "admin@demo.example"):
        assert authenticate(username=email, password="s3cret-demo") is not None, email
        assert authenticate(username=email, password="demo") is None, email
    admin = get_user_model().objects.get(username="admin@demo.example")
    assert admin.is_superuser and admin.is_staff
    hr = Person.objects.get(email="hr@demo.example")
    assert (hr.role, hr.team.path) == (Role.HR, "People")
    manager = Person.objects.get(email="manager@demo.example")
    assert (manager.role, manager.team.path) == (Role.MANAGER, "Engineering/Leadership")
    assert [t.path for t in manager.managed_teams.all()] == ["Engineering"]
    engineer = Person.objects.get(email="engineer@demo.example")
    assert engineer.role == Role.ENGINEER
    assert engineer.team.path.startswith("Engineering/") and not engineer.team.children.exists()
    assert Person.objects.filter(role=Role.HR).count() == 1


def test_organisation_has_the_planted_teams_and_no_one_on_a_team_with_sub_teams(db):
    seed()

    leaves = Team.objects.filter(children__isnull=True)
    assert leaves.count() == SMALL["teams"]
    assert {t.path for t in Team.objects.filter(parent__isnull=True)} == {"Engineering", "Product", "Data", "People"}
    sizes = {t.path: t.members.count() for t in leaves}
    assert sizes["Engineering/Payments"] in (9, 10)
    assert sizes["Product/Growth"] in (9, 10)
    assert sizes["Data/Insights"] == 3
    assert all(3 <= size <= 12 for size in sizes.values()), sizes
    for department in ("Engineering", "Product", "Data"):
        assert f"{department}/Leadership" in sizes
    # ANONYMITY R5: department heads sit in a Leadership team, never directly on a department.
    assert not Person.objects.filter(team__children__isnull=False).exists()
    # Every working team has a manager who manages it (the roster default for a manager).
    for leaf in leaves.exclude(name__in=["Leadership", "People"]):
        assert leaf.managers.filter(team=leaf, role=Role.MANAGER).exists(), leaf.path
    # The roster went through the real import; its per-person role events are summarised once.
    assert not AuditEvent.objects.filter(actor="seed_demo", action="role_set").exists()
    imported = AuditEvent.objects.get(actor="seed_demo", action="roster_imported")
    assert imported.detail["people_created"] == Person.objects.count()
    assert imported.detail["roles"] == dict(Counter(Person.objects.values_list("role", flat=True)))


def test_the_demo_audits_one_event_per_action_each_with_a_subject_and_no_answer(db):
    from surveys.admin import AuditEventAdmin

    seed()
    events = list(AuditEvent.objects.filter(actor="seed_demo"))
    cycles = list(Cycle.objects.order_by("month"))
    actions = Counter(event.action for event in events)
    assert actions == {"roster_imported": 1, "demo_logins_set": 1, "cycle_opened": len(cycles),
                       "cycle_closed": len(cycles) - 1}  # fmt: skip
    labels = {c.label for c in cycles}
    assert {e.detail["cycle"] for e in events if e.action == "cycle_opened"} == labels
    assert {e.detail["cycle"] for e in events if e.action == "cycle_closed"} == labels - {cycles[-1].label}
    # Every event names its subject, which the admin's list shows: no page of identical rows.
    subject = AuditEventAdmin(AuditEvent, admin_site=None).subject  # type: ignore[arg-type]
    subjects = [subject(event) for event in events]
    assert all(subjects) and len(set(subjects)) == len(events) - (len(cycles) - 1), subjects
    # Never an answer: no item key and no answer value in any event's detail.
    items = {key for key in ("ps1", "use1", "ws1", "trust1", "c1", "answers", "comment")}
    assert not any(items & set(event.detail) for event in events)
    # Running it again refreshes the logins: one more event, not another page.
    seed()
    assert AuditEvent.objects.filter(actor="seed_demo").count() == len(events) + 1


def test_one_cycle_per_month_and_only_the_current_one_open(db):
    output = seed()

    cycles = list(Cycle.objects.order_by("month"))
    this_month = timezone.localdate().replace(day=1)
    assert [c.month for c in cycles][-1] == this_month
    assert len(cycles) == SMALL["months"]
    for earlier, later in zip(cycles, cycles[1:], strict=False):
        assert (later.month.year * 12 + later.month.month) - (earlier.month.year * 12 + earlier.month.month) == 1
    *past, current = cycles
    assert current.is_open and all(not c.is_open for c in past)
    for cycle in past:
        assert cycle.opened_on == cycle.month
        assert (cycle.closed_on - cycle.opened_on).days == 14
        assert cycle.k == 5
        assert f"{cycle.label}: " in output and "answered, closed" in output
    assert f"{current.label}: " in output and "answered, open until" in output


def test_closed_cycles_keep_only_tallies_that_match_the_responses(db):
    seed()
    leaves = {t.pk: t for t in Team.objects.filter(children__isnull=True)}

    for cycle in Cycle.objects.filter(status=Cycle.Status.CLOSED):
        assert not Invitation.objects.filter(cycle=cycle).exists()
        tallies = {t.team_id: t for t in InvitationTally.objects.filter(cycle=cycle)}
        assert set(tallies) == set(leaves)
        responses = Counter(Response.objects.filter(cycle=cycle).values_list("team_id", flat=True))
        for team_id, tally in tallies.items():
            assert tally.invited == leaves[team_id].members.count()
            assert responses[team_id] == tally.answered
            if leaves[team_id].path == "Data/Insights":
                assert tally.answered == tally.invited == 3  # this team always answers
            else:
                assert 0.6 <= tally.answered / tally.invited <= 0.95, (cycle.label, leaves[team_id].path)


def test_the_open_cycle_is_about_half_answered_and_the_engineer_login_is_left_to_answer(db):
    output = seed()
    cycle = Cycle.objects.get(status=Cycle.Status.OPEN)

    invitations = Invitation.objects.filter(cycle=cycle)
    assert invitations.count() == Person.objects.count()
    answered = invitations.filter(status=Invitation.Status.ANSWERED)
    assert 0.3 <= answered.count() / invitations.count() <= 0.7
    per_team = Counter(answered.values_list("team_id", flat=True))
    assert per_team == Counter(Response.objects.filter(cycle=cycle).values_list("team_id", flat=True))
    assert invitations.get(person__email="engineer@demo.example").status == Invitation.Status.PENDING
    assert per_team[team("Data/Insights").pk] == 3

    tokens = links_in(output)
    assert 3 <= len(tokens) <= 5
    for token in tokens:
        invitation = invitation_for_token(token=token)
        assert invitation is not None and invitation.cycle == cycle
        assert survey_link_state(token=token, invitation=invitation) is LinkState.OPEN
    engineer_token = live_token_of(output, "engineer@demo.example")
    line = next(line for line in output.splitlines() if engineer_token in line)
    assert "engineer@demo.example's own link" in line


def test_answers_follow_the_skip_logic_and_include_non_users_and_comments(db):
    seed()

    answers: dict[object, dict[str, float]] = {}
    for response_id, item, value in Answer.objects.values_list("response_id", "item", "value"):
        answers.setdefault(response_id, {})[item] = value
    assert len(answers) == Response.objects.count()
    non_users = [a for a in answers.values() if a["use1"] == 1]
    assert 0.05 <= len(non_users) / len(answers) <= 0.25
    assert all(not AI_ITEMS & a.keys() for a in non_users)
    assert all(AI_ITEMS <= a.keys() for a in answers.values() if a["use1"] > 1)
    assert all("ws2" not in a for a in answers.values() if a["ws1"] == 1)
    assert all("ws2" in a for a in answers.values() if a["ws1"] > 1)
    assert all(1 <= a[key] <= 7 for a in answers.values() for key in PS_POSITIVE)
    assert all(-10 <= a["speed2"] <= 20 for a in answers.values() if "speed2" in a)
    comments = Comment.objects.all()
    assert 0 < comments.count() < len(answers) / 3
    assert all(len(c.text) <= 1000 and "@" not in c.text for c in comments)


def test_running_twice_adds_nothing_and_prints_fresh_links(db):
    first = seed()
    counts = {model: model.objects.count() for model in (Person, Team, Cycle, Response, Answer, InvitationTally)}
    users = get_user_model().objects.count()
    old_engineer_token = live_token_of(first, "engineer@demo.example")

    second = seed()

    assert {model: model.objects.count() for model in counts} == counts
    assert get_user_model().objects.count() == users
    assert "already here" in second and "hr@demo.example" in second
    new_engineer_token = live_token_of(second, "engineer@demo.example")
    assert 3 <= len(links_in(second)) <= 5
    for token in links_in(second):
        assert survey_link_state(token=token, invitation=invitation_for_token(token=token)) is LinkState.OPEN
    # Re-issuing voids the link printed the first time, as "resend my link" does.
    assert new_engineer_token != old_engineer_token
    assert invitation_for_token(token=old_engineer_token) is None


def test_reset_rebuilds_from_scratch(db):
    seed()
    old_cycles = set(Cycle.objects.values_list("pk", flat=True))
    old_people = set(Person.objects.values_list("pk", flat=True))

    output = seed(reset=True, teams=9, months=2)

    assert "Demo ready" in output
    assert Cycle.objects.count() == 2 and not Cycle.objects.filter(pk__in=old_cycles).exists()
    assert not Person.objects.filter(pk__in=old_people).exists()
    assert Team.objects.filter(children__isnull=True).count() == 9
    assert not Team.objects.filter(children__isnull=True, members__isnull=True).exists()  # no orphans left
    assert not Response.objects.exclude(cycle__in=Cycle.objects.all()).exists()
    assert set(InvitationTally.objects.values_list("cycle_id", flat=True)) <= set(
        Cycle.objects.values_list("pk", flat=True)
    )
    assert get_user_model().objects.filter(username__endswith="@demo.example").count() == Person.objects.count() + 1
    assert authenticate(username="engineer@demo.example", password="demo") is not None


def test_it_refuses_to_mix_with_a_real_roster(db):
    PersonFactory(email="ana@example.com")

    with pytest.raises(CommandError, match="database of its own"):
        seed()
    with pytest.raises(CommandError, match="outside @demo.example"):
        seed(reset=True)
    assert not Cycle.objects.exists()
    assert Person.objects.count() == 1


def _mean(path: str, cycle: Cycle, items: list[str]) -> float:
    answers = Answer.objects.filter(response__team=team(path), response__cycle=cycle, item__in=items)
    return float(answers.aggregate(mean=Avg("value"))["mean"])


def test_planted_patterns_are_strong_and_the_rest_is_stable(db):
    seed(months=7)
    cycles = list(Cycle.objects.order_by("month"))
    last, five_before = cycles[-1], cycles[-6]

    # Payments: psychological safety falls (positively keyed items go down) while pressure rises.
    payments = "Engineering/Payments"
    assert _mean(payments, five_before, PS_POSITIVE) - _mean(payments, last, PS_POSITIVE) >= 1.2
    assert _mean(payments, last, ["press1"]) - _mean(payments, five_before, ["press1"]) >= 1.2
    # Growth: agency rises, its reverse-keyed item falls.
    assert _mean("Product/Growth", last, ["ag1"]) - _mean("Product/Growth", five_before, ["ag1"]) >= 1.2
    assert _mean("Product/Growth", five_before, ["ag4"]) - _mean("Product/Growth", last, ["ag4"]) >= 1.2
    growth_users = Answer.objects.filter(response__team=team("Product/Growth"), item="use1")
    assert growth_users.filter(value__gt=1).count() / growth_users.count() >= 0.9

    # Everyone else is stable: the effect is the planted one, not a drift of the whole organisation.
    planted = [team("Engineering/Payments").pk, team("Product/Growth").pk]
    rest = Answer.objects.exclude(response__team__in=planted).filter(item__in=PS_POSITIVE)
    rest_last = rest.filter(response__cycle=last).aggregate(mean=Avg("value"))["mean"]
    rest_before = rest.filter(response__cycle=five_before).aggregate(mean=Avg("value"))["mean"]
    assert abs(rest_last - rest_before) < 0.5


def test_the_manager_has_actions_on_payments_one_closed_with_its_outcome(db):
    from surveys.models import Action

    output = seed(months=7)
    closed = list(Cycle.objects.filter(status=Cycle.Status.CLOSED).order_by("-month"))
    actions = list(Action.objects.select_related("unit", "owner", "started_cycle").order_by("created_at"))
    assert [a.unit.path for a in actions] == ["Engineering/Payments"] * 3
    assert {a.owner.email for a in actions} == {"manager@demo.example"}
    assert all(a.from_playbook for a in actions)
    first, checked_back, waiting = actions
    assert first.status == Action.Status.CLOSED and first.outcome.startswith("We took AI-use counts")
    # Checked back on in the latest published cycle; the last one's check-back is still to come.
    assert checked_back.is_open and checked_back.check_back_month == closed[0].month
    assert waiting.is_open and waiting.started_cycle == closed[0] and waiting.check_back_month > closed[0].month
    assert "recorded 3 actions on Engineering/Payments" in output
    # Audited as the manager's, and removed with the demo on --reset.
    assert AuditEvent.objects.filter(actor="manager@demo.example", action="action_created").count() == 3
    seed(months=7, reset=True)
    assert Action.objects.count() == 3


def test_a_short_demo_records_only_the_actions_whose_months_it_has(db):
    from surveys.models import Action

    seed()  # 3 months: two closed cycles
    assert Action.objects.count() == 1
