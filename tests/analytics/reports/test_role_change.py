"""A role change takes effect at once (issue 9): the viewer is read from the roster on every
request, so a demoted manager's open session, their API token and a demoted HR user's export
link stop working with the next request, without signing out."""

from __future__ import annotations

import pytest
from django.urls import reverse
from knox.models import AuthToken

from analytics.exports.models import ExportJob
from surveys.models import Person, Role

pytestmark = pytest.mark.django_db


def demote(person: Person) -> None:
    person.managed_teams.clear()
    Person.objects.filter(pk=person.pk).update(role=Role.ENGINEER)


def test_a_demoted_managers_session_and_token_lose_their_teams_at_once(client, reported):
    org = reported.org
    manager = reported.viewers["eng_manager"]
    _, token = AuthToken.objects.create(user=manager.user)
    alpha = reverse("reports:unit", kwargs={"unit_id": org.id("Engineering/Alpha")})
    cells = f"/api/v1/cells/?unit={org.id('Engineering/Alpha')}"
    client.force_login(manager.user)
    assert client.get(alpha).status_code == 200
    assert client.get(reverse("reports:my_teams")).status_code == 200
    assert client.get(cells, HTTP_AUTHORIZATION=f"Token {token}").status_code == 200

    demote(manager)  # sits on Engineering/Beta: Alpha is no longer theirs
    assert client.get(alpha).status_code == 404  # the same session, next request
    assert client.get(reverse("reports:my_teams")).status_code == 404
    assert client.get(cells, HTTP_AUTHORIZATION=f"Token {token}").status_code == 404
    own = reverse("reports:unit", kwargs={"unit_id": org.id("Engineering/Beta")})
    assert client.get(own).status_code == 200  # their own team stays theirs


def test_a_demoted_hr_users_export_link_stops_working(
    client, reported, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    hr = reported.viewers["hr"]
    client.force_login(hr.user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("exports:home"), {"format": "csv", "cycle": ""})
    job = ExportJob.objects.get()
    link = reverse("exports:download", args=[job.pk])
    assert client.get(link).status_code == 200
    Person.objects.filter(pk=hr.pk).update(role=Role.ENGINEER)
    assert client.get(link).status_code == 404
    assert client.get(reverse("reports:overview")).status_code == 404
