"""Raising a cycle's anonymity threshold k and its comment threshold (ANONYMITY R3, R7, R10)."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import transaction
from django.dispatch import Signal

from surveys.models import AuditEvent, Cycle, Organisation
from surveys.models.organisation import K_MAX, K_MIN
from surveys.signals import cycle_comment_threshold_raised, cycle_k_raised


def cycle_k_raise_problem(*, current: int, k: object) -> str | None:
    """Why ``k`` cannot replace a cycle's ``current`` k, as a message with the fix; None if it can.

    Shared by the service and the admin form, so the form shows the same words on the field.
    """
    if isinstance(k, bool) or not isinstance(k, int):
        return f"k must be a whole number from {K_MIN} to {K_MAX}; got {k!r}."
    if not K_MIN <= k <= K_MAX:
        return f"k must be between {K_MIN} and {K_MAX}; enter a value from {current} to {K_MAX}."
    if k < current:
        # ANONYMITY R3: once a cycle has opened, k may be raised but never lowered.
        return f"k can only be raised once a cycle has opened; enter {current} or more."
    return None


def cycle_k_raise(*, cycle: Cycle, k: int, actor: str) -> Cycle:
    """Raises the cycle's k to ``k`` and returns the cycle as saved.

    ANONYMITY R3: k is frozen when a cycle opens and may afterwards only be raised, within
    3-10. R10: the raise is audited with who did it (``actor``: a user's e-mail, or the command)
    and when. A raise on a closed cycle means its stored disclosure decisions were made under a
    smaller k: the ``cycle_k_raised`` signal, sent on commit, lets analytics decide it again.
    Raising to the current value changes nothing and records nothing.

    Raises ValidationError on ``k`` (the message names the value to enter) and saves nothing.
    """
    return _cycle_threshold_raise(
        cycle=cycle,
        field="k",
        value=k,
        actor=actor,
        problem=lambda current: cycle_k_raise_problem(current=current, k=k),
        action="cycle_k_raised",
        signal=cycle_k_raised,
    )


def _cycle_threshold_raise(
    *,
    cycle: Cycle,
    field: str,
    value: int,
    actor: str,
    problem: Callable[[int], str | None],
    action: str,
    signal: Signal,
) -> Cycle:
    """Raises one of a cycle's frozen thresholds (k, the comment threshold) by the rules both
    follow: an actor for the audit; the stored value, locked, is what is checked; the same value
    again changes and records nothing; the signal is sent once the raise has committed."""
    if not actor.strip():
        raise ValueError(f"raising {field} needs an actor (a user's e-mail or the command's name) for the audit (R10).")
    with transaction.atomic():
        # Locked, and checked against the stored value rather than the caller's copy: two people
        # raising at once must not let the second write a value below the first one's.
        locked = Cycle.objects.select_for_update().get(pk=cycle.pk)
        previous = getattr(locked, field)
        found = problem(previous)
        if found is not None:
            raise ValidationError({field: found})
        if value == previous:
            return locked
        setattr(locked, field, value)
        locked.save(update_fields=[field])
        AuditEvent.objects.create(
            actor=actor, action=action, detail={"cycle": locked.label, "from": previous, "to": value}
        )
        # robust: the raise has committed; a receiver that fails (a broker down) is logged, and
        # the nightly catch-up finds the cycle anyway.
        transaction.on_commit(
            lambda: signal.send(sender=Cycle, cycle=locked, previous=previous, actor=actor), robust=True
        )
    return locked


def _comment_threshold_bounds() -> tuple[int, int]:
    """The organisation's allowed comment thresholds (its field's validators), so a cycle's raise
    and the organisation's setting never disagree on the range."""
    low, high = K_MIN, 50
    for validator in Organisation._meta.get_field("comment_threshold").validators:
        if isinstance(validator, MinValueValidator):
            low = int(validator.limit_value)  # type: ignore[call-overload]
        elif isinstance(validator, MaxValueValidator):
            high = int(validator.limit_value)  # type: ignore[call-overload]
    return low, high


COMMENT_THRESHOLD_MIN, COMMENT_THRESHOLD_MAX = _comment_threshold_bounds()


def cycle_comment_threshold_raise_problem(*, current: int, comment_threshold: object) -> str | None:
    """Why ``comment_threshold`` cannot replace a cycle's ``current`` one, as a message with the
    fix; None if it can. The comment threshold's counterpart of ``cycle_k_raise_problem``."""
    low, high = COMMENT_THRESHOLD_MIN, COMMENT_THRESHOLD_MAX
    if isinstance(comment_threshold, bool) or not isinstance(comment_threshold, int):
        return f"The comment threshold must be a whole number from {low} to {high}; got {comment_threshold!r}."
    if not low <= comment_threshold <= high:
        return (
            f"The comment threshold must be between {low} and {high}; enter a value from {max(current, low)} to {high}."
        )
    if comment_threshold < current:
        # ANONYMITY R3 (and R7): like k, a cycle's comment threshold may be raised, never lowered.
        return f"The comment threshold can only be raised once a cycle has opened; enter {current} or more."
    return None


def cycle_comment_threshold_raise(*, cycle: Cycle, comment_threshold: int, actor: str) -> Cycle:
    """Raises the cycle's comment threshold to ``comment_threshold`` and returns the cycle as saved.

    The same rules as ``cycle_k_raise``: frozen when the cycle opens, afterwards only raised,
    within the organisation's allowed range; checked against the locked, stored value; audited
    (R10) with the actor; raising to the current value changes nothing and records nothing.

    A closed cycle's comments were released under the old threshold: once the raise commits,
    ``cycle_comment_threshold_raised`` is sent, and the analytics app withholds them at once and
    lists them again under the new threshold.

    Raises ValidationError on ``comment_threshold`` (the message names the value to enter) and
    saves nothing.
    """
    return _cycle_threshold_raise(
        cycle=cycle,
        field="comment_threshold",
        value=comment_threshold,
        actor=actor,
        problem=lambda current: cycle_comment_threshold_raise_problem(
            current=current, comment_threshold=comment_threshold
        ),
        action="cycle_comment_threshold_raised",
        signal=cycle_comment_threshold_raised,
    )
