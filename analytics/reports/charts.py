"""Charts as server-rendered SVG: no JavaScript, no build step, nothing fetched.

Each chart is decorative to a screen reader beyond its one-sentence label (``role="img"`` with
``aria-label``); the page puts the same numbers in a data table beside it, so nothing is only
in the picture. Colours are never the only carrier of meaning: the interval is a band, the
value a dot, a reference point a dashed tick named in the text.

The markup is assembled with f-strings (a report draws about thirty charts; building each
element through format_html cost a third of the page's time) and marked safe once per chart:
every interpolated value is a float formatted here, a fixed class name, or text passed through
``escape``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

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


def _safe(parts: list[str]) -> SafeString:
    # Reviewed: see the module docstring; nothing unescaped from outside reaches ``parts``.
    return mark_safe("".join(parts))  # noqa: S308  # nosec B308 B703


def range_bar(
    *, value: float, low: float | None, high: float | None, lo: float, hi: float, reference: float | None, text: str
) -> SafeString:
    """The value as a dot on its scale with its 95% interval as a band (and a reference tick)."""
    y = BAR_HEIGHT / 2
    parts = [
        f'<svg class="range" viewBox="0 0 {WIDTH} {BAR_HEIGHT}" role="img" aria-label="{escape(text)}" '
        'preserveAspectRatio="none" focusable="false">',
        f'<line x1="{PAD}" y1="{y}" x2="{WIDTH - PAD}" y2="{y}" class="axis"/>',
    ]
    if low is not None and high is not None:
        x1, x2 = _x(low, lo, hi), _x(high, lo, hi)
        parts.append(f'<rect x="{x1:.1f}" y="{y - 6}" width="{max(x2 - x1, 1):.1f}" height="12" class="band"/>')
    if reference is not None:
        xr = _x(reference, lo, hi)
        parts.append(f'<line x1="{xr:.1f}" y1="2" x2="{xr:.1f}" y2="{BAR_HEIGHT - 2}" class="reference"/>')
    parts.append(f'<circle cx="{_x(value, lo, hi):.1f}" cy="{y}" r="5" class="dot"/></svg>')
    return _safe(parts)


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
    step = (WIDTH - 2 * PAD) / max(count - 1, 1)
    scale = (TREND_HEIGHT - 2 * PAD) / (hi - lo)

    def xy(index: int, value: float) -> str:
        return f"{PAD + index * step:.1f},{TREND_HEIGHT - PAD - (min(max(value, lo), hi) - lo) * scale:.1f}"

    bottom = TREND_HEIGHT - PAD
    parts = [
        f'<svg class="trend" viewBox="0 0 {WIDTH} {TREND_HEIGHT}" role="img" aria-label="{escape(text)}" '
        'focusable="false">',
        f'<line x1="{PAD}" y1="{bottom}" x2="{WIDTH - PAD}" y2="{bottom}" class="axis"/>',
        f'<text x="{PAD}" y="{PAD + 4}" class="tick">{escape(fmt(hi))}</text>',
        f'<text x="{PAD}" y="{bottom - 4}" class="tick">{escape(fmt(lo))}</text>',
        f'<text x="{WIDTH - PAD}" y="{TREND_HEIGHT - 1}" class="tick end">{escape(points[-1].label)}</text>',
    ]
    # Runs of consecutive published cycles: a band and a line per run, so a gap stays a gap.
    runs: list[list[tuple[int, Point]]] = [[]]
    for index, point in enumerate(points):
        if point.value is None:
            runs.append([])
        else:
            runs[-1].append((index, point))
    for run in filter(None, runs):
        banded = [(i, p.low, p.high) for i, p in run if p.low is not None and p.high is not None]
        if len(banded) >= 2:
            outline = [xy(i, high) for i, _, high in banded] + [xy(i, low) for i, low, _ in reversed(banded)]
            parts.append(f'<polygon points="{" ".join(outline)}" class="band"/>')
        line = [xy(i, p.value) for i, p in run if p.value is not None]
        parts.append(f'<polyline points="{" ".join(line)}" class="line"/>')
        parts.extend('<circle cx="{}" cy="{}" r="3" class="dot"/>'.format(*point.split(",")) for point in line)
    parts.append("</svg>")
    return _safe(parts)
