"""Signals the job sends, so that what reacts to its results (e-mails, pages) stays out of it."""

from django.dispatch import Signal

#: Sent by the aggregation tasks after a run stored a cycle's results (cells, flags, comments),
#: with ``cycle``. A rerun sends it again: a receiver that must act once per cycle keeps its own
#: record of having acted.
results_stored = Signal()
