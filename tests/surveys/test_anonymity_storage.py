"""ANONYMITY R1 (no link), R2 (one answer per invitation, hashed tokens), R6/R9 (no side doors)."""

import threading
import uuid

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import close_old_connections, models

from surveys.anonymous.models import Answer, Comment, Response
from surveys.models import Cycle, InstrumentVersion, Invitation, Team
from surveys.services.cycles import cycle_open
from surveys.submission import SubmissionRefused, response_submit
from tests.surveys.helpers import FULL_ANSWERS, team_with_people

ANONYMOUS_MODELS = list(apps.get_app_config("anonymous").get_models())
ALLOWED_TARGETS = {Cycle, Team, InstrumentVersion, Response}
TIME_FIELDS = (models.DateField, models.DateTimeField, models.TimeField, models.DurationField)


def test_the_anonymous_app_holds_responses_answers_and_comments():
    assert set(ANONYMOUS_MODELS) == {Response, Answer, Comment}


@pytest.mark.parametrize("model", ANONYMOUS_MODELS, ids=lambda m: m.__name__)
def test_anonymous_rows_have_random_keys_and_no_link_or_time(model):
    pk = model._meta.pk
    assert isinstance(pk, models.UUIDField) and pk.default is uuid.uuid4
    for field in model._meta.get_fields():
        assert not isinstance(field, TIME_FIELDS), f"{model.__name__}.{field.name} stores a time"
        assert not isinstance(field, models.AutoField | models.BigAutoField), "sequential ids line up with the log"
        if field.is_relation and field.many_to_one:
            assert field.related_model in ALLOWED_TARGETS, (
                f"{model.__name__}.{field.name} links to {field.related_model}"
            )
        lowered = field.name.lower()
        assert not any(word in lowered for word in ("person", "user", "invit", "token", "email", "created", "ip"))
    assert not model._meta.ordering  # nothing is ordered by insertion


def test_invitation_log_records_no_time_of_answering():
    fields = {field.name: field for field in Invitation._meta.get_fields()}
    assert not any(isinstance(field, TIME_FIELDS) for field in fields.values())
    assert "token" not in fields and "token_hash" in fields


def test_admin_offers_no_way_to_list_or_read_responses():
    registered = set(admin.site._registry)
    assert not registered & set(ANONYMOUS_MODELS)


@pytest.mark.django_db
def test_admin_pages_load_and_k_cannot_be_lowered(admin_client):
    team_with_people("Core", 5)
    cycle = cycle_open(send_mail=False).cycle
    for url in ("/admin/", "/admin/surveys/cycle/", "/admin/surveys/person/", "/admin/surveys/team/"):
        assert admin_client.get(url).status_code == 200
    assert admin_client.get("/admin/anonymous/response/").status_code == 404
    page = admin_client.post(f"/admin/surveys/cycle/{cycle.pk}/change/", {"k": 3, "closes_on": cycle.closes_on})
    assert page.status_code == 200 and "k can only be raised" in page.content.decode()
    cycle.refresh_from_db()
    assert cycle.k == 5
    page = admin_client.post(f"/admin/surveys/cycle/{cycle.pk}/change/", {"k": 7, "closes_on": cycle.closes_on})
    assert page.status_code == 302
    cycle.refresh_from_db()
    assert cycle.k == 7


@pytest.mark.django_db
def test_a_response_carries_only_cycle_team_and_instrument():
    team = team_with_people("Core", 5)
    links = cycle_open(send_mail=False).links
    response_submit(token=links[0].token, raw_answers=FULL_ANSWERS)
    row = Response.objects.values().get()
    assert set(row) == {"id", "cycle_id", "team_id", "instrument_version_id"}
    assert row["team_id"] == team.pk
    assert uuid.UUID(str(row["id"])).version == 4


@pytest.mark.django_db
def test_second_submission_of_a_token_is_refused():
    team_with_people("Core", 5)
    token = cycle_open(send_mail=False).links[0].token
    response_submit(token=token, raw_answers=FULL_ANSWERS)
    with pytest.raises(SubmissionRefused):
        response_submit(token=token, raw_answers=FULL_ANSWERS)
    assert Response.objects.count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_submissions_of_one_token_store_exactly_one_response(require_postgres):
    """Two threads, two database connections, one token: the row lock lets exactly one win."""
    team_with_people("Core", 5)
    token = cycle_open(send_mail=False).links[0].token
    attempts = 8
    barrier = threading.Barrier(attempts)
    outcomes: list[str] = []

    def submit() -> None:
        try:
            barrier.wait()
            response_submit(token=token, raw_answers=FULL_ANSWERS)
            outcomes.append("stored")
        except SubmissionRefused as refused:
            outcomes.append(refused.state.value)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=submit) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["answered"] * (attempts - 1) + ["stored"]
    assert Response.objects.count() == 1
    assert Invitation.objects.get(token_hash__isnull=False, status="answered")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_close_rewrites_rows_in_one_transaction_with_new_physical_identity(require_postgres):
    """On PostgreSQL a consumed invitation and its response share xmin; after close they do not."""
    from django.db import connection

    from surveys.closing import cycle_close

    team_with_people("Core", 5)
    result = cycle_open(send_mail=False)
    for link in result.links:
        response_submit(token=link.token, raw_answers=FULL_ANSWERS)

    def xmins(table: str) -> set[str]:
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT xmin::text FROM "{table}"')  # noqa: S608 - fixed table names
            return {row[0] for row in cursor.fetchall()}

    response_table = Response._meta.db_table
    invitation_xmins = xmins(Invitation._meta.db_table)
    assert xmins(response_table) <= invitation_xmins  # the link R1 warns about, while open
    cycle_close(cycle=result.cycle)
    after = xmins(response_table)
    assert len(after) == 1  # every row rewritten in one transaction
    assert not after & invitation_xmins
    assert after == xmins(Answer._meta.db_table)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_leaver_deactivated_in_admin_loses_their_open_link(admin_client):
    team_with_people("Core", 5)
    link = cycle_open(send_mail=False).links[0]
    from surveys.models import Person

    person = Person.objects.get(email=link.person_email)
    page = admin_client.post(
        f"/admin/surveys/person/{person.pk}/change/",
        {"email": person.email, "name": person.name, "team": person.team_id, "role": "engineer"},
    )
    assert page.status_code == 302, page.content.decode()[:2000]
    assert Invitation.objects.get(person=person).status == Invitation.Status.VOID
