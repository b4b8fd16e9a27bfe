"""Statistics the job runs: estimates and intervals, tests of change, shrinkage, reliability.

Imports no Django (import-linter checks it). Reference implementations used only to check these
live in tests/analytics/reference_stats.py.
"""
