"""Serializers of the actions API (analytics.api.actions): inputs that check shape only (the
action services check meaning: metric, title, owner, check-back range), outputs with every field
named. An action holds no answer and no figure, only what a manager wrote and when to look back.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from analytics.api.fields import TextField
from analytics.api.params import MONTH, shown
from config.text_input import text_problem
from surveys.models.actions import ACTION_OUTCOME_MAX, ACTION_TITLE_MAX

UPDATABLE = ("title", "owner", "check_back_month")
_OWNER_HELP = (
    "Who owns it: a person's id (owner_id of an action) or their e-mail address; one of the unit's people "
    "(with everyone below it) or the managers of it or of a unit above it."
)
_CHECK_BACK_HELP = "The month whose results are checked back on, YYYY-MM: one to six months after the cycle."
# The longest e-mail address there is (RFC 5321 path limit); a longer owner is no address.
EMAIL_MAX = 254
# Digits in the largest person id (a PostgreSQL bigint).
PERSON_ID_DIGITS = 19
# A person id no row has (ids start at 1): an owner that names nobody is passed as this, so the
# service refuses it with its one message (and a manager cannot probe which addresses are on the
# roster).
NO_PERSON = 0


@extend_schema_field({"type": "string", "pattern": MONTH.pattern})
class MonthField(serializers.Field):  # type: ignore[type-arg]
    """``2026-06`` <-> the first day of that month (cycles and check-backs are months)."""

    default_error_messages = {
        "blank": "give a month, YYYY-MM.",
        "invalid_month": "{value} is not a month; write it as YYYY-MM, e.g. 2026-06.",
    }

    def to_internal_value(self, data: Any) -> dt.date:
        text = data.strip() if isinstance(data, str) else ""
        if isinstance(data, str) and not text:
            self.fail("blank")
        match = MONTH.match(text)
        if match is None:
            self.fail("invalid_month", value=shown(data))
            raise AssertionError("unreachable: fail() raises")  # for the type checker
        return dt.date(int(match.group(1)), int(match.group(2)), 1)

    def to_representation(self, value: Any) -> str:
        return value.strftime("%Y-%m") if isinstance(value, dt.date) else str(value)


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string", "format": "email"}]})
class OwnerField(serializers.Field):  # type: ignore[type-arg]
    """A person's id (an integer, or ASCII digits in a string) or an e-mail address; which person
    it names, and whether they may own the action, is the service's question. An address is looked
    up in the database, so one holding what PostgreSQL refuses (NUL) or psycopg cannot encode (a
    lone surrogate) is refused here, as are the other characters config.text_input refuses."""

    default_error_messages = {
        "invalid": "give the owner's person id (a whole number) or e-mail address.",
        "bad_text": "give the owner's person id or e-mail address; this one holds a character that cannot be "
        "stored: {problem}.",
    }

    def to_internal_value(self, data: Any) -> int | str:
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, int):
            return data
        if isinstance(data, str):
            text = data.strip()
            # isdigit() alone takes "²" and other digits int() refuses (a 500, once). A number
            # longer than any person id (a bigint) names nobody; int() of one past 4,300 digits
            # raises, so it is not read at all.
            if text.isascii() and text.isdigit():
                return int(text) if len(text) <= PERSON_ID_DIGITS else NO_PERSON
            # As sent: strip() takes NEL and other controls for whitespace.
            problem = text_problem(data, multiline=False)
            if problem is not None:
                self.fail("bad_text", problem=problem)
            if "@" in text and " " not in text and len(text) <= EMAIL_MAX:
                return text.lower()
        self.fail("invalid")
        raise AssertionError("unreachable: fail() raises")  # for the type checker

    def to_representation(self, value: Any) -> Any:
        return value


def _required(message: str) -> dict[str, Any]:
    return {"required": message, "null": message, "blank": message}


class ActionCreateInput(serializers.Serializer):  # type: ignore[type-arg]
    unit = serializers.UUIDField(
        help_text="The unit (a unit_id from /api/v1/units/) whose action it is; you must manage it or a unit above it.",
        error_messages={
            **_required("give the unit_id (a UUID) of a unit you manage, from /api/v1/units/."),
            "invalid": "not a unit id; use a unit_id (a UUID) from /api/v1/units/.",
        },
    )
    cycle = MonthField(
        help_text="The published cycle (YYYY-MM, from /api/v1/cycles/) whose results prompted the action.",
        error_messages=_required("give the published cycle (YYYY-MM) whose results prompted it; see /api/v1/cycles/."),
    )
    metric = TextField(
        help_text="The metric the action aims to move (a metric name of the cells, e.g. psych_safety).",
        error_messages=_required("give the metric the action aims to move (a metric name, e.g. psych_safety)."),
    )
    flag_kind = TextField(
        required=False,
        allow_blank=True,
        help_text="The flag it answers: the kind of one of the unit's flags in that cycle (from "
        "/api/v1/flags/?unit=&cycle=); leave out for an action on a metric alone.",
        error_messages={"null": "write a flag's kind, or leave the field out."},
    )
    title = TextField(
        help_text=f"What you will try, at most {ACTION_TITLE_MAX} characters (a playbook suggestion or your own).",
        error_messages=_required("say what you will try: pick a suggestion or write your own (a sentence is enough)."),
    )
    owner = OwnerField(help_text=_OWNER_HELP, error_messages=_required(f"give the owner. {_OWNER_HELP}"))
    check_back_month = MonthField(
        help_text=_CHECK_BACK_HELP,
        error_messages=_required("give the month to check back (YYYY-MM), one to six months after the cycle."),
    )


class ActionUpdateInput(serializers.Serializer):  # type: ignore[type-arg]
    """Any of the three; the rest of an action is fixed once recorded."""

    title = TextField(
        required=False,
        help_text=f"What you will try, at most {ACTION_TITLE_MAX} characters.",
        error_messages={
            "blank": "say what you will try (a sentence is enough), or leave the field out.",
            "null": "give a title, or leave the field out.",
        },
    )
    owner = OwnerField(
        required=False,
        help_text=_OWNER_HELP,
        error_messages={"null": "give the owner's person id or e-mail address, or leave the field out."},
    )
    check_back_month = MonthField(
        required=False,
        help_text=_CHECK_BACK_HELP,
        error_messages={
            "blank": "give a month (YYYY-MM), or leave the field out.",
            "null": "give a month, or leave it out.",
        },
    )


class ActionCloseInput(serializers.Serializer):  # type: ignore[type-arg]
    outcome = TextField(
        required=False,
        allow_blank=True,
        multiline=True,
        help_text=f"What happened, in a sentence (at most {ACTION_OUTCOME_MAX} characters). Closing a closed "
        "action changes nothing (its outcome stays).",
        error_messages={"null": "say in a sentence what happened."},
    )


class ActionOutput(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.UUIDField()
    unit_id = serializers.UUIDField()
    unit_path = serializers.CharField()
    metric = serializers.CharField()
    flag_kind = serializers.CharField(help_text='"" for an action on a metric alone.')
    title = serializers.CharField()
    from_playbook = serializers.BooleanField(help_text="The title is one of the playbook's suggestions.")
    owner_id = serializers.IntegerField(allow_null=True, help_text="Null once the owner has left the roster.")
    owner_name = serializers.CharField(allow_null=True)
    cycle = serializers.CharField(help_text="YYYY-MM of the published cycle whose results prompted it.")
    check_back_month = serializers.CharField(help_text="YYYY-MM")
    status = serializers.ChoiceField(choices=["open", "closed"])
    outcome = serializers.CharField(help_text='What happened; "" while open.')
    created_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    can_change = serializers.BooleanField(help_text="Whether you may edit, close or delete it (you manage its unit).")


class ActionsOutput(serializers.Serializer):  # type: ignore[type-arg]
    results = ActionOutput(many=True)


class FieldErrorsOutput(serializers.Serializer):  # type: ignore[type-arg]
    detail = serializers.CharField(help_text="<field>: what is wrong, and the fix; every field's error, joined by ; .")
    # Shadows Serializer.errors in the class body only: DRF's metaclass moves declared fields out
    # of the class, so the instance's .errors is still the serializer's own.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.CharField(), help_text="The same, one message per field: {field: message}."
    )
