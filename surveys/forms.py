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

# Step 2 asks about something step 1 named: ws2 asks how much time dealing with "it" cost, and
# "it" is the workslop of ws1, a page earlier. The items keep their stored wording (answers
# already given refer to it, and the instrument is copied into the database by a migration);
# the form says what "it" is, in one line above the section, with the respondent's own answer.
# Keyed by the earlier item; the later items are those asked only if it was answered so.
REFERENT_CONTEXT: dict[str, str] = {
    "ws1": (
        "These questions are about the work you said you received in step 1{answer}: work from a colleague that "
        "you believe was AI-generated and looked finished, but was unhelpful, low quality or missing crucial context."
    ),
}
REFERS_TO: dict[str, str] = {"ws2": "ws1", "ws3": "ws1"}


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
    # One line that says what the section's questions refer to when that was asked earlier.
    context: str = ""

    @property
    def context_id(self) -> str:
        return f"{self.items[0].key}-context" if self.items else ""


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


def line_breaks_normalised(value: str) -> str:
    """``value`` with every line break as one LF.

    A browser sends a textarea's line breaks as CRLF, but its ``maxlength`` counts each as one
    character (the HTML standard's "API value"): without this, a comment the browser let through
    at the item's 1,000 characters is refused as longer, by one per line break."""
    return value.replace("\r\n", "\n").replace("\r", "\n")


def raw_answers_from_post(post: QueryDict, instrument: Instrument) -> dict[str, Any]:
    """Only the instrument's own keys are read; everything else in the POST is ignored."""
    raw: dict[str, Any] = {}
    for item in instrument.items:
        if item.kind == "multi":
            raw[item.key] = post.getlist(item.key)
        else:
            raw[item.key] = line_breaks_normalised(post.get(item.key, ""))
    return raw


def posted_answers(post: QueryDict) -> dict[str, list[str]]:
    """Every posted field with all its values, for the submit service, before any instrument is
    known: the service's one locked lookup names the version, and `Instrument.clean` then reads
    only the items' own keys (a single-answer item takes the last value, as `QueryDict.get`
    does), so the final POST needs no read of its own first. Line breaks are normalised in every
    value (see line_breaks_normalised): only a comment can hold one that counts."""
    return {key: [line_breaks_normalised(value) for value in post.getlist(key)] for key in post}


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
        SectionView(
            title=title,
            items=[_item_view(item, raw, context, errors) for item in items],
            context=_referent_context(instrument, raw, [item.key for item in items], step),
        )
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


def _referent_context(instrument: Instrument, raw: RawAnswers, keys: list[str], step: int) -> str:
    """The context line for a section whose items refer to an item of an earlier step."""
    referent = next((REFERS_TO[key] for key in keys if key in REFERS_TO), None)
    if referent is None or referent not in REFERENT_CONTEXT or referent not in {i.key for i in instrument.items}:
        return ""
    earlier = instrument.item(referent)
    if earlier.step >= step:
        return ""
    value = raw.get(referent)
    label = next(
        (option["label"] for option in earlier.options if option_value_text(option["value"]) == value),
        "",
    )
    answer = f" (\u201c{label[:1].lower() + label[1:]}\u201d)" if label else ""
    return REFERENT_CONTEXT[referent].format(answer=answer)


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
