"""Output serializers of the API: every field named, none derived from a model.

On an anonymity product an explicit output is a safety feature (ARCHITECTURE, HackSoftware
styleguide): the records of analytics.published carry only what the aggregation job published,
and these list exactly which of their fields leave the server. A hidden cell keeps its place and
the one public reason; its numbers are null. A comment carries its cycle, listing unit and text:
no id, no date, no position (R7).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

LEVELS = ("organisation", "department", "team")


class FiniteFloatField(serializers.FloatField):
    """A number, or null where there is none: JSON has no NaN (an alpha too unstable to show is
    stored without a value, and no other non-finite number may slip into a response)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_null=True, **kwargs)

    def to_representation(self, value: Any) -> Any:
        if value is None:
            return None
        number = float(value)
        return number if math.isfinite(number) else None


def _thaw(value: Any) -> Any:
    """The door's read-only mappings and tuples as plain JSON values."""
    if isinstance(value, Mapping):
        return {str(key): _thaw(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_thaw(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@extend_schema_field(OpenApiTypes.OBJECT)
class FrozenJSONField(serializers.Field):  # type: ignore[type-arg]  # read-only: no input type
    def to_representation(self, value: Any) -> Any:
        return _thaw(value)


class ErrorOutput(serializers.Serializer):  # type: ignore[type-arg]
    detail = serializers.CharField(help_text="<parameter>: what is wrong, and the fix.")


class MeOutput(serializers.Serializer):  # type: ignore[type-arg]
    email = serializers.CharField()
    role = serializers.ChoiceField(choices=["hr", "manager", "engineer", "operator", "none"])
    team_path = serializers.CharField(allow_null=True, help_text="Your team on the roster; null if not on it.")
    managed_unit_ids = serializers.ListField(child=serializers.UUIDField(), help_text="Teams you manage.")
    engineers_see_team_report = serializers.BooleanField(
        help_text="Whether the organisation lets engineers see their own team's report."
    )


class CycleOutput(serializers.Serializer):  # type: ignore[type-arg]
    cycle = serializers.CharField(source="label", help_text="YYYY-MM")
    k = serializers.IntegerField(help_text="The threshold the cycle's results were decided with.")
    closes_on = serializers.DateField()
    closed_on = serializers.DateField(allow_null=True)


class CyclesOutput(serializers.Serializer):  # type: ignore[type-arg]
    results = CycleOutput(many=True)


class UnitOutput(serializers.Serializer):  # type: ignore[type-arg]
    unit_id = serializers.UUIDField()
    parent_id = serializers.UUIDField(allow_null=True)
    path = serializers.CharField()
    name = serializers.CharField()
    level = serializers.ChoiceField(choices=LEVELS)
    depth = serializers.IntegerField(help_text="0 for the organisation.")


class UnitsOutput(serializers.Serializer):  # type: ignore[type-arg]
    cycle = serializers.CharField(allow_null=True, help_text="The cycle whose tree this is; null before any.")
    results = UnitOutput(many=True)


class CellOutput(serializers.Serializer):  # type: ignore[type-arg]
    cycle = serializers.CharField()
    k = serializers.IntegerField()
    unit_id = serializers.UUIDField()
    unit_path = serializers.CharField()
    parent_path = serializers.CharField(help_text='"" for the organisation.')
    level = serializers.ChoiceField(choices=LEVELS)
    metric = serializers.CharField()
    n = serializers.IntegerField(allow_null=True)
    value = FiniteFloatField()
    ci_low = FiniteFloatField()
    ci_high = FiniteFloatField()
    suppressed = serializers.BooleanField()
    reason = serializers.CharField(help_text='"" or "hidden to protect anonymity".')
    interval = serializers.ChoiceField(choices=["own_sd", "organisation_sd"], allow_null=True)
    shrunk = FiniteFloatField()
    in_words = serializers.CharField(allow_null=True)
    invited = serializers.IntegerField(allow_null=True)
    low_response = serializers.BooleanField(allow_null=True)
    alpha_items = serializers.IntegerField(allow_null=True)
    alpha_warn = serializers.BooleanField(allow_null=True)
    why_empty = serializers.CharField(allow_null=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        """The declared fields, read straight off the door's record (already str, int, bool or
        float): a page of 500 cells spent about 7 ms in DRF's per-field machinery. The output is
        the same as the fields' own (tests/analytics/api/test_cell_output.py compares them)."""
        return {
            name: _finite(getattr(instance, name)) if name in CELL_FLOAT_FIELDS else getattr(instance, name)
            for name in CELL_FIELDS
        }


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


CELL_FIELDS = tuple(CellOutput._declared_fields)
CELL_FLOAT_FIELDS = frozenset(
    name for name, field in CellOutput._declared_fields.items() if isinstance(field, FiniteFloatField)
)


class CellPageOutput(serializers.Serializer):  # type: ignore[type-arg]
    results = CellOutput(many=True)
    next = serializers.URLField(allow_null=True, help_text="The next page; null on the last one.")


class FlagOutput(serializers.Serializer):  # type: ignore[type-arg]
    cycle = serializers.CharField()
    unit_id = serializers.UUIDField()
    unit_path = serializers.CharField()
    kind = serializers.CharField()
    metric = serializers.CharField()
    test = serializers.CharField()
    severity = serializers.ChoiceField(
        choices=["flag", "watch"], help_text='"watch" only in a unit\'s own flags (with ?unit=).'
    )
    p_value = FiniteFloatField()
    numbers = FrozenJSONField(help_text="Published means, n, labels and test statistics.")
    method = serializers.CharField()
    explanation = serializers.CharField()
    actions = serializers.ListField(child=serializers.CharField())


class FlagsOutput(serializers.Serializer):  # type: ignore[type-arg]
    cycle = serializers.CharField(allow_null=True)
    results = FlagOutput(many=True)


class CommentOutput(serializers.Serializer):  # type: ignore[type-arg]
    cycle = serializers.CharField()
    unit_id = serializers.UUIDField(help_text="The one unit the comment is listed at.")
    unit_path = serializers.CharField()
    text = serializers.CharField()


class CommentsOutput(serializers.Serializer):  # type: ignore[type-arg]
    cycle = serializers.CharField(allow_null=True)
    results = CommentOutput(many=True)
