"""What an action's check-back says: the unit's change since the results that prompted the
action, with a 95% interval, and the organisation's change over the same months beside it.

Pure computation over published records (analytics.published.PublishedCell) that the caller read
through the door; nothing here reads the database. The rules:

- The check-back cycle is the first published cycle of the unit in or after the check-back month,
  and the report shown must have reached it; before that the action just says when it checks back.
- The change is value(check-back cycle) - value(started cycle), both published. Each standard
  error is recovered from the published 95% interval as (ci_high - ci_low) / (2 x 1.96) and the
  two are combined in quadrature. That treats the two months as independent samples; the same
  people answer both, which makes the true interval narrower, so this one is conservative (and
  for the t intervals of small cells the recovered error is a little large as well).
- A hidden cell is never used: if the unit's figure in either month is hidden (or not there), the
  check-back says there are not enough published results, and shows no number.
- The wording never says the action worked: actions follow unusual results (a low safety score, a
  rise in workslop), which tend to move back toward usual on their own (regression to the mean),
  so the caveat is always said beside a figure. The interval is symmetric around the change, as
  recovered from each month's interval; for a proportion's Wilson interval or a geometric mean's,
  which are not symmetric, it is an approximation. An interval
  that includes zero is "no clear change yet", a valid result.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from analytics.published import PublishedCell
from analytics.reports import themes

Z95 = 1.959963984540054  # the normal quantile of a two-sided 95% interval

NOT_ENOUGH = "Not enough published results to check back yet"
CAVEAT = (
    "Actions follow unusual results, and unusual results tend to move back toward usual on their own, "
    "so this does not show what the action did."
)
METHOD = (
    "Change = the published value at the check-back minus the published value when the action started. "
    "Its 95% interval combines the two months' published intervals (each standard error is the "
    "interval's width / 3.92), treating the two months as independent samples; the same people answer "
    "both, so the true interval is somewhat narrower."
)


@dataclass(frozen=True)
class Change:
    """A difference of two published values, with its 95% interval where both have one."""

    difference: float
    low: float | None = None
    high: float | None = None

    @property
    def has_interval(self) -> bool:
        return self.low is not None and self.high is not None

    @property
    def clear(self) -> bool:
        """The whole interval is on one side of zero (never without an interval)."""
        return self.has_interval and (self.low > 0 or self.high < 0)  # type: ignore[operator]


@dataclass(frozen=True)
class CheckBack:
    due: bool  # the report shown has reached the check-back month
    started: str  # the started cycle's label
    checked: str | None  # the check-back cycle's label, once due
    unit_change: Change | None
    organisation_change: Change | None
    sentence: str
    caveat: str = ""  # said beside every figure, empty when none is shown
    method: str = ""


def standard_error(cell: PublishedCell) -> float | None:
    """The standard error a published 95% interval implies, or None without an interval."""
    if cell.ci_low is None or cell.ci_high is None or cell.ci_high < cell.ci_low:
        return None
    return (cell.ci_high - cell.ci_low) / (2 * Z95)


def change_between(before: PublishedCell | None, after: PublishedCell | None) -> Change | None:
    """``after`` - ``before`` with its interval; None unless both cells are published with a value."""
    if before is None or after is None or before.suppressed or after.suppressed:
        return None
    if before.value is None or after.value is None:
        return None
    difference = after.value - before.value
    errors = (standard_error(before), standard_error(after))
    if errors[0] is None or errors[1] is None:
        return Change(difference)
    half = Z95 * math.hypot(errors[0], errors[1])
    return Change(difference, difference - half, difference + half)


def check_back_cycle(
    *, check_back_month: dt.date, shown_month: dt.date, cycles: Sequence[tuple[str, dt.date]]
) -> str | None:
    """The first cycle (label, month) in or after the check-back month and not after the report
    shown; None if the report has not reached the check-back month."""
    for label, month in sorted(cycles, key=lambda cycle: cycle[1]):
        if check_back_month <= month <= shown_month:
            return label
    return None


def check_back(
    *,
    metric: str,
    started: str,
    check_back_month: dt.date,
    shown_month: dt.date,
    cycles: Sequence[tuple[str, dt.date]],
    unit_cells: Mapping[str, PublishedCell],
    organisation_cells: Mapping[str, PublishedCell] | None,
    currency: str = "EUR",
) -> CheckBack:
    """The check-back of one action on ``metric`` as of the report of ``shown_month``.

    ``cycles``: the published cycles holding the unit (label, month); ``unit_cells`` and
    ``organisation_cells``: cycle label -> the unit's / the organisation's published cell of
    ``metric``. ``organisation_cells`` None: the viewer may not open the organisation's figures,
    so its change is not said at all."""
    checked = check_back_cycle(check_back_month=check_back_month, shown_month=shown_month, cycles=cycles)
    if checked is None:
        return CheckBack(False, started, None, None, None, f"Checks back with the {check_back_month:%B %Y} results.")
    name = themes.label(metric)  # a name, capitalised as the report writes it
    unit_change = change_between(unit_cells.get(started), unit_cells.get(checked))
    if unit_change is None:
        sentence = (
            f"{NOT_ENOUGH}: {name} is not published for this unit in both {started} and {checked}, and a "
            "hidden figure is never used."
        )
        return CheckBack(True, started, checked, None, None, sentence)
    organisation_change = (
        change_between(organisation_cells.get(started), organisation_cells.get(checked))
        if organisation_cells is not None
        else None
    )
    beside = _organisation_clause(metric, organisation_cells is not None, organisation_change, currency)
    months = f"{started} to {checked}"
    if not unit_change.has_interval:
        sentence = (
            f"{name} moved by {_signed(metric, unit_change.difference, currency)} "
            f"from {months}; no interval is published for it, so this cannot tell a change from noise{beside}."
        )
    elif not unit_change.clear:
        sentence = (
            f"No clear change yet: {name} moved by {_signed(metric, unit_change.difference, currency)} "
            f"({_interval(metric, unit_change, currency)}) from {months}{beside}."
        )
    else:
        direction = "Higher" if unit_change.difference > 0 else "Lower"
        size = _signed(metric, abs(unit_change.difference), currency).lstrip("+")
        sentence = (
            f"{direction} by {size} ({_interval(metric, unit_change, currency)}) since the action started "
            f"({months}){beside}."
        )
    return CheckBack(True, started, checked, unit_change, organisation_change, sentence, CAVEAT, METHOD)


def _organisation_clause(metric: str, may_show: bool, change: Change | None, currency: str) -> str:
    if not may_show:
        return ""
    if change is None:
        return "; the organisation's figure for those months is not published"
    text = f"; the organisation moved by {_signed(metric, change.difference, currency)}"
    if change.has_interval:
        text += f" ({_interval(metric, change, currency)})"
    return text + " over the same months"


def _signed(metric: str, value: float, currency: str) -> str:
    return themes.fmt(metric, value, currency=currency, signed=True)


def _interval(metric: str, change: Change, currency: str) -> str:
    low = _signed(metric, change.low, currency)  # type: ignore[arg-type]
    high = _signed(metric, change.high, currency)  # type: ignore[arg-type]
    return f"95% interval {low} to {high}"
