"""The instrument as data: items, options, reverse-scoring by key, skip logic, validation.

A cycle is bound to the InstrumentVersion it opened with; this module only interprets the stored
definition (see surveys/instruments/v1.json), so a later version never changes an old cycle.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

INSTRUMENT_FILES = Path(__file__).resolve().parent / "instruments"

ASKED_ALWAYS = "always"
ASKED_IF_AI_USER = "ai_user"
ASKED_IF_WORKSLOP = "workslop_received"

# The multi-select workslop source item is stored as one 0/1 answer per offered source, so each
# source has its own n and "not chosen" is told apart from "not asked".
MULTI_KEY_SEPARATOR = "_"

RawAnswers = Mapping[str, str | Sequence[str] | None]


def load_definition(version: int) -> dict[str, Any]:
    """The frozen definition of an instrument version, as shipped with the code."""
    with (INSTRUMENT_FILES / f"v{version}.json").open(encoding="utf-8") as handle:
        definition: dict[str, Any] = json.load(handle)
    return definition


def option_value_text(value: float | int | str) -> str:
    """How an option value travels in a form: 1 -> "1", 0.5 -> "0.5", "teammates" as is."""
    if isinstance(value, str):
        return value
    number = float(value)
    return str(int(number)) if number.is_integer() else repr(number)


class AnswerErrors(Exception):
    """Validation failed; `errors` maps an item key to a message naming the fix."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{key}: {message}" for key, message in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class AskContext:
    """What the gate questions decided: which conditional items this respondent is asked."""

    ai_user: bool
    workslop_received: bool
    is_manager: bool


@dataclass
class CleanAnswers:
    values: dict[str, float] = field(default_factory=dict)
    comment: str = ""


@dataclass(frozen=True)
class Item:
    key: str
    text: str
    kind: str  # scale | choice | multi | number | text
    construct: str
    reverse: bool
    asked_if: str
    step: int
    required: bool
    options: tuple[dict[str, Any], ...]
    minimum: float | None
    maximum: float | None
    max_length: int | None

    @classmethod
    def from_definition(cls, raw: Mapping[str, Any]) -> Item:
        return cls(
            key=raw["key"],
            text=raw["text"],
            kind=raw["kind"],
            construct=raw["construct"],
            reverse=bool(raw.get("reverse", False)),
            asked_if=raw.get("asked_if", ASKED_ALWAYS),
            step=int(raw.get("step", 1)),
            required=bool(raw.get("required", False)),
            options=tuple(raw.get("options", ())),
            minimum=raw.get("min"),
            maximum=raw.get("max"),
            max_length=raw.get("max_length"),
        )

    def offered_options(self, context: AskContext) -> list[dict[str, Any]]:
        return [option for option in self.options if context.is_manager or not option.get("managers_only")]

    def is_asked(self, context: AskContext) -> bool:
        if self.asked_if == ASKED_IF_AI_USER:
            return context.ai_user
        if self.asked_if == ASKED_IF_WORKSLOP:
            return context.workslop_received
        return True

    def stored_keys(self) -> list[str]:
        """The answer keys this item may write (one per source for the multi-select)."""
        if self.kind == "multi":
            return [f"{self.key}{MULTI_KEY_SEPARATOR}{option['value']}" for option in self.options]
        return [self.key]


class Instrument:
    def __init__(self, definition: Mapping[str, Any]):
        self.definition = definition
        self.version: int = int(definition["version"])
        self.items: list[Item] = [Item.from_definition(raw) for raw in definition["items"]]
        self._by_key = {item.key: item for item in self.items}
        self.never_value: dict[str, float] = {k: float(v) for k, v in definition["never_value"].items()}

    def item(self, key: str) -> Item:
        return self._by_key[key]

    @cached_property
    def reverse_keys(self) -> frozenset[str]:
        """Reverse-scored items, decided by key (never by position)."""
        return frozenset(item.key for item in self.items if item.reverse)

    @cached_property
    def step_numbers(self) -> list[int]:
        return sorted({item.step for item in self.items})

    def context_from(self, raw: RawAnswers, *, is_manager: bool) -> AskContext:
        """Reads the gate answers leniently: an invalid gate simply asks nothing conditional."""

        def is_yes(key: str) -> bool:
            value = _single(raw.get(key))
            try:
                number = float(value) if value else None
            except ValueError:
                return False
            valid = {float(option["value"]) for option in self.item(key).options}
            return number is not None and number in valid and number != self.never_value[key]

        return AskContext(ai_user=is_yes("use1"), workslop_received=is_yes("ws1"), is_manager=is_manager)

    def asked_items(self, context: AskContext, *, steps: Sequence[int] | None = None) -> list[Item]:
        return [item for item in self.items if item.is_asked(context) and (steps is None or item.step in steps)]

    def sections_for(self, context: AskContext, step: int) -> list[tuple[str, list[Item]]]:
        """The form's fieldsets for one step, in the definition's order, empty ones dropped."""
        asked = {item.key for item in self.asked_items(context, steps=[step])}
        sections = []
        for section in self.definition["sections"]:
            items = [self.item(key) for key in section["items"] if key in asked]
            if items:
                sections.append((section["title"], items))
        return sections

    def clean(self, raw: RawAnswers, *, is_manager: bool, steps: Sequence[int] | None = None) -> CleanAnswers:
        """Validates answers to the items this respondent is asked.

        Answers to items the skip logic does not ask are dropped, never stored: a respondent who
        changes "use AI" to "Never" after answering the AI items must not have them kept.
        Raises AnswerErrors with one message per bad item; nothing is partially accepted.
        """
        context = self.context_from(raw, is_manager=is_manager)
        clean = CleanAnswers()
        errors: dict[str, str] = {}
        for item in self.asked_items(context, steps=steps):
            try:
                self._clean_item(item, raw, context, clean)
            except ValueError as error:
                errors[item.key] = str(error)
        if errors:
            raise AnswerErrors(errors)
        return clean

    def _clean_item(self, item: Item, raw: RawAnswers, context: AskContext, clean: CleanAnswers) -> None:
        if item.kind == "multi":
            chosen = _multiple(raw.get(item.key))
            offered = [str(option["value"]) for option in item.offered_options(context)]
            unknown = [value for value in chosen if value not in offered]
            if unknown:
                raise ValueError("Choose only from the sources listed.")
            if chosen:  # no ticks = skipped, not "none of these"
                for value in offered:
                    clean.values[f"{item.key}{MULTI_KEY_SEPARATOR}{value}"] = 1.0 if value in chosen else 0.0
            return
        value = _single(raw.get(item.key)).strip()
        if not value:
            if item.required:
                raise ValueError(f"Choose an answer to \u201c{item.text}\u201d: it decides which questions follow.")
            return
        if item.kind == "text":
            limit = item.max_length or 1000
            if len(value) > limit:
                raise ValueError(f"Keep your comment to {limit:,} characters; it has {len(value):,}.")
            clean.comment = value
            return
        if item.kind == "number":
            clean.values[item.key] = _whole_number_in_range(value, item)
            return
        offered_values = {option_value_text(option["value"]): float(option["value"]) for option in item.options}
        if value not in offered_values:
            raise ValueError("Choose one of the options shown.")
        clean.values[item.key] = offered_values[value]


def _whole_number_in_range(value: str, item: Item) -> float:
    low, high = item.minimum, item.maximum
    message = f"Enter a whole number of hours from {low:g} to {high:g} (negative if AI tools cost you time)."
    try:
        number = float(value.replace("\u2212", "-"))
    except ValueError as error:
        raise ValueError(message) from error
    if not math.isfinite(number) or not number.is_integer():
        raise ValueError(message)
    if (low is not None and number < low) or (high is not None and number > high):
        raise ValueError(message)
    return number


def _single(value: str | Sequence[str] | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return value[-1] if value else ""


def _multiple(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [v for v in value if v]
