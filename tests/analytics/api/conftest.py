"""An organisation answered, closed and aggregated through the public path (roster, one-time
links, close, the real job), and one signed-in client per kind of viewer.

STANDARD (tests/analytics/builders.py): Engineering = Alpha (8 respondents), Beta (6), Gamma (3,
below k = 5, so Gamma is hidden and R5 hides a sibling); Product = Design (6), Research (5). Alpha
answers the safety items unfavourably in both months, so it carries psych_safety flags. At the
comment threshold (10) both departments list their own comments and no team does.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client

from surveys.models import Cycle, Person, Role
from tests.analytics.builders import Org, march_and_april, org_build
from tests.factories import PersonFactory


@dataclass
class World:
    org: Org
    march: Cycle
    april: Cycle

    def id(self, path: str) -> str:
        return self.org.id(path)


@pytest.fixture
def world(db) -> World:
    org = org_build()
    march, april = march_and_april(org)
    return World(org=org, march=march, april=april)


def person(world: World, email: str, *, team: str, role: str = Role.ENGINEER, manages: tuple[str, ...] = ()) -> Person:
    """A signed-in viewer added to the roster after the cycles ran (so no answer counts twice)."""
    viewer = PersonFactory(email=email, team=world.org.units[team], role=role)
    viewer.managed_teams.set([world.org.units[path] for path in manages])
    return viewer


def client_for(viewer: Person) -> Client:
    client = Client()
    client.force_login(viewer.user)
    return client


@pytest.fixture
def hr(world) -> Client:
    return client_for(person(world, "hr@example.com", team="Product/Research", role=Role.HR))


@pytest.fixture
def manager(world) -> Client:
    """Manages Engineering (and so everything below it); sits on Engineering/Alpha."""
    return client_for(
        person(world, "boss@example.com", team="Engineering/Alpha", role=Role.MANAGER, manages=("Engineering",))
    )


@pytest.fixture
def engineer(world) -> Client:
    """On Engineering/Beta."""
    return client_for(person(world, "dev@example.com", team="Engineering/Beta"))
