"""Signals other apps listen to, so the survey core never imports them."""

from django.dispatch import Signal

#: Sent inside the transaction that closes a cycle, with ``cycle``. A receiver that starts work
#: on the closed cycle's data should defer it with ``transaction.on_commit``: until the commit,
#: other connections still see the cycle open with its pre-close rows.
cycle_closed = Signal()
