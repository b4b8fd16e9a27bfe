"""HR's comment review of one cycle (ANONYMITY R7, R10).

- ``cycle_comments``: when the cycle's comments are (or were) released, and every comment the
  job listed, each with its one listing unit, in the random order readers see. An open cycle's
  page says its comments can be reviewed once it closes.
- ``cycle_comments_release``: release them now, before their release date, through
  surveys.services.comments.comments_release_now.
- ``cycle_comment_redact``: redact one comment through analytics.job.comments.comment_redact,
  which deletes its text from the listing and the anonymous side; before or after the release.

The list is read through the door (analytics.published.comments_in_review). Both actions are a
POST whose box must be ticked (else the page again, 400, nothing done), are idempotent (a repeat
changes nothing and says so) and are audited by the services with the HR person as actor: the
cycle, and for a redaction the listing unit, never a comment's text.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from analytics.job.comments import NOT_LISTED, CommentNotListed, comment_redact
from analytics.published import CommentsInReview, comments_in_review
from surveys.models import Cycle
from surveys.programme.access import hr_required
from surveys.programme.comments_forms import CommentRedactForm, CommentsReleaseForm
from surveys.programme.settings_views import cycle_for_month
from surveys.services.comments import CommentsReleaseError, comments_release_now

TEMPLATE = "surveys/programme/comments.html"
REDACTED = "The comment was redacted; its text is deleted."


def _actor(request: HttpRequest) -> str:
    return str(request.hr_person.email)  # type: ignore[attr-defined]


def _named(form: CommentRedactForm) -> uuid.UUID | None:
    """The comment a posted redaction names, if its id can be read."""
    try:
        return uuid.UUID(str(form.data.get("comment", "")).strip())
    except ValueError:
        return None


def _page(
    request: HttpRequest,
    cycle: Cycle,
    *,
    status: int = 200,
    errors_title: str = "",
    problem: str = "",
    release_form: CommentsReleaseForm | None = None,
    redact_form: CommentRedactForm | None = None,
) -> HttpResponse:
    review = CommentsInReview(listed=False, comments=()) if cycle.is_open else comments_in_review(cycle=cycle)
    named = _named(redact_form) if redact_form is not None else None
    error_form: CommentsReleaseForm | CommentRedactForm | None = release_form
    rows = []
    for index, comment in enumerate(review.comments, start=1):
        auto_id = f"redact-{index}-%s"  # one form per row: element ids must differ (labels, errors)
        if redact_form is not None and named is not None and str(named) == comment.id:
            form = CommentRedactForm(redact_form.data, auto_id=auto_id)
            form.is_valid()  # the same errors, on this row's own ids
            error_form = form
        else:
            form = CommentRedactForm(initial={"comment": comment.id}, auto_id=auto_id)
        rows.append({"number": index, "comment": comment, "form": form})
    if redact_form is not None and error_form is None:
        # The posted id is unreadable, or names no comment listed (any more): say so once, above.
        if named is not None:
            problem = problem or NOT_LISTED
        else:
            problem = problem or " ".join(str(error) for error in redact_form.errors.get("comment", []))
    context = {
        "cycle": cycle,
        "review": review,
        "rows": rows,
        "release_form": release_form or CommentsReleaseForm(),
        "error_form": error_form,
        "errors_title": errors_title,
        "problem": problem,
    }
    return render(request, TEMPLATE, context, status=status)


def _back(cycle: Cycle) -> HttpResponse:
    return redirect("programme:cycle_comments", month=cycle.label)


@hr_required
@require_safe
def cycle_comments(request: HttpRequest, month: str) -> HttpResponse:
    return _page(request, cycle_for_month(month))


@hr_required
@require_POST
def cycle_comments_release(request: HttpRequest, month: str) -> HttpResponse:
    cycle = cycle_for_month(month)
    form = CommentsReleaseForm(request.POST)
    if not form.is_valid():
        return _page(request, cycle, status=400, errors_title="The comments were not released", release_form=form)
    try:
        result = comments_release_now(cycle=cycle, actor=_actor(request))
    except CommentsReleaseError as error:
        return _page(request, cycle, status=409, errors_title="The comments were not released", problem=str(error))
    if result.released_now:
        messages.success(
            request,
            f"The comments of {cycle.label} are released: everyone who may see them can read them now.",
        )
    else:
        messages.info(request, f"The comments of {cycle.label} were already released: nothing changed.")
    return _back(cycle)


@hr_required
@require_POST
def cycle_comment_redact(request: HttpRequest, month: str) -> HttpResponse:
    cycle = cycle_for_month(month)
    form = CommentRedactForm(request.POST)
    if not form.is_valid():
        return _page(request, cycle, status=400, errors_title="No comment was redacted", redact_form=form)
    try:
        comment_redact(comment_id=form.cleaned_data["comment"], actor=_actor(request), cycle=cycle)
    except CommentNotListed as refused:
        # A second press, or a page loaded before the list was drawn again: nothing to do.
        messages.info(request, str(refused))
        return _back(cycle)
    messages.success(request, REDACTED)
    return _back(cycle)
