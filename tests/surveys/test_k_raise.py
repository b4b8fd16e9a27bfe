"""Raising a cycle's k through one service (ANONYMITY R3: raised, never lowered, within 3-10;
R10: audited with who and when), and the admin that uses it."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from surveys.closing import cycle_close
from surveys.models import AuditEvent, Cycle
from surveys.services.cycles import cycle_open
from surveys.services.thresholds import cycle_k_raise
from surveys.signals import cycle_k_raised
from tests.surveys.helpers import team_with_people

pytestmark = pytest.mark.django_db
OCT = dt.date(2026, 10, 1)


@pytest.fixture
def cycle() -> Cycle:
    team_with_people("Core", 6)
    return cycle_open(month=OCT, today=OCT, send_mail=False).cycle  # k = 5, the default


@pytest.fixture
def sent():
    received = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    cycle_k_raised.connect(receiver, dispatch_uid="test-k-raised")
    yield received
    cycle_k_raised.disconnect(dispatch_uid="test-k-raised")


def test_a_raise_is_saved_audited_and_announced_on_commit(cycle, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        raised = cycle_k_raise(cycle=cycle, k=7, actor="hr@example.com")
        assert sent == []  # not before the commit
    assert raised.k == 7
    cycle.refresh_from_db()
    assert cycle.k == 7
    event = AuditEvent.objects.get(action="cycle_k_raised")
    assert (event.actor, event.detail) == ("hr@example.com", {"cycle": "2026-10", "from": 5, "to": 7})
    assert event.at is not None  # when
    assert len(sent) == 1 and sent[0]["cycle"].pk == cycle.pk
    assert (sent[0]["previous"], sent[0]["actor"], sent[0]["cycle"].k) == (5, "hr@example.com", 7)


def test_a_closed_cycle_can_be_raised_too(cycle, sent, django_capture_on_commit_callbacks):
    closed = cycle_close(cycle=cycle, today=dt.date(2026, 10, 15)).cycle
    with django_capture_on_commit_callbacks(execute=True):
        cycle_k_raise(cycle=closed, k=10, actor="hr@example.com")
    assert Cycle.objects.get(pk=closed.pk).k == 10
    assert len(sent) == 1 and not sent[0]["cycle"].is_open


@pytest.mark.parametrize(
    ("k", "message"),
    [
        (4, "k can only be raised once a cycle has opened; enter 5 or more."),
        (2, "k must be between 3 and 10; enter a value from 5 to 10."),
        (11, "k must be between 3 and 10; enter a value from 5 to 10."),
        ("7", "k must be a whole number from 3 to 10; got '7'."),
        (True, "k must be a whole number from 3 to 10; got True."),
        (6.5, "k must be a whole number from 3 to 10; got 6.5."),
    ],
)
def test_refused_values_name_the_field_and_the_fix_and_save_nothing(
    cycle, sent, django_capture_on_commit_callbacks, k, message
):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError) as refused:
        cycle_k_raise(cycle=cycle, k=k, actor="hr@example.com")
    assert refused.value.message_dict == {"k": [message]}
    cycle.refresh_from_db()
    assert cycle.k == 5
    assert not AuditEvent.objects.exists() and sent == []


def test_the_stored_k_is_checked_not_the_callers_copy(cycle, sent):
    """Two admins at once: the second one's stale copy (k = 5) must not let it lower the first's 8."""
    stale = Cycle.objects.get(pk=cycle.pk)
    cycle_k_raise(cycle=cycle, k=8, actor="first@example.com")
    with pytest.raises(ValidationError, match="enter 8 or more"):
        cycle_k_raise(cycle=stale, k=6, actor="second@example.com")
    assert Cycle.objects.get(pk=cycle.pk).k == 8
    assert list(AuditEvent.objects.values_list("actor", flat=True)) == ["first@example.com"]


def test_raising_to_the_same_value_changes_and_records_nothing(cycle, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert cycle_k_raise(cycle=cycle, k=5, actor="hr@example.com").k == 5
    assert not AuditEvent.objects.exists() and sent == []


def test_an_actor_is_required_for_the_audit(cycle):
    with pytest.raises(ValueError, match="needs an actor"):
        cycle_k_raise(cycle=cycle, k=7, actor=" ")
    cycle.refresh_from_db()
    assert cycle.k == 5


def test_a_failing_receiver_does_not_undo_the_raise(cycle, django_capture_on_commit_callbacks):
    def broken(sender, **kwargs):
        raise ConnectionError("broker down")

    cycle_k_raised.connect(broken, dispatch_uid="test-broken")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            cycle_k_raise(cycle=cycle, k=6, actor="hr@example.com")
    finally:
        cycle_k_raised.disconnect(dispatch_uid="test-broken")
    assert Cycle.objects.get(pk=cycle.pk).k == 6
    assert AuditEvent.objects.filter(action="cycle_k_raised").count() == 1


# --- the admin uses the service -----------------------------------------------------------------


def change(admin_client, cycle, **data):
    return admin_client.post(
        f"/admin/surveys/cycle/{cycle.pk}/change/", {"k": cycle.k, "closes_on": cycle.closes_on, **data}
    )


def test_the_admin_raises_k_through_the_service(
    admin_client, admin_user, cycle, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        page = change(admin_client, cycle, k=8)
    assert page.status_code == 302
    cycle.refresh_from_db()
    assert cycle.k == 8
    event = AuditEvent.objects.get(action="cycle_k_raised")
    assert event.actor == admin_user.email and event.detail == {"cycle": "2026-10", "from": 5, "to": 8}
    assert len(sent) == 1


def test_the_admin_shows_the_services_message_on_the_field(admin_client, cycle):
    page = change(admin_client, cycle, k=4)
    assert page.status_code == 200
    assert "k can only be raised once a cycle has opened; enter 5 or more." in page.content.decode()
    cycle.refresh_from_db()
    assert cycle.k == 5 and not AuditEvent.objects.exists()


def test_the_admin_saves_a_new_closing_date_without_touching_k(admin_client, cycle, sent):
    page = change(admin_client, cycle, closes_on="2026-10-20")
    assert page.status_code == 302
    cycle.refresh_from_db()
    assert cycle.closes_on == dt.date(2026, 10, 20) and cycle.k == 5
    assert not AuditEvent.objects.exists() and sent == []


def test_a_form_opened_before_another_raise_is_refused_whole(admin_client, cycle):
    """The page was loaded at k = 5; another admin raised k to 9 since. This save asks for 8 and a
    new closing date: the form is refused on k with the value to enter, and the date is not saved
    either (nothing half-saved)."""
    cycle_k_raise(cycle=Cycle.objects.get(pk=cycle.pk), k=9, actor="other@example.com")
    page = change(admin_client, cycle, k=8, closes_on="2026-10-20")  # `cycle` still says k = 5
    assert page.status_code == 200 and "enter 9 or more" in page.content.decode()
    cycle.refresh_from_db()
    assert cycle.k == 9 and cycle.closes_on != dt.date(2026, 10, 20)
    assert list(AuditEvent.objects.values_list("actor", flat=True)) == ["other@example.com"]
