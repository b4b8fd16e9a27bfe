"""Scoring comes from the cycle's instrument version: a new version aggregates without a code change."""

from __future__ import annotations

import copy

import pytest

from analytics.core.scoring import Scoring
from analytics.job.run import aggregate_cycle
from analytics.models import ItemDistribution, MetricCell
from surveys.instrument import load_definition
from surveys.models import InstrumentVersion
from tests.analytics.builders import V1_SCORING, answers_make, cycle_run, org_build

PS8 = {
    "key": "ps8",
    "text": "On this team, it is hard to admit that an AI tool got the better of you.",
    "kind": "scale",
    "construct": "psychological_safety",
    "reverse": True,
    "step": 1,
    "options": [{"value": value, "label": str(value)} for value in range(1, 8)],
}


def version_2() -> dict:
    """v1 plus a reverse-scored eighth safety item (ps8), and ag2 changed to reverse-scored
    ("I usually accept what an AI tool suggests")."""
    definition = copy.deepcopy(load_definition(1))
    definition["version"] = 2
    items = definition["items"]
    items.insert(next(i for i, item in enumerate(items) if item["key"] == "ps7") + 1, PS8)
    ag2 = next(item for item in items if item["key"] == "ag2")
    ag2["text"] = "I usually accept what an AI tool suggests."
    ag2["reverse"] = True
    definition["sections"][0]["items"].append("ps8")
    return definition


def test_v1_scoring_is_read_from_the_instrument():
    assert V1_SCORING.constructs == {
        "psych_safety": ("ps1", "ps2", "ps3", "ps4", "ps5", "ps6", "ps7"),
        "agency": ("ag1", "ag2", "ag3", "ag4"),
        "optimism": ("op1", "op2"),
    }
    assert V1_SCORING.reverse_keys == {"ps1", "ps3", "ps5", "ag4"}
    assert V1_SCORING.never == {"use1": 1.0, "ws1": 1.0}
    assert V1_SCORING.scale_max["trust1"] == 5 and V1_SCORING.scale_max["voice1"] == 7
    # The gates' answer mix is published as shares; recoded items (hours, ratios) have no bins.
    assert set(V1_SCORING.distribution_items) == {
        *V1_SCORING.constructs["psych_safety"], *V1_SCORING.constructs["agency"], "op1", "op2",
        "trust1", "voice1", "press1", "mgr1",
    }  # fmt: skip
    assert V1_SCORING.unfavourable_when_high == {"press1"}


def test_v2_scoring_follows_the_new_definition():
    scoring = Scoring.from_definition(version_2())
    assert scoring.constructs["psych_safety"][-1] == "ps8"
    assert {"ps8", "ag2"} <= scoring.reverse_keys
    assert "ps8" in scoring.distribution_items


@pytest.mark.django_db
def test_a_cycle_on_version_2_aggregates_with_the_new_item_and_the_changed_one():
    InstrumentVersion.objects.create(version=2, definition=version_2())
    org = org_build((("Eng", "A", 6, 6),), k=3)
    answers = []
    for index in range(6):
        raw = answers_make(f"v2-{index}")
        raw["use1"] = "4"  # an AI user: asked the agency items
        raw.update(ps8="2", ag2="7", trust1="3", ag1="6", ag3="6", ag4="2", op1="6", op2="6", speed1="1", speed2="0")
        answers.append(raw)
    submitted = cycle_run(org, {"Eng/A": answers})
    assert submitted.cycle.instrument_version.version == 2
    aggregate_cycle(cycle=submitted.cycle)

    team = str(org.units["Eng/A"].pk)
    cell = MetricCell.objects.get(cycle=submitted.cycle, unit_id=team, metric="psych_safety")
    reverse = {"ps1", "ps3", "ps5", "ps8"}
    expected = [
        sum(8 - int(raw[key]) if key in reverse else int(raw[key]) for key in [*(f"ps{i}" for i in range(1, 9))]) / 8
        for raw in answers
    ]
    assert cell.published and cell.value == pytest.approx(sum(expected) / len(expected))
    # ps8 has a distribution of its own; "2" on a reverse-scored item is favourable.
    ps8 = ItemDistribution.objects.get(cycle=submitted.cycle, unit_id=team, item="ps8")
    assert (ps8.unfavourable, ps8.neutral, ps8.favourable) == (0, 0, 6)
    # ag2 is reverse-scored in v2: everyone's 7 ("I usually accept") is unfavourable, and their
    # agency (6, 1, 6, 6 after reversing: 4.75) falls below the Pilot line of 5; under v1's
    # scoring it would be 6.25, and everyone a Pilot.
    ag2 = ItemDistribution.objects.get(cycle=submitted.cycle, unit_id=team, item="ag2")
    assert (ag2.unfavourable, ag2.neutral, ag2.favourable) == (6, 0, 0)
    pilot = MetricCell.objects.get(cycle=submitted.cycle, unit_id=team, metric="pilot_ratio")
    assert pilot.published and pilot.value == 0.0
