"""The anonymous side: responses, answers and comments.

Nothing here points at a person, user, invitation or token, and nothing carries a timestamp
finer than the cycle (ANONYMITY R1). Only the submit service, the close-cycle rewrite and the
aggregation job may import this package; pyproject.toml's import-linter contract enforces it.
"""
