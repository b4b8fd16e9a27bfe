"""The report pages: start pages per role, unit reports, heatmaps, comments, instrument health.
Reads numbers only through analytics.published (import-linter)."""
