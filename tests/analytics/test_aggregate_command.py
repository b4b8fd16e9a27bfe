"""The `aggregate` command prints nothing that a hidden cell would hide (ANONYMITY R4): the
organisation's respondent count only where the organisation's responses cell is published."""

from io import StringIO

import pytest
from django.core.management import call_command

from analytics.core.tree import ORGANISATION
from analytics.job.run import AggregationSummary
from analytics.management.commands.aggregate import summary_line
from analytics.models import MetricCell
from tests.analytics.builders import cycle_run, org_build, standard_answers

pytestmark = pytest.mark.django_db


def summary(respondents: int) -> AggregationSummary:
    return AggregationSummary(
        cycle="2026-03", respondents=respondents, units=3, cells_published=0, cells_hidden=40, flags=0,
        comments_released=0,
    )  # fmt: skip


@pytest.mark.parametrize(("respondents", "shown"), [(4, False), (5, True), (6, True), (0, False), (1, False)])
def test_the_count_is_shown_only_at_k_or_more(respondents, shown):
    line = summary_line(summary(respondents), k=5)
    assert (f"{respondents} respondents" in line) is shown
    assert "respondent" not in line or shown
    assert "2026-03: " in line and "3 units" in line


def organisation_responses_cell(cycle) -> MetricCell:
    return MetricCell.objects.get(cycle=cycle, unit_id=ORGANISATION, metric="responses")


def test_a_cycle_with_fewer_than_k_respondents_prints_no_count():
    org = org_build([("Engineering", "Alpha", 6, 4)], k=5)
    run = cycle_run(org, standard_answers(org))
    out = StringIO()
    call_command("aggregate", "--cycle", run.cycle.label, stdout=out)
    text = out.getvalue()
    assert not organisation_responses_cell(run.cycle).published  # the command agrees with the door
    assert "respondent" not in text and " 4 " not in text.replace("[1/1]", "")
    assert "2026-03: 3 units, 0 cells published" in text


def test_a_cycle_with_k_respondents_prints_the_count():
    org = org_build([("Engineering", "Alpha", 6, 5)], k=5)
    run = cycle_run(org, standard_answers(org))
    out = StringIO()
    call_command("aggregate", "--cycle", run.cycle.label, stdout=out)
    assert organisation_responses_cell(run.cycle).published
    assert "2026-03: 5 respondents, 3 units" in out.getvalue()
