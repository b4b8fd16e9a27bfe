"""Property: whatever file arrives at the roster upload, the answer is the preview or the form
again with errors on the file field, never a 5xx, and nothing is stored by it."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from surveys.models import AuditEvent, Invitation, Person, Team
from tests.factories import PersonFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("require_postgres")]

HEADER = "email,name,team,role,manages"
# Examples are independent because an upload only previews (nothing it does outlives the request
# but the session's preview), so the logged-in client may be shared by them.
FUZZ = settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# What real files and attackers bring: control characters, direction overrides, quotes, the
# separators, the characters that start a formula, letters outside Latin-1, and plain text.
HOSTILE_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("\x00\x01\x07\x1b\x7f\x85\u202e\u2066\ufeff\"',;/\n\r\t =+-@\u2212")),
        st.characters(codec="utf-8", exclude_categories=["Cs"]),
    ),
    max_size=40,
)
ROLES = st.sampled_from(["engineer", "manager", "hr", "admin", "", "ENGINEER", "boss"])
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"])


@st.composite
def roster_files(draw) -> bytes:
    """A roster in which each row is a good one with, now and then, one cell made hostile: so
    that both the preview and each kind of refusal are reached."""
    rows = []
    for index in range(draw(st.integers(min_value=1, max_value=6))):
        row = [
            f"person{index}@example.com",
            draw(st.sampled_from(["Ana", "Bø Ærø", "Zoë"])),
            "Engineering",
            "engineer",
            "",
        ]
        if draw(st.booleans()):
            column = draw(st.integers(min_value=0, max_value=4))
            hostile = draw(st.one_of(HOSTILE_TEXT, ROLES)) if column == 3 else draw(HOSTILE_TEXT)
            row[column] = hostile if draw(st.booleans()) else row[column] + hostile
        rows.append(row)
    text = "\n".join([HEADER, *(",".join(row) for row in rows)])
    return text.encode(draw(ENCODINGS), errors="replace")


@pytest.fixture
def hr_client(client):
    client.force_login(PersonFactory(role="hr").user)
    return client


def stored() -> tuple[int, int, int, int]:
    return Person.objects.count(), Team.objects.count(), Invitation.objects.count(), AuditEvent.objects.count()


def check_upload(client, raw: bytes, name: str = "roster.csv", *, fuzzing: bool = True) -> None:
    before = stored()
    response = client.post(reverse("programme:roster"), {"file": SimpleUploadedFile(name, raw, "text/csv")})
    assert response.status_code in (200, 400), response.status_code
    if fuzzing:
        event(f"status {response.status_code}")  # --hypothesis-show-statistics: both outcomes are reached
    if response.status_code == 400:
        errors = response.context["form"].errors
        assert errors.get("file"), errors  # the refusal is on the file field, in words
    else:
        assert response.context["report"] is not None  # the preview
    assert stored() == before


@FUZZ
@given(raw=roster_files())
def test_any_roster_like_file_previews_or_is_refused_on_the_file_field(hr_client, raw):
    check_upload(hr_client, raw)


@FUZZ
@given(raw=st.binary(max_size=600), with_header=st.booleans(), name=st.sampled_from(["r.csv", "r.txt", "r.xlsx"]))
def test_any_bytes_are_refused_or_previewed_never_a_server_error(hr_client, raw, with_header, name):
    check_upload(hr_client, (HEADER.encode() + b"\n" + raw) if with_header else raw, name)


def test_after_hostile_uploads_a_good_file_still_previews_and_applies(hr_client):
    check_upload(hr_client, b"\xff\xfe\x00\xd8garbage", fuzzing=False)
    check_upload(hr_client, f"{HEADER}\nana@example.com,An\x00a,Engineering,engineer,\n".encode(), fuzzing=False)
    good = f"{HEADER}\nana@example.com,Ana,Engineering,engineer,\n".encode()
    response = hr_client.post(reverse("programme:roster"), {"file": SimpleUploadedFile("r.csv", good)})
    assert response.status_code == 200
    applied = hr_client.post(reverse("programme:roster_apply"), {"preview": response.context["preview_id"]})
    assert applied.status_code == 302
    assert Person.objects.filter(email="ana@example.com", name="Ana", team__name="Engineering").exists()
