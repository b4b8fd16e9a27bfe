"""Query strings, paths and credentials as real traffic brings them: each gets a 4xx JSON error that
names the parameter and the fix, never a 500 or the site's HTML page.

Integers past PostgreSQL's bigint, ids that are negative or zero, NUL and control characters in a
parameter, a forged pagination cursor, a path that no converter takes (a line break in an id, a
PATCH to it without a CSRF token), a token header that is not UTF-8 or holds NUL, and a session
cookie that spells NUL in quotes.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.hostile.api.conftest import World, stored

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("require_postgres")]

BIGGER_THAN_BIGINT = "99999999999999999999"
NUL_ID = "00000000-0000-0000-0000-000000000000"


def refused(response: Any, *, status: int, field: str, fix: str) -> None:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    detail = response.json()["detail"]
    assert detail.startswith(f"{field}: "), detail
    assert re.search(fix, detail), (fix, detail)


def cursor(*position: Any) -> str:
    """A cursor in the door's encoding (base64 of a JSON list), forged."""
    return base64.urlsafe_b64encode(json.dumps(list(position)).encode()).decode().rstrip("=")


QUERIES = [
    ("/api/v1/units/", f"cycle={BIGGER_THAN_BIGINT}", "cycle", "is not a month; write it as YYYY-MM"),
    ("/api/v1/flags/", f"cycle={BIGGER_THAN_BIGINT}", "cycle", "is not a month"),
    ("/api/v1/comments/", "cycle=0000-01", "cycle", "is not a month"),
    ("/api/v1/flags/", "cycle=9999-12", "cycle", "has no published results.*pick one from /api/v1/cycles/"),
    ("/api/v1/comments/", "cycle=%00", "cycle", r"'\\x00' is not a month"),
    ("/api/v1/units/", "cycle=%E2%80%AE2026-04", "cycle", r"'\\u202e2026-04' is not a month"),
    ("/api/v1/flags/", "unit=-1", "unit", "is not a unit id; use a unit_id"),
    ("/api/v1/comments/", "unit=0", "unit", "is not a unit id"),
    ("/api/v1/cells/", f"unit={BIGGER_THAN_BIGINT}", "unit", "is not a unit id"),
    ("/api/v1/cells/", "unit=%00", "unit", "is not a unit id"),
    ("/api/v1/cells/", "unit=" + "0" * 10_000, "unit", r"\(10002 characters\) is not a unit id"),
    ("/api/v1/cells/", f"since={BIGGER_THAN_BIGINT}", "since", "is not a month"),
    ("/api/v1/cells/", "since=2026-04&until=2026-03", "since", "is after until.*swap them"),
    ("/api/v1/cells/", "metric=%00", "metric", "unknown metric.*known metrics"),
    ("/api/v1/cells/", "cursor=%00", "cursor", "not a cursor this API handed out; start again without it"),
    ("/api/v1/cells/", "cursor=" + "W" * 10_000, "cursor", "not a cursor"),
    ("/api/v1/cells/", "cursor=" + cursor("2026-04", NUL_ID, "\x00"), "cursor", "not a cursor"),
    ("/api/v1/cells/", "cursor=" + cursor("2026-04", NUL_ID, "\ud800"), "cursor", "not a cursor"),
    ("/api/v1/cells/", "cursor=" + cursor("2026-04", "not-a-unit", "psych_safety"), "cursor", "not a cursor"),
    ("/api/v1/cells/", "cursor=" + cursor("9999-99", None, None), "cursor", "not a cursor"),
    ("/api/v1/cells/", "cursor=" + base64.urlsafe_b64encode(b"[" * 150).decode(), "cursor", "not a cursor"),
    ("/api/v1/actions/", "status=%00", "status", "is not a status; use open or closed"),
    ("/api/v1/actions/", f"unit={BIGGER_THAN_BIGINT}", "unit", "is not a unit id"),
    ("/api/v1/me/", "%00=1", "'\\x00'", "unknown query parameter; this endpoint accepts: none"),
    ("/api/v1/cycles/", "ordering=value", "ordering", "unknown query parameter"),
    ("/api/v1/units/", "cycle=2026-03&cycle=2026-04", "cycle", "given more than once; give it once"),
]


@pytest.mark.parametrize(("path", "query", "field", "fix"), QUERIES, ids=[f"{p} ?{q[:40]}" for p, q, *_ in QUERIES])
def test_a_wrong_query_parameter_is_refused_with_its_name_and_the_fix(db, world: World, path, query, field, fix):
    refused(world.client("hr").get(f"{path}?{query}"), status=400, field=field, fix=fix)


def test_a_forged_cursor_is_refused_for_a_unit_read_alone_too(db, world: World):
    """An engineer reads their team alone, one cycle a page: that path decodes the cursor too."""
    forged = cursor("2026-04", NUL_ID, "\ud800")
    response = world.client("engineer").get(f"/api/v1/cells/?unit={world.refs['alpha']}&cursor={forged}")
    refused(response, status=400, field="cursor", fix="not a cursor")


PATHS = [
    ("get", f"/api/v1/exports/{BIGGER_THAN_BIGINT}/", "id", "no such export of yours"),
    ("get", f"/api/v1/exports/{BIGGER_THAN_BIGINT}/download/", "id", "no such export of yours"),
    ("get", "/api/v1/exports/0/", "id", "no such export of yours"),
    ("get", "/api/v1/exports/" + "9" * 5000 + "/", "path", "no such API endpoint"),  # past int()'s 4,300 digits
    ("get", "/api/v1/exports/-1/", "path", "no such API endpoint"),
    ("get", f"/api/v1/actions/{NUL_ID}/", "id", "no action with this id that you may see"),
    ("get", "/api/v1/actions/-1/", "path", "no such API endpoint; the endpoints are listed at /api/docs/"),
    ("get", "/api/v1/actions/%0A/", "path", "no such API endpoint"),
    ("get", "/api/v1/actions/%00/", "path", "no such API endpoint"),
    ("patch", "/api/v1/actions/null/", "path", "no such API endpoint"),
    ("post", "/api/v1/nope/", "path", "no such API endpoint"),
    ("get", "/api/v1/me", "path", "did you mean /api/v1/me/"),
]


@pytest.mark.parametrize(("method", "path", "field", "fix"), PATHS, ids=[f"{m.upper()} {p}" for m, p, *_ in PATHS])
def test_a_path_that_names_nothing_is_a_json_404(db, world: World, method, path, field, fix):
    before = stored()
    response = world.client("hr").generic(method.upper(), path, b"{}", content_type="application/json")
    refused(response, status=404, field=field, fix=fix)
    assert stored() == before


@pytest.mark.parametrize("path", ["/api/v1/actions/null/", "/api/v1/actions/%0A/"])
def test_a_session_write_to_a_path_that_names_nothing_is_refused_in_json(db, world: World, path):
    """Signed in with the session cookie and no CSRF token: the API's JSON 403 from DRF's check,
    not Django's HTML "CSRF failed" page (which a PATCH to an id the route refuses once got)."""
    before = stored()
    client = Client(raise_request_exception=False, enforce_csrf_checks=True)
    client.force_login(get_user_model().objects.get(email=world.emails["manager"]))
    response = client.patch(path, b"{}", content_type="application/json")
    refused(response, status=403, field="csrf", fix="sends the X-CSRFToken header.*API token")
    assert stored() == before


TOKENS = [
    ("NUL", "Token \x00" + "0" * 63),
    ("a byte that is not UTF-8", "Token \xff" + "0" * 63),
    ("too short", "Token abc"),
    ("upper-case hex", "Token " + "A" * 64),
    ("overlong", "Token " + "a" * 100_000),
    ("no token", "Token"),
    ("a space in it", "Token abc def"),
]


@pytest.mark.parametrize(("label", "header"), TOKENS, ids=[t[0] for t in TOKENS])
def test_a_token_header_that_is_no_token_is_a_401_that_says_how_to_send_one(db, world: World, label, header):
    response = Client(raise_request_exception=False).get("/api/v1/me/", headers={"Authorization": header})
    refused(response, status=401, field="token", fix=r"send `Authorization: Token <token>`.*/api/tokens/")


def test_malformed_tokens_count_towards_the_lockout(db, world: World, settings):
    """Refused before knox looks them up, they still count as the invalid tokens they are: the
    limit-th locks the address (429, documented), a valid token included."""
    settings.PULSE_INVALID_API_TOKEN_LIMIT = 3
    client = Client(raise_request_exception=False)
    answers = [client.get("/api/v1/me/", headers={"Authorization": "Token \x00"}).status_code for _ in range(3)]
    assert answers == [401, 401, 429]
    locked = client.get("/api/v1/me/", headers=world.headers("hr"))
    refused(locked, status=429, field="token", fix="too many invalid API tokens from this address; wait")


def test_a_session_cookie_that_spells_nul_is_no_session(db, world: World):
    """http.cookies unquotes "\\000" into NUL, and Django looks the session up as it is: PostgreSQL
    refuses that query. The API takes such a cookie for no session at all."""
    client = Client(raise_request_exception=False)
    response = client.get("/api/v1/me/", headers={"Cookie": 'sessionid="' + "\\000" * 32 + '"'})
    assert response.status_code == 401, response.content[:300]
    assert response.json()["detail"]


def test_a_session_cookie_that_spells_nul_does_not_spoil_a_token(db, world: World):
    client = Client(raise_request_exception=False)
    headers = {**world.headers("manager"), "Cookie": 'sessionid="' + "\\000" * 32 + '"'}
    response = client.get("/api/v1/me/", headers=headers)
    assert response.status_code == 200 and response.json()["email"] == world.emails["manager"]
