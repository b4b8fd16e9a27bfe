"""The submit path stays lean without giving up ANONYMITY R2: one locked lookup, the instrument
parsed once per process and version, one write per table; replays and double submits still
store nothing more. Behaviour and query counts only: timing lives in bench/load_submit.py."""

from __future__ import annotations

import threading

import pytest
from django.db import close_old_connections, connection
from django.test import Client
from django.urls import reverse

import surveys.selectors
from surveys.anonymous.models import Answer, Comment, Response
from surveys.instrument import Instrument, load_definition
from surveys.models import Invitation, Person
from surveys.selectors import instrument_for_version
from surveys.services.cycles import cycle_open
from surveys.submission import SubmissionRefused, response_submit
from tests.surveys.helpers import FULL_ANSWERS, team_with_people

pytestmark = pytest.mark.django_db

# SAVEPOINT (the test's transaction stands in for BEGIN), the locked lookup, the invitation
# UPDATE, the response, its answers (one INSERT), the comment, RELEASE (for COMMIT).
SUBMIT_QUERIES = 7


@pytest.fixture(autouse=True)
def _cold_instrument_cache():
    instrument_for_version.cache_clear()
    yield
    instrument_for_version.cache_clear()


@pytest.fixture
def tokens() -> list[str]:
    team_with_people("Core", 6)
    Person.objects.filter(email="core-5@example.com").update(role="manager")
    return [link.token for link in cycle_open(send_mail=False).links]


def url(token: str) -> str:
    return reverse("survey", kwargs={"token": token})


def test_a_submission_is_one_locked_lookup_and_one_write_per_table(client, tokens, django_assert_max_num_queries):
    client.get(url(tokens[1]))  # a running site has parsed the instrument long before
    with django_assert_max_num_queries(SUBMIT_QUERIES) as captured:
        done = client.post(url(tokens[0]), {**FULL_ANSWERS, "action": "submit"})
    assert done.status_code == 302
    sql = [query["sql"] for query in captured.captured_queries]
    lookups = [statement for statement in sql if statement.lstrip().startswith("SELECT")]
    assert len(lookups) == 1 and "surveys_invitation AS i" in lookups[0]
    if connection.features.has_select_for_update_of:  # PostgreSQL: the invitation row, and it alone
        assert lookups[0].rstrip().endswith("FOR UPDATE OF i")
    # The lookup reads the narrow row, never the instrument's definition (a 12 KB JSON).
    assert not any("definition" in statement or "surveys_instrumentversion" in statement for statement in sql)
    assert sum(statement.startswith(f'INSERT INTO "{Answer._meta.db_table}"') for statement in sql) == 1
    assert (Response.objects.count(), Comment.objects.count()) == (1, 1)
    assert Answer.objects.count() == len(Instrument(load_definition(1)).clean(FULL_ANSWERS, is_manager=False).values)


def test_the_service_alone_makes_the_same_few_queries(tokens, django_assert_max_num_queries):
    response_submit(token=tokens[1], raw_answers=FULL_ANSWERS)  # warms the instrument cache
    with django_assert_max_num_queries(SUBMIT_QUERIES):
        response_submit(token=tokens[0], raw_answers=FULL_ANSWERS)
    assert Response.objects.count() == 2
    assert Invitation.objects.filter(status="answered").count() == 2


def test_the_instrument_is_read_and_parsed_once_per_process_and_version(client, tokens, monkeypatch):
    parsed: list[int] = []

    class CountingInstrument(Instrument):
        def __init__(self, definition):  # type: ignore[no-untyped-def]
            parsed.append(int(definition["version"]))
            super().__init__(definition)

    monkeypatch.setattr(surveys.selectors, "Instrument", CountingInstrument)
    for token in tokens[:3]:
        assert client.get(url(token)).status_code == 200
        assert client.post(url(token), {**FULL_ANSWERS, "action": "next"}).status_code == 200
        assert client.post(url(token), {**FULL_ANSWERS, "action": "submit"}).status_code == 302
    response_submit(token=tokens[3], raw_answers=FULL_ANSWERS)
    assert parsed == [1]
    assert Response.objects.count() == 4


def test_a_replayed_link_stores_nothing(client, tokens):
    first = client.post(url(tokens[0]), {**FULL_ANSWERS, "action": "submit"})
    again = client.post(url(tokens[0]), {**FULL_ANSWERS, "action": "submit"})
    assert (first.status_code, again.status_code) == (302, 409)
    with pytest.raises(SubmissionRefused):
        response_submit(token=tokens[0], raw_answers=FULL_ANSWERS)
    assert (Response.objects.count(), Comment.objects.count()) == (1, 1)


def test_an_invalid_final_step_stores_nothing_and_shows_the_step_to_fix(client, tokens):
    page = client.post(url(tokens[0]), {**FULL_ANSWERS, "ps1": "9", "action": "submit"})
    assert page.status_code == 400
    body = page.content.decode()
    assert "Step 1 of 2" in body and 'id="ps1-error"' in body
    assert Response.objects.count() == 0
    assert Invitation.objects.filter(status="answered").count() == 0
    # The link still works: nothing was used up.
    assert client.post(url(tokens[0]), {**FULL_ANSWERS, "action": "submit"}).status_code == 302


def test_a_final_post_to_an_unknown_link_counts_as_a_failed_attempt(client, settings):
    settings.PULSE_INVALID_TOKEN_LIMIT = 2
    statuses = [client.post(url(f"not-a-link-{i}"), {**FULL_ANSWERS, "action": "submit"}).status_code for i in range(3)]
    assert statuses == [404, 404, 429]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_final_posts_of_one_link_at_once_store_one_response(require_postgres):
    """Through the view, on two connections: the row lock lets exactly one of them store."""
    team_with_people("Core", 5)
    token = cycle_open(send_mail=False).links[0].token
    attempts = 6
    barrier = threading.Barrier(attempts)
    statuses: list[int] = []

    def submit() -> None:
        try:
            barrier.wait()
            statuses.append(Client().post(url(token), {**FULL_ANSWERS, "action": "submit"}).status_code)
        finally:
            # Persistent connections (CONN_MAX_AGE) are per thread: close this one explicitly.
            connection.close()
            close_old_connections()

    threads = [threading.Thread(target=submit) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [302] + [409] * (attempts - 1)
    assert Response.objects.count() == 1 and Comment.objects.count() == 1
