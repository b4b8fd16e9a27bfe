"""Live participation of the open cycle (ANONYMITY R4, R5, R8): counted by the team each
invitation was issued on, everyone included; which units may show decided on head counts, the
figures on answered counts within that; counted on a schedule, stored, read through the door,
and deleted at close."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from analytics.core.participation import LiveFigure, live_participation
from analytics.core.tree import ORGANISATION, UnitTree
from analytics.core.violations import complementary_violations
from analytics.job.participation import participation_count
from analytics.job.tasks import participation_count_task
from analytics.models import LiveParticipation
from analytics.published import HIDDEN_TEXT, organisation_live_rate
from analytics.published import live_participation as door_live_participation
from analytics.published.rates import response_rates
from surveys.anonymous.models import Response
from surveys.closing import cycle_close
from surveys.models import Cycle, Invitation, InvitationTally, Person, Team
from surveys.services.cycles import cycle_open, invitations_follow_roster
from surveys.services.thresholds import cycle_k_raise
from surveys.submission import response_submit
from tests.surveys.helpers import FULL_ANSWERS, team_with_people

DEC = dt.date(2026, 12, 1)


# --- the pure decision ----------------------------------------------------------------------------


def _tree() -> UnitTree[str]:
    # org -> eng (inner: a head sits on it) -> alpha, beta, gamma; org -> product -> design
    return UnitTree.from_teams(
        [("eng", "Eng", None), ("alpha", "A", "eng"), ("beta", "B", "eng"), ("gamma", "G", "eng"),
         ("product", "P", None), ("design", "D", "product")],
        "Org",
    )  # fmt: skip


INVITED = {"eng": 1, "alpha": 6, "beta": 6, "gamma": 3, "design": 6}


def published(figures) -> set[str]:
    return {unit for unit, figure in figures.items() if figure.published}


def test_head_counts_decide_the_structure_and_answers_the_figures():
    answered = {"alpha": 5, "beta": 6, "gamma": 2, "design": 5}
    figures = live_participation(_tree(), invited=INVITED, answered=answered, k=5)
    assert figures["gamma"] == LiveFigure("gamma", 3, False, None, None)  # R4 on head counts: 3 < 5
    # R5 on head counts: Eng (16 invited) minus Alpha and Beta would leave the head and Gamma (4
    # people): the smaller of the tied teams (by id, Alpha) is hidden for the whole cycle.
    assert figures["alpha"] == LiveFigure("alpha", 6, False, None, None)
    assert figures["beta"] == LiveFigure("beta", 6, True, 6, 100)
    assert figures["eng"] == LiveFigure("eng", 16, True, 13, 81)  # the head is invited here, like at close
    assert figures["design"] == LiveFigure("design", 6, True, 5, 83)
    assert figures[ORGANISATION] == LiveFigure(ORGANISATION, 22, True, 18, 82)
    shown = sorted(published(figures))
    assert complementary_violations(_tree(), answered, shown, k=5) == []
    assert complementary_violations(_tree(), INVITED, shown, k=5) == []


@pytest.mark.parametrize("head_answered", [0, 1])
def test_a_head_alone_on_an_inner_unit_never_changes_which_units_show(head_answered):
    """Decided on answered counts alone, Eng minus Alpha and Beta would be the head's answer,
    or Alpha would be hidden exactly when the head answered. On head counts the structure is
    fixed, and Eng minus what shows below it is a region of 10 invited people."""
    base = {"alpha": 5, "beta": 5, "gamma": 0, "design": 5}
    without = live_participation(_tree(), invited=INVITED, answered=base, k=5)
    with_head = live_participation(_tree(), invited=INVITED, answered={**base, "eng": head_answered}, k=5)
    assert published(with_head) == published(without) == {ORGANISATION, "eng", "beta", "product", "design"}
    assert with_head["eng"].answered == 10 + head_answered


def test_people_on_the_organisation_root_are_counted_there():
    tree = UnitTree.from_teams([("a", "A", None)], "Org")
    figures = live_participation(tree, invited={ORGANISATION: 2, "a": 5}, answered={ORGANISATION: 2, "a": 5}, k=5)
    # The organisation minus A would be the two on the root: A is hidden whatever they do.
    assert figures[ORGANISATION] == LiveFigure(ORGANISATION, 7, True, 7, 100)
    assert figures["a"] == LiveFigure("a", 5, False, None, None)


def test_nobody_answered_hides_everything_and_invited_stays():
    figures = live_participation(_tree(), invited=INVITED, answered={}, k=5)
    assert not any(figure.published for figure in figures.values())
    assert figures[ORGANISATION].invited == 22


@pytest.mark.parametrize(
    ("invited", "answered", "message"),
    [
        ({"alpha": 2}, {"alpha": 3}, r"answered\['alpha'\] = 3 is more than the 2 invited"),
        ({}, {"beta": 1}, r"answered\['beta'\] = 1 is more than the 0 invited"),
        ({"nowhere": 1}, {}, "unknown unit 'nowhere'"),
        ({"alpha": -1}, {}, r"direct_n\['alpha'\] must be a non-negative int"),
    ],
)
def test_bad_counts_are_refused_with_the_unit_named(invited, answered, message):
    with pytest.raises(ValueError, match=message):
        live_participation(_tree(), invited=invited, answered=answered, k=5)


def test_a_hidden_figure_cannot_carry_numbers():
    with pytest.raises(ValueError, match="inconsistent live figure"):
        LiveFigure("a", 5, False, 3, 60)


@st.composite
def organisations(draw: st.DrawFn):
    """Up to 25 units, up to 4 levels, people on inner units too, some of everyone answering."""
    size = draw(st.integers(1, 25))
    rows, depth = [], {}
    for unit in range(size):
        candidates = [parent for parent in range(unit) if depth[parent] < 3]
        parent = draw(st.sampled_from([None, *candidates])) if candidates else None
        depth[unit] = 0 if parent is None else depth[parent] + 1
        rows.append((f"u{unit:02d}", f"U{unit}", None if parent is None else f"u{parent:02d}"))
    tree = UnitTree.from_teams(rows, "Org")
    invited = {unit: draw(st.integers(0, 12)) for unit in tree.parents}
    answered = {unit: draw(st.integers(0, invited[unit])) for unit in tree.parents}
    return tree, invited, answered, draw(st.integers(3, 7))


@hypothesis_settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(organisations(), st.data())
def test_any_subtraction_isolates_at_least_k_invited_and_answers_never_move_the_structure(organisation, data):
    tree, invited, answered, k = organisation
    figures = live_participation(tree, invited=invited, answered=answered, k=k)
    shown = sorted(published(figures))
    # The independent checker: every region a subtraction isolates holds 0 or >= k answers, and
    # 0 or >= k invited people.
    assert complementary_violations(tree, answered, shown, k=k) == []
    assert complementary_violations(tree, invited, shown, k=k) == []
    for figure in figures.values():
        if figure.published:
            assert figure.answered is not None and figure.answered >= k
    # More answers (as time passes) never show a unit that head counts hide.
    later = {unit: data.draw(st.integers(answered[unit], invited[unit])) for unit in tree.parents}
    structure = published(live_participation(tree, invited=invited, answered=invited, k=k))
    assert published(live_participation(tree, invited=invited, answered=later, k=k)) <= structure


# --- counted by the job, stored, read through the door -------------------------------------------


@pytest.fixture
def org(db):
    """Engineering (a head on it; Alpha 6, Beta 6, Gamma 3) and Product (Design 6), k = 5."""
    engineering = Team.objects.create(name="Engineering")
    for name, size in (("Alpha", 6), ("Beta", 6), ("Gamma", 3)):
        team_with_people(name, size, parent=engineering)
    Person.objects.create(email="head@example.com", name="Head", team=engineering, role="manager")
    product = Team.objects.create(name="Product")
    team_with_people("Design", 6, parent=product)
    opened = cycle_open(month=DEC, today=DEC, send_mail=False)
    return {link.person_email: link.token for link in opened.links}, opened.cycle


def answer(tokens: dict[str, str], *emails: str) -> None:
    for email in emails:
        response_submit(token=tokens[email], raw_answers=FULL_ANSWERS)


def team_emails(name: str, count: int) -> list[str]:
    return [f"{name.lower()}-{index}@example.com" for index in range(count)]


def stored(cycle: Cycle) -> list[tuple[object, ...]]:
    """Every stored figure of the cycle, without when it was counted."""
    return sorted(
        LiveParticipation.objects.filter(cycle=cycle).values_list(
            "path", "level", "depth", "invited", "published", "answered", "percent", "k"
        )
    )


def test_nothing_is_counted_while_no_cycle_is_open(db):
    team_with_people("Core", 6)
    assert participation_count() is None
    assert participation_count_task.apply().get() == {"skipped": "no open cycle"}
    assert not LiveParticipation.objects.exists()


def test_the_beat_counts_every_ten_minutes():
    entry = settings.CELERY_BEAT_SCHEDULE["count-live-participation"]
    assert entry["task"] == participation_count_task.name == "analytics.job.tasks.participation_count_task"
    assert entry["schedule"]._orig_minute == "*/10"
    assert entry["options"]["expires"] < 10 * 60  # a count that waited past the next one is dropped


def test_opening_a_cycle_counts_it_once_the_open_has_committed(db, django_capture_on_commit_callbacks):
    team_with_people("Core", 6)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        cycle = cycle_open(month=DEC, today=DEC, send_mail=False).cycle
    assert not LiveParticipation.objects.exists()  # nothing inside the opening transaction
    for callback in callbacks:
        callback()
    rows = LiveParticipation.objects.filter(cycle=cycle).values_list("level", "invited", "published")
    assert sorted(rows) == [("organisation", 6, False), ("team", 6, False)]  # nobody has answered yet


def test_stored_rows_obey_r4_and_r5_and_hidden_rows_hold_no_numbers(org):
    tokens, cycle = org
    answer(tokens, *team_emails("Alpha", 5), *team_emails("Beta", 5), *team_emails("Gamma", 2))
    answer(tokens, *team_emails("Design", 5), "head@example.com")
    participation_count()
    rows = {row[0]: row[3:7] for row in stored(cycle)}
    assert rows["Engineering/Gamma"] == (3, False, None, None)
    # Alpha and Beta tie on head counts: R5 hides the one with the smaller id, never both.
    assert sorted([rows["Engineering/Alpha"][1], rows["Engineering/Beta"][1]]) == [False, True]
    assert rows["Engineering"] == (16, True, 13, 81)  # the head is invited and answered here
    assert rows["Product/Design"] == (6, True, 5, 83)
    parents = {str(t.pk): str(t.parent_id) if t.parent_id else ORGANISATION for t in Team.objects.all()}
    parents[ORGANISATION] = None  # type: ignore[assignment]
    direct = {
        str(team.pk): Invitation.objects.filter(cycle=cycle, counted_team=team, status="answered").count()
        for team in Team.objects.all()
    }
    shown = [str(unit) for unit in LiveParticipation.objects.filter(published=True).values_list("unit_id", flat=True)]
    assert complementary_violations(parents, direct, shown, k=5) == []
    with pytest.raises(IntegrityError), transaction.atomic():
        LiveParticipation.objects.filter(published=False).update(answered=2)


def test_the_head_answering_changes_no_unit_shown_only_the_counts_that_include_them(org):
    tokens, cycle = org
    answer(tokens, *team_emails("Alpha", 5), *team_emails("Beta", 5), *team_emails("Design", 5))
    participation_count()
    before = {row[0]: row for row in stored(cycle)}
    answer(tokens, "head@example.com")
    participation_count()
    after = {row[0]: row for row in stored(cycle)}
    assert {path: row[4] for path, row in after.items()} == {path: row[4] for path, row in before.items()}
    moved = {path for path in after if after[path][5] != before[path][5]}
    # Only units whose figure includes the head moved, each by one answer beside a region of at
    # least k invited people (Engineering minus the team it shows: the head, Gamma and the hidden team).
    assert moved == {path for path, row in after.items() if row[1] in ("organisation", "department")} - {"Product"}
    assert after["Engineering"][5] == before["Engineering"][5] + 1 == 11


def test_a_mover_counts_for_the_old_team_until_close(org):
    tokens, cycle = org
    answer(tokens, *team_emails("Alpha", 4), *team_emails("Beta", 5))
    participation_count()
    before = stored(cycle)
    mover = Person.objects.get(email="alpha-5@example.com")
    mover.team = Team.objects.get(name="Beta")
    mover.save()
    invitations_follow_roster(people=[mover])
    invitation = Invitation.objects.get(cycle=cycle, person=mover)
    assert invitation.team.name == "Alpha" and invitation.counted_team.name == "Alpha"
    participation_count()
    assert stored(cycle) == before  # a move changes no count
    answer(tokens, "alpha-5@example.com")
    participation_count()
    alpha = LiveParticipation.objects.get(cycle=cycle, path="Engineering/Alpha")
    beta = LiveParticipation.objects.get(cycle=cycle, path="Engineering/Beta")
    assert (alpha.invited, beta.invited) == (6, 6)
    # The answers count where they were invited, at close too.
    assert Response.objects.filter(cycle=cycle, team__name="Alpha").count() == 5
    cycle_close(cycle=cycle, today=DEC + dt.timedelta(days=14))
    tallies = dict(InvitationTally.objects.filter(cycle=cycle).values_list("team__name", "invited"))
    assert (tallies["Alpha"], tallies["Beta"]) == (6, 6)


def test_a_leaver_stays_among_the_invited(org):
    tokens, cycle = org
    answer(tokens, *team_emails("Alpha", 5))
    participation_count()
    before = stored(cycle)
    leaver = Person.objects.get(email="alpha-5@example.com")
    leaver.is_active = False
    leaver.save()
    invitations_follow_roster(people=[leaver])
    assert Invitation.objects.get(cycle=cycle, person=leaver).status == Invitation.Status.VOID
    participation_count()
    assert stored(cycle) == before
    # At close the leaver stays among the invited too: the tally does not show whether they answered.
    cycle_close(cycle=cycle, today=DEC + dt.timedelta(days=14))
    assert InvitationTally.objects.get(cycle=cycle, team__name="Alpha").invited == 6


def test_a_joiner_is_counted_at_the_next_count(org):
    _, cycle = org
    participation_count()
    joiner = Person.objects.create(email="new@example.com", name="New", team=Team.objects.get(name="Gamma"))
    invitations_follow_roster(people=[joiner])
    participation_count()
    assert LiveParticipation.objects.get(cycle=cycle, path="Engineering/Gamma").invited == 4


def test_each_count_replaces_the_rows_wholesale_with_one_time(org):
    tokens, cycle = org
    first = participation_count(now=timezone.now() - dt.timedelta(minutes=10))
    answer(tokens, *team_emails("Design", 5))
    second = participation_count()
    assert first is not None and second is not None and second.units == first.units == 7
    assert set(LiveParticipation.objects.values_list("computed_at", flat=True)) == {second.computed_at}
    assert LiveParticipation.objects.count() == 7


def test_the_door_serves_percentages_and_the_hidden_text_in_a_fixed_order(org):
    tokens, cycle = org
    assert door_live_participation(cycle=cycle) is None  # not counted yet
    answer(tokens, *team_emails("Design", 5))
    participation_count()
    record = door_live_participation(cycle=cycle)
    assert record is not None and record.cycle == cycle.label and record.k == 5
    assert record.units[0].depth == 0 and record.units[0] == record.organisation
    assert [unit.path for unit in record.units[1:]] == [
        "Engineering", "Engineering/Alpha", "Engineering/Beta", "Engineering/Gamma", "Product",
        "Product/Design",
    ]  # fmt: skip
    by_path = {unit.path: unit for unit in record.units}
    assert by_path["Product/Design"].text == "83%" and by_path["Product/Design"].percent == 83
    assert by_path["Engineering"].text == HIDDEN_TEXT and by_path["Engineering"].percent is None
    assert by_path["Engineering"].invited == 16
    assert not hasattr(by_path["Product/Design"], "answered")  # a count never leaves the door
    organisation = organisation_live_rate(cycle=cycle)
    assert organisation is not None and organisation.text == "23%"  # 5 of the 22 invited
    # The home page reads the same stored row.
    assert response_rates(cycles=[cycle])[cycle.pk].text == "23%"


def test_a_raise_of_k_withholds_the_figures_until_they_are_counted_again(org, django_capture_on_commit_callbacks):
    tokens, cycle = org
    answer(tokens, *team_emails("Alpha", 6), *team_emails("Beta", 5))
    participation_count()
    assert door_live_participation(cycle=cycle) is not None
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        cycle = cycle_k_raise(cycle=cycle, k=6, actor="hr@example.com")
    assert door_live_participation(cycle=cycle) is None  # decided under k = 5
    assert organisation_live_rate(cycle=cycle) is None
    for callback in callbacks:
        callback()  # the receiver counts again at once (eager Celery)
    record = door_live_participation(cycle=cycle)
    assert record is not None and record.k == 6
    assert {unit.path: unit.percent for unit in record.units}["Engineering/Beta"] is None  # 5 < 6


def test_closing_deletes_the_live_rows_with_the_close(org):
    tokens, cycle = org
    answer(tokens, *team_emails("Alpha", 5))
    participation_count()
    assert LiveParticipation.objects.filter(cycle=cycle).exists()
    closed = cycle_close(cycle=cycle, today=DEC + dt.timedelta(days=10)).cycle
    assert not LiveParticipation.objects.filter(cycle=cycle).exists()
    assert door_live_participation(cycle=closed) is None
    assert participation_count() is None  # and the schedule's next run finds nothing to count


def test_the_independent_check_refuses_a_leaky_count_and_keeps_the_last_one(org, monkeypatch):
    """R15: should the decision ever publish a unit that isolates fewer than k, nothing is stored."""
    from analytics.core.violations import DisclosureError
    from analytics.job import participation as job

    tokens, cycle = org
    answer(tokens, *team_emails("Alpha", 5), *team_emails("Beta", 5), *team_emails("Design", 5))
    participation_count()
    before = stored(cycle)

    def everything_published(tree, *, invited, answered, k):
        totals, done = tree.subtree_totals(invited), tree.subtree_totals(answered)
        return {unit: LiveFigure(unit, totals[unit], True, done[unit], 0) for unit in tree.parents}

    monkeypatch.setattr(job, "live_participation", everything_published)
    with pytest.raises(DisclosureError, match="would disclose a small group"):
        participation_count()
    assert stored(cycle) == before
