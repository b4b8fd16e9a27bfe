"""The retention policy (analytics.job.retention): a closed cycle's raw answers are purged after
PULSE_RETENTION_MONTHS, its aggregates stay and are served as before, later cycles' flags are
computed as before, the job never runs the purged cycle again, and HR is warned before raising
one of its thresholds."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.utils import timezone

from analytics.job.retention import ANSWERS_PURGED, answers_purge, retention_cutoff, retention_months
from analytics.job.run import CyclePurged, aggregate_cycle, cycles_after, cycles_needing_aggregation
from analytics.job.tasks import aggregate_cycle_task, aggregate_nightly_task, answers_purge_task
from analytics.models import (
    AggregationRun,
    AggregationStage,
    CellHistogram,
    Flag,
    ItemDistribution,
    MetricCell,
    PurgedCycle,
    ReleasedComment,
    UnitSnapshot,
)
from analytics.published import aggregation_states, cycle_purged_on, published_cells, unit_flags
from surveys.anonymous.models import Answer, Comment, Response
from surveys.models import AuditEvent, Cycle
from surveys.services.thresholds import cycle_k_raise
from tests.analytics.builders import cycle_run, march_and_april, org_build, standard_answers
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db
MAY = dt.date(2026, 5, 1)
LOW = {"Engineering/Alpha": "low"}
# With 24 months kept, on this day March and April 2026 are past retention and May is not.
PURGE_DAY = dt.date(2028, 5, 10)
STORED = (MetricCell, CellHistogram, ItemDistribution, Flag, ReleasedComment, UnitSnapshot)


def stored_rows(cycle: Cycle) -> dict[str, list[tuple]]:
    """Every aggregate row of the cycle, without the random keys (a rerun draws new ones)."""
    rows = {}
    for model in STORED:
        names = sorted(field.attname for field in model._meta.concrete_fields if field.name not in ("id",))
        rows[model.__name__] = sorted(model.objects.filter(cycle=cycle).values_list(*names), key=repr)
    return rows


def anonymous_rows(cycle: Cycle) -> tuple[int, int, int]:
    return (
        Response.objects.filter(cycle=cycle).count(),
        Answer.objects.filter(response__cycle=cycle).count(),
        Comment.objects.filter(cycle=cycle).count(),
    )


@pytest.fixture
def three_cycles():
    org = org_build()
    march, april = march_and_april(org)
    may = cycle_run(org, standard_answers(org, label="may", safety=LOW), month=MAY).cycle
    aggregate_cycle(cycle=may)
    return org, march, april, may


def test_the_cutoff_keeps_whole_months_after_the_cycles_month():
    assert retention_cutoff(today=dt.date(2027, 1, 5), months=24) == dt.date(2025, 1, 1)
    assert retention_cutoff(today=dt.date(2027, 1, 31), months=1) == dt.date(2026, 12, 1)
    assert retention_cutoff(today=dt.date(2026, 12, 1), months=12) == dt.date(2025, 12, 1)


def test_retention_months_defaults_to_24_and_refuses_a_bad_value(settings):
    del settings.PULSE_RETENTION_MONTHS  # whether or not settings.py sets it yet
    assert retention_months() == 24
    settings.PULSE_RETENTION_MONTHS = 0
    assert retention_months() == 0
    settings.PULSE_RETENTION_MONTHS = -1
    with pytest.raises(ImproperlyConfigured, match="PULSE_RETENTION_MONTHS"):
        retention_months()


def test_a_purge_deletes_old_answers_keeps_every_aggregate_and_is_audited(three_cycles):
    org, march, april, may = three_cycles
    before = {cycle.label: stored_rows(cycle) for cycle in (march, april, may)}
    served_before = list(published_cells(cycles=[march, april]))
    may_rows = anonymous_rows(may)
    assert all(anonymous_rows(march))

    result = answers_purge(today=PURGE_DAY, months=24)

    assert result.purged == ["2026-03", "2026-04"] and result.skipped == {}
    for cycle in (march, april):
        assert anonymous_rows(cycle) == (0, 0, 0)
        assert cycle_purged_on(cycle=cycle) == timezone.localdate()
    assert anonymous_rows(may) == may_rows and cycle_purged_on(cycle=may) is None
    assert {cycle.label: stored_rows(cycle) for cycle in (march, april, may)} == before
    # The door serves them exactly as before (cells, hidden ones hidden, and flags).
    assert list(published_cells(cycles=[march, april])) == served_before
    assert unit_flags(cycle=april, unit_id=org.id("Engineering/Alpha"))
    events = AuditEvent.objects.filter(action=ANSWERS_PURGED).order_by("detail__cycle")
    assert [(event.actor, event.detail) for event in events] == [
        ("retention", {"cycle": "2026-03"}),
        ("retention", {"cycle": "2026-04"}),
    ]


def test_a_second_purge_does_nothing(three_cycles):
    answers_purge(today=PURGE_DAY, months=24)
    again = answers_purge(today=PURGE_DAY, months=24)
    assert again.purged == [] and again.skipped == {}
    assert AuditEvent.objects.filter(action=ANSWERS_PURGED).count() == 2
    assert PurgedCycle.objects.count() == 2


def test_zero_months_keeps_answers_forever(three_cycles):
    _, march, _, _ = three_cycles
    assert answers_purge(today=dt.date(2040, 1, 1), months=0).purged == []
    assert all(anonymous_rows(march))


def test_the_task_reads_the_setting(three_cycles, settings, monkeypatch):
    _, march, april, may = three_cycles
    monkeypatch.setattr("analytics.job.tasks.timezone.localdate", lambda: PURGE_DAY)
    settings.PULSE_RETENTION_MONTHS = 0
    assert answers_purge_task() == {"purged": [], "skipped": {}}
    settings.PULSE_RETENTION_MONTHS = 24
    assert answers_purge_task() == {"purged": ["2026-03", "2026-04"], "skipped": {}}


def test_open_unaggregated_or_stale_cycles_keep_their_answers():
    org = org_build()
    march = cycle_run(org, standard_answers(org)).cycle  # closed, never aggregated
    april = cycle_run(org, standard_answers(org, label="apr"), month=dt.date(2026, 4, 1)).cycle
    aggregate_cycle(cycle=april)
    cycle_k_raise(cycle=april, k=6, actor="hr@example.com")  # decided under 5: not final
    open_may = cycle_run(org, standard_answers(org, label="may"), month=MAY, close=False).cycle

    result = answers_purge(today=dt.date(2040, 1, 1), months=24)

    assert result.purged == []
    assert result.skipped == {
        "2026-03": "its aggregation under k = 5 has not finished",
        "2026-04": "its aggregation under k = 6 has not finished",
    }
    for cycle in (march, april, open_may):
        assert all(anonymous_rows(cycle)[:2])
    assert not AuditEvent.objects.filter(action=ANSWERS_PURGED).exists()


def test_a_cycle_being_aggregated_is_left_for_a_later_night(three_cycles):
    from analytics.job.run import cycle_lock

    _, march, _, _ = three_cycles
    with cycle_lock(march.pk):
        result = answers_purge(today=PURGE_DAY, months=24)
    assert result.purged == ["2026-04"]
    assert "aggregation of it is running" in result.skipped["2026-03"]
    assert all(anonymous_rows(march))


def test_later_cycles_flags_are_computed_as_before_from_the_stored_cells(three_cycles):
    """May's trend flags quote March's and April's published cells and histograms: a run of May
    after they were purged computes exactly the flags it computed before."""
    org, march, april, may = three_cycles
    flags_before = stored_rows(may)["Flag"]
    assert flags_before, "the fixture should flag Alpha's falling safety"
    answers_purge(today=PURGE_DAY, months=24)

    summary = aggregate_cycle(cycle=may)

    assert summary.flags == len(flags_before)
    assert stored_rows(may)["Flag"] == flags_before
    assert unit_flags(cycle=may, unit_id=org.id("Engineering/Alpha"))


def test_the_job_never_runs_a_purged_cycle_again(three_cycles):
    _, march, april, may = three_cycles
    answers_purge(today=PURGE_DAY, months=24)
    march_rows = stored_rows(march)

    with pytest.raises(CyclePurged, match=r"The answers of 2026-03 were purged on .*cannot be aggregated again"):
        aggregate_cycle(cycle=march)
    # The task skips it and goes on with the cycles queued after it.
    result = aggregate_cycle_task(march.pk, [may.pk])
    assert result == {"cycle": "2026-03", "skipped": "answers purged"}
    assert stored_rows(march) == march_rows
    assert AggregationRun.objects.get(cycle=march).state == AggregationRun.State.DONE

    # A raise of k makes its stored decisions stale; the catch-up still leaves it alone, and with
    # it nothing needs doing (May's flags read what is stored).
    cycle_k_raise(cycle=march, k=7, actor="hr@example.com")
    assert cycles_needing_aggregation() == []
    assert aggregate_nightly_task() == []
    assert cycles_after(march) == [may]  # April, purged too, is left out
    assert stored_rows(march) == march_rows


def test_the_catch_up_still_runs_later_unfinished_cycles(three_cycles):
    _, march, april, may = three_cycles
    answers_purge(today=PURGE_DAY, months=24)
    AggregationStage.objects.filter(cycle=may).delete()  # May interrupted
    assert [cycle.label for cycle in cycles_needing_aggregation()] == ["2026-05"]


# --- HR's threshold page warns before a raise on a purged cycle -----------------------------

PURGED_K = (
    "Its answers were purged on {day}: raising k would withhold its results for good, "
    "because they cannot be computed again."
)


@pytest.fixture
def hr_client(client: Client) -> Client:
    client.force_login(PersonFactory(email="hr@example.com", role="hr").user)
    return client


def _today() -> str:
    today = timezone.localdate()
    return f"{today.day} {today:%B %Y}"


def test_the_cycle_page_and_the_confirmation_warn_that_a_raise_is_for_good(three_cycles, hr_client):
    _, march, _, may = three_cycles
    answers_purge(today=PURGE_DAY, months=24)
    url = f"/programme/settings/cycles/{march.label}/"
    warning = PURGED_K.format(day=_today())

    page = hr_client.get(url).content.decode()
    assert warning in page
    assert "take its comments down for good" in page
    assert "until it has been re-aggregated" not in page

    confirm = hr_client.post(url, {"field": "k", "k": "7"})
    assert confirm.status_code == 200
    assert warning in confirm.content.decode()
    comments = hr_client.post(url, {"field": "comment_threshold", "comment_threshold": "12"}).content.decode()
    assert f"Its answers were purged on {_today()}: raising the comment threshold would take its comments" in comments

    done = hr_client.post(url, {"field": "k", "k": "7", "step": "confirm", "confirm": "on"}, follow=True)
    assert "are withheld for good: its answers were purged on" in done.content.decode()
    march.refresh_from_db()
    assert march.k == 7

    # A cycle whose answers are kept has no such warning.
    kept = hr_client.get(f"/programme/settings/cycles/{may.label}/").content.decode()
    assert "purged" not in kept


def test_a_purged_cycle_raised_since_reads_withheld_for_good_not_queued(three_cycles, hr_client):
    _, march, _, may = three_cycles
    answers_purge(today=PURGE_DAY, months=24)
    assert aggregation_states(cycles=[march])[march.pk].state == "done"  # purged, still published
    cycle_k_raise(cycle=march, k=7, actor="hr@example.com")
    march.refresh_from_db()

    state = aggregation_states(cycles=[march, may])
    assert state[march.pk].state == "withheld" and not state[march.pk].retryable
    assert state[march.pk].text == (
        f"Withheld for good: its answers were purged ({timezone.localdate():%Y-%m-%d}), so its results cannot be "
        "decided again under its current threshold."
    )
    assert state[may.pk].state == "done"  # kept answers: untouched
    page = hr_client.get("/programme/cycles/").content.decode()
    assert "Withheld for good: its answers were purged" in page
    assert "Queued: the results are computed next" not in page


def test_a_purged_cycle_whose_run_failed_since_is_withheld_and_offers_no_retry(three_cycles):
    _, march, _, _ = three_cycles
    answers_purge(today=PURGE_DAY, months=24)
    AggregationRun.objects.filter(cycle=march).update(state=AggregationRun.State.FAILED, error="OperationalError")
    state = aggregation_states(cycles=[march])[march.pk]
    assert (state.state, state.retryable) == ("withheld", False)
