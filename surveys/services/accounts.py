"""Sign-in for the people on the roster: Django's password-reset flow, open to roster members.

People imported from the roster get an account with an unusable password (an organisation may
sign in by SSO instead). Django's reset form skips such accounts, so the form here also accepts
them when the account belongs to an active roster member: setting a first password is the same
expiring, single-use link as resetting one (PASSWORD_RESET_TIMEOUT). Managers and HR are sent
that link when the roster imports them, so they can read their reports without asking.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, SetPasswordForm

logger = logging.getLogger(__name__)


class SignInForm(AuthenticationForm):
    """Django's sign-in form, its field refusals worded with the field and the fix (Django's own
    say "This field is required." or "Null characters are not allowed.", on a page that shows
    only the form's general errors)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].error_messages.update(
            {
                "required": "E-mail: enter the address you sign in with.",
                "null_characters_not_allowed": (
                    "E-mail: remove the control character U+0000; enter the address you sign in with."
                ),
            }
        )
        self.fields["password"].error_messages.update(
            {
                "required": "Password: enter your password.",
                "null_characters_not_allowed": (
                    "Password: remove the control character U+0000 and type your password again."
                ),
            }
        )


class WordedSetPasswordForm(SetPasswordForm):  # type: ignore[type-arg]  # generic in the stubs only
    """Django's set-password form with a refusal of NUL that says the fix (the page puts the
    field's label before each message)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("new_password1", "new_password2"):
            self.fields[name].error_messages["null_characters_not_allowed"] = (
                "remove the control character U+0000 and type the password again."
            )


class RosterPasswordResetForm(PasswordResetForm):
    """Django's form, also for roster members who have never had a password."""

    def get_users(self, email: str) -> Iterator[Any]:
        users = get_user_model().objects.filter(email__iexact=email, is_active=True, person__is_active=True)
        return (user for user in users if user.email.casefold() == email.casefold())


def password_reset_mail_send(*, email: str, domain: str, use_https: bool) -> None:
    """What Django's PasswordResetView does with a valid form, for the worker: mail a reset link to
    each active roster account with ``email`` (none if there is none), with Django's templates.
    The page queues this for every valid request, so it answers as fast for an address with an
    account as for one without (config.password_reset)."""
    form = RosterPasswordResetForm({"email": email})
    if form.is_valid():
        form.save(domain_override=domain, use_https=use_https)


def password_invitations_send(*, user_ids: Iterable[int]) -> int:
    """Send each listed account (an active roster member without a password yet) a link to set
    one. Returns how many were sent; an address the mail server refuses is logged and skipped."""
    base = urlsplit(settings.PULSE_BASE_URL)
    sent = 0
    users = get_user_model().objects.filter(pk__in=list(user_ids), is_active=True, person__is_active=True)
    for user in users:
        if user.has_usable_password():
            continue
        form = RosterPasswordResetForm({"email": user.email})
        if not form.is_valid():
            continue
        try:
            form.save(
                domain_override=base.netloc,
                use_https=base.scheme == "https",
                subject_template_name="registration/set_password_subject.txt",
                email_template_name="registration/set_password_email.txt",
            )
        except OSError:  # an SMTP failure must not undo the roster import that asked for it
            logger.exception("could not send a set-password e-mail")
            continue
        sent += 1
    return sent
