"""The cells API writes each record through CellOutput's fast path; its output must be exactly what
DRF's declared fields would produce, for published, hidden and non-finite values alike."""

from __future__ import annotations

import math

from rest_framework import serializers

from analytics.api.serializers import CELL_FIELDS, CellOutput
from analytics.published import HIDDEN_TEXT, PublishedCell


def by_fields(record: PublishedCell) -> dict[str, object]:
    return serializers.Serializer.to_representation(CellOutput(), record)


def test_the_fast_path_equals_the_declared_fields():
    published = PublishedCell(
        "2026-04", 5, "6f1c2f4e-8a51-4d1a-9d1e-3b8f4f6c2a10", "Eng/Alpha", "Eng", "team", "psych_safety",
        8, 5.25, 4.5, 6.0, False, "", interval="organisation_sd", shrunk=None, in_words=None,
    )  # fmt: skip
    hidden = PublishedCell(
        "2026-04", 5, "6f1c2f4e-8a51-4d1a-9d1e-3b8f4f6c2a11", "Eng/Gamma", "Eng", "team", "trust",
        None, None, None, None, True, HIDDEN_TEXT,
    )  # fmt: skip
    alpha = PublishedCell(
        "2026-04", 5, "00000000-0000-0000-0000-000000000000", "Org", "", "organisation", "alpha_agency",
        12, math.nan, None, None, False, "", alpha_items=4, alpha_warn=False, why_empty="needs 30 complete answers",
    )  # fmt: skip
    for record in (published, hidden, alpha):
        fast = CellOutput(record).data
        assert dict(fast) == by_fields(record)
        assert tuple(fast) == CELL_FIELDS
    assert CellOutput(alpha).data["value"] is None  # JSON has no NaN
