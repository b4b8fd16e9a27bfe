"""Request bodies as real traffic brings them, to every API endpoint that takes one: each gets a 4xx
JSON error whose message names the field and the fix, and nothing is stored, audited or mailed.

Cases schemathesis does not reliably make: bytes that are not UTF-8, a body that is not JSON,
NUL and lone surrogates (what PostgreSQL and psycopg refuse), C0 and C1 control characters and
direction overrides (what config.text_input refuses), integers past PostgreSQL's bigint, ids that
are negative or zero, overlong text, wrong JSON types, runaway nesting and an oversized body.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from tests.hostile.api.conftest import World, stored

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("require_postgres")]

ROSTER_HEAD = "email,name,team,role\n"
BIGGER_THAN_BIGINT = 99999999999999999999


@dataclass(frozen=True)
class Write:
    """An endpoint that takes a body, as the caller who may use it, with a body it accepts; the
    cases below spoil one part of that body."""

    name: str
    role: str
    method: str
    path: str  # "{action_open}" is filled in from the world
    valid: dict[str, Any]
    text_field: str | None  # the text field a hostile character is put in
    ok: int = 200

    def url(self, world: World) -> str:
        return self.path.format(**world.refs)

    def text(self, char: str) -> str:
        """A plausible value of text_field with ``char`` in it."""
        if self.text_field == "csv":
            return f"{ROSTER_HEAD}joiner@example.com,Jo{char}an,Engineering/Alpha,engineer\n"
        if self.text_field == "format":
            return f"csv{char}"
        return f"Pair on AI{char} reviews"


WRITES = [
    Write(
        "record an action",
        "manager",
        "post",
        "/api/v1/actions/",
        {
            "unit": "{alpha}",
            "cycle": "2026-04",
            "metric": "psych_safety",
            "title": "Pair on AI reviews.",
            "owner": "{manager_id}",
            "check_back_month": "2026-06",
        },
        "title",
        ok=201,
    ),
    Write(
        "edit an action", "manager", "patch", "/api/v1/actions/{action_open}/", {"title": "Pair on reviews."}, "title"
    ),
    Write(
        "close an action",
        "manager",
        "post",
        "/api/v1/actions/{action_open}/close/",
        {"outcome": "It helped."},
        "outcome",
    ),
    Write("start an export", "hr", "post", "/api/v1/exports/", {"format": "csv"}, "format", ok=202),
    Write(
        "preview a roster",
        "hr",
        "post",
        "/api/v1/programme/roster/preview/",
        {"csv": ROSTER_HEAD + "joiner@example.com,Joan,Engineering/Alpha,engineer\n"},
        "csv",
    ),
    Write(
        "apply a roster",
        "hr",
        "post",
        "/api/v1/programme/roster/apply/",
        {"csv": ROSTER_HEAD + "joiner@example.com,Joan,Engineering/Alpha,engineer\n", "fingerprint": "0" * 64},
        "csv",
        ok=409,  # the fingerprint is not the preview's: refused, nothing changed (the case spoils the rest)
    ),
    Write("send reminders", "hr", "post", "/api/v1/programme/cycles/remind/", {}, None),
]


def _filled(value: Any, world: World) -> Any:
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        ref = world.refs[value[1:-1]]
        return int(ref) if value == "{manager_id}" else ref
    return value


def body(write: Write, world: World, **changes: Any) -> dict[str, Any]:
    return {**{key: _filled(value, world) for key, value in write.valid.items()}, **changes}


def send(world: World, write: Write, raw: bytes | str, content_type: str = "application/json") -> Any:
    client: Client = world.client(write.role)
    return client.generic(write.method.upper(), write.url(world), raw, content_type=content_type)


def refused(response: Any, *, status: int, field: str, fix: str) -> None:
    """A JSON error with ``status`` whose message starts with ``field`` and says ``fix`` (a regular
    expression: the words that tell the client what to do)."""
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    detail = response.json()["detail"]
    assert detail.startswith(f"{field}: "), detail
    assert re.search(fix, detail), (fix, detail)


@pytest.mark.parametrize("write", WRITES, ids=lambda write: write.name)
def test_the_valid_body_is_accepted(db, world: World, write: Write):
    """The bodies the cases below spoil are good ones: what those cases are refused for is theirs."""
    response = send(world, write, json.dumps(body(write, world)))
    assert response.status_code == write.ok, response.content[:300]


# --- the body as a whole -----------------------------------------------------------------------------

WHOLE_BODY = [
    ("not UTF-8", b'{"title": "Jos\xe9"}', "application/json", 400, r"not valid UTF-8 \(byte 0xE9"),
    ("an overlong UTF-8 slash", b'{"title": "\xc0\xaf"}', "application/json", 400, "not valid UTF-8"),
    ("a surrogate spelt in UTF-8 bytes", b'{"title": "\xed\xa0\x80"}', "application/json", 400, "not valid UTF-8"),
    ("declared Latin-1", b'{"title": "x"}', "application/json; charset=latin-1", 400, "encoded as UTF-8"),
    ("not JSON", b"title=Pair on reviews", "application/json", 400, "JSON parse error"),
    ("cut short", b'{"title": "Pa', "application/json", 400, "JSON parse error"),
    ("NaN", b'{"title": NaN}', "application/json", 400, "NaN is not a JSON number"),
    ("Infinity", b'{"title": Infinity}', "application/json", 400, "Infinity is not a JSON number"),
    ("a number past a float", b'{"title": 1e999}', "application/json", 400, "1e999 is too large a number"),
    ("nested past the decoder", b"[" * 100_000 + b"]" * 100_000, "application/json", 400, "nested more than 32"),
    ("nested past the API's bound", b'{"a": ' * 40 + b"1" + b"}" * 40, "application/json", 400, "nested more than"),
    ("a list", b"[]", "application/json", 400, "JSON object|takes no body"),
    ("null", b"null", "application/json", 400, "JSON object|takes no body"),
    ("NUL in a field name", b'{"\\u0000": 1}', "application/json", 400, "remove the control character U\\+0000"),
    ("a lone surrogate in a field name", b'{"\\ud800": 1}', "application/json", 400, "broken character U\\+D800"),
    ("an oversized body", b"x" * (3 * 1024 * 1024 + 1), "application/json", 413, "larger than 3 MB"),
]


@pytest.mark.parametrize("write", WRITES, ids=lambda write: write.name)
@pytest.mark.parametrize(("label", "raw", "content_type", "status", "fix"), WHOLE_BODY, ids=[c[0] for c in WHOLE_BODY])
def test_a_broken_body_is_refused_and_nothing_is_stored(db, world, write, label, raw, content_type, status, fix):
    before = stored()
    response = send(world, write, raw, content_type)
    refused(response, status=status, field="body", fix=fix)
    assert stored() == before


FORMS = [
    ("a byte that is not UTF-8", b"title=Jos%E9", "title", r"not valid UTF-8 \(byte 0xE9"),
    ("NUL", b"title=Pair%00on", "title", "remove the control character U\\+0000"),
    ("a field name that is not UTF-8", b"%FF=1", "body", "a field name is not valid UTF-8"),
    ("declared Latin-1", b"title=x", "body", "encoded as UTF-8"),
]


@pytest.mark.parametrize("write", WRITES, ids=lambda write: write.name)
@pytest.mark.parametrize(("label", "raw", "field", "fix"), FORMS, ids=[c[0] for c in FORMS])
def test_a_broken_form_body_is_refused_and_nothing_is_stored(db, world, write, label, raw, field, fix):
    """Django reads a form byte that is not UTF-8 as U+FFFD; the API refuses it instead. The roster
    endpoints read JSON and multipart only, and say so."""
    before = stored()
    content_type = "application/x-www-form-urlencoded"
    if label == "declared Latin-1":
        content_type += "; charset=latin-1"
    response = send(world, write, raw, content_type)
    if write.name.endswith("roster"):
        refused(response, status=415, field="Content-Type", fix="send application/json or multipart/form-data")
    else:
        refused(response, status=400, field=field, fix=fix)
    assert stored() == before


@pytest.mark.parametrize("write", WRITES, ids=lambda write: write.name)
def test_a_body_of_another_media_type_is_refused_with_the_ones_it_takes(db, world, write):
    before = stored()
    response = send(world, write, b"Pair on reviews", "text/plain")
    refused(response, status=415, field="Content-Type", fix="text/plain is not a body this endpoint reads; send")
    assert "application/json" in response.json()["detail"]
    assert stored() == before


# --- one text field -----------------------------------------------------------------------------------

HOSTILE_CHARACTERS = [
    ("NUL", "\x00", "U+0000"),
    ("a lone surrogate", "\ud800", "U+D800"),
    ("a lone low surrogate", "\udfff", "U+DFFF"),
    ("BEL (C0)", "\x07", "U+0007"),
    ("ESC (C0)", "\x1b", "U+001B"),
    ("DEL", "\x7f", "U+007F"),
    ("NEL (C1)", "\x85", "U+0085"),
    ("CSI (C1)", "\x9b", "U+009B"),
    ("right-to-left override", "\u202e", "U+202E"),
    ("first-strong isolate", "\u2068", "U+2068"),
]
TEXT_WRITES = [write for write in WRITES if write.text_field is not None]


@pytest.mark.parametrize("write", TEXT_WRITES, ids=lambda write: write.name)
@pytest.mark.parametrize(("label", "char", "codepoint"), HOSTILE_CHARACTERS, ids=[c[0] for c in HOSTILE_CHARACTERS])
def test_a_character_nobody_types_is_refused_in_the_field_it_is_in(db, world, write, label, char, codepoint):
    before = stored()
    assert write.text_field is not None
    raw = json.dumps(body(write, world, **{write.text_field: write.text(char)}))  # \ud800 is escaped, as sent
    response = send(world, write, raw)
    # The JSON parser's words for NUL and lone surrogates, config.text_input's for the rest (the
    # roster's per line): each names the character, where it is, and that it must go.
    refused(
        response, status=400, field=write.text_field, fix=f"remove the [a-z -]+ {re.escape(codepoint)} at character"
    )
    assert stored() == before


# --- wrong values, endpoint by endpoint ---------------------------------------------------------------

BY_NAME = {write.name: write for write in WRITES}
WRONG_VALUES = [
    ("record an action", {"owner": BIGGER_THAN_BIGINT}, 400, "owner", "Choose an owner from the unit's people"),
    ("record an action", {"owner": str(BIGGER_THAN_BIGINT)}, 400, "owner", "Choose an owner"),
    ("record an action", {"owner": -1}, 400, "owner", "Choose an owner"),
    ("record an action", {"owner": "9" * 5000}, 400, "owner", "Choose an owner"),  # int() refuses > 4,300 digits
    ("record an action", {"owner": 0}, 400, "owner", "Choose an owner"),
    ("record an action", {"owner": "\u00b2"}, 400, "owner", "person id \\(a whole number\\) or e-mail address"),
    ("record an action", {"owner": True}, 400, "owner", "person id"),
    ("record an action", {"owner": 1.5}, 400, "owner", "person id"),
    ("record an action", {"owner": "boss\x00@example.com"}, 400, "owner", "U\\+0000"),
    ("record an action", {"owner": "boss\u202e@example.com"}, 400, "owner", "U\\+202E"),
    ("record an action", {"owner": "boss@example.com\x85"}, 400, "owner", "U\\+0085"),
    ("record an action", {"owner": "a" * 300 + "@example.com"}, 400, "owner", "person id"),
    ("record an action", {"title": 5}, 400, "title", "give text, as a JSON string"),
    ("record an action", {"title": ["Pair"]}, 400, "title", "give text"),
    ("record an action", {"title": {"text": "Pair"}}, 400, "title", "give text"),
    ("record an action", {"title": "x" * 10_000}, 400, "title", "Keep the title to 200 characters"),
    ("record an action", {"title": "Pair\non reviews"}, 400, "title", "line break or tab U\\+000A"),
    ("record an action", {"metric": 7}, 400, "metric", "give text"),
    ("record an action", {"unit": -1}, 400, "unit", "not a unit id"),
    ("record an action", {"unit": 2**200}, 400, "unit", "not a unit id"),
    ("record an action", {"unit": "0"}, 400, "unit", "not a unit id"),
    ("record an action", {"cycle": str(BIGGER_THAN_BIGINT)}, 400, "cycle", "is not a month; write it as YYYY-MM"),
    ("record an action", {"cycle": 202604}, 400, "cycle", "is not a month"),
    ("record an action", {"check_back_month": {"year": 2026}}, 400, "check_back_month", "write it as YYYY-MM"),
    ("record an action", {"check_back_month": "9" * 5000}, 400, "check_back_month", r"\(5002 characters\)"),
    ("record an action", {"flag_kind": "\x1b[31m"}, 400, "flag_kind", "U\\+001B"),
    ("record an action", {"status": "closed"}, 400, "status", "unknown field"),
    ("edit an action", {"owner": BIGGER_THAN_BIGINT}, 400, "owner", "Choose an owner"),
    ("edit an action", {"check_back_month": "0000-01"}, 400, "check_back_month", "write it as YYYY-MM"),
    ("edit an action", {"status": "closed"}, 400, "status", "close it with POST"),
    ("edit an action", {"title": None}, 400, "title", "give a title, or leave the field out"),
    ("close an action", {"outcome": 0}, 400, "outcome", "give text"),
    ("close an action", {"outcome": "x" * 10_000}, 400, "outcome", "Keep the outcome to 500 characters"),
    ("start an export", {"format": 5}, 400, "format", "give text"),
    ("start an export", {"format": "x" * 10_000}, 400, "format", "choose one of csv"),
    ("start an export", {"cycle": BIGGER_THAN_BIGINT}, 400, "cycle", "give text"),
    ("start an export", {"cycle": "9" * 5000}, 400, "cycle", "write the cycle as YYYY-MM"),
    ("start an export", {"cycle": "2026"}, 400, "cycle", "choose one of 2026-03, 2026-04"),
    ("start an export", {"cycle": "2026-04\x85"}, 400, "cycle", "U\\+0085"),
    ("preview a roster", {"csv": 12}, 400, "csv", "give the CSV as a JSON string"),
    ("preview a roster", {"deactivate_missing": "maybe"}, 400, "deactivate_missing", "write true or false"),
    ("preview a roster", {"deactivate_missing": BIGGER_THAN_BIGINT}, 400, "deactivate_missing", "true or false"),
    ("apply a roster", {"fingerprint": "0" * 63 + "\x00"}, 400, "fingerprint", "U\\+0000"),
    ("apply a roster", {"fingerprint": BIGGER_THAN_BIGINT}, 400, "fingerprint", "not a fingerprint"),
    ("send reminders", {"month": "2026-06"}, 400, "month", "takes no body: POST it empty"),
]


@pytest.mark.parametrize(
    ("name", "changes", "status", "field", "fix"),
    WRONG_VALUES,
    ids=[
        f"{name}: {', '.join(changes)}={str(next(iter(changes.values())))[:20]!r}" for name, changes, *_ in WRONG_VALUES
    ],
)
def test_a_wrong_value_is_refused_with_its_field_and_the_fix(db, world, name, changes, status, field, fix):
    write = BY_NAME[name]
    before = stored()
    response = send(world, write, json.dumps(body(write, world, **changes)))
    refused(response, status=status, field=field, fix=fix)
    assert stored() == before
