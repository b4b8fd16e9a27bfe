"""Every operation of the API's own OpenAPI schema, fuzzed by schemathesis with bounded examples,
as each kind of caller: no 5xx, only documented statuses and media types, bodies as documented.

The schema is the one the project serves (drf-spectacular's /api/schema/), fetched in-process from
the WSGI application, and the requests go to that application too (schemathesis's WSGI transport),
inside each test's transaction on PostgreSQL, which is what refuses NUL in text and integers out of
range. Generation is derandomized so that CI runs the same cases every time; the example counts
keep the whole module within its share of the fuzzing budget (about 90 seconds on two cores).

Two runs: every operation with the ids schemathesis makes up (mostly ids that match nothing: 404),
and the operations that take an id with a real one (an action, an export), so the bodies are fuzzed
against something that exists.
"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.hostile.api.conftest import ROLES, World

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("require_postgres", "in_test_transaction")]

# Fuzzed examples per operation and caller, on top of the coverage phase's boundary cases: 21
# operations x 4 callers, and the 5 that take an id again x 3 with a real one, make the package
# run in about a minute on two cores. Raise it locally to dig, not in CI.
MAX_EXAMPLES = 15
# What real traffic brings, drawn into generated strings and integers at random (schemathesis's
# fuzz dictionaries): what PostgreSQL refuses (NUL, integers past bigint), what is not text
# (control characters, direction overrides, a byte-order mark), digits int() refuses ("²"),
# numbers in words JSON has none for, and text far longer than any field takes. Lone surrogates
# are sent by tests/hostile/api/test_hostile_bodies.py: schemathesis cannot put them in a URL.
HOSTILE_STRINGS = [
    "\x00",
    "team\x00lead@example.com",
    "\x01\x08\x1b[2J\x7f",
    "\x85\x9f",
    "\u202eevil.csv",
    "\u2066Platform\u2069",
    "\ufeff2026-04",
    "\t\r\n",
    "99999999999999999999",
    "-1",
    "0",
    "\u00b2",
    "\u0661\u0662",
    "1e999",
    "NaN",
    "2026-04",
    "2026-13",
    "0000-01",
    "psych_safety",
    "00000000-0000-0000-0000-000000000000",
    "x" * 5000,
]
HOSTILE_INTEGERS = [99999999999999999999, 2**63, -(2**63) - 1, -1, 0, 10**30]
# The same for the credentials schemathesis sends of its own accord (the schema's knox header and
# session cookie), kept to what HTTP can carry in a header: Latin-1 text, no line breaks. A cookie
# in quotes may spell NUL as \000, which http.cookies unquotes into the session key.
HOSTILE_CREDENTIALS = [
    "Token " + "0" * 64,
    "Token " + "g" * 64,
    "Token \xff\xfe",
    "Token a b",
    "Token",
    "Token " + "a" * 3000,
    '"\\000\\000\\000\\000\\000\\000\\000\\000"',
    "\xff" * 40,
    "x" * 3000,  # under the 4 KB a cookie may hold
]
CONFIG = schemathesis.Config.from_dict(
    {
        "dictionaries": {
            "hostile": {"values": HOSTILE_STRINGS},
            "hostile_ints": {"values": HOSTILE_INTEGERS},
            "hostile_credentials": {"values": HOSTILE_CREDENTIALS},
        },
        "parameters": {
            "header.Authorization": {"dictionary": "hostile_credentials", "probability": 0.5},
            "cookie.sessionid": {"dictionary": "hostile_credentials", "probability": 0.5},
        },
        "generation": {
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
            "dictionaries": {
                "string": {"dictionary": "hostile", "probability": 0.3},
                "integer": {"dictionary": "hostile_ints", "probability": 0.3},
            },
        },
        # Stateful runs chain operations through links the schema does not declare.
        "phases": {"stateful": {"enabled": False}},
    }
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    # A request schemathesis made invalid on purpose must be refused (4xx), never accepted.
    negative_data_rejection,
]
SETTINGS = hypothesis.settings(
    # One request can run an aggregation or an export: wall time per example is not the point.
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow, hypothesis.HealthCheck.function_scoped_fixture],
)
CALLERS = ("anonymous", *ROLES)
# Which real resource each path parameter names (tests/hostile/api/conftest.py).
REAL_IDS = {"action_id": "action_open", "job_id": "job_done"}

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application(), config=CONFIG)


def _answered_as(caller: str, response) -> None:
    """What the caller's credentials must have got, whatever else the case did: a signed-in
    caller's valid token is never refused (schemathesis's own credentials do not replace it), and
    nothing answers an anonymous caller with a success."""
    if caller == "anonymous":
        assert not 200 <= response.status_code < 300, f"an anonymous request got {response.status_code}"
    else:
        assert response.status_code not in (401, 429), f"{caller}'s token was not taken: {response.status_code}"


@pytest.mark.parametrize("caller", CALLERS)
@schema.parametrize()
@SETTINGS
def test_every_operation_answers_as_documented(case, caller: str, world: World):
    response = case.call_and_validate(headers=world.headers(caller), checks=CHECKS)
    _answered_as(caller, response)


@pytest.mark.parametrize("caller", ROLES)
@schema.include(path_regex=r"\{(action_id|job_id)\}").parametrize()
@SETTINGS
def test_operations_on_a_real_resource_answer_as_documented(case, caller: str, world: World):
    # A case whose path schemathesis made invalid on purpose keeps it (the first test covers those
    # too): pinned to a real id, negative_data_rejection would blame the API for accepting it.
    if case.meta is None or not case.meta.is_negative_at(ParameterLocation.PATH):
        for name, ref in REAL_IDS.items():
            if name in (case.path_parameters or {}):
                case.path_parameters[name] = world.refs[ref]
    response = case.call_and_validate(headers=world.headers(caller), checks=CHECKS)
    _answered_as(caller, response)
