"""The check-back's arithmetic and wording (analytics.reports.checkback), on hand-made published
records: no database. The numbers are worked out here by hand from the rule (standard errors from
the published 95% intervals, combined in quadrature), not taken from the module."""

from __future__ import annotations

import datetime as dt
import math
import re

import pytest

from analytics.published import HIDDEN_TEXT, PublishedCell
from analytics.reports.checkback import (
    CAVEAT,
    NOT_ENOUGH,
    Z95,
    Change,
    change_between,
    check_back,
    check_back_cycle,
    standard_error,
)

MARCH, APRIL, MAY, JUNE, JULY = (dt.date(2026, month, 1) for month in (3, 4, 5, 6, 7))
CYCLES = [("2026-03", MARCH), ("2026-04", APRIL), ("2026-05", MAY), ("2026-06", JUNE), ("2026-07", JULY)]
# Words a check-back must never use: it cannot tell what the action did.
CLAIMS = re.compile(r"\b(worked|because of the action|improved|thanks to|caused|success)", re.IGNORECASE)


def cell(
    cycle: str,
    value: float | None,
    low: float | None = None,
    high: float | None = None,
    *,
    metric: str = "psych_safety",
    unit: str = "team",
) -> PublishedCell:
    return PublishedCell(cycle, 5, unit, "Eng/Team", "Eng", "team", metric, 8, value, low, high, False, "")


def hidden(cycle: str, *, metric: str = "psych_safety") -> PublishedCell:
    return PublishedCell(cycle, 5, "team", "Eng/Team", "Eng", "team", metric, None, None, None, None, True, HIDDEN_TEXT)


def run(
    unit: dict[str, PublishedCell],
    organisation: dict[str, PublishedCell] | None,
    *,
    metric="psych_safety",
    started="2026-03",
    check=JUNE,
    shown=JUNE,
):
    return check_back(
        metric=metric,
        started=started,
        check_back_month=check,
        shown_month=shown,
        cycles=CYCLES,
        unit_cells=unit,
        organisation_cells=organisation,
    )


# --- arithmetic ---------------------------------------------------------------------------------


def test_the_standard_error_is_the_published_intervals_width_over_3_92():
    assert standard_error(cell("2026-03", 4.0, 3.0, 5.0)) == pytest.approx(2 / 3.919927969)
    assert standard_error(cell("2026-03", 4.0)) is None  # no interval published
    assert standard_error(cell("2026-03", 4.0, 5.0, 3.0)) is None  # not an interval


def test_the_change_combines_the_two_errors_in_quadrature():
    before, after = cell("2026-03", 4.0, 3.0, 5.0), cell("2026-06", 5.5, 5.0, 6.0)
    change = change_between(before, after)
    se = math.sqrt((2 / (2 * 1.959964)) ** 2 + (1 / (2 * 1.959964)) ** 2)  # 0.5704
    assert change is not None
    assert change.difference == pytest.approx(1.5)
    assert change.low == pytest.approx(1.5 - 1.959964 * se, abs=1e-6)  # 0.382
    assert change.high == pytest.approx(1.5 + 1.959964 * se, abs=1e-6)  # 2.618
    assert change.clear
    # Equal-width intervals: the half-width is √2 times each one's.
    same = change_between(cell("2026-03", 4.0, 3.5, 4.5), cell("2026-06", 4.2, 3.7, 4.7))
    assert same is not None and (same.high - same.difference) == pytest.approx(0.5 * math.sqrt(2))
    assert not same.clear


def test_a_hidden_or_empty_cell_gives_no_change_at_all():
    published = cell("2026-06", 5.0, 4.0, 6.0)
    assert change_between(hidden("2026-03"), published) is None
    assert change_between(published, hidden("2026-06")) is None
    assert change_between(None, published) is None
    assert change_between(cell("2026-03", None), published) is None


def test_without_an_interval_the_change_has_none_and_is_never_clear():
    change = change_between(cell("2026-03", 0.40, metric="responses"), cell("2026-06", 0.60, metric="responses"))
    assert change == Change(pytest.approx(0.20))
    assert not change.has_interval and not change.clear


def test_the_check_back_cycle_is_the_first_published_one_in_or_after_the_month_and_not_after_the_report():
    assert check_back_cycle(check_back_month=JUNE, shown_month=MAY, cycles=CYCLES) is None  # not reached yet
    assert check_back_cycle(check_back_month=JUNE, shown_month=JULY, cycles=CYCLES) == "2026-06"
    # June had no published cycle for the unit: July's is the check-back.
    without_june = [cycle for cycle in CYCLES if cycle[0] != "2026-06"]
    assert check_back_cycle(check_back_month=JUNE, shown_month=JULY, cycles=without_june) == "2026-07"
    assert check_back_cycle(check_back_month=JUNE, shown_month=JUNE, cycles=without_june) is None


# --- wording ------------------------------------------------------------------------------------


def test_before_the_check_back_month_it_only_says_when():
    result = run({"2026-03": cell("2026-03", 4.0, 3.0, 5.0)}, {}, shown=MAY)
    assert not result.due and result.checked is None
    assert result.sentence == "Checks back with the June 2026 results."
    assert result.caveat == "" and result.unit_change is None


def test_an_interval_including_zero_is_no_clear_change_yet_beside_the_organisations_change():
    unit = {"2026-03": cell("2026-03", 4.0, 3.5, 4.5), "2026-06": cell("2026-06", 4.2, 3.7, 4.7)}
    organisation = {
        "2026-03": cell("2026-03", 4.5, 4.4, 4.6, unit="org"),
        "2026-06": cell("2026-06", 4.6, 4.5, 4.7, unit="org"),
    }
    result = run(unit, organisation)
    half = 0.5 * math.sqrt(2)  # 0.71
    org_half = 0.1 * math.sqrt(2)  # 0.14
    assert result.due and result.checked == "2026-06"
    assert result.sentence == (
        f"No clear change yet: Psychological safety (1–7) moved by +0.20 (95% interval {0.2 - half:+.2f} to "
        f"+{0.2 + half:.2f}) from 2026-03 to 2026-06; the organisation moved by +0.10 (95% interval "
        f"{0.1 - org_half:+.2f} to +{0.1 + org_half:.2f}) over the same months."
    )
    assert result.caveat == CAVEAT
    assert "independent samples" in result.method


def test_a_clear_rise_says_higher_never_that_it_worked_and_always_carries_the_caveat():
    unit = {"2026-03": cell("2026-03", 4.0, 3.0, 5.0), "2026-06": cell("2026-06", 5.5, 5.0, 6.0)}
    organisation = {"2026-03": cell("2026-03", 4.5, 4.4, 4.6), "2026-06": cell("2026-06", 4.4, 4.3, 4.5)}
    result = run(unit, organisation)
    assert result.sentence.startswith(
        "Higher by 1.50 (95% interval +0.38 to +2.62) since the action started (2026-03 to 2026-06)"
    )
    assert result.sentence.endswith(
        "; the organisation moved by -0.10 (95% interval -0.24 to +0.04) over the same months."
    )
    assert result.caveat == CAVEAT
    assert "unusual results tend to move back toward usual on their own" in result.caveat
    assert not CLAIMS.search(result.sentence + result.caveat)


def test_a_clear_fall_says_lower_with_the_size_unsigned_and_the_interval_signed():
    unit = {"2026-03": cell("2026-03", 5.5, 5.0, 6.0), "2026-06": cell("2026-06", 4.0, 3.0, 5.0)}
    result = run(unit, {"2026-03": cell("2026-03", 4.5, 4.4, 4.6), "2026-06": cell("2026-06", 4.5, 4.4, 4.6)})
    assert result.sentence.startswith("Lower by 1.50 (95% interval -2.62 to -0.38) since the action started")
    assert "the organisation moved by 0.00" in result.sentence  # no "-0.00", no "+0.00"
    assert result.caveat == CAVEAT


def test_shares_move_in_points():
    unit = {
        "2026-03": cell("2026-03", 0.20, 0.10, 0.30, metric="pilot_ratio"),
        "2026-06": cell("2026-06", 0.60, 0.50, 0.70, metric="pilot_ratio"),
    }
    result = run(unit, None, metric="pilot_ratio")
    assert result.sentence.startswith("Higher by 40 points (95% interval +26 points to +54 points)")


def test_a_hidden_cell_in_either_month_says_not_enough_and_shows_no_number():
    for unit in (
        {"2026-03": hidden("2026-03"), "2026-06": cell("2026-06", 4.2, 3.7, 4.7)},
        {"2026-03": cell("2026-03", 4.0, 3.5, 4.5), "2026-06": hidden("2026-06")},
        {"2026-06": cell("2026-06", 4.2, 3.7, 4.7)},  # the started cycle is not served any more
    ):
        result = run(unit, {"2026-03": cell("2026-03", 4.5, 4.4, 4.6), "2026-06": cell("2026-06", 4.6, 4.5, 4.7)})
        assert result.due and result.unit_change is None and result.organisation_change is None
        assert result.sentence.startswith(NOT_ENOUGH + ":")
        assert not re.search(r"\d\.\d", result.sentence), result.sentence  # no value, not even the organisation's
        assert result.caveat == ""


def test_the_organisation_is_left_out_for_a_viewer_who_may_not_open_it_and_said_unpublished_when_hidden():
    unit = {"2026-03": cell("2026-03", 4.0, 3.5, 4.5), "2026-06": cell("2026-06", 4.2, 3.7, 4.7)}
    assert "organisation" not in run(unit, None).sentence
    result = run(unit, {"2026-03": hidden("2026-03"), "2026-06": cell("2026-06", 4.6, 4.5, 4.7)})
    assert result.organisation_change is None
    assert result.sentence.endswith("; the organisation's figure for those months is not published.")


def test_without_a_published_interval_it_says_so_instead_of_calling_the_change():
    unit = {"2026-03": cell("2026-03", 40.0, metric="responses"), "2026-06": cell("2026-06", 65.0, metric="responses")}
    organisation = {
        "2026-03": cell("2026-03", 60.0, metric="responses"),
        "2026-06": cell("2026-06", 62.0, metric="responses"),
    }
    result = run(unit, organisation, metric="responses")
    assert result.sentence == (
        "Response rate moved by +25 points from 2026-03 to 2026-06; no interval is published for it, so this "
        "cannot tell a change from noise; the organisation moved by +2 points over the same months."
    )
    assert result.caveat == CAVEAT
    assert "Higher" not in result.sentence and "No clear change" not in result.sentence


def test_z_is_the_two_sided_95_percent_normal_quantile():
    from scipy import stats

    assert pytest.approx(float(stats.norm.ppf(0.975)), abs=1e-12) == Z95
