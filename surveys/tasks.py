"""Celery tasks: thin wrappers that call services (HackSoftware style).

Every task here is idempotent, so acks_late with reject_on_worker_lost is safe: a task whose
worker died is redelivered and acts at most once more to the same effect.
"""

from smtplib import SMTPException

from celery import shared_task

from config.task_options import idempotent_task_options
from surveys.closing import cycle_close
from surveys.services.accounts import password_reset_mail_send
from surveys.services.comments import comments_release_due
from surveys.services.cycles import (
    CycleError,
    cycle_open,
    cycles_due_for_closing,
    invitations_follow_roster,
    reminders_send,
)

# A mail server or database blip may pass on its own.
IDEMPOTENT_TASK_OPTIONS = idempotent_task_options(
    retry_for=(SMTPException, ConnectionError, TimeoutError), soft_time_limit=15 * 60, time_limit=20 * 60
)


@shared_task(**IDEMPOTENT_TASK_OPTIONS)
def open_cycle_task() -> str:
    try:
        result = cycle_open()
    except CycleError as error:  # e.g. last month's cycle is still open: nothing to retry
        return str(error)
    return f"{result.cycle.label}: {len(result.links)} links e-mailed"


@shared_task(**IDEMPOTENT_TASK_OPTIONS)
def send_reminders_task() -> int:
    # Daily: first invite anyone who joined the roster since the cycle opened (a second run
    # finds nobody new), then send the reminders that are due today.
    invitations_follow_roster(people=[])
    return reminders_send()


@shared_task(**IDEMPOTENT_TASK_OPTIONS)
def close_due_cycles_task() -> list[str]:
    return [cycle_close(cycle=cycle).cycle.label for cycle in cycles_due_for_closing()]


@shared_task(**IDEMPOTENT_TASK_OPTIONS)
def comments_release_due_task() -> list[str]:
    # Daily: closed cycles whose review window ended today (or on a day a run was missed) have
    # their comments released; a second run finds them released and does nothing.
    return [cycle.label for cycle in comments_release_due()]


@shared_task(**IDEMPOTENT_TASK_OPTIONS)
def password_reset_mail_task(email: str, domain: str, use_https: bool) -> None:
    # Delivered twice (a worker lost mid-send), it mails a second working link to the same
    # account: the same effect for its owner. The broker holds the address, never a link.
    password_reset_mail_send(email=email, domain=domain, use_https=use_https)
