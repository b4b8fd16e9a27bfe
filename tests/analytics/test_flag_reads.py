"""The flag stage's reads: on PostgreSQL through COPY, elsewhere through the ORM; both must give
the flag core the same published history and the same raw scores."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from django.db import connection

from analytics.flags import stage as flags
from analytics.flags.history import CycleCell, history_frame
from analytics.flags.questions import CHANGE_METRICS, HISTORY_WINDOW, ShiftSample, change_questions
from analytics.job.run import aggregate_cycle
from analytics.models import CellHistogram, MetricCell
from surveys.models import Cycle, InstrumentVersion
from tests.analytics.builders import STANDARD, cycle_run, org_build, standard_answers

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_cycles():
    # A team of 32 respondents makes the organisation (60) an own-spread cell with histograms: small
    # cells keep none (R13).
    org = org_build((*STANDARD, ("Sales", "Field", 34, 32)))
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
    # R13: only own-spread cells carry a sum of squares, and the read says which cells those are.
    means = history_by_copy[history_by_copy["metric"].isin(["psych_safety", "pressure"])]
    assert set(means["interval"]) == {"own_sd", "organisation_sd"}
    assert means["total_sq"].notna().tolist() == (means["interval"] == "own_sd").tolist()
    assert set(history_by_copy.loc[history_by_copy["metric"] == "pilot_ratio", "interval"]) == {""}
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


def test_the_history_read_looks_back_only_where_recent_cycles_have_gaps():
    """Series published in each of the last six cycles are read from those; a series with a
    hidden cell among them reaches further back. The questions asked are those of the full window."""
    version = InstrumentVersion.latest()
    cycles = []
    for months_ago in range(HISTORY_WINDOW + 1, 0, -1):  # one more than the window: it must be ignored
        year, month0 = divmod(2026 * 12 + 10 - months_ago, 12)
        month = dt.date(year, month0 + 1, 1)
        cycles.append(Cycle.objects.create(month=month, status=Cycle.Status.CLOSED, instrument_version=version, k=5,
                                           comment_threshold=10, pilot_cutoff=5.0, opened_on=month, closes_on=month,
                                           closed_on=month))  # fmt: skip
    rng = np.random.default_rng(5)
    hidden = {("gappy", "psych_safety"): {1, 3}, ("sparse", "pilot_ratio"): {0, 2, 4, 6, 8}}  # months ago
    units = {"steady": "00000000-0000-4000-8000-000000000001", "gappy": "00000000-0000-4000-8000-000000000002",
             "sparse": "00000000-0000-4000-8000-000000000003"}  # fmt: skip
    expected = []
    for position, cycle in enumerate(cycles):
        months_ago = len(cycles) - 1 - position
        for name, unit in units.items():
            for metric in CHANGE_METRICS:
                n = int(rng.integers(5, 12))
                scores = (
                    rng.integers(0, 2, n) if metric in ("pilot_ratio", "workslop_prevalence") else rng.normal(5, 1, n)
                )
                published = months_ago not in hidden.get((name, metric), set())
                MetricCell.objects.create(
                    cycle=cycle, unit_id=unit, metric=metric, published=published,
                    **({"n": n, "value": float(scores.mean()), "total": float(scores.sum()),
                        "total_sq": float((scores**2).sum())} if published else {"hidden_because": "below_threshold"}),
                )  # fmt: skip
                if published and months_ago < HISTORY_WINDOW:
                    index = cycle.month.year * 12 + cycle.month.month
                    cell = CycleCell(index, cycle.label, n, float(scores.mean()), float(scores.sum()),
                                     float((scores**2).sum()), None, None)  # fmt: skip
                    expected.append((unit, metric, cell))
    latest = cycles[-1]
    read = flags._published_history(latest)
    full = history_frame(expected)

    def asked(history: pd.DataFrame) -> pd.DataFrame:
        return change_questions(history, latest.label).sort_values(["unit", "kind", "test"], ignore_index=True)

    pd.testing.assert_frame_equal(asked(read), asked(full))
    looked_back = read[read["index"] < latest.month.year * 12 + latest.month.month - 5]
    assert set(zip(looked_back["unit"], looked_back["metric"], strict=True)) == {
        (units["gappy"], "psych_safety"), (units["sparse"], "pilot_ratio")
    }  # fmt: skip
    assert len(asked(read)) > 10
