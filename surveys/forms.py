"""The survey form as a view model over the instrument.

The form is built from the cycle's stored instrument, not from Django form classes: the items,
their options and the skip logic are data. It works without JavaScript: step 1 asks the gate
questions, step 2 shows only what the answers call for, and earlier answers travel as hidden
fields (re-validated in full on submit) so nothing is stored until the final, valid POST.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import QueryDict

from surveys.instrument import AskContext, Instrument, Item, RawAnswers, option_value_text

FIRST_STEP = 1


@dataclass
class OptionView:
    value: str
    label: str
    checked: bool
    input_id: str


@dataclass
class ItemView:
    key: str
    text: str
    kind: str
    required: bool
    options: list[OptionView] = field(default_factory=list)
    value: str = ""
    error: str = ""
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None

    @property
    def error_id(self) -> str:
        return f"{self.key}-error"


@dataclass
class SectionView:
    title: str
    items: list[ItemView]


@dataclass
class SurveyPage:
    step: int
    step_count: int
    step_title: str
    sections: list[SectionView]
    hidden: list[tuple[str, str]]
    errors: dict[str, str]

    @property
    def is_last(self) -> bool:
        return self.step == self.step_count


def raw_answers_from_post(post: QueryDict, instrument: Instrument) -> dict[str, Any]:
    """Only the instrument's own keys are read; everything else in the POST is ignored."""
    raw: dict[str, Any] = {}
    for item in instrument.items:
        raw[item.key] = post.getlist(item.key) if item.kind == "multi" else post.get(item.key, "")
    return raw


def survey_page_build(
    *,
    instrument: Instrument,
    raw: RawAnswers,
    step: int,
    is_manager: bool,
    errors: dict[str, str] | None = None,
) -> SurveyPage:
    errors = errors or {}
    context = instrument.context_from(raw, is_manager=is_manager)
    steps = instrument.definition["steps"]
    sections = [
        SectionView(title=title, items=[_item_view(item, raw, context, errors) for item in items])
        for title, items in instrument.sections_for(context, step)
    ]
    shown = {item.key for _, items in instrument.sections_for(context, step) for item in items}
    hidden: list[tuple[str, str]] = []
    for item in instrument.items:
        if item.key in shown:
            continue
        value = raw.get(item.key)
        values = [value] if isinstance(value, str) else list(value or [])
        hidden.extend((item.key, v) for v in values if v)
    return SurveyPage(
        step=step,
        step_count=len(steps),
        step_title=next(s["title"] for s in steps if s["number"] == step),
        sections=sections,
        hidden=hidden,
        errors={key: message for key, message in errors.items() if key in shown},
    )


def first_step_with_error(instrument: Instrument, errors: dict[str, str]) -> int:
    return min((instrument.item(key).step for key in errors), default=FIRST_STEP)


def _item_view(item: Item, raw: RawAnswers, context: AskContext, errors: dict[str, str]) -> ItemView:
    current = raw.get(item.key)
    chosen = {current} if isinstance(current, str) else set(current or [])
    view = ItemView(
        key=item.key,
        text=item.text,
        kind=item.kind,
        required=item.required,
        error=errors.get(item.key, ""),
        minimum=item.minimum,
        maximum=item.maximum,
        max_length=item.max_length,
        value=current if isinstance(current, str) else "",
    )
    for index, option in enumerate(item.offered_options(context)):
        value = option_value_text(option["value"])
        view.options.append(
            OptionView(value=value, label=option["label"], checked=value in chosen, input_id=f"{item.key}-{index}")
        )
    return view
