"""The report pages: each role's start page, the unit report checked figure by figure against the
door's records, who may open which unit (404 otherwise), the too-small page, the heatmap's order,
comments and instrument health by role."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from analytics.core.catalogue import RESPONSES
from analytics.core.tree import ORGANISATION
from analytics.published import HIDDEN_TEXT, children_cells, unit_cells
from analytics.reports import themes
from surveys.models import Organisation
from tests.factories import PersonFactory, TeamFactory

pytestmark = pytest.mark.django_db


def page(client, user, url):
    client.force_login(user)
    return client.get(url)


def unit_url(unit_id, cycle=None):
    url = reverse("reports:unit", kwargs={"unit_id": unit_id})
    return f"{url}?cycle={cycle}" if cycle else url


def metric_block(body: str, metric: str) -> str:
    """The rendered block of one metric on a report (from its id to the next metric's)."""
    start = body.index(f'id="metric-{metric}"')
    end = body.find('<div class="metric"', start + 1)
    return body[start : end if end != -1 else len(body)]


@pytest.mark.parametrize(
    ("viewer", "lands_on"),
    [
        ("hr", "/overview/"),
        ("eng_manager", "/my-teams/"),
        ("alpha_engineer", "UNIT:Engineering/Alpha"),
        ("operator", None),
    ],
)
def test_each_role_lands_on_its_own_page(client, reported, viewer, lands_on):
    response = page(client, reported.users[viewer], reverse("home"))
    if lands_on is None:
        assert response.status_code == 200
        assert reverse("admin:index") in response.content.decode()
        return
    expected = unit_url(reported.org.id(lands_on[5:])) if lands_on.startswith("UNIT:") else lands_on
    assert response.status_code == 302 and response["Location"] == expected
    assert client.get(response["Location"]).status_code == 200


def test_an_engineer_lands_on_their_pulse_when_team_reports_are_off(client, reported):
    Organisation.objects.update(engineers_see_team_report=False)
    response = page(client, reported.users["alpha_engineer"], reverse("home"))
    assert response["Location"] == reverse("pulse_status")
    assert client.get(unit_url(reported.org.id("Engineering/Alpha"))).status_code == 404


def test_the_report_shows_the_doors_records_and_nothing_else(client, reported):
    """Every metric block on the page is a published record (R15's checker saw it): published
    cells show their value and n, hidden ones the one public text and no number."""
    org, april = reported.org, reported.april
    unit = org.id("Engineering/Alpha")
    body = page(client, reported.users["eng_manager"], unit_url(unit, april.label)).content.decode()
    cells = {c.metric: c for c in unit_cells(unit_id=unit, since=april.month, until=april.month)}
    parent = {c.metric: c for c in unit_cells(unit_id=org.id("Engineering"), since=april.month, until=april.month)}
    checked = hidden = 0
    for theme in themes.THEMES:
        for metric in theme.metrics:
            cell = cells.get(metric)
            if cell is None:
                continue
            block = metric_block(body, metric)
            if cell.suppressed:
                assert HIDDEN_TEXT in block and f"fewer than {april.k} people" in block
                assert "n =" not in block and "95% interval" not in block.split("Trend")[0]
                hidden += 1
            elif cell.value is not None:
                assert themes.fmt(metric, cell.value) in block
                assert f"n = {cell.n}" in block
                other = parent[metric]
                beside = HIDDEN_TEXT if other.suppressed else themes.fmt(metric, other.value)
                assert f"Engineering: {beside}" in block
                checked += 1
    assert checked >= 10 and hidden >= 1  # the test saw both kinds
    rate = cells[RESPONSES]
    assert f"{rate.value:.0f}%" in metric_block(body, RESPONSES)


def test_a_flag_comes_first_with_its_explanation_and_what_to_try(client, reported):
    """Alpha answers the safety items unfavourably: its low safety is flagged, above the metrics."""
    body = page(client, reported.users["eng_manager"], unit_url(reported.org.id("Engineering/Alpha"))).content.decode()
    flags = body.index('id="flags-heading"')
    assert flags < body.index('id="theme-safety"')
    assert "psychological safety is low" in body[flags:]
    assert "What to try" in body[flags : body.index('id="theme-safety"')]


def test_a_change_is_never_called_from_one_difference(client, reported):
    """Between two cycles without a flag on the metric the page says "no clear change", with the
    difference and its interval, never an arrow."""
    body = page(client, reported.users["hr"], unit_url(ORGANISATION)).content.decode()
    block = metric_block(body, "trust")
    assert re.search(r"since 2026-03 \(95% interval [-+]?[\d.]+ to [-+]?[\d.]+\): no clear change", block)
    assert "↑" not in body and "↓" not in body


def test_a_manager_cannot_open_another_departments_unit(client, reported):
    org = reported.org
    for user, unit in (
        (reported.users["product_manager"], org.id("Engineering/Alpha")),
        (reported.users["product_manager"], org.id("Engineering")),
        (reported.users["eng_manager"], org.id("Product/Design")),
    ):
        client.force_login(user)
        assert client.get(unit_url(unit)).status_code == 404
        assert client.get(reverse("reports:heatmap", kwargs={"unit_id": unit})).status_code == 404
    client.force_login(reported.users["eng_manager"])
    assert client.get(unit_url(org.id("Engineering/Beta"))).status_code == 200


def test_an_engineer_sees_their_team_and_the_units_above_it_only(client, reported):
    org = reported.org
    client.force_login(reported.users["alpha_engineer"])
    for path, status in (("Engineering/Alpha", 200), ("Engineering", 200), ("", 200), ("Engineering/Beta", 404)):
        assert client.get(unit_url(org.id(path))).status_code == status, path
    assert client.get(reverse("reports:heatmap", kwargs={"unit_id": org.id("Engineering")})).status_code == 404
    assert client.get(reverse("reports:overview")).status_code == 404


def test_an_unknown_unit_and_a_bad_cycle_are_not_found(client, reported):
    client.force_login(reported.users["hr"])
    assert client.get(unit_url("00000000-0000-0000-0000-00000000abcd")).status_code == 404
    assert client.get(unit_url(ORGANISATION, "2026-13")).status_code == 404
    assert client.get(unit_url(ORGANISATION, "1999-01")).status_code == 404


def test_a_team_always_too_small_says_so_and_points_above(client, reported):
    """Gamma has three respondents in every cycle: no figure, one sentence, a link up."""
    org = reported.org
    body = page(client, reported.users["hr"], unit_url(org.id("Engineering/Gamma"))).content.decode()
    assert "This group is too small to show" in body
    assert unit_url(org.id("Engineering"), reported.april.label).replace("&", "&amp;") in body
    assert 'id="metric-' not in body


def test_the_heatmap_sorts_hidden_cells_last_in_a_fixed_order(client, reported):
    """Sorted by psychological safety either way, the published rows follow their values and the
    hidden ones (Gamma, below k, and the sibling R5 hides with it) come last by name, whichever
    the direction: their position says nothing about their value (R4)."""
    org, april = reported.org, reported.april
    cells = children_cells(cycle=april, unit_id=org.id("Engineering"), metrics=["psych_safety"])
    published = sorted((c for c in cells if not c.suppressed), key=lambda c: c.value)
    hidden = sorted(c.unit_path.rsplit("/", 1)[-1] for c in cells if c.suppressed)
    assert published and hidden  # the organisation gives both kinds
    client.force_login(reported.users["hr"])
    url = reverse("reports:heatmap", kwargs={"unit_id": org.id("Engineering")})
    for direction, ordered in (("asc", published), ("desc", list(reversed(published)))):
        body = client.get(f"{url}?sort=psych_safety&dir={direction}").content.decode()
        rows = re.findall(r'<th scope="row"><a href="[^"]+">([^<]+)</a></th>', body)
        assert rows == [c.unit_path.rsplit("/", 1)[-1] for c in ordered] + hidden
        assert "above the organisation" in body  # the legend says it in words, not colour alone


def test_hr_overview_lists_flags_only(client, reported):
    body = page(client, reported.users["hr"], reverse("reports:overview")).content.decode()
    assert "Flags across the organisation" in body and "Worth watching" not in body


def test_comments_page_shows_each_viewer_what_is_listed_where_they_may_look(client, reported):
    """Comments are listed at the departments (threshold 10): HR and each department's manager
    see them, an engineer (whose own team lists none) sees none of them."""
    seen = {}
    for viewer in ("hr", "eng_manager", "product_manager", "alpha_engineer"):
        body = page(client, reported.users[viewer], reverse("reports:comments")).content.decode()
        seen[viewer] = set(re.findall(r"<h2>([^<]+)</h2>", body))
    assert seen["hr"] >= {"Engineering", "Product"}
    assert "Engineering" in seen["eng_manager"] and "Product" not in seen["eng_manager"]
    assert "Product" in seen["product_manager"] and "Engineering" not in seen["product_manager"]
    assert not seen["alpha_engineer"] & {"Engineering", "Product"}


def test_instrument_health_is_for_hr(client, reported):
    body = page(client, reported.users["hr"], reverse("reports:health")).content.decode()
    assert "Cronbach" in body and "2026-04" in body
    client.force_login(reported.users["eng_manager"])
    assert client.get(reverse("reports:health")).status_code == 404


def test_before_any_release_every_start_page_says_there_are_no_results_yet(client, db):
    """Not "not found": nothing has been released, which tells nobody anything about a unit."""
    team = TeamFactory(name="Core")
    people = {
        "hr": PersonFactory(email="hr@example.com", role="hr", team=team),
        "manager": PersonFactory(email="lead@example.com", role="manager", team=team),
        "engineer": PersonFactory(email="eng@example.com", team=team),
    }
    people["manager"].managed_teams.set([team])
    for person in people.values():
        client.force_login(person.user)
        response = client.get(reverse("home"), follow=True)
        assert response.status_code == 200
        assert "No results have been released yet" in response.content.decode()
    assert "No results have been released yet" in client.get(unit_url(team.pk)).content.decode()


def test_a_report_shows_the_units_above_only_to_those_who_may_open_them(client, reported):
    """A manager of Alpha alone (sitting on Product/Design, team reports hidden from engineers)
    sees Alpha's figures but neither Engineering's nor the organisation's beside them, and the
    breadcrumb names those units without linking to them."""
    org = reported.org
    Organisation.objects.update(engineers_see_team_report=False)
    manager = PersonFactory(email="alpha-lead@example.com", role="manager", team=org.units["Product/Design"])
    manager.managed_teams.set([org.units["Engineering/Alpha"]])
    body = page(client, manager.user, unit_url(org.id("Engineering/Alpha"))).content.decode()
    assert "Engineering: " not in body and "Our organisation: " not in body
    assert unit_url(org.id("Engineering")) not in body
    assert client.get(unit_url(org.id("Engineering"))).status_code == 404


def test_a_404_costs_the_same_whether_the_unit_exists_or_not(client, reported, django_assert_num_queries):
    """An engineer asking for a unit they may not see, and for one that does not exist, gets the
    same page after the same queries: a 404 confirms nothing (not even by its cost)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(reported.users["alpha_engineer"])
    counts = []
    for unit in (reported.org.id("Product/Design"), "00000000-0000-0000-0000-00000000abcd"):
        for cycle in (None, reported.march.label):
            with CaptureQueriesContext(connection) as queries:
                response = client.get(unit_url(unit, cycle))
            assert response.status_code == 404
            counts.append(len(queries))
    assert len(set(counts)) == 1, counts


def test_an_api_404_costs_the_same_whether_the_unit_exists_or_not(client, reported):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(reported.users["alpha_engineer"])
    counts = []
    for unit in (reported.org.id("Product/Design"), "00000000-0000-0000-0000-00000000abcd"):
        for endpoint in ("cells", "flags", "comments"):
            with CaptureQueriesContext(connection) as queries:
                response = client.get(f"/api/v1/{endpoint}/?unit={unit}")
            assert response.status_code == 404
            counts.append((endpoint, len(queries)))
    assert counts[:3] == counts[3:], counts
