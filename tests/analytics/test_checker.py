"""R15: the checker runs in the job, and stops it on each leak the decider's rules exist for.

Each acceptance test switches one of R11-R14 off in the decider (analytics.core.publication) and
drives the matching attack's organisation through the public path (roster, links, close,
aggregate): the cells stage must stop with a finding of that rule, store nothing, and log unit,
metric and rule but no value.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from io import StringIO

import pandas as pd
import pytest
from django.core.management import call_command

from analytics.core import publication
from analytics.core.catalogue import METRICS
from analytics.core.checker import Finding, PublicationRefused, publication_check, require_publishable
from analytics.core.disclosure import decide_publication
from analytics.core.tree import ORGANISATION, UnitTree
from analytics.models import MetricCell
from surveys.models import Cycle
from tests.analytics.attack_helpers import Roster, answer_survey, answers, import_roster, open_cycle
from tests.analytics.test_attack_findings import lab_with_a_head, one_receiver_in_six, voice_roster

pytestmark = pytest.mark.django_db
LOGGED = re.compile(r"aggregation refused: [0-9a-f-]{36} [a-z0-9_:]+ breaks (R1[1-4]|R[45]|n)")


def close_and_aggregate(tmp_path, roster: Roster) -> Cycle:
    """The public path up to the job, which then runs from the `aggregate` command."""
    import_roster(tmp_path, roster)
    links = open_cycle()
    for member in roster.members:
        if member.answers is not None:
            answer_survey(links[member.email], member.answers)
    # Closing queues the job (eager Celery); with a rule switched off it is refused there too,
    # and closing itself is never undone by it (robust on_commit).
    call_command("close_cycle", stdout=StringIO())
    return Cycle.objects.get()


def refused_rules(cycle: Cycle, caplog) -> set[str]:
    with caplog.at_level(logging.ERROR, logger="analytics.job.run"), pytest.raises(PublicationRefused) as refused:
        call_command("aggregate", "--cycle", cycle.label, stdout=StringIO())
    assert not MetricCell.objects.filter(cycle=cycle).exists(), "a refused stage stores nothing"
    logged = [r.getMessage() for r in caplog.records if r.name == "analytics.job.run"]
    # Names only: a unit id, a metric or variable and a rule; no figure of the cycle.
    assert logged and all(LOGGED.fullmatch(line) for line in logged), logged
    return {part.rsplit("(", 1)[1].rstrip("),") for part in str(refused.value).split(": ", 1)[1].split(", ")}


def with_specs(**changes: dict) -> tuple:
    return tuple(dataclasses.replace(spec, **changes[spec.name]) if spec.name in changes else spec for spec in METRICS)


def test_with_r11_off_the_checker_refuses_the_heads_sub_team(tmp_path, monkeypatch, caplog):
    """Finding 2: each population decided on its own counts publishes Lab/X's AI users."""
    monkeypatch.setattr(
        publication, "decide_population", lambda tree, counts, respondents, *, k: decide_publication(tree, counts, k=k)
    )
    cycle = close_and_aggregate(tmp_path, lab_with_a_head())
    assert "R11" in refused_rules(cycle, caplog)


def test_with_r12_off_the_checker_refuses_one_receivers_hours(tmp_path, monkeypatch, caplog):
    """Finding 1: per-respondent hours on their own n (everyone) publish one receiver's hours."""
    monkeypatch.setattr(
        publication,
        "METRICS",
        with_specs(
            workslop_hours_per_respondent={"gate": "k", "follows": ()},
            workslop_cost_per_respondent={"gate": "k", "follows": ()},
        ),
    )
    roster = Roster().add("Ops", 6, one_receiver_in_six).add("Web", 6, lambda i: answers(ws1="1"))
    cycle = close_and_aggregate(tmp_path, roster)
    assert "R12" in refused_rules(cycle, caplog)


def test_with_r13_off_the_checker_refuses_small_cells_own_intervals(tmp_path, monkeypatch, caplog):
    """Finding 3: every cell's own t interval publishes its sum of squares."""
    monkeypatch.setattr(publication, "OWN_SPREAD_MIN_N", 1)
    cycle = close_and_aggregate(tmp_path, voice_roster())
    assert "R13" in refused_rules(cycle, caplog)


def test_with_r14_off_the_checker_refuses_the_quadrants_of_five(tmp_path, monkeypatch, caplog):
    """Finding 4: the four usage modes at n >= k split five people four ways."""
    quadrants = [spec.name for spec in METRICS if spec.name.startswith("mode_") and spec.name != "mode_pilot"]
    monkeypatch.setattr(publication, "METRICS", with_specs(**{name: {"gate": "k"} for name in quadrants}))
    modes = ("pilot", "pilot", "high_agency_low_optimism", "low_agency_high_optimism", "low_agency_low_optimism")
    roster = Roster().add("Mixed", 5, lambda i: answers(quadrant=modes[i]))
    roster.add("Pilots", 5, lambda i: answers(quadrant="pilot"))
    cycle = close_and_aggregate(tmp_path, roster)
    assert "R14" in refused_rules(cycle, caplog)


def test_with_r14_off_the_checker_refuses_a_hidden_never_and_a_pinned_distrust(tmp_path, monkeypatch, caplog):
    """Finding 5: use "never" hidden beside the AI-user share; a trust share that with the mean
    pins the hidden distrust share (1, 1, 4, 4, 4)."""
    monkeypatch.setattr(publication, "METRICS", with_specs(use_never={"gate": "distribution", "follows": ()}))
    monkeypatch.setattr(
        publication, "_without_pinning_shares", lambda spec, metrics, rolled, scoring: metrics[spec.name]
    )
    roster = Roster().add("Team", 5, lambda i: answers(use1="4", trust1=str((1, 1, 4, 4, 4)[i])))
    roster.add("Other", 5, lambda i: answers(use1="3", trust1=str((2, 3, 3, 5, 5)[i])))
    cycle = close_and_aggregate(tmp_path, roster)
    with pytest.raises(PublicationRefused) as refused:
        call_command("aggregate", "--cycle", cycle.label, stdout=StringIO())
    message = str(refused.value)
    assert "use_never (R14)" in message and "distrust_share (R14)" in message


def test_the_decider_as_built_passes_the_checker_on_the_same_organisation(tmp_path):
    cycle = close_and_aggregate(tmp_path, lab_with_a_head())
    call_command("aggregate", "--cycle", cycle.label, stdout=StringIO())
    assert MetricCell.objects.filter(cycle=cycle, published=True).exists()


# --- the checker on its own ----------------------------------------------------------------


def tiny(cells: list[tuple[str, str, int, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"unit_id": unit, "metric": metric, "published": True, "n": n, "value": value, "ci_low": None,
             "ci_high": None}
            for unit, metric, n, value in cells
        ]
    )  # fmt: skip


def run_check(cells, direct, k=5):
    tree = UnitTree.from_parents({ORGANISATION: None, "a": ORGANISATION, "b": ORGANISATION})
    empty_bins = pd.DataFrame(columns=["unit_id", "item", "unfavourable", "neutral", "favourable"])
    return publication_check(
        tiny(cells), tree, direct_n=direct, distributions=empty_bins, item_direct_n={},
        team_sums=pd.DataFrame(), fixed_sd={}, hourly_cost=80.0, k=k,
    )  # fmt: skip


def test_a_residual_below_k_is_found_and_named_without_its_value():
    direct = {"responses": {"a": 6, "b": 3}, "voice": {"a": 6, "b": 3}}
    cells = [(ORGANISATION, "responses", 9, 90.0), ("a", "responses", 6, 90.0)]
    findings = run_check(cells, direct)
    assert Finding(ORGANISATION, "responses", "R5") in findings
    with pytest.raises(PublicationRefused) as refused:
        require_publishable(findings)
    assert "3" not in str(refused.value).replace(ORGANISATION, "")


def test_a_published_n_that_is_not_the_true_count_is_found():
    direct = {"responses": {"a": 6, "b": 6}}
    cells = [(ORGANISATION, "responses", 12, 90.0), ("a", "responses", 7, 90.0), ("b", "responses", 6, 90.0)]
    assert run_check(cells, direct) == [Finding("a", "responses", "n")]


def test_a_metric_of_a_unit_hidden_on_respondents_is_found():
    direct = {"responses": {"a": 6, "b": 6}, "ai_user": {"a": 6, "b": 6}}
    cells = [(ORGANISATION, "responses", 12, 90.0), ("a", "responses", 6, 90.0),
             (ORGANISATION, "ai_user_share", 12, 1.0), ("a", "ai_user_share", 6, 1.0), ("b", "ai_user_share", 6, 1.0),
             (ORGANISATION, "use_never", 12, 0.0), ("a", "use_never", 6, 0.0)]  # fmt: skip
    findings = run_check(cells, direct)
    assert Finding("b", "ai_user_share", "R11") in findings
    assert Finding("b", "use_never", "R14") in findings  # determined by b's share, yet hidden
