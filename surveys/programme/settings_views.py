"""HR's settings pages (ANONYMITY R3, R7, R10).

- ``settings``: the organisation's defaults for cycles opened from now on (k, comment threshold,
  Pilot cut-off), the days HR has to review comments after a close (for cycles closed from now
  on), who sees team reports, and the hourly cost. Like the admin, the defaults may go up or down
  within their ranges: they bind no cycle that has opened (or, for the review days, closed).
- ``cycle_thresholds``: one cycle's frozen k or comment threshold, raised (never lowered) through
  the services in surveys.services.thresholds, after a confirmation step.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from analytics.published import cycle_purged_on
from surveys.models import Cycle, Organisation
from surveys.programme.access import hr_required
from surveys.programme.settings_forms import (
    CYCLE_RAISE_FORMS,
    ORGANISATION_FIELDS,
    CycleCommentThresholdRaiseForm,
    CycleKRaiseForm,
    OrganisationSettingsForm,
)
from surveys.services.thresholds import cycle_comment_threshold_raise, cycle_k_raise

R3_SENTENCE = (
    "Once a cycle has opened, people have answered trusting the thresholds they were told, so a "
    "threshold can be raised but never lowered (ANONYMITY R3)."
)
LABELS = {name: str(OrganisationSettingsForm.base_fields[name].label) for name in ORGANISATION_FIELDS}


def _actor(request: HttpRequest) -> str:
    return str(request.hr_person.email)  # type: ignore[attr-defined]


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@hr_required
def settings_page(request: HttpRequest) -> HttpResponse:
    organisation = Organisation.current()
    status = 200
    if request.method == "POST":
        form = OrganisationSettingsForm(request.POST)
        if form.is_valid():
            changes = form.save(actor=_actor(request))
            if changes:
                for change in changes:
                    messages.success(
                        request,
                        f"{LABELS[str(change['field'])]}: changed from {_shown(change['from'])} "
                        f"to {_shown(change['to'])}.",
                    )
            else:
                messages.info(request, "Nothing changed: the settings were already these.")
            return redirect("programme:settings")
        status = 400
    else:
        form = OrganisationSettingsForm(initial=OrganisationSettingsForm.initial_from(organisation))
    cycles = list(Cycle.objects.order_by("-month")[:24])
    return render(
        request,
        "surveys/programme/settings.html",
        {"form": form, "organisation": organisation, "cycles": cycles, "r3_sentence": R3_SENTENCE},
        status=status,
    )


def cycle_for_month(month: str) -> Cycle:
    """The cycle of a month label (YYYY-MM) in a programme page's URL; 404 for a malformed label
    or a month without a cycle, alike."""
    year, _, number = month.partition("-")
    try:
        if len(year) != 4 or len(number) != 2:
            raise ValueError(month)
        first = dt.date(int(year), int(number), 1)
    except ValueError:
        raise Http404("no such cycle") from None
    cycle = Cycle.objects.filter(month=first).first()
    if cycle is None:
        raise Http404("no such cycle")
    return cycle


def _forms(cycle: Cycle, purged_on: dt.date | None) -> dict[str, CycleKRaiseForm | CycleCommentThresholdRaiseForm]:
    return {
        "k": CycleKRaiseForm(cycle=cycle, initial={"k": cycle.k}, purged_on=purged_on),
        "comment_threshold": CycleCommentThresholdRaiseForm(
            cycle=cycle, initial={"comment_threshold": cycle.comment_threshold}, purged_on=purged_on
        ),
    }


@hr_required
def cycle_thresholds(request: HttpRequest, month: str) -> HttpResponse:
    """GET: the cycle's values and a form per threshold. POST step 1 (no ``step``): check the
    value and show the confirmation. POST step 2 (``step=confirm``, box ticked): raise it."""
    cycle = cycle_for_month(month)
    # A cycle whose answers were purged cannot be aggregated again: every step warns (the forms too).
    purged_on = cycle_purged_on(cycle=cycle)
    forms = _forms(cycle, purged_on)
    context: dict[str, object] = {"cycle": cycle, "r3_sentence": R3_SENTENCE, "purged_on": purged_on}
    if request.method != "POST":
        return render(request, "surveys/programme/settings_cycle.html", {**context, "forms": forms})

    which = request.POST.get("field", "")
    form_class = CYCLE_RAISE_FORMS.get(which)
    if form_class is None:
        messages.error(request, "Choose the threshold to raise with one of the forms below.")
        return render(request, "surveys/programme/settings_cycle.html", {**context, "forms": forms}, status=400)
    confirming = request.POST.get("step") == "confirm"
    form = form_class(request.POST, cycle=cycle, confirming=confirming, purged_on=purged_on)
    forms[which] = form  # type: ignore[assignment]
    if not form.is_valid():
        if confirming and not form.has_error(which):
            # Only the box is missing: ask again on the confirmation page.
            return render(
                request,
                "surveys/programme/settings_confirm.html",
                {**context, "form": form, "which": which},
                status=400,
            )
        return render(
            request,
            "surveys/programme/settings_cycle.html",
            {**context, "forms": forms, "errors_of": which},
            status=400,
        )
    if not confirming:
        return render(request, "surveys/programme/settings_confirm.html", {**context, "form": form, "which": which})

    before = form.current
    try:
        if which == "k":
            saved = cycle_k_raise(cycle=cycle, k=form.value, actor=_actor(request))
            after = saved.k
        else:
            saved = cycle_comment_threshold_raise(cycle=cycle, comment_threshold=form.value, actor=_actor(request))
            after = saved.comment_threshold
    except ValidationError as refused:
        # Checked again under the row lock: another raise came first. Nothing was saved.
        for message in refused.message_dict.get(which, []):
            form.add_error(which, message)
        cycle.refresh_from_db()
        forms = _forms(cycle, purged_on)
        forms[which] = form  # type: ignore[assignment]
        return render(
            request,
            "surveys/programme/settings_cycle.html",
            {**context, "forms": forms, "errors_of": which},
            status=400,
        )
    if after == before:
        messages.info(request, f"The {form.field_label} of {cycle.label} is already {after}: nothing changed.")
    else:
        messages.success(request, f"The {form.field_label} of {cycle.label} was raised from {before} to {after}.")
        if not saved.is_open and purged_on is not None:
            day = f"{purged_on.day} {purged_on:%B %Y}"
            if which == "k":
                messages.warning(
                    request,
                    f"The results of {cycle.label} are withheld for good: its answers were purged on {day}, "
                    "so it cannot be aggregated again.",
                )
            else:
                messages.warning(
                    request,
                    f"The comments of {cycle.label} are taken down for good: its answers were purged on {day}, "
                    "so they cannot be listed again.",
                )
        elif not saved.is_open:
            if which == "k":
                messages.warning(
                    request,
                    f"The results of {cycle.label} are withheld everywhere until it has been re-aggregated "
                    f"under k = {after}; that has been queued.",
                )
            else:
                messages.warning(
                    request,
                    f"The comments of {cycle.label} are taken down until they have been listed again at "
                    f"the new threshold of {after}; that has been queued.",
                )
    return redirect(reverse("programme:cycle_thresholds", kwargs={"month": cycle.label}))
