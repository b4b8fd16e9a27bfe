"""Response rates as the home page shows them, one per cycle.

A closed cycle's rate is its organisation-level response-rate cell as the aggregation job
published it (R4, R6: a percentage only where the job found n >= k); a closed cycle not (yet)
aggregated under its current k shows none. An open cycle's rate is the organisation's row of
its stored live participation (analytics.published.participation), the same figure HR's cycles
page shows: decided for the whole tree by R4 and R5 on answered counts, inside the structure the
head counts give (R8 lets reports show a response rate while a cycle is open).
"""

from __future__ import annotations

from collections.abc import Sequence

from analytics.core.catalogue import RESPONSES
from analytics.core.disclosure import HIDDEN_TEXT
from analytics.core.tree import ORGANISATION_UNIT_ID
from analytics.models import MetricCell
from analytics.published.cycles import door_state
from analytics.published.participation import organisation_live_rate
from analytics.published.records import ResponseRate
from surveys.models import Cycle

NOT_AGGREGATED_TEXT = "shown once the results are published"
#: An open cycle whose participation has not been counted (yet, or since k was raised).
NOT_COUNTED_TEXT = "counted within ten minutes"


def response_rates(*, cycles: Sequence[Cycle]) -> dict[int, ResponseRate]:
    """Each given cycle's response rate, keyed by cycle id. Two queries, and one more for an open
    cycle (there is at most one)."""
    state = door_state()
    served = [cycle.pk for cycle in cycles if cycle.pk in state.served_ids]
    cells = {
        cycle_id: (published, value)
        for cycle_id, published, value in MetricCell.objects.filter(
            cycle_id__in=served, unit_id=ORGANISATION_UNIT_ID, metric=RESPONSES
        ).values_list("cycle_id", "published", "value")
    } if served else {}  # fmt: skip
    rates = {}
    for cycle in cycles:
        if cycle.is_open:
            rates[cycle.pk] = _live(cycle)
        elif cycle.pk in cells:
            published, value = cells[cycle.pk]
            percent = round(value) if published and value is not None else None
            rates[cycle.pk] = _rate(cycle, percent, live=False)
        else:
            rates[cycle.pk] = ResponseRate(cycle=cycle.label, percent=None, text=NOT_AGGREGATED_TEXT, live=False)
    return rates


def _live(cycle: Cycle) -> ResponseRate:
    organisation = organisation_live_rate(cycle=cycle)
    if organisation is None:
        return ResponseRate(cycle=cycle.label, percent=None, text=NOT_COUNTED_TEXT, live=True)
    return _rate(cycle, organisation.percent, live=True)


def _rate(cycle: Cycle, percent: int | None, *, live: bool) -> ResponseRate:
    text = HIDDEN_TEXT if percent is None else f"{percent}%"
    return ResponseRate(cycle=cycle.label, percent=percent, text=text, live=live)
