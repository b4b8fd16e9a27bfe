"""The one door (ANONYMITY R6): everything that shows or exports numbers reads them here.

It returns only what the aggregation job decided to publish, as frozen records
(analytics.published.records), never ORM rows: a hidden cell comes back with no n, value,
interval or note and the one public reason. It never recomputes suppression for a subtree or a
filter, and never reads the anonymous side. Only cycles aggregated under their current k are
served (R3, R8), and flags only while their cells are published and their history is current.

Readers (each page reader in at most three queries; bench/published_reads.py measures them):
- ``unit_cells``: one unit over a range of cycles;
- ``children_cells``: one unit's children in one cycle, for a heatmap;
- ``units_cells``: chosen units in one cycle (a manager's teams);
- ``unit_report`` (analytics.published.report): everything a unit's report page shows;
- ``subtree_cells_page``: a subtree across cycles, keyset-paginated, for the API;
- ``unit_flags`` and ``organisation_flags``;
- ``response_rates``: the home page's;
- ``live_participation``: the open cycle's live response rates, per unit (HR's cycles page and
  the cycles API), and ``organisation_live_rate`` (analytics.published.participation);
- ``aggregation_states``: where each closed cycle's aggregation is (analytics.published.jobs);
- ``published_cells``: whole cycles, for exports;
- ``unit_distributions`` and ``listed_comments`` (analytics.published.items);
- ``comments_in_review``: HR's review list of a closed cycle's comments (analytics.published.items);
- ``cycle_purged_on``: the day a cycle's raw answers were purged (analytics.published.retention);
- the cycle's frozen tree: ``unit_lineage``, ``unit_children``, ``units_under``,
  ``unit_in_cycles`` (analytics.published.units).

May import analytics.models, analytics.core, analytics.flags.questions and surveys (models,
selectors); never the job or the anonymous side.
"""

from analytics.core.disclosure import HIDDEN_TEXT
from analytics.published.cells import (
    MAX_PAGE_SIZE,
    children_cells,
    published_cells,
    subtree_cells_page,
    unit_cells,
    units_cells,
)
from analytics.published.cycles import aggregated_cycles
from analytics.published.flags import FLAG_INPUTS, organisation_flags, unit_flags
from analytics.published.items import (
    CommentsInReview,
    PublishedComment,
    PublishedDistribution,
    ReviewComment,
    comments_in_review,
    comments_listed_on,
    listed_comments,
    unit_distributions,
)
from analytics.published.jobs import REFUSED_TEXT, AggregationState, aggregation_states
from analytics.published.participation import (
    COUNTING_TEXT,
    LiveParticipationRecord,
    LiveUnitRate,
    live_participation,
    organisation_live_rate,
)
from analytics.published.rates import response_rates
from analytics.published.records import (
    EXPORT_COLUMNS,
    CellPage,
    CursorInvalid,
    PublishedCell,
    PublishedFlag,
    ResponseRate,
)
from analytics.published.report import UnitReport, unit_report
from analytics.published.retention import cycle_purged_on
from analytics.published.units import (
    ORGANISATION_ID,
    PublishedUnit,
    unit_children,
    unit_in_cycles,
    unit_lineage,
    units_under,
)

__all__ = [
    "EXPORT_COLUMNS",
    "FLAG_INPUTS",
    "HIDDEN_TEXT",
    "COUNTING_TEXT",
    "MAX_PAGE_SIZE",
    "ORGANISATION_ID",
    "REFUSED_TEXT",
    "AggregationState",
    "CellPage",
    "CommentsInReview",
    "CursorInvalid",
    "LiveParticipationRecord",
    "LiveUnitRate",
    "PublishedCell",
    "PublishedComment",
    "PublishedDistribution",
    "PublishedFlag",
    "PublishedUnit",
    "ResponseRate",
    "ReviewComment",
    "UnitReport",
    "aggregated_cycles",
    "aggregation_states",
    "children_cells",
    "comments_in_review",
    "cycle_purged_on",
    "comments_listed_on",
    "listed_comments",
    "live_participation",
    "organisation_live_rate",
    "organisation_flags",
    "published_cells",
    "response_rates",
    "subtree_cells_page",
    "unit_cells",
    "unit_children",
    "unit_distributions",
    "unit_in_cycles",
    "unit_lineage",
    "unit_report",
    "unit_flags",
    "units_cells",
    "units_under",
]
