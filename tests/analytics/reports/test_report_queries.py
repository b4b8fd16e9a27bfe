"""A team report with 24 released cycles renders in at most eleven SQL queries (issue 8: speed):
two for the session and its user, two for the viewer, six for the door's report reader, and one
for the team's actions (issue 9; tests/analytics/reports/test_actions.py budgets their check-backs)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from analytics.job.run import aggregate_cycle
from analytics.reports.figures import item_texts
from surveys.models import Role
from tests.analytics.builders import answers_make, cycle_run, org_build
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db
MAX_QUERIES = 11
CYCLES = 24


def test_a_team_report_of_24_cycles_takes_at_most_eleven_queries(client):
    org = org_build((("Platform", "Core", 12, 11), ("Platform", "Edge", 12, 11)), k=5)
    for index in range(CYCLES):
        month = dt.date(2025 + index // 12, 1 + index % 12, 1)
        answers = {team: [answers_make(f"{team}{index}{n}") for n in range(11)] for team in org.respondents}
        aggregate_cycle(cycle=cycle_run(org, answers, month=month).cycle)
    manager = PersonFactory(email="lead@example.com", role=Role.MANAGER, team=org.units["Platform/Core"])
    manager.managed_teams.set([org.units["Platform"]])
    client.force_login(manager.user)
    url = reverse("reports:unit", kwargs={"unit_id": org.id("Platform/Core")})
    item_texts.cache_clear()
    client.get(url)  # the instrument's item texts are read once per process and version
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count("<option value=") == CYCLES and "Trend over 24 cycles" in body
    assert len(queries) <= MAX_QUERIES, "\n".join(q["sql"][:160] for q in queries)
