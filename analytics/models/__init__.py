"""Aggregate tables, written only by the aggregation job and read for display only through
analytics.published (import-linter keeps every other module out).

The open cycle's live participation is stored here too (decided the same way, on answered
counts, and deleted at close), with the state of each cycle's latest aggregation run.

Publication is decided once per cycle for the whole tree by the job (ANONYMITY R6) and stored
here: a hidden cell is stored without n, value or interval, so nothing hidden is ever persisted
outside the anonymous tables.
"""

from analytics.core.tree import ORGANISATION_UNIT_ID
from analytics.models.flags import Flag
from analytics.models.participation import LiveParticipation
from analytics.models.results import CellHistogram, ItemDistribution, Level, MetricCell, ReleasedComment, UnitSnapshot
from analytics.models.retention import PurgedCycle
from analytics.models.stages import AggregationRun, AggregationStage

__all__ = [
    "ORGANISATION_UNIT_ID",
    "AggregationRun",
    "AggregationStage",
    "CellHistogram",
    "Flag",
    "ItemDistribution",
    "LiveParticipation",
    "Level",
    "MetricCell",
    "PurgedCycle",
    "ReleasedComment",
    "UnitSnapshot",
]
