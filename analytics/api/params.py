"""Reading the API's query parameters: only the ones a view names, each checked, each error naming
the parameter and the fix.

There is nothing to subtract with (ANONYMITY R5, threat 7): no parameter filters or orders by a
value, an n or suppression, and an unknown parameter (``ordering``, ``n``, ``value``, a typo) is
refused rather than ignored, so a client never believes a filter was applied when it was not.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Collection, Sequence

from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.request import Request

from analytics.core.catalogue import METRICS, RESPONSES
from analytics.core.scoring import CONSTRUCT_VARIABLES
from surveys.models import Cycle

# Years 1000-9999: a four-digit year the date type can hold (year 0 is not one).
MONTH = re.compile(r"^([1-9]\d{3})-(0[1-9]|1[0-2])\Z")  # \Z: "$" would take "2026-04\n"
# analytics.core.cells.RELIABILITY_PREFIX (the API may not import that module): Cronbach's alpha
# of each construct, organisation level only.
_ALPHA_PREFIX = "alpha_"
#: Every metric a cell can carry, in the catalogue's order.
METRIC_NAMES: tuple[str, ...] = (
    RESPONSES,
    *(spec.name for spec in METRICS),
    *(f"{_ALPHA_PREFIX}{variable}" for variable in CONSTRUCT_VARIABLES.values()),
)
_KNOWN_METRICS = frozenset(METRIC_NAMES)
#: How much of a wrong value an error message quotes back: enough to recognise it, never a whole
#: upload (a query string or a field can be megabytes).
SHOWN_MAX = 60


def shown(value: object) -> str:
    """``value`` as an error message quotes it: its repr, so control and direction characters show
    as escapes rather than act on the reader's screen, cut to SHOWN_MAX characters."""
    text = repr(value)
    if len(text) <= SHOWN_MAX:
        return text
    return f"{text[:SHOWN_MAX]}\u2026 ({len(text)} characters)"


class BadParameter(APIException):
    """400 with ``{"detail": "<param>: <what is wrong and the fix>"}``."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "bad_parameter"

    def __init__(self, param: str, message: str) -> None:
        super().__init__(detail=f"{param}: {message}")


def query_read(request: Request, allowed: Sequence[str]) -> dict[str, str]:
    """The query string as one value per parameter, refusing any parameter not in ``allowed``,
    any given twice (which one would win is a guess) and any given empty."""
    params = request.query_params
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        accepted = ", ".join(allowed) if allowed else "none"
        raise BadParameter(
            ", ".join(_name(param) for param in unknown[:5]) + (", \u2026" if len(unknown) > 5 else ""),
            f"unknown query parameter; this endpoint accepts: {accepted} "
            "(nothing filters or orders by a value, an n or whether a cell is hidden).",
        )
    out: dict[str, str] = {}
    for name in params:
        values = params.getlist(name)
        if len(values) != 1:
            raise BadParameter(name, "given more than once; give it once.")
        value = values[0].strip()
        if not value:
            raise BadParameter(name, "empty; give a value or leave the parameter out.")
        out[name] = value
    return out


def _name(param: str) -> str:
    """A parameter's name as an error names it: as typed when it is plain printable ASCII (every
    parameter the API reads is), quoted as ``shown`` quotes values otherwise."""
    return param if param.isascii() and param.isprintable() and len(param) <= SHOWN_MAX else shown(param)


def month_parse(param: str, raw: str) -> dt.date:
    """``2026-03`` -> 1 March 2026 (cycles are months)."""
    match = MONTH.match(raw)
    if match is None:
        raise BadParameter(param, f"{shown(raw)} is not a month; write it as YYYY-MM, e.g. 2026-03.")
    return dt.date(int(match.group(1)), int(match.group(2)), 1)


def unit_parse(param: str, raw: str) -> str:
    """A unit id in its canonical form (units are named by UUID, never by path)."""
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        message = f"{shown(raw)} is not a unit id; use a unit_id (a UUID) from /api/v1/units/."
        raise BadParameter(param, message) from None


def metrics_parse(param: str, raw: str) -> list[str]:
    """``a,b`` -> ["a", "b"], each a known metric, each once, in the order given."""
    names = [part.strip() for part in raw.split(",")]
    if any(not name for name in names):
        raise BadParameter(param, "an empty name in the list; separate metric names with single commas.")
    unknown = [name for name in names if name not in _KNOWN_METRICS]
    if unknown:
        raise BadParameter(
            param,
            f"unknown metric {', '.join(shown(name) for name in unknown[:3])}; "
            f"known metrics: {', '.join(METRIC_NAMES)}.",
        )
    return list(dict.fromkeys(names))


def cycle_pick(param: str, raw: str | None, served: Collection[Cycle]) -> Cycle | None:
    """The served cycle of the given month, or the latest served one when none is given (None if
    no cycle has published results yet). Only closed cycles aggregated under their current k are
    served (R3, R8): an open one has no results to ask for."""
    ordered = sorted(served, key=lambda cycle: cycle.month)
    if raw is None:
        return ordered[-1] if ordered else None
    month = month_parse(param, raw)
    for cycle in ordered:
        if cycle.month == month:
            return cycle
    raise BadParameter(
        param,
        f"{raw} has no published results (a pulse is served once it has closed and been aggregated); "
        "pick one from /api/v1/cycles/.",
    )


def range_parse(since_raw: str | None, until_raw: str | None) -> tuple[dt.date | None, dt.date | None]:
    since = month_parse("since", since_raw) if since_raw is not None else None
    until = month_parse("until", until_raw) if until_raw is not None else None
    if since is not None and until is not None and since > until:
        raise BadParameter("since", f"{since_raw} is after until ({until_raw}); swap them.")
    return since, until
