"""How the form fuzzing sends a body and judges the answer, shared by every form family."""

from __future__ import annotations

import contextlib
from collections.abc import Hashable, Iterator, Sequence
from urllib.parse import urlencode

from django import forms
from django.core.cache import cache
from django.core.exceptions import NON_FIELD_ERRORS
from django.db import transaction
from django.http import HttpResponse
from django.test import Client
from django.test.client import MULTIPART_CONTENT
from django.utils.html import escape
from hypothesis import HealthCheck, event, settings

from config.text_input import text_problem

URLENCODED = "application/x-www-form-urlencoded"

# Django's own wording, which names no field and no fix: a refusal worded so has slipped past the
# form's own messages.
GENERIC_MESSAGES = (
    "This field is required.",
    "Null characters are not allowed.",
    "Enter a valid date.",
    "Enter a valid email address.",
    "Enter a whole number.",
    "Enter a number.",
    "Select a valid choice.",
    "is not one of the available choices.",
    "Ensure this value",
    "Ensure that there are no more than",
)


def fuzz(max_examples: int) -> settings:
    """Reproducible (``derandomize``: CI sees the same examples every run, no example database)
    and without a deadline (every example is a request against PostgreSQL). A test's
    function-scoped fixtures are shared by its examples on purpose: each example runs inside
    ``rolled_back()``, so none leaks into the next, which is what the health check guards against."""
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@contextlib.contextmanager
def rolled_back(client: Client | None = None) -> Iterator[None]:
    """One example: everything it writes (rows, the session's changes) is undone at its end, the
    cache (rate limits, login throttle) starts empty, and no flash message of the last example is
    still waiting in the client's cookies."""
    cache.clear()
    if client is not None:
        client.cookies.pop("messages", None)
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def post(client: Client, url: str, pairs: Sequence[tuple[str, str]], *, multipart: bool = False) -> HttpResponse:
    """POST ``pairs`` as a browser does (urlencoded, the default of a form without enctype) or as
    multipart/form-data. A repeated name keeps all its values, in order (the parser takes the last)."""
    if multipart:
        data: dict[str, list[str]] = {}
        for name, value in pairs:
            data.setdefault(name, []).append(value)
        return client.post(url, data, content_type=MULTIPART_CONTENT)
    return client.post(url, urlencode(list(pairs)), content_type=URLENCODED)


def assert_not_server_error(response: HttpResponse) -> None:
    # The test client re-raises a view's exception, so a 500 from a bug fails before this line;
    # this catches the 5xx a view or middleware answers by itself (a 503 from a database error).
    assert response.status_code < 500, response.status_code


def assert_errors_shown(response: HttpResponse, form: forms.Form) -> None:
    """Each of the form's errors is on the page, in the form's own words (never Django's generic
    ones), at its field: in the field's error element or linked to the field from the summary."""
    assert form.errors, "refused without a single message"
    body = response.content.decode()
    for name, messages in form.errors.items():
        for message in messages:
            assert not any(generic in message for generic in GENERIC_MESSAGES), (name, message)
            # A message never repeats what it refuses (a direction override would reorder it).
            assert text_problem(message, multiline=True) is None, (name, message)
            assert escape(message) in body, (name, message)
            if name == NON_FIELD_ERRORS:
                continue
            # The field's error element takes its input's id, or (a group of radios) its name.
            field_id = form[name].id_for_label
            shown_at = (f'id="{field_id}-error"', f'id="{name}-error"', f'href="#{field_id}"')
            assert any(place in body for place in shown_at), (name, message)


def assert_clean_text(*values: str) -> None:
    """Stored text holds nothing text_problem refuses (multi-line rules: the loosest)."""
    for value in values:
        assert text_problem(value, multiline=True) is None, repr(value[:80])


def refused_form(response: HttpResponse, keys: Sequence[str]) -> forms.Form | None:
    """The first of the page's forms named by ``keys`` that was posted and refused."""
    context = getattr(response, "context", None)
    for key in keys:
        form = context.get(key) if context is not None else None
        if isinstance(form, forms.Form) and form.is_bound and form.errors:
            return form
    return None


def judge_post(
    response: HttpResponse,
    *,
    before: Hashable,
    after: Hashable,
    form_keys: Sequence[str] = ("form",),
    accepted: Sequence[int] = (302,),
) -> bool:
    """Judges one answer to a hostile POST of a signed-in form; True if it was accepted.

    Refused: a 4xx, nothing stored (``before`` and ``after`` are the caller's snapshot of every row
    the form could write, audit events included), and the page says why: the refused form's
    messages at their fields, or an alert above the form for what has no field."""
    assert_not_server_error(response)
    event(f"status {response.status_code}")  # --hypothesis-show-statistics: every outcome is reached
    if response.status_code in accepted:
        return True
    assert 400 <= response.status_code < 500, response.status_code
    assert after == before, "a refused post changed what is stored"
    if response.status_code != 404:
        body = response.content.decode()
        form = refused_form(response, form_keys)
        if form is not None:
            assert_errors_shown(response, form)
        else:
            assert 'role="alert"' in body or 'class="error"' in body, "refused without saying why"
        # Whichever way the refusal reached the page (a form's errors joined into one line, say).
        assert not any(message in body for message in GENERIC_MESSAGES), "a refusal in Django's generic words"
    return False


def assert_pages_render(client: Client, *urls: str) -> None:
    """After an accepted post, the pages that show what it stored still render (a far date or an
    odd title is shown somewhere else than the form that took it)."""
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
