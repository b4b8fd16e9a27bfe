"""Charts as server-rendered SVG: no JavaScript, no build step, nothing fetched.

Each chart is decorative to a screen reader beyond its one-sentence label (``role="img"`` with
``aria-label``); the page puts the same numbers in a data table beside it, so nothing is only
in the picture. Colours are never the only carrier of meaning: the interval is a band, the
value a dot, a reference point a dashed tick named in the text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH = 320
BAR_HEIGHT = 28
TREND_HEIGHT = 140
PAD = 8


@dataclass(frozen=True)
class Point:
    label: str  # the cycle, YYYY-MM
    value: float | None  # None: hidden or not published that cycle (a gap, never a guess)
    low: float | None
    high: float | None


def _x(value: float, lo: float, hi: float, width: float = WIDTH) -> float:
    span = hi - lo or 1.0
    return PAD + (min(max(value, lo), hi) - lo) / span * (width - 2 * PAD)


def range_bar(
    *, value: float, low: float | None, high: float | None, lo: float, hi: float, reference: float | None, text: str
) -> SafeString:
    """The value as a dot on its scale with its 95% interval as a band (and a reference tick)."""
    y = BAR_HEIGHT / 2
    parts = [
        format_html(
            '<svg class="range" viewBox="0 0 {} {}" role="img" aria-label="{}" preserveAspectRatio="none" '
            'focusable="false">',
            WIDTH,
            BAR_HEIGHT,
            text,
        ),
        format_html('<line x1="{}" y1="{}" x2="{}" y2="{}" class="axis"/>', PAD, y, WIDTH - PAD, y),
    ]
    if low is not None and high is not None:
        x1, x2 = _x(low, lo, hi), _x(high, lo, hi)
        parts.append(
            format_html('<rect x="{}" y="{}" width="{}" height="12" class="band"/>', _n(x1), y - 6, _n(max(x2 - x1, 1)))
        )
    if reference is not None:
        xr = _n(_x(reference, lo, hi))
        parts.append(format_html('<line x1="{}" y1="2" x2="{}" y2="{}" class="reference"/>', xr, xr, BAR_HEIGHT - 2))
    parts.append(format_html('<circle cx="{}" cy="{}" r="5" class="dot"/>', _n(_x(value, lo, hi)), y))
    parts.append(SafeString("</svg>"))
    return _joined(parts)


def _n(number: float) -> str:
    return f"{number:.1f}"


def _joined(parts: list[SafeString]) -> SafeString:
    """Concatenated markup; each part was built by format_html, which escapes every value."""
    return format_html_join("", "{}", ((part,) for part in parts))


def trend_chart(
    *, points: list[Point], lo: float | None, hi: float | None, text: str, fmt: Callable[[float], str] = str
) -> SafeString | None:
    """Values over cycles as a line with the interval as a band; hidden cycles are gaps.
    None when fewer than two cycles have a value (nothing to draw a trend from)."""
    known = [p for p in points if p.value is not None]
    if len(known) < 2:
        return None
    values = [v for p in known for v in (p.value, p.low, p.high) if v is not None]
    lo = min(values) if lo is None else lo
    hi = max(values) if hi is None else hi
    if hi <= lo:
        hi = lo + 1.0
    count = len(points)

    def xy(index: int, value: float) -> tuple[float, float]:
        x = PAD + index * (WIDTH - 2 * PAD) / max(count - 1, 1)
        y = TREND_HEIGHT - PAD - (min(max(value, lo), hi) - lo) / (hi - lo) * (TREND_HEIGHT - 2 * PAD)
        return x, y

    parts = [
        format_html(
            '<svg class="trend" viewBox="0 0 {} {}" role="img" aria-label="{}" focusable="false">',
            WIDTH,
            TREND_HEIGHT,
            text,
        ),
        format_html(
            '<line x1="{}" y1="{}" x2="{}" y2="{}" class="axis"/>',
            PAD,
            TREND_HEIGHT - PAD,
            WIDTH - PAD,
            TREND_HEIGHT - PAD,
        ),
        format_html('<text x="{}" y="{}" class="tick">{}</text>', PAD, PAD + 4, fmt(hi)),
        format_html('<text x="{}" y="{}" class="tick">{}</text>', PAD, TREND_HEIGHT - PAD - 4, fmt(lo)),
        format_html('<text x="{}" y="{}" class="tick end">{}</text>', WIDTH - PAD, TREND_HEIGHT - 1, points[-1].label),
    ]
    # Runs of consecutive published cycles: a band and a line per run, so a gap stays a gap.
    runs: list[list[tuple[int, Point]]] = [[]]
    for index, point in enumerate(points):
        if point.value is None:
            runs.append([])
        else:
            runs[-1].append((index, point))
    for run in filter(None, runs):
        banded = [(i, p) for i, p in run if p.low is not None and p.high is not None]
        if len(banded) >= 2:
            upper = [xy(i, p.high) for i, p in banded if p.high is not None]
            lower = [xy(i, p.low) for i, p in reversed(banded) if p.low is not None]
            polygon = " ".join(f"{x:.1f},{y:.1f}" for x, y in upper + lower)
            parts.append(format_html('<polygon points="{}" class="band"/>', polygon))
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, p.value) for i, p in run if p.value is not None))
        parts.append(format_html('<polyline points="{}" class="line"/>', line))
        for i, p in run:
            if p.value is not None:
                x, y = xy(i, p.value)
                parts.append(format_html('<circle cx="{}" cy="{}" r="3" class="dot"/>', _n(x), _n(y)))
    parts.append(SafeString("</svg>"))
    return _joined(parts)
