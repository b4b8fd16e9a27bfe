"""Nothing to subtract with: unknown parameters are refused, bad values get a 400 naming the
parameter and the fix, and every error is JSON."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from analytics.published import ORGANISATION_ID
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db
ENDPOINTS = ["me", "cycles", "units", "cells", "flags", "comments"]


@pytest.fixture
def lone_hr(db):
    """HR with no pulse run yet: parameters are checked before anything is read."""
    client = Client()
    client.force_login(PersonFactory(role="hr").user)
    return client


def refused(client, url: str, param: str) -> str:
    response = client.get(url)
    assert response.status_code == 400, (url, response.content)
    assert response["Content-Type"] == "application/json"
    detail = response.json()["detail"]
    assert set(response.json()) == {"detail"}
    assert detail.startswith(f"{param}: "), detail
    return detail


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("param", ["ordering", "n", "value", "suppressed", "sort", "size", "format"])
def test_a_filter_or_ordering_parameter_is_refused_everywhere(lone_hr, endpoint, param):
    detail = refused(lone_hr, f"/api/v1/{endpoint}/?{param}=1", param)
    assert "unknown query parameter" in detail


def test_several_unknown_parameters_are_all_named(lone_hr):
    assert refused(lone_hr, "/api/v1/cells/?value=1&ordering=-n", "ordering, value")


@pytest.mark.parametrize(
    ("query", "param", "fix"),
    [
        ("since=2026-3", "since", "YYYY-MM"),
        ("until=March", "until", "YYYY-MM"),
        ("since=2026-13", "since", "YYYY-MM"),
        ("since=0000-01", "since", "YYYY-MM"),  # no year 0 in the calendar: a 400, not a 500
        ("until=0999-12", "until", "YYYY-MM"),
        ("since=2026-05&until=2026-03", "since", "swap them"),
        ("unit=Engineering", "unit", "UUID"),
        ("unit=", "unit", "leave the parameter out"),
        ("metric=psych_safety,happiness", "metric", "unknown metric 'happiness'"),
        ("metric=psych_safety,,trust", "metric", "single commas"),
        ("cursor=not-a-cursor", "cursor", "start again without it"),
        ("cursor=WyIyMDI2LTEzIiwgbnVsbCwgbnVsbF0", "cursor", "start again without it"),  # ["2026-13", null, null]
        ("cursor=WyIwMDAwLTAxIixudWxsLG51bGxd", "cursor", "start again without it"),  # ["0000-01", null, null]
        (f"unit={ORGANISATION_ID}&unit={ORGANISATION_ID}", "unit", "give it once"),
    ],
)
def test_bad_values_of_cells_name_the_parameter_and_the_fix(lone_hr, query, param, fix):
    assert fix in refused(lone_hr, f"/api/v1/cells/?{query}", param)


@pytest.mark.parametrize("endpoint", ["units", "flags", "comments"])
def test_a_bad_or_unserved_cycle_is_refused(lone_hr, endpoint):
    assert "YYYY-MM" in refused(lone_hr, f"/api/v1/{endpoint}/?cycle=26-04", "cycle")
    assert "YYYY-MM" in refused(lone_hr, f"/api/v1/{endpoint}/?cycle=0000-01", "cycle")
    assert "/api/v1/cycles/" in refused(lone_hr, f"/api/v1/{endpoint}/?cycle=2025-01", "cycle")


@pytest.mark.parametrize("endpoint", ["flags", "comments"])
def test_a_bad_unit_is_refused(lone_hr, endpoint):
    assert "UUID" in refused(lone_hr, f"/api/v1/{endpoint}/?unit=Engineering", "unit")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_unauthenticated_calls_get_401_json(db, client, endpoint):
    response = client.get(f"/api/v1/{endpoint}/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["detail"]


def test_a_path_that_is_no_endpoint_is_json_and_the_missing_slash_is_named(world, hr):
    response = hr.get("/api/v1/cells")
    assert response.status_code == 404 and "/api/v1/cells/" in response.json()["detail"]
    response = hr.get("/api/v1/raw-answers/")
    assert response.status_code == 404 and response.json()["detail"].startswith("path: no such API endpoint")


def test_a_write_is_refused_with_json(world, hr):
    response = hr.post("/api/v1/cells/", {}, content_type="application/json")
    assert response.status_code == 405  # every endpoint is a read
    assert response.json()["detail"]


def test_a_unit_that_does_not_exist_is_404_even_for_hr(world, hr):
    response = hr.get(f"/api/v1/cells/?unit={uuid.uuid4()}")
    assert response.status_code == 404 and response.json()["detail"].startswith("unit: ")
