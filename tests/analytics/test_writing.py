"""The PostgreSQL CSV COPY of a cycle's cells stores exactly what the ORM path stores."""

import pytest

from analytics import writing
from analytics.aggregation import cycle_partials, organisation_tree
from analytics.compute import cells_compute
from analytics.models import MetricCell
from tests.analytics.test_tasks import closed_cycle_with_three_departments

FIELDS = ["unit_id", "metric", "published", "hidden_because", "n", "value", "ci_low", "ci_high", "total", "total_sq",
          "extra"]  # fmt: skip


@pytest.mark.django_db
def test_copy_and_orm_store_identical_cells(require_postgres):
    cycle = closed_cycle_with_three_departments()
    computed = cells_compute(cycle_partials(cycle), organisation_tree(), invited={}, k=5, hourly_cost=80.0)
    writing._cells_copy(cycle, computed.cells)
    copied = sorted(MetricCell.objects.values_list(*FIELDS), key=str)
    MetricCell.objects.all().delete()
    writing._cells_insert(cycle, computed.cells)
    inserted = sorted(MetricCell.objects.values_list(*FIELDS), key=str)
    # Floats to the last bit, NULLs as NULLs, empty strings as strings, JSON intact.
    assert len(copied) == len(computed.cells) > 100
    assert copied == inserted
    assert any(row[3] == "" for row in copied) and any(row[4] is None for row in copied)
