"""Fuzzing HR's cycles and settings forms (surveys/programme/cycles_* and settings_*): open,
remind, close, the closing date and the aggregation retry; the organisation's settings and a
cycle's threshold raise. Hypothesis spoils one to three fields of a valid body at a time (or all
of them) with hostile text, numbers and dates.

Properties: never a 5xx; refused means a 4xx with the form's own messages at their fields and
nothing stored (cycles, invitations, settings, aggregation runs, audit events and mail all as
before); accepted means what was stored is in range."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from urllib.parse import quote

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from analytics.job.run import run_state_set
from analytics.models import AggregationRun
from surveys.closing import cycle_close
from surveys.models import AuditEvent, Cycle, Invitation, Organisation
from surveys.models.organisation import K_MAX, K_MIN
from surveys.programme.settings_forms import ORGANISATION_FIELDS
from surveys.services.cycles import cycle_open, links_issue, month_start
from surveys.services.thresholds import COMMENT_THRESHOLD_MAX, COMMENT_THRESHOLD_MIN
from tests.hostile.forms.fuzzing import assert_pages_render, fuzz, judge_post, post, rolled_back
from tests.hostile.forms.strategies import dates_as_text, form_pairs, hostile_text, numbers_as_text, ticks, utf8_char
from tests.hostile.forms.survey_checks import survey_url
from tests.surveys.helpers import team_with_people

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

PAST = dt.date(2020, 4, 1)


@pytest.fixture
def programme(require_postgres) -> Cycle:
    """A closed 2020-04 cycle whose aggregation failed (so it has a retry form) and this month's
    cycle, open since three days ago (so a reminder is allowed today)."""
    team_with_people("Core", 6)
    past = cycle_open(month=PAST, today=PAST, send_mail=False).cycle
    run_state_set(cycle_close(cycle=past, today=PAST + dt.timedelta(days=14)).cycle, "failed", error="OperationalError")
    opened = timezone.localdate() - dt.timedelta(days=3)
    cycle = cycle_open(month=month_start(opened), today=opened, send_mail=False).cycle
    mail.outbox.clear()
    return cycle


@pytest.fixture
def programme_link(programme) -> str:
    """A fresh link to the open cycle, for one of Core (the cycle was opened without mail)."""
    invitation = Invitation.objects.filter(cycle=programme, person__email="core-0@example.com")
    return links_issue(cycle=programme, invitations=invitation, kind="resend", send_mail=False)[0].token


def stored_state() -> tuple[object, ...]:
    """Every row these forms could write, and the mail they could send."""
    return (
        AuditEvent.objects.count(),
        tuple(Cycle.objects.order_by("month").values_list("month", "status", "closes_on", "k", "comment_threshold")),
        tuple(Invitation.objects.order_by("pk").values_list("pk", "status", "token_hash")),
        tuple(Organisation.objects.values_list(*ORGANISATION_FIELDS)),
        tuple(AggregationRun.objects.order_by("pk").values_list("pk", "state")),
        len(mail.outbox),
    )


def later(days: int) -> str:
    return (timezone.localdate() + dt.timedelta(days=days)).isoformat()


# (url name, url args, valid body, a hostile strategy per field, the page's form names)
CYCLE_FORMS = {
    "open": ("programme:cycle_open", [], {"open-confirm": "on"}, {"open-confirm": ticks()}, ["open_form"]),
    "remind": ("programme:cycle_remind", [], {"remind-confirm": "on"}, {"remind-confirm": ticks()}, ["remind_form"]),
    "close": ("programme:cycle_close", [], {"close-confirm": "on"}, {"close-confirm": ticks()}, ["close_form"]),
    "closing-date": (
        "programme:cycle_closing_date",
        [],
        {"closing-closes_on": later(5), "closing-confirm": "on"},
        {"closing-closes_on": dates_as_text(), "closing-confirm": ticks()},
        ["closing_form"],
    ),
    "retry": (
        "programme:cycle_aggregation_retry",
        ["2020-04"],
        {"retry-2020-04-confirm": "on"},
        {"retry-2020-04-confirm": ticks()},
        ["error_form"],
    ),
}


@pytest.mark.parametrize("which", list(CYCLE_FORMS))
@fuzz(max_examples=40)
@given(data=st.data())
def test_each_cycles_form_refuses_without_changing_anything(hr_client, programme, programme_link, which, data):
    name, args, valid, hostile, form_keys = CYCLE_FORMS[which]
    pairs = data.draw(form_pairs(valid, hostile), label="pairs")
    multipart = data.draw(st.booleans(), label="multipart")
    with rolled_back(hr_client):
        before = stored_state()
        response = post(hr_client, reverse(name, args=args), pairs, multipart=multipart)
        if judge_post(response, before=before, after=stored_state(), form_keys=[*form_keys, "error_form"]):
            assert_pages_render(hr_client, reverse("programme:cycles"))
            if which == "closing-date":
                closes_on = Cycle.objects.get(pk=programme.pk).closes_on
                assert closes_on > timezone.localdate()
                # The survey shows the new closing date (up to 60 days after opening) to everyone answering.
                assert_pages_render(hr_client, survey_url(programme_link))


numbers = numbers_as_text()
currencies = st.one_of(
    st.sampled_from(
        ["eur", "EU", "EURO", "E\x00R", "\u20ac", " usd ", "\u00dfa", "\ufb00a", "\u0130ST", "\uff25\uff35\uff32"]
    ),
    hostile_text(10),
)
SETTINGS_VALID = {
    "anonymity_threshold": "6",
    "comment_threshold": "12",
    "comment_review_days": "5",
    "engineers_see_team_report": "on",
    "hourly_cost": "80.50",
    "currency": "USD",
    "pilot_cutoff": "5.5",
}
SETTINGS_HOSTILE = {name: numbers for name in SETTINGS_VALID} | {
    "engineers_see_team_report": ticks(),
    "currency": currencies,
}


@fuzz(max_examples=120)
@given(pairs=form_pairs(SETTINGS_VALID, SETTINGS_HOSTILE, focus=["currency"]), multipart=st.booleans())
def test_the_organisation_settings_form_stores_only_values_in_range(hr_client, programme, pairs, multipart):
    with rolled_back(hr_client):
        before = stored_state()
        response = post(hr_client, reverse("programme:settings"), pairs, multipart=multipart)
        if judge_post(response, before=before, after=stored_state()):
            organisation = Organisation.current()
            organisation.refresh_from_db()
            assert K_MIN <= organisation.anonymity_threshold <= K_MAX
            assert COMMENT_THRESHOLD_MIN <= organisation.comment_threshold <= COMMENT_THRESHOLD_MAX
            assert 0 <= organisation.comment_review_days <= 30
            assert Decimal(0) <= organisation.hourly_cost <= Decimal("999999.99")
            assert Decimal(1) <= organisation.pilot_cutoff <= Decimal(7)
            # Three ASCII capitals, as ISO 4217 writes them; and what was typed, not a case-folded
            # expansion of it ("ßa".upper() is "SSA").
            assert re.fullmatch(r"[A-Z]{3}", organisation.currency)
            typed = dict(pairs)["currency"].strip()
            assert organisation.currency == typed.upper() and len(typed) == 3
            assert_pages_render(hr_client, reverse("programme:settings"))


RAISE_VALID = {"field": "k", "k": "7", "comment_threshold": "12", "step": "confirm", "confirm": "on"}
RAISE_HOSTILE = {
    "field": st.one_of(
        st.sampled_from(["comment_threshold", "", "K", "k\x00", "anonymity_threshold"]), hostile_text(10)
    ),
    "k": numbers,
    "comment_threshold": numbers,
    "step": st.one_of(st.sampled_from(["", "CONFIRM", "confirm\x00", "confirm "]), hostile_text(10)),
    "confirm": ticks(),
}


@fuzz(max_examples=100)
@given(pairs=form_pairs(RAISE_VALID, RAISE_HOSTILE), multipart=st.booleans())
def test_a_cycles_threshold_is_only_ever_raised_within_its_range(hr_client, programme, pairs, multipart):
    url = reverse("programme:cycle_thresholds", kwargs={"month": programme.label})
    with rolled_back(hr_client):
        before = stored_state()
        response = post(hr_client, url, pairs, multipart=multipart)
        if judge_post(response, before=before, after=stored_state(), accepted=(200, 302)):
            programme.refresh_from_db()
            if response.status_code == 200:  # the confirmation step: asked, nothing raised yet
                assert stored_state() == before
            assert 5 <= programme.k <= K_MAX and 10 <= programme.comment_threshold <= COMMENT_THRESHOLD_MAX


URL_PARTS = st.one_of(
    st.text(alphabet=utf8_char, min_size=1, max_size=30),
    st.sampled_from(
        ["2020-04", "2020-4", "20-04", "2020-00", "2020-13", "0000-01", "9999-12", "2020-04\x00", "\u0662020-04"]
    ),
)


@fuzz(max_examples=40)
@given(month=URL_PARTS)
def test_a_hostile_month_in_a_programme_url_is_a_page_or_404(hr_client, programme, month):
    with rolled_back(hr_client):
        before = stored_state()
        quoted = quote(month, safe="")
        for url in (
            f"/programme/settings/cycles/{quoted}/",
            f"/programme/cycles/{quoted}/comments/",
            f"/programme/cycles/{quoted}/retry/",
        ):
            response = hr_client.post(url, {})
            assert response.status_code in (400, 404, 405), (url, response.status_code)
        assert stored_state() == before
