from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods

from analytics.published import response_rates
from surveys.emails import trying_sentence
from surveys.forms import (
    FIRST_STEP,
    first_step_with_error,
    posted_answers,
    raw_answers_from_post,
    survey_page_build,
)
from surveys.instrument import AnswerErrors
from surveys.models import Cycle, Invitation, Organisation
from surveys.ratelimit import failed_attempt_register
from surveys.selectors import (
    LinkState,
    instrument_for_version,
    invitation_for_token,
    person_for_user,
    survey_link_state,
)
from surveys.services.actions import open_action_titles_by_team
from surveys.services.cycles import link_resend
from surveys.submission import SubmissionRefused, response_submit

LINK_PAGES = {
    LinkState.UNKNOWN: ("surveys/link_invalid.html", 404),
    LinkState.ANSWERED: ("surveys/link_answered.html", 409),
    LinkState.CLOSED: ("surveys/link_closed.html", 410),
}


def _link_page(request: HttpRequest, state: LinkState) -> HttpResponse:
    if state is LinkState.UNKNOWN and failed_attempt_register(request):
        return render(request, "surveys/rate_limited.html", status=429)
    template, status = LINK_PAGES[state]
    return render(request, template, status=status)


@sensitive_variables("token")
@sensitive_post_parameters()
@never_cache
@csrf_exempt
@require_http_methods(["GET", "POST"])
def survey(request: HttpRequest, token: str) -> HttpResponse:
    """The one-time survey link. GET never uses the link up (mail scanners prefetch links);
    only a valid final POST does.

    Nothing here reads or writes the signed-in session, the user or a cookie (issue: a signed-in
    engineer who answers must look like anyone else): the templates show no account navigation,
    and CSRF protection is off because a forged cross-site post would need the one-time token
    in the URL, which is the secret CSRF protection stands in for elsewhere."""
    action = request.POST.get("action", "next") if request.method == "POST" else None
    if action is None or action in ("next", "back"):
        return _survey_page(request, token, action)
    # The final step goes straight to the service: its one locked lookup checks the link and
    # names the instrument, so a valid submission reads nothing here first. Only a refused or
    # invalid one comes back for a page.
    try:
        response_submit(token=token, raw_answers=posted_answers(request.POST))
    except AnswerErrors as errors:
        return _survey_page(request, token, action, errors=errors.errors)
    except SubmissionRefused as refused:
        return _link_page(request, refused.state)
    return redirect("survey_thanks")


@sensitive_variables("token", "raw")
def _survey_page(
    request: HttpRequest, token: str, action: str | None, errors: dict[str, str] | None = None
) -> HttpResponse:
    """The form page for a GET, a step change, or a final POST the service found invalid."""
    invitation = invitation_for_token(token=token)
    state = survey_link_state(token=token, invitation=invitation)
    if invitation is None or state is not LinkState.OPEN:
        return _link_page(request, state)
    instrument = instrument_for_version(version_id=invitation.cycle.instrument_version_id)
    is_manager = invitation.person.is_manager

    def page(
        step: int, raw: dict[str, object], errors: dict[str, str] | None = None, status: int = 200
    ) -> HttpResponse:
        survey_page = survey_page_build(instrument=instrument, raw=raw, step=step, is_manager=is_manager, errors=errors)  # type: ignore[arg-type]
        context = {"page": survey_page, "cycle": invitation.cycle, "token": token, "trying": ""}
        if step == FIRST_STEP:
            # Closing the loop: what the team's managers are trying, read (never written) for the
            # invitation's team, which the link already names; nothing of the answer is involved.
            team = str(invitation.team_id)
            context["trying"] = trying_sentence(open_action_titles_by_team(team_ids=[team]).get(team, []))
        return render(request, "surveys/survey.html", context, status=status)

    if request.method == "GET":
        return page(FIRST_STEP, {})
    raw = raw_answers_from_post(request.POST, instrument)
    if errors is not None:
        return page(first_step_with_error(instrument, errors), raw, errors, status=400)
    if action == "back":
        return page(FIRST_STEP, raw)
    try:
        instrument.clean(raw, is_manager=is_manager, steps=[FIRST_STEP])
    except AnswerErrors as step_errors:
        return page(FIRST_STEP, raw, step_errors.errors, status=400)
    return page(FIRST_STEP + 1, raw)


def survey_thanks(request: HttpRequest) -> HttpResponse:
    return render(request, "surveys/thanks.html")


@sensitive_post_parameters("email")
@never_cache
@require_http_methods(["GET", "POST"])
def link_resend_view(request: HttpRequest) -> HttpResponse:
    """Always says the same thing, whether or not the address is known (no roster probing)."""
    if request.method == "GET":
        return render(request, "surveys/resend.html")
    email = request.POST.get("email", "").strip()
    try:
        validate_email(email)
    except ValidationError:
        context = {"email": email, "error": "Enter your work e-mail address, like name@example.com."}
        return render(request, "surveys/resend.html", context, status=400)
    if failed_attempt_register(request, scope="resend"):
        return render(request, "surveys/rate_limited.html", status=429)
    link_resend(email=email)
    return render(request, "surveys/resend.html", {"sent": True})


def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "surveys/privacy.html", {"organisation": Organisation.current()})


@login_required
def pulse_status(request: HttpRequest) -> HttpResponse:
    """Your pulse: whether you have answered the open cycle, and the cycles' response rates."""
    person = person_for_user(request.user)
    recent = list(Cycle.objects.all()[:12])
    # Through the one door (ANONYMITY R4, R6): a closed cycle's rate is its published cell.
    rates = response_rates(cycles=recent)
    cycles = [{"cycle": cycle, "rate": rates[cycle.pk]} for cycle in recent]
    open_invitation = None
    if person is not None:
        open_invitation = (
            Invitation.objects.filter(person=person, cycle__status=Cycle.Status.OPEN)
            .values_list("status", flat=True)
            .first()
        )
    context = {"person": person, "cycles": cycles, "open_invitation_status": open_invitation}
    return render(request, "surveys/home.html", context)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)
