"""The REST API at /api/v1/ (Django REST Framework): reads numbers only through analytics.published.

May import analytics.published (the door), analytics.reports.access (who sees what), the metric
names of analytics.core.catalogue and analytics.core.scoring, and surveys.models (cycles, the
organisation's settings); never analytics.models, the job, core.cells/partials or the anonymous
side (an import-linter contract).
"""
