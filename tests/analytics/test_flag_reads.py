"""The flag stage's reads: on PostgreSQL through COPY, elsewhere through the ORM; both must give
the flag core the same published history and the same raw scores."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from django.db import connection

from analytics import flags
from analytics.aggregation import aggregate_cycle
from analytics.flag_tests import ShiftSample
from analytics.models import CellHistogram, MetricCell
from tests.analytics.builders import cycle_run, org_build, standard_answers

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_cycles():
    org = org_build()
    cycles = []
    for month in (dt.date(2026, 3, 1), dt.date(2026, 4, 1)):
        submitted = cycle_run(org, standard_answers(org, label=month.isoformat()), month=month)
        aggregate_cycle(cycle=submitted.cycle)
        cycles.append(submitted.cycle)
    return cycles


def test_history_and_histograms_by_copy_equal_the_orm(require_postgres, two_cycles, monkeypatch):
    march, april = two_cycles
    history_by_copy = flags._published_history(april)
    units = sorted({str(u) for u in CellHistogram.objects.values_list("unit_id", flat=True)})
    samples = [
        ShiftSample(row, unit, metric, "less", april.label, (march.label,))
        for row, (unit, metric) in enumerate((u, m) for u in units for m in ("psych_safety", "pressure"))
    ]
    scores_by_copy = flags._histogram_scores(samples)
    monkeypatch.setattr(connection, "vendor", "sqlite")  # the ORM branches
    history_by_orm = flags._published_history(april)
    scores_by_orm = flags._histogram_scores(samples)
    monkeypatch.undo()

    def canonical(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.sort_values(["unit", "metric", "index"]).reset_index(drop=True)

    pd.testing.assert_frame_equal(canonical(history_by_copy), canonical(history_by_orm))
    # Both cycles' change metrics, and this cycle's level metrics, of published cells only.
    assert set(history_by_copy["label"]) == {march.label, april.label}
    published = MetricCell.objects.filter(cycle=april, published=True, metric="psych_safety").count()
    assert (history_by_copy[history_by_copy["label"] == april.label]["metric"] == "psych_safety").sum() == published
    compared = 0
    for sample in samples:
        for label in (march.label, april.label):
            by_copy = scores_by_copy(sample.unit, sample.metric, label)
            np.testing.assert_array_equal(by_copy, scores_by_orm(sample.unit, sample.metric, label))
            compared += by_copy.size
    assert compared > 100
