"""The door's frozen records: what pages, the API and exports get instead of ORM rows.

A record carries only what the aggregation job published. A hidden cell keeps its place (cycle,
unit, metric) and the one public reason, nothing else: no n, value, interval or note. The stored
sufficient statistics (total, total_sq) and the internal reason a cell is hidden never leave here.

What ``MetricCell.extra`` holds, by metric (written by analytics.core.cells), and the typed field
each becomes here (published cells only; hidden cells store ``{}`` and are read as such anyway):

- means (mean, geometric, 0-100 and cost kinds): ``{"interval": "own_sd" | "organisation_sd"}``,
  whose spread the interval was computed from (R13) -> ``interval``;
- ``time_ratio``: ``"in_words"`` as well, the ratio said in words -> ``in_words``;
- ``pilot_ratio``: ``"shrunk"``, the empirical-Bayes estimate toward the organisation -> ``shrunk``;
- ``responses``: ``"invited"`` (rolled-up invitations) and ``"low_response"`` (below 50%) ->
  ``invited``, ``low_response``;
- ``alpha_<construct>`` (organisation only): ``"items"``, ``"warn"`` and, when alpha is not shown,
  ``"why_empty"`` -> ``alpha_items``, ``alpha_warn``, ``why_empty``.
"""

from __future__ import annotations

import base64
import binascii
import json
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from analytics.core.disclosure import HIDDEN_TEXT

IntervalBasis = Literal["own_sd", "organisation_sd"]
INTERVAL_BASES: frozenset[str] = frozenset({"own_sd", "organisation_sd"})

# One row of an export, in this order, whatever the format (k travels in every row, R3).
EXPORT_COLUMNS = [
    "cycle", "k", "unit_id", "unit_path", "parent_path", "level", "metric", "n", "value", "ci_low", "ci_high",
    "suppressed", "reason",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class PublishedCell:
    """One (unit, cycle, metric) as published. ``suppressed`` cells have every number None."""

    cycle: str  # YYYY-MM
    k: int  # the threshold the cycle's publication was decided with (its current k)
    unit_id: str
    unit_path: str
    parent_path: str  # "" for the organisation
    level: str  # organisation, department or team
    metric: str
    n: int | None
    value: float | None
    ci_low: float | None
    ci_high: float | None
    suppressed: bool
    reason: str  # "" or HIDDEN_TEXT, the one public reason
    interval: IntervalBasis | None = None
    shrunk: float | None = None
    in_words: str | None = None
    invited: int | None = None
    low_response: bool | None = None
    alpha_items: int | None = None
    alpha_warn: bool | None = None
    why_empty: str | None = None

    def as_row(self) -> list[object]:
        return [getattr(self, column) for column in EXPORT_COLUMNS]


@dataclass(frozen=True, slots=True)
class CellPage:
    """One page of a keyset-paginated read: pass ``next_cursor`` back for the next one (None: done).

    A page never spans two cycles, so it may hold fewer cells than asked for (even none, for a
    cycle whose tree did not have the unit); only ``next_cursor is None`` means the end."""

    cells: tuple[PublishedCell, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class PublishedFlag:
    """A stored flag or "worth watching" result, served only while its cells are published."""

    cycle: str
    unit_id: str
    unit_path: str
    kind: str
    metric: str
    test: str
    severity: str  # "flag" (survived Benjamini-Hochberg) or "watch" (the unit's own report only)
    p_value: float | None
    numbers: Mapping[str, Any]  # read-only: published means, n, labels and test statistics
    method: str
    explanation: str
    actions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ResponseRate:
    """The response rate of one cycle as the home page shows it (R4: a percentage only where n >= k)."""

    cycle: str
    percent: int | None
    text: str  # "56%", HIDDEN_TEXT, or why there is nothing to show yet
    live: bool  # an open cycle's rate, counted from the invitation log (R8)


def cell_record(
    *,
    cycle: str,
    k: int,
    unit_id: str,
    unit_path: str,
    parent_path: str,
    level: str,
    metric: str,
    published: bool,
    numbers: tuple[int | None, float | None, float | None, float | None],
    extra: Mapping[str, Any] | None,
) -> PublishedCell:
    """The record of one stored cell. Nothing of a hidden row is read beyond its place: whatever a
    writer may have left on it (an interval, a note) is not passed on."""
    if not published:
        return PublishedCell(
            cycle, k, unit_id, unit_path, parent_path, level, metric, None, None, None, None, True, HIDDEN_TEXT
        )
    n, value, ci_low, ci_high = numbers
    notes = extra or {}
    interval = notes.get("interval")
    return PublishedCell(
        cycle, k, unit_id, unit_path, parent_path, level, metric, n, value, ci_low, ci_high, False, "",
        interval=interval if interval in INTERVAL_BASES else None,
        shrunk=_float(notes.get("shrunk")),
        in_words=_str(notes.get("in_words")),
        invited=_int(notes.get("invited")),
        low_response=_bool(notes.get("low_response")),
        alpha_items=_int(notes.get("items")),
        alpha_warn=_bool(notes.get("warn")),
        why_empty=_str(notes.get("why_empty")),
    )  # fmt: skip


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def read_only(value: Any) -> Any:
    """A JSON value that cannot be changed in place: mappings become read-only views, lists tuples."""
    if isinstance(value, dict):
        return types.MappingProxyType({key: read_only(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(read_only(item) for item in value)
    return value


# --- cursors -------------------------------------------------------------------------------------


class CursorInvalid(ValueError):
    """A cursor this door did not hand out (or one from an older version)."""


def cursor_encode(month: str, unit_id: str | None, metric: str | None) -> str:
    """Opaque to clients; it holds a position only (cycle, unit, metric), never a value."""
    raw = json.dumps([month, unit_id, metric], separators=(",", ":")).encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def cursor_decode(cursor: str) -> tuple[str, str | None, str | None]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        month, unit_id, metric = json.loads(raw)
    # RecursionError: a forged cursor of deeply nested JSON; a real one is a flat list of three.
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError, RecursionError) as error:
        raise CursorInvalid(
            "cursor: not a cursor this API handed out; start again without it (the first page)."
        ) from error
    if not isinstance(month, str) or (unit_id is None) != (metric is None):
        raise CursorInvalid("cursor: not a cursor this API handed out; start again without it (the first page).")
    if unit_id is not None and not (isinstance(unit_id, str) and isinstance(metric, str)):
        raise CursorInvalid("cursor: not a cursor this API handed out; start again without it (the first page).")
    # Only the characters a month, a UUID and a catalogue key are written with: a forged cursor
    # must not carry a NUL or a lone surrogate into a query.
    if not all(part.isascii() and part.isprintable() for part in (month, unit_id or "", metric or "")):
        raise CursorInvalid("cursor: not a cursor this API handed out; start again without it (the first page).")
    return month, unit_id, metric
