"""Live participation of the open cycle (ANONYMITY R4, R5, R8): decided for the whole tree on
answered counts, by the team each invitation was issued on, without the people who sit on
inner units; counted on a schedule, stored, read through the door, and deleted at close."""

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
from surveys.closing import cycle_close
from surveys.models import Cycle, Invitation, Person, Team
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


def test_a_team_below_k_is_hidden_and_a_sibling_with_it_and_percentages_round():
    answered = {"alpha": 5, "beta": 6, "gamma": 2, "design": 5}
    figures = live_participation(_tree(), invited=INVITED, answered=answered, k=5)
    assert figures["gamma"] == LiveFigure("gamma", 3, False, None, None)  # R4: 2 < 5
    # R5: Eng (13 answered) minus Alpha and Beta would leave Gamma's 2: the smaller is hidden too.
    assert figures["alpha"] == LiveFigure("alpha", 6, False, None, None)
    assert figures["beta"] == LiveFigure("beta", 6, True, 6, 100)
    assert figures["eng"] == LiveFigure("eng", 15, True, 13, 87)  # 13/15; the head is not in it
    assert figures["design"] == LiveFigure("design", 6, True, 5, 83)
    assert figures[ORGANISATION] == LiveFigure(ORGANISATION, 21, True, 18, 86)
    published = [unit for unit, figure in figures.items() if figure.published]
    assert complementary_violations(_tree(), answered, published, k=5) == []


@pytest.mark.parametrize("head_answered", [0, 1])
def test_a_head_alone_on_an_inner_unit_changes_no_figure(head_answered):
    """Decision 2: with the head in Eng's figures, Eng minus Alpha and Beta would show whether
    the head had answered; and a pattern decided on answered counts would flip when they did."""
    base = {"alpha": 5, "beta": 5, "gamma": 0, "design": 5}
    without = live_participation(_tree(), invited=INVITED, answered=base, k=5)
    with_head = live_participation(_tree(), invited=INVITED, answered={**base, "eng": head_answered}, k=5)
    assert with_head == without


def test_people_on_the_organisation_root_are_left_out_too():
    tree = UnitTree.from_teams([("a", "A", None)], "Org")
    figures = live_participation(tree, invited={ORGANISATION: 2, "a": 5}, answered={ORGANISATION: 2, "a": 5}, k=5)
    assert figures[ORGANISATION] == LiveFigure(ORGANISATION, 5, True, 5, 100)


def test_nobody_answered_hides_everything_and_invited_stays():
    figures = live_participation(_tree(), invited=INVITED, answered={}, k=5)
    assert not any(figure.published for figure in figures.values())
    assert figures[ORGANISATION].invited == 21


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


@hypothesis_settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(organisations())
def test_live_figures_pass_r4_and_r5_and_ignore_everyone_on_inner_units(organisation):
    tree, invited, answered, k = organisation
    figures = live_participation(tree, invited=invited, answered=answered, k=k)
    leaves = {unit: n for unit, n in answered.items() if not tree.children[unit]}
    published = [unit for unit, figure in figures.items() if figure.published]
    # The independent checker, on the answered counts the figures are made of.
    assert complementary_violations(tree, leaves, published, k=k) == []
    for figure in figures.values():
        if figure.published:
            assert figure.answered is not None and figure.answered >= k
    # Whatever the people on inner units did, every figure is the same.
    inner_moved = {unit: (invited[unit] if tree.children[unit] else n) for unit, n in answered.items()}
    assert live_participation(tree, invited=invited, answered=inner_moved, k=k) == figures


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
    # Alpha and Beta tie at 5: R5 hides the one with the smaller id, never both.
    assert sorted([rows["Engineering/Alpha"][1], rows["Engineering/Beta"][1]]) == [False, True]
    assert rows["Engineering"] == (15, True, 12, 80)  # the head (answered) is in neither count
    assert rows["Product/Design"] == (6, True, 5, 83)
    parents = {str(t.pk): str(t.parent_id) if t.parent_id else ORGANISATION for t in Team.objects.all()}
    parents[ORGANISATION] = None  # type: ignore[assignment]
    leaves = {
        str(team.pk): Invitation.objects.filter(cycle=cycle, counted_team=team, status="answered").count()
        for team in Team.objects.filter(children__isnull=True)
    }
    published = [
        str(unit) for unit in LiveParticipation.objects.filter(published=True).values_list("unit_id", flat=True)
    ]
    assert complementary_violations(parents, leaves, published, k=5) == []
    with pytest.raises(IntegrityError), transaction.atomic():
        LiveParticipation.objects.filter(published=False).update(answered=2)


def test_the_head_answering_or_not_leaves_every_stored_figure_identical(org):
    tokens, cycle = org
    answer(tokens, *team_emails("Alpha", 5), *team_emails("Beta", 5), *team_emails("Design", 5))
    participation_count()
    before = stored(cycle)
    answer(tokens, "head@example.com")
    participation_count()
    assert stored(cycle) == before


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
    assert invitation.team.name == "Beta" and invitation.counted_team.name == "Alpha"
    participation_count()
    assert stored(cycle) == before  # a move changes no count
    answer(tokens, "alpha-5@example.com")
    participation_count()
    alpha = LiveParticipation.objects.get(cycle=cycle, path="Engineering/Alpha")
    beta = LiveParticipation.objects.get(cycle=cycle, path="Engineering/Beta")
    assert (alpha.invited, alpha.answered) == (6, 5)  # the answer counts where they were invited
    assert (beta.invited, beta.answered) == (6, 5)


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
    assert by_path["Engineering"].invited == 15
    assert not hasattr(by_path["Product/Design"], "answered")  # a count never leaves the door
    organisation = organisation_live_rate(cycle=cycle)
    assert organisation is not None and organisation.text == "24%"  # 5 of the 21 on leaf teams
    # The home page reads the same stored row (and so leaves the head out too).
    assert response_rates(cycles=[cycle])[cycle.pk].text == "24%"


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
