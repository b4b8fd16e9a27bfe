"""The aggregation job end to end on small realistic organisations: cells for every unit and
metric, checked against hand computation; disclosure (ANONYMITY R4, R5, R7, R8) over what it
stored; idempotent, resumable, locked; and the `aggregate` command."""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from collections import Counter
from io import StringIO

import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from analytics.core.catalogue import METRICS, RESPONSES
from analytics.core.cells import RELIABILITY_PREFIX
from analytics.core.tree import ORGANISATION
from analytics.core.violations import complementary_violations
from analytics.job import storage
from analytics.job.run import AggregationRefused, aggregate_cycle, cycle_lock
from analytics.job.storage import answers_frame
from analytics.models import (
    AggregationStage,
    CellHistogram,
    Flag,
    ItemDistribution,
    Level,
    MetricCell,
    ReleasedComment,
    UnitSnapshot,
)
from surveys.anonymous.models import Comment
from surveys.closing import cycle_close
from surveys.services.cycles import cycle_open
from tests.analytics.builders import (
    V1_SCORING,
    K,
    cells_by,
    cycle_run,
    mean_fixed_sd_interval,
    org_build,
    psych_safety_score,
    standard_answers,
)
from tests.surveys.helpers import team_with_people

pytestmark = pytest.mark.django_db
FEBRUARY = dt.date(2026, 2, 1)
METRIC_NAMES = {spec.name for spec in METRICS} | {RESPONSES}
UNIT_PATHS = ["", "Engineering", "Engineering/Alpha", "Engineering/Beta", "Engineering/Gamma", "Product",
              "Product/Design", "Product/Research"]  # fmt: skip


@pytest.fixture
def org():
    return org_build()


@pytest.fixture
def closed(org):
    """The standard organisation's March cycle, answered and closed, not yet aggregated."""
    return cycle_run(org, standard_answers(org, safety={"Engineering/Alpha": "low"}))


def snapshot(cycle) -> list[tuple]:
    """Every stored output of the cycle, without auto ids, in a canonical order. Released comments
    are compared as (unit, text): their positions are reshuffled on purpose at every release."""

    def rows(model, fields):
        return sorted(
            tuple(json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else v for v in row)
            for row in model.objects.filter(cycle=cycle).values_list(*fields)
        )

    return [
        rows(UnitSnapshot, ["unit_id", "parent_id", "path", "level", "depth"]),
        rows(
            MetricCell,
            [
                "unit_id",
                "metric",
                "published",
                "hidden_because",
                "n",
                "value",
                "ci_low",
                "ci_high",
                "extra",
                "total",
                "total_sq",
            ],
        ),  # fmt: skip
        rows(ItemDistribution, ["unit_id", "item", "unfavourable", "neutral", "favourable"]),
        rows(CellHistogram, ["unit_id", "variable", "counts"]),
        rows(
            Flag,
            ["unit_id", "kind", "metric", "test", "severity", "p_value", "numbers", "method", "explanation", "actions"],
        ),  # fmt: skip
        rows(ReleasedComment, ["unit_id", "text"]),
    ]


# --- cells --------------------------------------------------------------------------------------


def test_every_unit_and_metric_gets_a_cell_and_published_values_match_a_hand_computation(org, closed):
    summary = aggregate_cycle(cycle=closed.cycle)
    cycle = closed.cycle

    units = {org.id(path) for path in UNIT_PATHS}
    stored = {
        (str(unit), metric) for unit, metric in MetricCell.objects.filter(cycle=cycle).values_list("unit_id", "metric")
    }
    every = {(unit, metric) for unit in units for metric in METRIC_NAMES}
    assert every <= stored
    # Besides: instrument health (Cronbach's alpha per construct), at the organisation only.
    assert {unit for unit, metric in stored - every} == {ORGANISATION}
    assert all(metric.startswith(RELIABILITY_PREFIX) for _, metric in stored - every)
    levels = {str(s.unit_id): s.level for s in UnitSnapshot.objects.filter(cycle=cycle)}
    assert levels[ORGANISATION] == Level.ORGANISATION
    assert levels[org.id("Engineering")] == levels[org.id("Product")] == Level.DEPARTMENT
    assert levels[org.id("Engineering/Gamma")] == Level.TEAM
    assert (summary.respondents, summary.units) == (28, 8)
    assert summary.cells_published + summary.cells_hidden == len(stored)

    for cell in MetricCell.objects.filter(cycle=cycle):
        if cell.published:
            assert cell.n >= K, cell
        else:  # R4: not even the exact count of a hidden cell is stored
            assert (cell.n, cell.value, cell.ci_low, cell.ci_high, cell.total, cell.total_sq) == (None,) * 6, cell
            assert cell.extra == {}

    safety, safety_100 = cells_by(cycle, "psych_safety"), cells_by(cycle, "psych_safety_0_100")
    # Engineering's and the organisation's figures include the people of the hidden teams. With
    # 28 respondents the organisation is too small to estimate its own spread: every interval
    # uses the instrument's fixed SD (R13), so none says anything about a cell beyond mean and n.
    for path in ("Engineering/Alpha", "Engineering", "Product/Research", ""):
        scores = [psych_safety_score(raw) for raw in closed.under(org, path)]
        mean, low, high = mean_fixed_sd_interval(scores, V1_SCORING.fixed_sd["psych_safety"])
        cell = safety[org.id(path)]
        assert cell.published and cell.n == len(scores)
        assert (cell.value, cell.ci_low, cell.ci_high) == pytest.approx((mean, low, high), abs=1e-9)
        assert safety_100[org.id(path)].value == pytest.approx(100 * (mean - 1) / 6, abs=1e-9)

    alpha = closed.answers["Engineering/Alpha"]
    users = [raw for raw in alpha if raw["use1"] != "1"]
    share = cells_by(cycle, "ai_user_share")[org.id("Engineering/Alpha")]
    assert (share.n, share.value) == (8, pytest.approx(len(users) / 8))
    ratio = cells_by(cycle, "time_ratio")[org.id("Engineering/Alpha")]
    geometric = math.exp(sum(math.log(float(raw["speed1"])) for raw in users) / len(users))
    assert (ratio.n, ratio.value) == (len(users), pytest.approx(geometric))
    trust = cells_by(cycle, "trust")[org.id("Engineering")]
    trusts = [int(raw["trust1"]) for raw in closed.under(org, "Engineering") if raw["use1"] != "1"]
    assert (trust.n, trust.value) == (len(trusts), pytest.approx(sum(trusts) / len(trusts)))
    # Response rate: respondents over invited people (Alpha: 8 of 9 on the roster).
    rate = cells_by(cycle, RESPONSES)[org.id("Engineering/Alpha")]
    assert (rate.n, rate.value, rate.extra["invited"]) == (8, pytest.approx(100 * 8 / 9), 9)


def test_a_team_below_k_is_hidden_and_a_sibling_is_hidden_with_it(org, closed):
    """R5: Engineering (17) minus Alpha (8) and Beta (6) would show Gamma's 3 people. Checked with
    the independent checker over what was stored, for several metrics each with its own n."""
    aggregate_cycle(cycle=closed.cycle)
    parents = org.parents()
    direct_n = {
        RESPONSES: lambda raw: True,
        "psych_safety": lambda raw: True,
        "trust": lambda raw: raw["use1"] != "1",  # non-users are not asked the AI items
    }
    for metric, counted in direct_n.items():
        direct = {org.id(team): sum(map(counted, answers)) for team, answers in closed.answers.items()}
        cells = cells_by(closed.cycle, metric)
        published = {unit for unit, cell in cells.items() if cell.published}
        assert complementary_violations(parents, direct, published, k=K) == [], metric
    safety = cells_by(closed.cycle, "psych_safety")
    gamma, beta = safety[org.id("Engineering/Gamma")], safety[org.id("Engineering/Beta")]
    assert (gamma.published, gamma.hidden_because) == (False, "below_threshold")
    assert (beta.published, beta.hidden_because) == (False, "complementary")
    # The checker would have caught the differencing had Beta been published: the test can fail.
    direct = {org.id(team): len(answers) for team, answers in closed.answers.items()}
    published = {unit for unit, cell in safety.items() if cell.published}
    violations = complementary_violations(parents, direct, published | {org.id("Engineering/Beta")}, k=K)
    assert [v.unit for v in violations] == [org.id("Engineering")]


def test_response_rate_cells_obey_suppression(org, closed):
    aggregate_cycle(cycle=closed.cycle)
    rates = cells_by(closed.cycle, RESPONSES)
    for path in UNIT_PATHS:
        cell = rates[org.id(path)]
        respondents = len(closed.under(org, path))
        if respondents < K:
            assert not cell.published
        if cell.published:
            invited = sum(org.units[t].members.count() for t in org.teams_under(path))
            assert cell.value == pytest.approx(100 * respondents / invited)
            assert cell.n == respondents >= K
        else:
            assert (cell.n, cell.value, cell.extra) == (None, None, {})
    assert not rates[org.id("Engineering/Beta")].published  # hidden for R5 like every other metric


def test_distributions_only_at_2k_and_they_cannot_be_differenced(org, closed):
    aggregate_cycle(cycle=closed.cycle)
    distributions = list(ItemDistribution.objects.filter(cycle=closed.cycle))
    assert distributions, "the organisation and both departments have n >= 2k"
    parents = org.parents()
    for item in {d.item for d in distributions}:
        direct = {org.id(team): sum(item in raw for raw in answers) for team, answers in closed.answers.items()}
        rows = [d for d in distributions if d.item == item]
        for row in rows:
            unit_path = next(path for path in UNIT_PATHS if org.id(path) == str(row.unit_id))
            expected = sum(item in raw for raw in closed.under(org, unit_path))
            assert row.unfavourable + row.neutral + row.favourable == expected >= 2 * K
        units = {str(row.unit_id) for row in rows}
        assert complementary_violations(parents, direct, units, k=2 * K) == [], item
    ps1_units = {str(d.unit_id) for d in distributions if d.item == "ps1"}
    assert ps1_units == {ORGANISATION, org.id("Engineering"), org.id("Product")}  # Alpha has 8 < 2k
    # Shares of a use category are bins of a distribution: gated the same way.
    daily = cells_by(closed.cycle, "use_daily")
    assert {unit for unit, cell in daily.items() if cell.published} == ps1_units
    assert daily[org.id("Engineering/Alpha")].hidden_because == "gate"


def test_reverse_keyed_items_are_binned_by_favourability(org):
    """ps1 "If you make a mistake on this team, it is often held against you": strongly agreeing
    is unfavourable, as it is for the psychological-safety score and its % favourable."""
    answers = standard_answers(org)
    for team_answers in answers.values():
        for raw in team_answers:
            raw["ps1"], raw["ps2"] = "7", "7"  # held against you; and: able to bring up problems
    submitted = cycle_run(org, answers)
    aggregate_cycle(cycle=submitted.cycle)
    bins = {
        d.item: (d.unfavourable, d.neutral, d.favourable)
        for d in ItemDistribution.objects.filter(cycle=submitted.cycle, unit_id=uuid.UUID(ORGANISATION))
    }
    assert bins["ps2"] == (0, 0, 28)
    assert bins["ps1"] == (28, 0, 0)


# --- idempotent, resumable, locked ----------------------------------------------------------------


def test_running_twice_writes_identical_rows(org, closed):
    aggregate_cycle(cycle=closed.cycle)
    first = snapshot(closed.cycle)
    assert first[4], "the low-safety team gives the flag stage something to write"
    aggregate_cycle(cycle=closed.cycle)
    assert snapshot(closed.cycle) == first


def test_deleting_a_cycle_deletes_its_stored_results(org, closed):
    # The bulk tables have no database foreign key (decisions.md 22): Django's cascade must do it.
    aggregate_cycle(cycle=closed.cycle)
    # Histograms are kept only for cells of 30 or more (R13); this organisation has 28, so one is
    # stored by hand to see it cascade too.
    CellHistogram.objects.create(cycle=closed.cycle, unit_id=uuid.UUID(ORGANISATION), variable="pressure", counts=[])
    stored = (MetricCell, ItemDistribution, CellHistogram)
    assert all(model.objects.filter(cycle=closed.cycle).exists() for model in stored)
    cycle_id = closed.cycle.pk
    closed.cycle.delete()
    assert not any(model.objects.filter(cycle_id=cycle_id).exists() for model in stored)


def test_an_interrupted_run_is_redone_on_the_next_run(org, closed, monkeypatch):
    import analytics.flags.stage

    aggregate_cycle(cycle=closed.cycle)
    clean = snapshot(closed.cycle)

    def crash(**kwargs):
        raise ConnectionError("worker lost")

    monkeypatch.setattr(analytics.flags.stage, "flags_compute_for_cycle", crash)
    with pytest.raises(ConnectionError):
        aggregate_cycle(cycle=closed.cycle)
    monkeypatch.undo()
    states = dict(AggregationStage.objects.filter(cycle=closed.cycle).values_list("stage", "state"))
    assert states == {"cells": "done", "flags": "started", "comments": "done"}
    # As if the cells stage had also died half-way through on a database without transactions:
    # stray cells of a unit that does not exist, a lost distribution, a stray flag.
    AggregationStage.objects.filter(cycle=closed.cycle, stage="cells").update(state="started")
    stray = uuid.uuid4()
    MetricCell.objects.create(cycle=closed.cycle, unit_id=stray, metric="psych_safety", published=True, n=1, value=7)
    MetricCell.objects.create(cycle=closed.cycle, unit_id=stray, metric="trust", published=False)
    ItemDistribution.objects.filter(cycle=closed.cycle).first().delete()
    Flag.objects.create(cycle=closed.cycle, unit_id=stray, kind="psych_safety_low", metric="psych_safety",
                        test="level", severity="flag", method="", explanation="")  # fmt: skip

    aggregate_cycle(cycle=closed.cycle)
    assert set(AggregationStage.objects.filter(cycle=closed.cycle).values_list("stage", "state")) == {
        ("cells", "done"),
        ("flags", "done"),
        ("comments", "done"),
    }
    assert snapshot(closed.cycle) == clean


def test_a_held_lock_refuses_a_second_run(org, closed):
    with cycle_lock(closed.cycle.pk):
        with pytest.raises(AggregationRefused, match="Another aggregation of this cycle is running"):
            aggregate_cycle(cycle=closed.cycle)
        with pytest.raises(CommandError, match="Another aggregation of this cycle is running; try again"):
            call_command("aggregate", "--cycle", "2026-03", stdout=StringIO())
        assert not MetricCell.objects.filter(cycle=closed.cycle).exists()
    aggregate_cycle(cycle=closed.cycle)  # released on leaving the block
    assert MetricCell.objects.filter(cycle=closed.cycle).exists()


# --- R8 and the command's input -------------------------------------------------------------------


def test_an_open_cycle_is_refused(org):
    submitted = cycle_run(org, standard_answers(org), close=False)
    with pytest.raises(AggregationRefused, match=r"2026-03 cycle is still open: results are released when it closes"):
        aggregate_cycle(cycle=submitted.cycle)
    with pytest.raises(CommandError, match="2026-03 cycle is still open"):
        call_command("aggregate", "--cycle", "2026-03", stdout=StringIO())
    assert not MetricCell.objects.exists() and not ReleasedComment.objects.exists()
    assert not AggregationStage.objects.exists()


def test_a_malformed_month_names_the_option():
    with pytest.raises(CommandError, match=r"--cycle must look like 2026-11 \(year-month\), got 'March'"):
        call_command("aggregate", "--cycle", "March", stdout=StringIO())


def test_an_unknown_month_names_the_option(org, closed):
    with pytest.raises(CommandError, match="no 2025-01 cycle") as error:
        call_command("aggregate", "--cycle", "2025-01", stdout=StringIO())
    assert "--cycle" in str(error.value)


def test_the_command_aggregates_every_closed_cycle_with_progress_and_a_summary(org):
    cycle_run(org, standard_answers(org, label="feb"), month=FEBRUARY)
    march = cycle_run(org, standard_answers(org))
    out = StringIO()
    call_command("aggregate", "--all", stdout=out)
    text = out.getvalue()
    # Oldest first: trends need the history in place.
    assert text.index("[1/2] 2026-02: reading answers") < text.index("[2/2] 2026-03: reading answers")
    assert "[2/2] 2026-03: computing 8 units" in text and "[2/2] 2026-03: flags" in text
    published = MetricCell.objects.filter(cycle=march.cycle, published=True).count()
    hidden = MetricCell.objects.filter(cycle=march.cycle, published=False).count()
    flags = Flag.objects.filter(cycle=march.cycle).count()
    assert (
        f"2026-03: 28 respondents, 8 units, {published} cells published, {hidden} hidden, "
        f"{flags} flags and watches, 28 comments released." in text
    )
    assert "2026-02: 28 respondents" in text


# --- comments (R7) --------------------------------------------------------------------------------


def test_comments_are_listed_once_at_large_enough_units_and_redacted_ones_never(org, closed):
    redacted = ["comment 0 from Engineering/Alpha", "comment 4 from Product/Research"]
    assert Comment.objects.filter(text__in=redacted).update(redacted=True) == 2
    aggregate_cycle(cycle=closed.cycle)

    released = list(ReleasedComment.objects.filter(cycle=closed.cycle))
    written = Counter(str(raw["c1"]) for answers in closed.answers.values() for raw in answers)
    assert Counter(c.text for c in released) == written - Counter(redacted)  # each exactly once
    by_unit: dict[str, list[ReleasedComment]] = {}
    for comment in released:
        by_unit.setdefault(str(comment.unit_id), []).append(comment)
    threshold = closed.cycle.comment_threshold
    respondents = {org.id(path): len(closed.under(org, path)) for path in UNIT_PATHS}
    assert all(respondents[unit] >= threshold for unit in by_unit)
    # The smallest large-enough unit: each department lists its own people's comments, no team does.
    for comment in released:
        department = comment.text.split(" from ")[1].split("/")[0]
        assert str(comment.unit_id) == org.id(department)
    for comments in by_unit.values():  # display order drawn at release: 0..m-1, no dates
        assert sorted(c.position for c in comments) == list(range(len(comments)))
    # Comparing listings (R5 at the comment threshold) isolates no group under the threshold.
    direct = {org.id(team): len(answers) for team, answers in closed.answers.items()}
    assert complementary_violations(org.parents(), direct, set(by_unit), k=threshold) == []


# --- PostgreSQL -------------------------------------------------------------------------------------


def test_copy_reader_returns_the_same_frame_as_the_orm(require_postgres, org, closed, monkeypatch):
    by_copy = answers_frame(closed.cycle.pk)
    monkeypatch.setattr(connection, "vendor", "sqlite")  # makes answers_frame take its ORM branch
    by_orm = answers_frame(closed.cycle.pk)
    monkeypatch.undo()
    assert len(by_copy) > 28 * 10

    def canonical(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.sort_values(["response_id", "item"]).reset_index(drop=True)

    pd.testing.assert_frame_equal(canonical(by_copy), canonical(by_orm))
    assert by_copy["value"].dtype == "float64"
    assert set(by_copy["team_id"]) == {org.id(team) for team in org.respondents}
    # A filtered read (one fan-out task's teams) keeps only those teams' rows.
    alpha = answers_frame(closed.cycle.pk, {org.id("Engineering/Alpha")})
    assert alpha["response_id"].nunique() == 8 and set(alpha["team_id"]) == {org.id("Engineering/Alpha")}
    assert storage._answers_by_copy(closed.cycle.pk).shape == by_copy.shape


def test_no_cell_publishes_a_count_below_k_even_at_the_organisation(org):
    """Few AI users: 4 of the organisation's 28 respondents use AI, so every AI-only figure,
    including the organisation-wide reliability of the agency items, rests on fewer than k people."""
    answers = standard_answers(org)
    for team, team_answers in answers.items():
        for index, raw in enumerate(team_answers):
            if not (team == "Engineering/Alpha" and index < 4):
                for key in ("trust1", "speed1", "speed2", "ag1", "ag2", "ag3", "ag4", "op1", "op2"):
                    raw.pop(key, None)
                raw["use1"] = "1"
    submitted = cycle_run(org, answers)
    aggregate_cycle(cycle=submitted.cycle)
    small = MetricCell.objects.filter(cycle=submitted.cycle, published=True, n__lt=K)
    assert list(small.values_list("metric", "n")) == []
    assert not MetricCell.objects.get(cycle=submitted.cycle, unit_id=ORGANISATION, metric="trust").published


def test_a_cycle_nobody_answered_aggregates_to_hidden_cells_only():
    team_with_people("Quiet", 6)
    opened = cycle_open(month=dt.date(2026, 10, 1), today=dt.date(2026, 10, 1), send_mail=False)
    cycle = cycle_close(cycle=opened.cycle, today=dt.date(2026, 10, 15)).cycle
    summary = aggregate_cycle(cycle=cycle)
    assert (summary.respondents, summary.cells_published, summary.flags, summary.comments_released) == (0, 0, 0, 0)
    assert summary.cells_hidden == MetricCell.objects.filter(cycle=cycle).count() > 0
    assert not MetricCell.objects.filter(cycle=cycle, n__isnull=False).exists()
