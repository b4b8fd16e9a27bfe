"""Exports of published aggregates: the writers (CSV, XLSX, Parquet) and the export jobs HR runs
from the browser. Reads numbers only through analytics.published (import-linter)."""
