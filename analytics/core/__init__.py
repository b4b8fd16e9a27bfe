"""The pure core of the aggregation: tree, scoring, metric catalogue, partials, disclosure, cells.

Imports no Django and no database (import-linter checks it): numpy, pandas, scipy and
analytics.stats only, so every decision here is testable with arrays alone.
"""
