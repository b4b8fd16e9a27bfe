"""Fuzzing HR's export form (analytics/exports/forms.py, views.py) and the API token page's two
forms, make and revoke (analytics/api/tokens.py).

Properties: never a 5xx; a refused export is the form again (400) with its messages at their
fields, quoting back no hostile value, and no job or audit event; a revoke that names no token of
the signed-in person is a 404 that deletes nothing; a valid one deletes that token only."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st
from knox.models import AuthToken

from analytics.exports.models import ExportJob
from analytics.job.run import aggregate_cycle
from surveys.models import AuditEvent, Role
from tests.analytics.builders import MARCH, cycle_run, org_build, standard_answers
from tests.factories import PersonFactory
from tests.hostile.forms.fuzzing import assert_not_server_error, fuzz, judge_post, post, rolled_back
from tests.hostile.forms.strategies import form_pairs, hostile_text, salted

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture(scope="module")
def march(postgres_for_module, django_db_setup, django_db_blocker) -> str:
    """One aggregated cycle to export, built once for the module inside a transaction rolled back
    at its end; each test runs in a savepoint of it."""
    with django_db_blocker.unblock(), transaction.atomic():
        org = org_build()
        cycle = cycle_run(org, standard_answers(org), month=MARCH).cycle
        aggregate_cycle(cycle=cycle)
        yield cycle.label
        transaction.set_rollback(True)


def export_state() -> tuple[int, int]:
    return ExportJob.objects.count(), AuditEvent.objects.count()


@fuzz(max_examples=60)
@given(data=st.data())
def test_an_export_starts_once_or_the_form_says_which_field_to_fix(hr_client, march, data):
    valid = {"format": data.draw(st.sampled_from(["csv", "xlsx", "parquet"]), label="format"), "cycle": march}
    hostile = {
        "format": st.one_of(st.sampled_from(["pdf", "CSV", "csv\x00", " csv", "xlsx\u202e"]), hostile_text(30)),
        "cycle": st.one_of(
            st.sampled_from(["2025-01", "2026-3", "2026-03\x00", " 2026-03"]), salted(march), hostile_text(30)
        ),
    }
    pairs = data.draw(form_pairs(valid, hostile), label="pairs")
    with rolled_back(hr_client):
        before = export_state()
        response = post(
            hr_client, reverse("exports:home"), pairs, multipart=data.draw(st.booleans(), label="multipart")
        )
        if judge_post(response, before=before, after=export_state()):
            assert export_state() == (before[0] + 1, before[1] + 1)  # one job, audited once
            job = ExportJob.objects.order_by("-pk").first()
            assert job is not None and job.format in ("csv", "xlsx", "parquet")


def test_a_short_plain_refused_value_is_quoted_back_and_a_hostile_one_is_not(hr_client, march):
    """What a typo or an old bookmark sends is named, so the reader sees what went wrong; a long
    value or one with a direction override is not repeated (it would reorder the sentence)."""
    plain = hr_client.post(reverse("exports:home"), {"format": "pdf", "cycle": march})
    assert "Format: pdf is not a format we export" in plain.content.decode()
    hostile = hr_client.post(reverse("exports:home"), {"format": "\u202efdp", "cycle": "x" * 200})
    assert hostile.status_code == 400
    assert hostile.context["form"].errors == {
        "format": ["Format: that is not a format we export; choose CSV, Excel or Parquet."],
        "cycle": ["Cycle: that is not a published cycle; choose one from the list, or All published cycles."],
    }


# --- API tokens -------------------------------------------------------------------------------------


@pytest.fixture
def holder(client, require_postgres):
    """A signed-in engineer with one token, and another person's token beside it."""
    person = PersonFactory(role=Role.ENGINEER)
    other = PersonFactory(role=Role.ENGINEER)
    own, _ = AuthToken.objects.create(user=person.user)
    theirs, _ = AuthToken.objects.create(user=other.user)
    client.force_login(person.user)
    return client, own.digest, theirs.digest


def tokens_state() -> tuple[str, ...]:
    return tuple(AuthToken.objects.order_by("digest").values_list("digest", flat=True))


@fuzz(max_examples=50)
@given(data=st.data())
def test_a_revoke_deletes_the_named_own_token_or_nothing(holder, data):
    client, own, theirs = holder
    digest = data.draw(
        st.one_of(
            st.sampled_from([own, theirs, own.upper(), own[:-1], own + "0", f" {own}", "", own[:8]]),
            salted(own),
            hostile_text(60),
        ),
        label="digest",
    )
    with rolled_back(client):
        before = tokens_state()
        response = post(client, reverse("api:token_revoke"), [("digest", digest)], multipart=data.draw(st.booleans()))
        assert_not_server_error(response)
        if digest == own:
            assert response.status_code == 302 and tokens_state() == tuple(d for d in before if d != own)
        else:  # another's, damaged or hostile: the same 404, nothing deleted
            assert response.status_code == 404 and tokens_state() == before


@fuzz(max_examples=15)
@given(pairs=st.lists(st.tuples(hostile_text(12), hostile_text(30)), max_size=3), multipart=st.booleans())
def test_making_a_token_reads_no_field_so_no_field_can_break_it(holder, pairs, multipart):
    client, _, _ = holder
    with rolled_back(client):
        before = len(tokens_state())
        response = post(client, reverse("api:token_create"), pairs, multipart=multipart)
        assert response.status_code == 201 and len(tokens_state()) == before + 1
