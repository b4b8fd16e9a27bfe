"""Every page of the site, asked with hostile query strings and path values by HR, a manager and
an engineer: never a 5xx. The routes and their valid requests are the permission matrix's
(tests/permission_table.py), so a new page is fuzzed as soon as it is listed there.

Query keys are every key a page reads (``cycle``, ``sort``, ``dir``, ``page``, ``metric`` and
the audit filter's) plus the case's own; each hostile value is sent for all of them at once, as a
raw query string, so that bytes a browser would never send (a NUL, broken UTF-8 percent-escapes)
reach Django as they would from a script.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import reverse

from tests.permission_table import ROUTES
from tests.test_permission_matrix import World, _fill

pytestmark = pytest.mark.usefixtures("require_postgres")

ROLES = ("hr", "manager", "engineer")
READ_KEYS = ("cycle", "sort", "dir", "page", "metric", "kind", "actor", "since", "until", "unit", "format")
# Raw query-string values: already percent-encoded where they must be.
HOSTILE_VALUES = {
    "nul": "%00",
    "broken-utf8": "%ED%A0%80%FF",
    "huge-int": "99999999999999999999999",
    "negative": "-1",
    "bad-month": "2026-13",
    "long": "x" * 4000,
    "direction": quote("\u202eevil"),
    "formula": quote("=1+1"),
    "sql": quote("' OR 1=1 --"),
    "empty": "",
}


def _get_routes():
    for route in ROUTES:
        if route.shadowed or route.name.startswith("admin:"):
            continue
        cases = [case for case in route.cases if case.method == "get"]
        if cases:
            yield route, cases[0]


ROUTE_CASES = list(_get_routes())


def _client(world: World, role: str) -> Client:
    client = Client()
    client.force_login(world.users[role])
    return client


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("value", list(HOSTILE_VALUES), ids=list(HOSTILE_VALUES))
def test_hostile_query_values_never_give_a_server_error(db, world: World, role: str, value: str):
    client = _client(world, role)
    failures = []
    for route, case in ROUTE_CASES:
        path = reverse(route.name, kwargs={key: _fill(raw, world.refs) for key, raw in case.kwargs.items()})
        keys = dict.fromkeys([*READ_KEYS, *case.query])
        query = "&".join(f"{key}={HOSTILE_VALUES[value]}" for key in keys)
        response = client.get(f"{path}?{query}")
        if response.status_code >= 500:
            failures.append(f"GET {path}?{query[:80]} -> {response.status_code}")
    assert not failures, "\n".join(failures)


def test_repeated_and_unknown_keys_never_give_a_server_error(db, world: World):
    client = _client(world, "hr")
    failures = []
    for route, case in ROUTE_CASES:
        path = reverse(route.name, kwargs={key: _fill(raw, world.refs) for key, raw in case.kwargs.items()})
        query = "cycle=2026-04&cycle=2026-05&sort=&sort=x&page=2&page=x&zzz=1&" + "&".join(
            f"{key}[]={_fill(raw, world.refs)}" for key, raw in case.query.items()
        )
        response = client.get(f"{path}?{query}")
        if response.status_code >= 500:
            failures.append(f"GET {path}?{query} -> {response.status_code}")
    assert not failures, "\n".join(failures)


STR_PATH_VALUES = ("%00", "%ED%A0%80", "9" * 40, "..%2F..%2Fetc", quote("\u202e"), "2026-00", "-")


@pytest.mark.parametrize("role", ("anonymous", "hr"))
def test_hostile_path_values_never_give_a_server_error(db, world: World, role: str):
    """Routes whose URL takes a free string (a survey token, a cycle label): a value no row has
    is never a 5xx (signed out, most answer with the login redirect before looking). UUID and integer converters refuse
    other values before any view runs, so they are left to the resolver."""
    client = Client()
    if role != "anonymous":
        client.force_login(world.users[role])
    failures = []
    for route, case in ROUTE_CASES:
        if not case.kwargs or "<str:" not in route.path and "<slug:" not in route.path:
            continue
        for hostile in STR_PATH_VALUES:
            path = route.path
            for key in case.kwargs:
                for converter in ("str", "slug"):
                    path = path.replace(f"<{converter}:{key}>", hostile)
            path = "/" + path if not path.startswith("/") else path
            if "<" in path:  # another converter's kwarg: fill it as the matrix does
                path = reverse(route.name, kwargs={key: _fill(raw, world.refs) for key, raw in case.kwargs.items()})
            response = client.get(path)
            if response.status_code >= 500:
                failures.append(f"GET {path} as {role} -> {response.status_code}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("cookie", ['"' + "\\000" * 32 + '"', "x" * 4000, "%ED%A0%80", '"\\377\\376"'])
def test_a_malformed_session_cookie_is_no_session_not_a_server_error(db, world: World, cookie: str):
    """A cookie is client input: one PostgreSQL cannot look up (a NUL) reads as signed out."""
    client = Client()
    failures = []
    for route, case in ROUTE_CASES:
        path = reverse(route.name, kwargs={key: _fill(raw, world.refs) for key, raw in case.kwargs.items()})
        response = client.get(path, headers={"Cookie": f"sessionid={cookie}"})
        if response.status_code >= 500:
            failures.append(f"GET {path} with sessionid={cookie[:20]} -> {response.status_code}")
    assert not failures, "\n".join(failures)
    assert client.get(reverse("reports:my_teams"), headers={"Cookie": f"sessionid={cookie}"}).status_code == 302
