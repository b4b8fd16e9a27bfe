"""Raising a closed cycle's comment threshold (R3, R7) takes its released comments down at once
and lists them again under the new threshold; an open cycle's raise has nothing to redo."""

from __future__ import annotations

import pytest

from analytics.job.run import aggregate_cycle, cycles_needing_aggregation
from analytics.models import ReleasedComment
from surveys.services.thresholds import cycle_comment_threshold_raise
from tests.analytics.builders import cycle_run, org_build, standard_answers

pytestmark = pytest.mark.django_db


def test_a_raise_after_close_withholds_the_comments_then_lists_them_again(django_capture_on_commit_callbacks):
    org = org_build(comment_threshold=10)
    cycle = cycle_run(org, standard_answers(org)).cycle
    aggregate_cycle(cycle=cycle)
    listed_at = set(ReleasedComment.objects.filter(cycle=cycle).values_list("unit_id", flat=True))
    assert listed_at  # the two departments list their comments at 10
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        cycle_comment_threshold_raise(cycle=cycle, comment_threshold=20, actor="hr@example.com")
    # Run the raise's after-commit work, but not the catch-up it queues, to see the gap between.
    from analytics.job import tasks

    queued = []
    original = tasks.aggregate_nightly_task.delay
    tasks.aggregate_nightly_task.delay = lambda *args, **kwargs: queued.append(args)  # type: ignore[method-assign]
    try:
        for callback in callbacks:
            callback()
    finally:
        tasks.aggregate_nightly_task.delay = original  # type: ignore[method-assign]
    assert not ReleasedComment.objects.filter(cycle=cycle).exists()  # withheld at once
    assert queued and cycle in cycles_needing_aggregation()
    cycle.refresh_from_db()  # as the queued task reads it
    aggregate_cycle(cycle=cycle)
    relisted = {str(unit) for unit in ReleasedComment.objects.filter(cycle=cycle).values_list("unit_id", flat=True)}
    # 28 respondents in all, Engineering 17 and Product 11: at 20 only the organisation lists.
    assert relisted == {org.id("")}
    assert cycles_needing_aggregation() == []


def test_a_raise_while_open_queues_nothing(django_capture_on_commit_callbacks, monkeypatch):
    org = org_build(comment_threshold=10)
    cycle = cycle_run(org, standard_answers(org), close=False).cycle
    from analytics.job import tasks

    queued = []
    monkeypatch.setattr(tasks.aggregate_nightly_task, "delay", lambda *args, **kwargs: queued.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        cycle_comment_threshold_raise(cycle=cycle, comment_threshold=12, actor="hr@example.com")
    assert queued == []
