"""Fuzzing the roster upload form's own fields (surveys/programme/roster_views.py): the file field
given no file, text instead of a file, or two files; the deactivate box; the preview id that
the preview page posts back to preview again or to apply. The file's contents, its encodings and
its cells are tests/hostile/roster's.

Properties: never a 5xx; an upload is previewed (a dry run) or refused with the form's messages,
and either way nothing is stored; a preview id that is not the one this session was shown is
refused with a message and changes nothing; the one it was shown applies the file."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import assume, given
from hypothesis import strategies as st

from surveys.models import AuditEvent, Invitation, Person, Team
from tests.hostile.forms.fuzzing import assert_not_server_error, fuzz, judge_post, rolled_back
from tests.hostile.forms.strategies import hostile_text, salted, ticks
from tests.surveys.helpers import team_with_people

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

ROSTER = (
    "email,name,team,role,manages\n"
    "ana@example.com,Ana Lima,Engineering/Core,engineer,\n"
    "bo@example.com,Bo Ek,Engineering/Core,manager,Engineering/Core\n"
)


def roster_state() -> tuple[object, ...]:
    return (
        tuple(Person.objects.order_by("email").values_list("email", "name", "team_id", "role", "is_active")),
        tuple(Team.objects.order_by("pk").values_list("pk", "name", "parent_id")),
        Invitation.objects.count(),
        AuditEvent.objects.count(),
        len(mail.outbox),
    )


def a_file(name: str = "roster.csv", text: str = ROSTER) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), "text/csv")


@pytest.fixture
def old_team(require_postgres) -> None:
    team_with_people("Old", 2)  # people the deactivate box would stop inviting


files = st.sampled_from(["none", "valid", "text-not-a-file", "two-files", "hostile-name"])


@fuzz(max_examples=60)
@given(
    shape=files,
    deactivate=st.one_of(st.none(), ticks()),
    preview=st.one_of(st.none(), hostile_text(30)),
    name=hostile_text(30),
)
def test_an_upload_is_a_dry_run_preview_or_the_form_with_its_messages(
    hr_client, old_team, shape, deactivate, preview, name
):
    data: dict[str, object] = {}
    if shape == "valid":
        data["file"] = a_file()
    elif shape == "text-not-a-file":
        data["file"] = ROSTER
    elif shape == "two-files":
        data["file"] = [a_file(), a_file("other.csv", "not,a,roster\n")]
    elif shape == "hostile-name":
        try:
            data["file"] = a_file(name=f"{name}.csv")
        except SuspiciousFileOperation:  # a name the test client itself cannot send ("/.csv")
            assume(False)
    if deactivate is not None:
        data["deactivate_missing"] = deactivate
    if preview is not None:
        data["preview"] = preview
    with rolled_back(hr_client):
        before = roster_state()
        response = hr_client.post(reverse("programme:roster"), data)
        # A preview (200) is a dry run: it stores nothing either.
        judge_post(response, before=before, after=roster_state(), accepted=(200,))
        assert roster_state() == before


@fuzz(max_examples=50)
@given(data=st.data())
def test_only_the_preview_id_this_session_was_shown_applies_the_file(hr_client, old_team, data):
    with rolled_back(hr_client):
        before = roster_state()
        shown = hr_client.post(reverse("programme:roster"), {"file": a_file()})
        assert shown.status_code == 200
        real = shown.context["preview_id"]
        posted = data.draw(
            st.one_of(
                st.sampled_from(["", real.upper(), real[:-1], real + "=", f" {real}", "\u00e9" + real[1:]]),
                salted(real),
                hostile_text(40),
                st.just(real),
            ),
            label="posted",
        )
        where = data.draw(st.sampled_from(["programme:roster", "programme:roster_apply"]), label="where")
        extra = data.draw(st.sampled_from([{}, {"deactivate_missing": "on"}, {"deactivate_missing": "\x00"}]))
        response = hr_client.post(reverse(where), {"preview": posted, **extra})
        assert_not_server_error(response)
        if posted != real:
            # Refused whichever page it went to: the form again, saying there is no such preview
            # (an empty id on the upload page is an upload without a file: the file field says so).
            judge_post(response, before=before, after=roster_state())
            assert response.status_code == 400
            if posted or where == "programme:roster_apply":
                assert "There is no preview to apply" in response.content.decode()
        elif where == "programme:roster":
            assert response.status_code == 200 and roster_state() == before  # previewed again
        else:
            judge_post(response, before=before, after=roster_state())
            assert response.status_code == 302
            assert Person.objects.filter(email__in=["ana@example.com", "bo@example.com"]).count() == 2
