"""An organisation with two aggregated cycles (March, April 2026) and one signed-in viewer per
role: HR, the manager of Engineering, the manager of Product, an engineer in Engineering/Alpha,
an engineer in Product/Design, and an operator (a superuser not on the roster)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model

from surveys.models import Cycle, Person, Role
from tests.analytics.builders import Org, march_and_april, org_build
from tests.factories import PersonFactory


@dataclass
class Reported:
    org: Org
    march: Cycle
    april: Cycle
    viewers: dict[str, Person | None]
    users: dict[str, object]


@pytest.fixture
def reported(db) -> Reported:
    org = org_build()
    march, april = march_and_april(org)
    # The viewers join after the cycles, so they are not among the respondents.
    hr = PersonFactory(email="hr@example.com", role=Role.HR, team=org.units["Product/Research"])
    eng_manager = PersonFactory(email="eng-lead@example.com", role=Role.MANAGER, team=org.units["Engineering/Beta"])
    eng_manager.managed_teams.set([org.units["Engineering"]])
    product_manager = PersonFactory(
        email="product-lead@example.com", role=Role.MANAGER, team=org.units["Product/Design"]
    )
    product_manager.managed_teams.set([org.units["Product"]])
    alpha_engineer = PersonFactory(email="alpha@example.com", team=org.units["Engineering/Alpha"])
    design_engineer = PersonFactory(email="design@example.com", team=org.units["Product/Design"])
    operator = get_user_model().objects.create_superuser("ops@example.com", "ops@example.com", "pw")
    viewers = {
        "hr": hr,
        "eng_manager": eng_manager,
        "product_manager": product_manager,
        "alpha_engineer": alpha_engineer,
        "design_engineer": design_engineer,
        "operator": None,
    }
    users = {name: (person.user if person else operator) for name, person in viewers.items()}
    return Reported(org, march, april, viewers, users)
