"""Signals other apps listen to, so the survey core never imports them."""

from django.dispatch import Signal

#: Sent inside the transaction that closes a cycle, with ``cycle``. A receiver that starts work
#: on the closed cycle's data should defer it with ``transaction.on_commit``: until the commit,
#: other connections still see the cycle open with its pre-close rows.
cycle_closed = Signal()

#: Sent by ``surveys.services.thresholds.cycle_k_raise`` once a raise of a cycle's k has
#: committed, with ``cycle`` (as saved), ``previous`` (the old k) and ``actor``. Sent after the
#: commit, so a receiver never sees a raise that was rolled back and cannot undo one that was not.
#: The cycle may be open (nothing to redo: the close aggregates under the new k) or closed
#: (ANONYMITY R3: its disclosure must be decided again).
cycle_k_raised = Signal()

#: Sent by ``surveys.services.thresholds.cycle_comment_threshold_raise`` once a raise of a cycle's
#: comment threshold has committed, with ``cycle``, ``previous`` and ``actor``. A closed cycle's
#: comments were listed under the old threshold (R7): they must be withheld and listed again.
cycle_comment_threshold_raised = Signal()
