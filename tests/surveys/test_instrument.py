"""Instrument v1 as PRODUCT.md defines it: keys, reverse-scoring by key, skip logic, scales."""

import pytest

from surveys.instrument import AnswerErrors, Instrument, load_definition

PRODUCT_KEYS = [
    "ps1", "ps2", "ps3", "ps4", "ps5", "ps6", "ps7", "use1", "ws1", "trust1", "voice1", "press1",
    "ws2", "ws3", "speed1", "speed2", "ag1", "ag2", "ag3", "ag4", "op1", "op2", "mgr1", "c1",
]  # fmt: skip


@pytest.fixture
def v1() -> Instrument:
    return Instrument(load_definition(1))


def full_step1(use1="4", ws1="3"):
    return {
        "ps1": "2",
        "ps2": "6",
        "ps3": "1",
        "ps4": "5",
        "ps5": "2",
        "ps6": "6",
        "ps7": "7",
        "use1": use1,
        "ws1": ws1,
    }


def test_v1_has_exactly_the_product_items(v1):
    assert sorted(item.key for item in v1.items) == sorted(PRODUCT_KEYS)


def test_reverse_scoring_is_decided_by_key(v1):
    assert v1.reverse_keys == {"ps1", "ps3", "ps5", "ag4"}
    # Reordering the definition does not change which items are reversed.
    definition = load_definition(1)
    definition["items"] = list(reversed(definition["items"]))
    assert Instrument(definition).reverse_keys == v1.reverse_keys


def test_speed_is_stored_as_a_time_ratio(v1):
    values = [option["value"] for option in v1.item("speed1").options]
    assert values == [0.33, 0.5, 0.75, 0.9, 1, 1.1, 1.25, 1.5]
    clean = v1.clean({**full_step1(), "speed1": "0.75"}, is_manager=False)
    assert clean.values["speed1"] == 0.75


def test_workslop_time_is_stored_as_hour_midpoints(v1):
    assert [option["value"] for option in v1.item("ws2").options] == [0.5, 1.5, 3.5, 7.5, 12]


def test_non_users_are_not_asked_ai_items_and_their_answers_are_dropped(v1):
    context = v1.context_from({"use1": "1", "ws1": "1"}, is_manager=False)
    asked = {item.key for item in v1.asked_items(context)}
    assert not asked & {"trust1", "speed1", "speed2", "ag1", "ag2", "ag3", "ag4", "op1", "op2", "ws2", "ws3"}
    assert {"voice1", "press1", "mgr1", "c1", "ps1"} <= asked
    clean = v1.clean({**full_step1(use1="1", ws1="1"), "trust1": "5", "speed1": "0.5", "ag1": "7"}, is_manager=False)
    assert not {"trust1", "speed1", "ag1"} & clean.values.keys()


def test_workslop_follow_ups_only_when_some_was_received(v1):
    never = v1.context_from({"use1": "3", "ws1": "1"}, is_manager=False)
    some = v1.context_from({"use1": "3", "ws1": "2"}, is_manager=False)
    assert "ws2" not in {i.key for i in v1.asked_items(never)}
    assert {"ws2", "ws3"} <= {i.key for i in v1.asked_items(some)}


def test_people_i_manage_is_offered_only_to_managers(v1):
    engineer = v1.context_from(full_step1(), is_manager=False)
    manager = v1.context_from(full_step1(), is_manager=True)
    assert "reports" not in [o["value"] for o in v1.item("ws3").offered_options(engineer)]
    assert "reports" in [o["value"] for o in v1.item("ws3").offered_options(manager)]
    with pytest.raises(AnswerErrors) as raised:
        v1.clean({**full_step1(), "ws3": ["reports"]}, is_manager=False)
    assert "ws3" in raised.value.errors


def test_multi_select_sources_are_stored_one_flag_per_offered_source(v1):
    clean = v1.clean({**full_step1(), "ws3": ["teammates", "other_teams"]}, is_manager=False)
    assert clean.values["ws3_teammates"] == 1.0
    assert clean.values["ws3_other_teams"] == 1.0
    assert clean.values["ws3_leaders"] == 0.0
    assert "ws3_reports" not in clean.values  # not offered to engineers, so not "not chosen"


def test_use1_is_required_and_other_items_may_be_skipped(v1):
    with pytest.raises(AnswerErrors) as raised:
        v1.clean({"ps1": "3"}, is_manager=False)
    assert set(raised.value.errors) == {"use1"}
    assert v1.clean({"use1": "2"}, is_manager=False).values == {"use1": 2.0}


@pytest.mark.parametrize(
    ("key", "value"),
    [("ps1", "8"), ("ps1", "0"), ("ps2", "abc"), ("use1", "6"), ("speed1", "0.8"), ("ws1", "-1"), ("trust1", "3.5")],
)
def test_values_outside_the_options_are_rejected_with_the_field_named(v1, key, value):
    with pytest.raises(AnswerErrors) as raised:
        v1.clean({**full_step1(ws1="2"), key: value}, is_manager=False)
    assert key in raised.value.errors
    assert "Choose" in raised.value.errors[key]


@pytest.mark.parametrize("value", ["21", "-11", "2.5", "lots", "nan", "inf"])
def test_hours_saved_must_be_a_whole_number_in_range(v1, value):
    with pytest.raises(AnswerErrors) as raised:
        v1.clean({**full_step1(), "speed2": value}, is_manager=False)
    assert "from -10 to 20" in raised.value.errors["speed2"]


def test_hours_saved_accepts_negative_numbers_including_a_typographic_minus(v1):
    assert v1.clean({**full_step1(), "speed2": "\u22123"}, is_manager=False).values["speed2"] == -3


def test_comment_is_limited_to_1000_characters(v1):
    assert v1.clean({**full_step1(), "c1": "x" * 1000}, is_manager=False).comment == "x" * 1000
    with pytest.raises(AnswerErrors) as raised:
        v1.clean({**full_step1(), "c1": "x" * 1001}, is_manager=False)
    assert "1,000 characters" in raised.value.errors["c1"]


def test_all_errors_are_reported_at_once(v1):
    with pytest.raises(AnswerErrors) as raised:
        v1.clean({"use1": "9", "ps1": "9", "voice1": "0"}, is_manager=False)
    assert set(raised.value.errors) == {"use1", "ps1", "voice1"}
