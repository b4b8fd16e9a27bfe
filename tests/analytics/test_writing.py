"""The PostgreSQL CSV COPY of a cycle's results stores exactly what the ORM path stores."""

import pytest

from analytics.core.cells import cells_compute
from analytics.job import storage as writing
from analytics.job.run import cycle_partials, organisation_tree
from analytics.models import CellHistogram, ItemDistribution, MetricCell, UnitSnapshot
from tests.analytics.builders import V1_SCORING
from tests.analytics.test_tasks import closed_cycle_with_three_departments

STORED = {
    MetricCell: ["unit_id", "metric", "published", "hidden_because", "n", "value", "ci_low", "ci_high", "total",
                 "total_sq", "extra"],
    ItemDistribution: ["unit_id", "item", "unfavourable", "neutral", "favourable"],
    CellHistogram: ["unit_id", "variable", "counts"],
    UnitSnapshot: ["unit_id", "parent_id", "path", "level", "depth"],
}  # fmt: skip


def stored_rows() -> dict[str, list]:
    return {model.__name__: sorted(model.objects.values_list(*fields), key=str) for model, fields in STORED.items()}


@pytest.mark.django_db
def test_copy_and_orm_store_identical_results(require_postgres, monkeypatch):
    cycle = closed_cycle_with_three_departments()
    tree = organisation_tree()
    computed = cells_compute(cycle_partials(cycle), tree, scoring=V1_SCORING, invited={}, k=5, hourly_cost=80.0)
    writing.cycle_results_write(cycle, tree, computed)
    copied = stored_rows()
    monkeypatch.setattr(writing, "copy_available", lambda: False)
    writing.cycle_results_write(cycle, tree, computed)  # replaces the cycle's rows, through the ORM
    inserted = stored_rows()
    # Floats to the last bit, NULLs as NULLs, empty strings as strings, JSON intact.
    assert len(copied["MetricCell"]) == len(computed.cells) > 100
    assert len(copied["ItemDistribution"]) == len(computed.distributions) > 0
    assert len(copied["CellHistogram"]) == len(computed.histograms) > 0
    assert copied == inserted
    cells = copied["MetricCell"]
    assert any(row[3] == "" for row in cells) and any(row[4] is None for row in cells)
    assert any(row[1] is None for row in copied["UnitSnapshot"])  # the organisation has no parent
