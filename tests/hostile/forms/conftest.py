"""Fixtures of the browser-form fuzzing: an open cycle with its one-time links, and signed-in HR.

What is here is cheap and built per test; a family whose world is costly (published results for
the action, comment and export forms) builds it once per module in its own test file, after
``postgres_for_module``."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from surveys.models import Person, Role
from surveys.services.cycles import cycle_open
from tests.conftest import service_missing
from tests.factories import PersonFactory
from tests.hostile.forms.survey_checks import SurveyLinks
from tests.surveys.helpers import team_with_people

HR_EMAIL = "hr@example.com"


ENGINEER_EMAIL = "core-0@example.com"
MANAGER_EMAIL = "core-5@example.com"


@pytest.fixture
def links(require_postgres) -> SurveyLinks:
    """An open cycle for Core (six people, one of them its manager), mailed to nobody."""
    team_with_people("Core", 6)
    Person.objects.filter(email=MANAGER_EMAIL).update(role=Role.MANAGER)
    result = cycle_open(send_mail=False)
    tokens = {link.person_email: link.token for link in result.links}
    return SurveyLinks(cycle=result.cycle, engineer=tokens[ENGINEER_EMAIL], manager=tokens[MANAGER_EMAIL])


@pytest.fixture
def hr_client(client: Client, require_postgres) -> Client:
    client.force_login(PersonFactory(email=HR_EMAIL, role=Role.HR).user)
    return client


@pytest.fixture(scope="module")
def postgres_for_module() -> None:
    """For a module that builds its world once: skip (or, in CI, fail) before building it, not
    after, when the database is not PostgreSQL."""
    if connection.vendor != "postgresql":
        service_missing("needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/pilotpulse")
