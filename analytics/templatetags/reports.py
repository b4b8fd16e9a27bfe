"""Template filters of the report pages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import template

register = template.Library()


def _text(value: Any) -> str:
    if isinstance(value, Mapping):
        return "; ".join(f"{str(key).replace('_', ' ')}: {_text(item)}" for key, item in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_text(item) for item in value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@register.filter
def numbers_list(numbers: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A flag's stored numbers as (label, text) rows: "wls slope per month", "5.893, 5.768, …"."""
    return [(str(key).replace("_", " "), _text(value)) for key, value in numbers.items()]
