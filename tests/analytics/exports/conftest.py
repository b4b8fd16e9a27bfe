"""An organisation with one published cycle (Alpha flagged for low safety, plus a "worth
watching" result that must not leave Alpha's own report), HR users and an engineer, and a
temporary storage for export files."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from analytics.job.run import aggregate_cycle
from analytics.models import Flag
from tests.analytics.builders import Org, Submitted, cycle_run, org_build, standard_answers
from tests.factories import PersonFactory


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Export files go to a temporary MEDIA_ROOT through default_storage."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@dataclass
class World:
    org: Org
    march: Submitted


@pytest.fixture
def world(db) -> World:
    org = org_build()
    march = cycle_run(org, standard_answers(org, safety={"Engineering/Alpha": "low"}))
    aggregate_cycle(cycle=march.cycle)
    Flag.objects.create(cycle=march.cycle, unit_id=org.id("Engineering/Alpha"), kind="psych_safety_falling",
                        metric="psych_safety", test="shift_permutation", severity=Flag.Severity.WATCH, method="",
                        explanation="")  # fmt: skip
    return World(org=org, march=march)


@pytest.fixture
def hr(world):
    return PersonFactory(email="hr@example.com", role="hr").user


@pytest.fixture
def other_hr(world):
    return PersonFactory(email="hr2@example.com", role="hr").user


@pytest.fixture
def engineer(world):
    return PersonFactory(email="eng@example.com", role="engineer").user
