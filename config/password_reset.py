"""The password-reset page behind two limits, so that it cannot be used to flood an inbox or to
make the site send mail by the thousand:

- per client: PULSE_PASSWORD_RESET_CLIENT_LIMIT requests (default 5), whatever addresses they
  name, from the client address (read as surveys.ratelimit does, behind PULSE_TRUSTED_PROXIES);
- per address: PULSE_PASSWORD_RESET_ADDRESS_LIMIT requests (default 3) for one e-mail address,
  from any client;

each counted over PULSE_LOGIN_WINDOW_SECONDS (the sign-in throttle's window, default 900) from
the first request. Requests up to a limit are served; the ones past it, until the window ends,
get the form again with status 429 and the minutes to wait, and no mail. Each request is counted
before it is judged, with an atomic increment, so requests sent at the same moment cannot all
slip under the limit. Requests are counted whether or not the address is on the roster, so a
refusal says nothing about who has an account. Counters live in the cache and fail open
(config.throttle): with Redis down, resets are sent unthrottled rather than refused.

The mail is sent by the worker (surveys.tasks.password_reset_mail_task), which looks the address
up itself: the page queues one task for every valid request, whether or not the address is on the
roster, and so answers in the same time for both. Sending from the request, as Django's view does,
made an address with an account answer later by the time a mail server takes.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.views import PasswordResetView
from django.contrib.sites.shortcuts import get_current_site
from django.http import HttpResponse, HttpResponseRedirect

from config.throttle import throttle_count
from surveys.ratelimit import client_address
from surveys.services.accounts import RosterPasswordResetForm
from surveys.tasks import password_reset_mail_task

CLIENT = "reset-client"
ADDRESS = "reset-address"


class ThrottledPasswordResetView(PasswordResetView):
    form_class = RosterPasswordResetForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["timeout_days"] = settings.PASSWORD_RESET_TIMEOUT // 86400
        return context

    def form_valid(self, form: RosterPasswordResetForm) -> HttpResponse:  # type: ignore[override]
        address = form.cleaned_data["email"].strip().casefold()
        window = settings.PULSE_LOGIN_WINDOW_SECONDS
        client_requests = throttle_count(scope=CLIENT, value=client_address(self.request), window_seconds=window)
        address_requests = throttle_count(scope=ADDRESS, value=address, window_seconds=window)
        if (
            client_requests > settings.PULSE_PASSWORD_RESET_CLIENT_LIMIT
            or address_requests > settings.PULSE_PASSWORD_RESET_ADDRESS_LIMIT
        ):
            minutes = max(1, round(window / 60))
            context = self.get_context_data(form=form, reset_throttled_minutes=minutes)
            return self.render_to_response(context, status=429)
        password_reset_mail_task.delay(
            email=form.cleaned_data["email"],
            domain=get_current_site(self.request).domain,
            use_https=self.request.is_secure(),
        )
        return HttpResponseRedirect(self.get_success_url())
