"""HR's settings pages: the organisation's defaults for future cycles (saved and audited, lowered
as the admin allows), and a cycle's k or comment threshold raised (never lowered) through the
services, after a confirmation (ANONYMITY R3, R7, R10)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from surveys.closing import cycle_close
from surveys.models import AuditEvent, Cycle, Organisation
from surveys.services.cycles import cycle_open
from surveys.services.thresholds import (
    COMMENT_THRESHOLD_MAX,
    COMMENT_THRESHOLD_MIN,
    cycle_comment_threshold_raise,
)
from surveys.signals import cycle_k_raised
from tests.factories import PersonFactory
from tests.surveys.helpers import team_with_people

pytestmark = pytest.mark.django_db
OCT = dt.date(2026, 10, 1)
HR_EMAIL = "hr@example.com"
SETTINGS_URL = "/programme/settings/"


@pytest.fixture
def hr_client(client: Client) -> Client:
    client.force_login(PersonFactory(email=HR_EMAIL, role="hr").user)
    return client


@pytest.fixture
def cycle() -> Cycle:
    team_with_people("Core", 6)
    return cycle_open(month=OCT, today=OCT, send_mail=False).cycle  # k = 5, comment threshold 10


@pytest.fixture
def sent():
    received: list[dict[str, object]] = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    cycle_k_raised.connect(receiver, dispatch_uid="test-settings-k-raised")
    yield received
    cycle_k_raised.disconnect(dispatch_uid="test-settings-k-raised")


def cycle_url(cycle: Cycle) -> str:
    return reverse("programme:cycle_thresholds", kwargs={"month": cycle.label})


def organisation_data(**overrides: str) -> dict[str, str]:
    data = {
        "anonymity_threshold": "5",
        "comment_threshold": "10",
        "comment_review_days": "3",
        "engineers_see_team_report": "on",
        "hourly_cost": "75.00",
        "currency": "EUR",
        "pilot_cutoff": "5.0",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def organisation_values() -> dict[str, object]:
    organisation = Organisation.current()
    return {
        "anonymity_threshold": organisation.anonymity_threshold,
        "comment_threshold": organisation.comment_threshold,
        "comment_review_days": organisation.comment_review_days,
        "engineers_see_team_report": organisation.engineers_see_team_report,
        "hourly_cost": organisation.hourly_cost,
        "currency": organisation.currency,
        "pilot_cutoff": organisation.pilot_cutoff,
    }


# --- who may see the pages ----------------------------------------------------------------------


def test_the_routes_are_where_the_programme_mounts_them():
    assert reverse("programme:settings") == SETTINGS_URL
    assert reverse("programme:cycle_thresholds", kwargs={"month": "2026-10"}) == "/programme/settings/cycles/2026-10/"


@pytest.mark.parametrize("role", ["engineer", "manager", "admin"])
def test_non_hr_get_404_on_every_page_and_post(client, cycle, role):
    client.force_login(PersonFactory(role=role).user)
    assert client.get(SETTINGS_URL).status_code == 404
    assert client.post(SETTINGS_URL, organisation_data(anonymity_threshold="3")).status_code == 404
    assert client.get(cycle_url(cycle)).status_code == 404
    response = client.post(cycle_url(cycle), {"field": "k", "k": "9", "step": "confirm", "confirm": "on"})
    assert response.status_code == 404
    assert Organisation.current().anonymity_threshold == 5
    assert Cycle.objects.get(pk=cycle.pk).k == 5
    assert not AuditEvent.objects.exists()


def test_a_superuser_without_a_roster_entry_gets_404(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("op", "op@example.com", "pw"))
    assert client.get(SETTINGS_URL).status_code == 404


def test_an_inactive_hr_person_gets_404(client):
    client.force_login(PersonFactory(role="hr", is_active=False).user)
    assert client.get(SETTINGS_URL).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client, cycle):
    for url in (SETTINGS_URL, cycle_url(cycle)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"/accounts/login/?next={url}"
    response = client.post(cycle_url(cycle), {"field": "k", "k": "9", "step": "confirm", "confirm": "on"})
    assert response.status_code == 302
    assert Cycle.objects.get(pk=cycle.pk).k == 5


def test_an_unknown_or_malformed_cycle_is_404_for_hr(hr_client, cycle):
    assert hr_client.get("/programme/settings/cycles/2031-01/").status_code == 404
    assert hr_client.get("/programme/settings/cycles/october/").status_code == 404


# --- the organisation's settings ---------------------------------------------------------------


def test_the_page_shows_the_current_settings_and_the_cycles(hr_client, cycle):
    response = hr_client.get(SETTINGS_URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="anonymity_threshold" value="5"' in page
    assert 'name="hourly_cost" value="75.00"' in page
    assert '<label for="id_anonymity_threshold">' in page
    assert "never lowered (ANONYMITY R3)" in page
    assert cycle_url(cycle) in page


@pytest.mark.parametrize(
    ("field", "posted", "stored", "audited_from", "audited_to"),
    [
        ("anonymity_threshold", "7", 7, 5, 7),
        ("anonymity_threshold", "3", 3, 5, 3),  # lowered: the admin allows it for future cycles
        ("comment_threshold", "12", 12, 10, 12),
        ("comment_threshold", "6", 6, 10, 6),
        ("engineers_see_team_report", None, False, True, False),  # unticked
        ("hourly_cost", "80.50", Decimal("80.50"), "75.00", "80.50"),
        ("hourly_cost", "0", Decimal("0.00"), "75.00", "0"),
        ("currency", "usd", "USD", "EUR", "USD"),
        ("pilot_cutoff", "5.5", Decimal("5.5"), "5.0", "5.5"),
    ],
)
def test_each_setting_is_saved_and_audited(hr_client, field, posted, stored, audited_from, audited_to):
    before = organisation_values()
    response = hr_client.post(SETTINGS_URL, organisation_data(**{field: posted}))
    assert response.status_code == 302 and response["Location"] == SETTINGS_URL
    after = organisation_values()
    assert after[field] == stored
    assert {name: value for name, value in after.items() if name != field} == {
        name: value for name, value in before.items() if name != field
    }
    event = AuditEvent.objects.get()
    expected_action = "organisation_k_changed" if field == "anonymity_threshold" else "organisation_setting_changed"
    assert (event.actor, event.action) == (HR_EMAIL, expected_action)
    assert event.detail == {"field": field, "from": audited_from, "to": audited_to}
    followed = hr_client.get(SETTINGS_URL).content.decode()
    assert "changed from" in followed


def test_several_changes_are_audited_one_event_each(hr_client):
    hr_client.post(SETTINGS_URL, organisation_data(anonymity_threshold="6", currency="GBP"))
    assert sorted(AuditEvent.objects.values_list("detail__field", flat=True)) == ["anonymity_threshold", "currency"]


def test_saving_the_same_values_changes_and_records_nothing(hr_client):
    response = hr_client.post(SETTINGS_URL, organisation_data(), follow=True)
    assert "Nothing changed" in response.content.decode()
    assert not AuditEvent.objects.exists()


def test_a_lower_default_does_not_touch_an_opened_cycle(hr_client, cycle):
    hr_client.post(SETTINGS_URL, organisation_data(anonymity_threshold="3", comment_threshold="3"))
    assert Organisation.current().anonymity_threshold == 3
    cycle.refresh_from_db()
    assert (cycle.k, cycle.comment_threshold) == (5, 10)  # frozen when it opened (R3)


@pytest.mark.parametrize(
    ("field", "posted", "message"),
    [
        ("anonymity_threshold", "2", "The anonymity threshold k must be between 3 and 10; enter a value from 3 to 10."),
        (
            "anonymity_threshold",
            "11",
            "The anonymity threshold k must be between 3 and 10; enter a value from 3 to 10.",
        ),
        ("anonymity_threshold", "five", "The anonymity threshold k must be a whole number from 3 to 10, such as 5."),
        ("anonymity_threshold", "5.5", "The anonymity threshold k must be a whole number from 3 to 10, such as 5."),
        ("anonymity_threshold", "", "Enter the anonymity threshold k: a whole number from 3 to 10."),
        (
            "comment_threshold",
            "2",
            f"The comment threshold must be between {COMMENT_THRESHOLD_MIN} and {COMMENT_THRESHOLD_MAX}; "
            f"enter a value from {COMMENT_THRESHOLD_MIN} to {COMMENT_THRESHOLD_MAX}.",
        ),
        ("comment_threshold", "ten", "The comment threshold must be a whole number from 3 to 50, such as 10."),
        ("hourly_cost", "-1", "The hourly cost cannot be negative; enter 0 or more, such as 75."),
        ("hourly_cost", "75.555", "The hourly cost takes at most 2 decimals; round it, for example to 75.50."),
        ("hourly_cost", "lots", "The hourly cost must be a number such as 75 or 75.50 (a dot before the cents)."),
        ("hourly_cost", "1000000", "The hourly cost must be at most 999999.99; enter a smaller number."),
        ("currency", "E1R", "The currency is a three-letter code such as EUR, USD or GBP; enter three letters."),
        ("currency", "EURO", "The currency is a three-letter code, such as EUR; enter three letters."),
        ("pilot_cutoff", "8", "The Pilot cut-off must be between 1.0 and 7.0; enter a value such as 5.0."),
        ("pilot_cutoff", "5.25", "The Pilot cut-off takes one decimal; round it, for example to 5.5."),
        ("pilot_cutoff", "high", "The Pilot cut-off must be a number from 1.0 to 7.0, such as 5.0."),
    ],
)
def test_bad_input_is_a_form_error_naming_the_field_and_nothing_is_saved(hr_client, field, posted, message):
    before = organisation_values()
    # With a valid change beside it: the whole form is refused, not just the bad field.
    other = "comment_threshold" if field != "comment_threshold" else "anonymity_threshold"
    response = hr_client.post(SETTINGS_URL, organisation_data(**{field: posted, other: "9"}))
    assert response.status_code == 400
    assert response.context["form"].errors == {field: [message]}
    page = response.content.decode()
    assert "The settings were not saved" in page
    assert f'href="#id_{field}"' in page  # the summary links to the field
    assert 'aria-invalid="true"' in page
    assert organisation_values() == before
    assert not AuditEvent.objects.exists()


# --- a cycle's thresholds -------------------------------------------------------------------


def test_the_cycle_page_shows_the_values_and_why_they_only_go_up(hr_client, cycle):
    page = hr_client.get(cycle_url(cycle)).content.decode()
    assert "<dt>Anonymity threshold k</dt><dd>5</dd>" in page
    assert "<dt>Comment threshold</dt><dd>10</dd>" in page
    assert "can be raised but never lowered (ANONYMITY R3)" in page
    assert '<label for="id_k">' in page and '<label for="id_comment_threshold">' in page


def test_step_one_asks_for_confirmation_and_saves_nothing(hr_client, cycle):
    response = hr_client.post(cycle_url(cycle), {"field": "k", "k": "7"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "from 5 to 7?" in page
    assert 'name="step" value="confirm"' in page and 'name="k" value="7"' in page
    assert Cycle.objects.get(pk=cycle.pk).k == 5
    assert not AuditEvent.objects.exists()


def test_confirming_without_the_box_asks_again_and_saves_nothing(hr_client, cycle):
    response = hr_client.post(cycle_url(cycle), {"field": "k", "k": "7", "step": "confirm"})
    assert response.status_code == 400
    assert "Tick the box to confirm raising the anonymity threshold k" in response.content.decode()
    assert 'href="#id_confirm"' in response.content.decode()
    assert Cycle.objects.get(pk=cycle.pk).k == 5


def test_a_confirmed_k_raise_goes_through_the_service(hr_client, cycle, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = hr_client.post(cycle_url(cycle), {"field": "k", "k": "7", "step": "confirm", "confirm": "on"})
    assert response.status_code == 302 and response["Location"] == cycle_url(cycle)
    assert Cycle.objects.get(pk=cycle.pk).k == 7
    event = AuditEvent.objects.get()
    assert (event.actor, event.action, event.detail) == (
        HR_EMAIL,
        "cycle_k_raised",
        {"cycle": "2026-10", "from": 5, "to": 7},
    )
    assert len(sent) == 1 and sent[0]["actor"] == HR_EMAIL  # the service's signal
    assert "was raised from 5 to 7" in hr_client.get(cycle_url(cycle)).content.decode()


def test_raising_a_closed_cycles_k_says_its_results_are_withheld(
    hr_client, cycle, sent, django_capture_on_commit_callbacks
):
    closed = cycle_close(cycle=cycle, today=dt.date(2026, 10, 15)).cycle
    confirm_page = hr_client.post(cycle_url(closed), {"field": "k", "k": "8"}).content.decode()
    assert "withheld everywhere until it has been re-aggregated under k = 8" in confirm_page
    with django_capture_on_commit_callbacks(execute=True):
        response = hr_client.post(
            cycle_url(closed), {"field": "k", "k": "8", "step": "confirm", "confirm": "on"}, follow=True
        )
    assert Cycle.objects.get(pk=closed.pk).k == 8
    assert "are withheld everywhere until it has been re-aggregated" in response.content.decode()
    assert len(sent) == 1 and not sent[0]["cycle"].is_open


@pytest.mark.parametrize(
    ("k", "message"),
    [
        ("4", "k can only be raised once a cycle has opened; enter 5 or more."),
        ("11", "k must be between 3 and 10; enter a value from 5 to 10."),
        ("seven", "The anonymity threshold k must be a whole number up to 10, such as 7."),
        ("", "Enter the new anonymity threshold k: a whole number up to 10."),
    ],
)
@pytest.mark.parametrize("step", [{}, {"step": "confirm", "confirm": "on"}])
def test_a_lower_equal_or_bad_k_is_refused_naming_the_field_and_nothing_is_saved(
    hr_client, cycle, sent, django_capture_on_commit_callbacks, k, message, step
):
    with django_capture_on_commit_callbacks(execute=True):
        response = hr_client.post(cycle_url(cycle), {"field": "k", "k": k, **step})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was raised" in page and 'href="#id_k"' in page
    assert response.context["forms"]["k"].errors == {"k": [message]}
    assert Cycle.objects.get(pk=cycle.pk).k == 5
    assert not AuditEvent.objects.exists() and sent == []


def test_the_current_k_is_refused_at_step_one_with_the_values_to_enter(hr_client, cycle):
    response = hr_client.post(cycle_url(cycle), {"field": "k", "k": "5"})
    assert response.status_code == 400
    assert response.context["forms"]["k"].errors == {
        "k": ["The anonymity threshold k of 2026-10 is already 5; to raise it, enter a value from 6 to 10."]
    }
    assert not AuditEvent.objects.exists()


def test_k_already_at_the_maximum_says_it_cannot_go_higher(hr_client, cycle):
    Cycle.objects.filter(pk=cycle.pk).update(k=10)
    response = hr_client.post(cycle_url(cycle), {"field": "k", "k": "10"})
    assert response.context["forms"]["k"].errors == {
        "k": ["The anonymity threshold k of 2026-10 is already 10, the highest allowed; it cannot be raised further."]
    }


def test_a_repeated_confirmation_changes_nothing_and_says_so(
    hr_client, cycle, sent, django_capture_on_commit_callbacks
):
    data = {"field": "k", "k": "7", "step": "confirm", "confirm": "on"}
    with django_capture_on_commit_callbacks(execute=True):
        hr_client.post(cycle_url(cycle), data)
        response = hr_client.post(cycle_url(cycle), data, follow=True)  # a double submit, or a replay
    assert "is already 7: nothing changed" in response.content.decode()
    assert Cycle.objects.get(pk=cycle.pk).k == 7
    assert AuditEvent.objects.count() == 1 and len(sent) == 1


def test_a_raise_overtaken_by_a_higher_one_is_refused_with_the_value_to_enter(hr_client, cycle):
    hr_client.post(cycle_url(cycle), {"field": "k", "k": "6"})  # step one seen at k = 5
    Cycle.objects.filter(pk=cycle.pk).update(k=8)  # another HR user raised it meanwhile
    response = hr_client.post(cycle_url(cycle), {"field": "k", "k": "6", "step": "confirm", "confirm": "on"})
    assert response.status_code == 400
    assert response.context["forms"]["k"].errors == {
        "k": ["k can only be raised once a cycle has opened; enter 8 or more."]
    }
    assert Cycle.objects.get(pk=cycle.pk).k == 8


def test_a_confirmed_comment_threshold_raise_is_saved_and_audited(hr_client, cycle, sent):
    response = hr_client.post(
        cycle_url(cycle), {"field": "comment_threshold", "comment_threshold": "15", "step": "confirm", "confirm": "on"}
    )
    assert response.status_code == 302
    cycle.refresh_from_db()
    assert (cycle.k, cycle.comment_threshold) == (5, 15)
    event = AuditEvent.objects.get()
    assert (event.actor, event.action, event.detail) == (
        HR_EMAIL,
        "cycle_comment_threshold_raised",
        {"cycle": "2026-10", "from": 10, "to": 15},
    )
    assert sent == []  # the k signal is for k only


def test_a_closed_cycles_comment_threshold_raise_says_released_comments_stay(hr_client, cycle):
    closed = cycle_close(cycle=cycle, today=dt.date(2026, 10, 15)).cycle
    data = {"field": "comment_threshold", "comment_threshold": "12", "step": "confirm", "confirm": "on"}
    response = hr_client.post(cycle_url(closed), data, follow=True)
    assert Cycle.objects.get(pk=closed.pk).comment_threshold == 12
    assert "are taken down until they have been listed again" in response.content.decode()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("9", "The comment threshold can only be raised once a cycle has opened; enter 10 or more."),
        ("10", "The comment threshold of 2026-10 is already 10; to raise it, enter a value from 11 to 50."),
        ("51", "The comment threshold must be between 3 and 50; enter a value from 10 to 50."),
        ("many", "The comment threshold must be a whole number up to 50, such as 12."),
    ],
)
def test_a_lower_equal_or_bad_comment_threshold_is_refused_and_nothing_is_saved(hr_client, cycle, value, message):
    response = hr_client.post(cycle_url(cycle), {"field": "comment_threshold", "comment_threshold": value})
    assert response.status_code == 400
    assert response.context["forms"]["comment_threshold"].errors == {"comment_threshold": [message]}
    assert 'href="#id_comment_threshold"' in response.content.decode()
    assert Cycle.objects.get(pk=cycle.pk).comment_threshold == 10
    assert not AuditEvent.objects.exists()


def test_an_unknown_field_is_refused(hr_client, cycle):
    response = hr_client.post(cycle_url(cycle), {"field": "pilot_cutoff", "pilot_cutoff": "1.0"})
    assert response.status_code == 400
    assert Cycle.objects.get(pk=cycle.pk).pilot_cutoff == Decimal("5.0")


# --- the comment threshold service ----------------------------------------------------------


def test_the_service_raises_audits_and_is_idempotent(cycle):
    raised = cycle_comment_threshold_raise(cycle=cycle, comment_threshold=12, actor="close_cycle")
    assert raised.comment_threshold == 12 == Cycle.objects.get(pk=cycle.pk).comment_threshold
    again = cycle_comment_threshold_raise(cycle=cycle, comment_threshold=12, actor="close_cycle")
    assert again.comment_threshold == 12
    assert AuditEvent.objects.count() == 1


def test_the_service_checks_the_stored_value_not_the_callers_copy(cycle):
    Cycle.objects.filter(pk=cycle.pk).update(comment_threshold=20)  # cycle still says 10
    with pytest.raises(ValidationError) as refused:
        cycle_comment_threshold_raise(cycle=cycle, comment_threshold=15, actor="hr@example.com")
    assert refused.value.message_dict == {
        "comment_threshold": ["The comment threshold can only be raised once a cycle has opened; enter 20 or more."]
    }
    assert Cycle.objects.get(pk=cycle.pk).comment_threshold == 20


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("12", "The comment threshold must be a whole number from 3 to 50; got '12'."),
        (True, "The comment threshold must be a whole number from 3 to 50; got True."),
        (2, "The comment threshold must be between 3 and 50; enter a value from 10 to 50."),
        (9, "The comment threshold can only be raised once a cycle has opened; enter 10 or more."),
    ],
)
def test_the_service_refuses_and_saves_nothing(cycle, value, message):
    with pytest.raises(ValidationError) as refused:
        cycle_comment_threshold_raise(cycle=cycle, comment_threshold=value, actor="hr@example.com")  # type: ignore[arg-type]
    assert refused.value.message_dict == {"comment_threshold": [message]}
    assert Cycle.objects.get(pk=cycle.pk).comment_threshold == 10
    assert not AuditEvent.objects.exists()


def test_the_service_needs_an_actor(cycle):
    with pytest.raises(ValueError, match="actor"):
        cycle_comment_threshold_raise(cycle=cycle, comment_threshold=12, actor=" ")


def test_the_comment_threshold_range_is_the_organisations():
    assert (COMMENT_THRESHOLD_MIN, COMMENT_THRESHOLD_MAX) == (3, 50)
