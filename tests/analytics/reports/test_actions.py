"""The action loop's pages (issue 9, item 5): a manager records an action from a flag or a metric,
edits, closes and deletes it; the unit report lists the actions to everyone who sees it and, at the
check-back, what moved (from published cells only); HR counts flags and actions per department.
Everyone but a manager of the unit gets 404 on the action pages."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from analytics.published import ORGANISATION_ID, organisation_flags, unit_cells
from analytics.reports.checkback import CAVEAT, NOT_ENOUGH, change_between, check_back
from analytics.reports.figures import item_texts
from surveys.models import Action, AuditEvent, Organisation
from surveys.services.actions import ActionInput, action_close, action_create

pytestmark = pytest.mark.django_db
FLAG_KIND = "psych_safety_low"  # Alpha answers the safety items unfavourably in both cycles
APRIL = dt.date(2026, 4, 1)


def unit_url(unit_id, cycle=None):
    url = reverse("reports:unit", kwargs={"unit_id": unit_id})
    return f"{url}?cycle={cycle}" if cycle else url


def new_url(unit_id):
    return reverse("reports:action_new", kwargs={"unit_id": unit_id})


def action_url(name, action):
    return reverse(f"reports:{name}", kwargs={"action_id": action.pk})


def record(
    reported,
    *,
    unit="Engineering/Alpha",
    cycle=None,
    title="Pair on the flaky tests.",
    metric="psych_safety",
    flag_kind="",
    check_back=dt.date(2026, 6, 1),
    owner=None,
) -> Action:
    manager = reported.viewers["eng_manager"] if unit.startswith("Engineering") else reported.viewers["product_manager"]
    return action_create(
        actor=manager,
        unit=reported.org.units[unit],
        started_cycle=cycle or reported.april,
        data=ActionInput(
            metric=metric,
            flag_kind=flag_kind,
            title=title,
            owner_id=(owner or manager).pk,
            check_back_month=check_back,
        ),
    )


def form_post(reported, **overrides):
    values = {
        "cycle": reported.april.label,
        "flag_kind": FLAG_KIND,
        "suggestion": "1",
        "own_title": "",
        "metric": "psych_safety",
        "owner": str(reported.viewers["eng_manager"].pk),
        "check_back_month": "2026-07",
    }
    values.update(overrides)
    return values


def actions_section(body: str) -> str:
    start = body.index('id="actions"')
    return body[start : body.index("</section>", start)]


# --- recording ---------------------------------------------------------------------------------


def test_a_manager_records_an_action_from_a_flag_with_one_of_its_suggestions(client, reported):
    alpha = reported.org.id("Engineering/Alpha")
    client.force_login(reported.users["eng_manager"])
    report = client.get(unit_url(alpha)).content.decode()
    link = f"{new_url(alpha)}?flag={FLAG_KIND}"
    flags = report[report.index('id="flags-heading"') : report.index('id="actions"')]
    assert escape(link) in flags or link in flags  # "Record an action" beside the flag's suggestions

    form = client.get(link)
    body = form.content.decode()
    assert form.status_code == 200
    flag = next(f for f in organisation_flags(cycle=reported.april) if f.unit_id == alpha and f.kind == FLAG_KIND)
    for suggestion in flag.actions:
        assert escape(suggestion) in body
    assert "In my own words" in body
    assert '<option value="psych_safety" selected>' in body  # the flag's metric
    assert f'<option value="{reported.viewers["eng_manager"].pk}" selected>' in body  # the manager owns it
    assert '<option value="2026-07" selected>' in body and "October 2026 (6 months after)" in body
    assert "2026-11" not in body and '<option value="2026-04"' not in body

    response = client.post(link, form_post(reported))
    assert response.status_code == 302 and response["Location"] == unit_url(alpha) + "#actions"
    action = Action.objects.get()
    assert (action.title, action.from_playbook, action.flag_kind, action.metric) == (
        flag.actions[1],
        True,
        FLAG_KIND,
        "psych_safety",
    )
    assert action.started_cycle == reported.april and action.check_back_month == dt.date(2026, 7, 1)
    assert action.owner == reported.viewers["eng_manager"] and action.is_open
    assert AuditEvent.objects.filter(action="action_created", actor="eng-lead@example.com").count() == 1

    after = client.get(response["Location"]).content.decode()
    assert f"Recorded \u201c{escape(action.title)}\u201d on Engineering/Alpha" in after
    listed = actions_section(after)
    assert escape(action.title) in listed and reported.viewers["eng_manager"].name in listed
    assert "the 2026-04 results, following a flag" in listed and "with the July 2026 results" in listed


def test_a_manager_records_an_action_in_their_own_words_from_a_metric_row(client, reported):
    alpha = reported.org.id("Engineering/Alpha")
    client.force_login(reported.users["eng_manager"])
    report = client.get(unit_url(alpha)).content.decode()
    trust = report[report.index('id="metric-trust"') :]
    assert f"{new_url(alpha)}?metric=trust" in trust[: trust.index('<div class="metric"', 10)]
    form = client.get(f"{new_url(alpha)}?metric=trust").content.decode()
    assert '<option value="trust" selected>' in form and 'name="suggestion"' not in form  # no flag: own words
    owner = reported.viewers["alpha_engineer"]
    response = client.post(
        new_url(alpha),
        form_post(
            reported,
            flag_kind="",
            suggestion="",
            own_title="  Agree where   AI is not expected to help ",
            metric="trust",
            owner=str(owner.pk),
            check_back_month="2026-05",
        ),
    )
    assert response.status_code == 302
    action = Action.objects.get()
    assert (action.title, action.from_playbook, action.flag_kind, action.metric, action.owner) == (
        "Agree where AI is not expected to help",
        False,
        "",
        "trust",
        owner,
    )


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"suggestion": "", "own_title": ""}, "suggestion", "pick a suggestion or write your own"),
        ({"suggestion": "own", "own_title": " "}, "own_title", "Say what you will try: write it in a sentence"),
        ({"suggestion": "0", "own_title": "Mine"}, "own_title", "You picked a suggestion and wrote your own words"),
        ({"suggestion": "7"}, "suggestion", "Pick one of the suggestions listed"),
        ({"suggestion": "own", "own_title": "x" * 201}, "own_title", "to 200 characters (it has 201)"),
        ({"metric": "happiness"}, "metric", "Choose the metric from the list"),
        ({"owner": ""}, "owner", "Choose the action's owner from the list"),
        ({"owner": "999999"}, "owner", "Choose the owner from the list"),
        ({"check_back_month": "2026-04"}, "check_back_month", "Choose a check-back month from the list"),
        ({"check_back_month": "2026-11"}, "check_back_month", "Choose a check-back month from the list"),
        ({"cycle": "2026-03"}, None, "Newer results (2026-04) were published since this form was opened"),
        ({"flag_kind": "trust_use_gap"}, None, "That flag is no longer among"),
    ],
)
def test_a_wrong_form_comes_back_with_the_fix_named_and_nothing_saved(client, reported, overrides, field, message):
    alpha = reported.org.id("Engineering/Alpha")
    client.force_login(reported.users["eng_manager"])
    response = client.post(new_url(alpha), form_post(reported, **overrides))
    body = response.content.decode()
    assert response.status_code == 400
    assert "The action was not recorded" in body and escape(message) in body
    if field is not None:
        anchor = "suggestion-legend" if field == "suggestion" else f"id_{field}"
        assert f'href="#{anchor}"' in body  # the summary links to the field
    assert not Action.objects.exists()
    assert not AuditEvent.objects.filter(action="action_created").exists()


def test_nothing_is_chosen_for_the_manager_that_they_did_not_choose(client, reported):
    """The general link names no metric, and an edit of an action whose owner has left names no
    owner: each select then starts on its empty choice, so saving asks instead of guessing."""
    alpha = reported.org.id("Engineering/Alpha")
    client.force_login(reported.users["eng_manager"])
    form = client.get(new_url(alpha)).content.decode()
    assert '<option value="" selected>Choose the metric</option>' in form
    action = record(reported, owner=reported.viewers["alpha_engineer"])
    reported.viewers["alpha_engineer"].delete()  # the owner leaves the roster: SET_NULL
    edit = client.get(action_url("action_edit", action)).content.decode()
    assert '<option value="" selected>Choose the owner</option>' in edit
    response = client.post(
        action_url("action_edit", action), {"title": action.title, "owner": "", "check_back_month": "2026-06"}
    )
    assert response.status_code == 400 and "Choose the action&#x27;s owner from the list." in response.content.decode()


def test_an_owner_who_left_since_the_form_was_shown_is_refused(client, reported):
    """The form offered them; they left the roster before the post: nothing is saved."""
    alpha = reported.org.id("Engineering/Alpha")
    engineer = reported.viewers["alpha_engineer"]
    client.force_login(reported.users["eng_manager"])
    assert f'<option value="{engineer.pk}"' in client.get(new_url(alpha)).content.decode()
    engineer.is_active = False
    engineer.save()
    response = client.post(new_url(alpha), form_post(reported, owner=str(engineer.pk)))
    assert response.status_code == 400
    assert "Choose the owner from the list" in response.content.decode()
    assert not Action.objects.exists()


# --- who reaches the pages -----------------------------------------------------------------------


@pytest.mark.parametrize("viewer", ["alpha_engineer", "design_engineer", "hr", "product_manager", "operator"])
def test_nobody_but_a_manager_of_the_unit_reaches_the_action_pages(client, reported, viewer):
    alpha = reported.org.id("Engineering/Alpha")
    action = record(reported)
    client.force_login(reported.users[viewer])
    assert client.get(new_url(alpha)).status_code == 404
    assert client.post(new_url(alpha), form_post(reported)).status_code == 404
    for name, data in (
        ("action_edit", {"title": "Changed", "owner": "", "check_back_month": "2026-06"}),
        ("action_close", {"outcome": "Done.", "confirm": "on"}),
        ("action_delete", {"confirm": "on"}),
    ):
        assert client.get(action_url(name, action)).status_code == 404, name
        assert client.post(action_url(name, action), data).status_code == 404, name
    assert Action.objects.filter(pk=action.pk, title="Pair on the flaky tests.", status="open").count() == 1


def test_signed_out_visitors_are_sent_to_sign_in(client, reported):
    action = record(reported)
    for url in (new_url(reported.org.id("Engineering/Alpha")), action_url("action_edit", action)):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_manager_gets_404_for_what_is_not_there(client, reported):
    client.force_login(reported.users["eng_manager"])
    alpha = reported.org.id("Engineering/Alpha")
    nowhere = uuid.UUID("00000000-0000-4000-8000-00000000dead")
    assert client.get(new_url(nowhere)).status_code == 404
    assert client.get(new_url(ORGANISATION_ID)).status_code == 404  # no action on the organisation itself
    assert client.get(f"{new_url(alpha)}?flag=trust_use_gap").status_code == 404  # not a flag of Alpha's
    assert client.get(f"{new_url(alpha)}?metric=happiness").status_code == 404
    assert client.get(reverse("reports:action_edit", kwargs={"action_id": nowhere})).status_code == 404


def test_a_404_reads_the_same_whether_the_action_exists_or_not(client, reported):
    action = record(reported)
    client.force_login(reported.users["product_manager"])
    counts = []
    for action_id in (action.pk, uuid.UUID("00000000-0000-4000-8000-00000000dead")):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("reports:action_edit", kwargs={"action_id": action_id})).status_code == 404
        counts.append(len(queries))
    assert counts[0] == counts[1]


# --- on the report -------------------------------------------------------------------------------


def test_everyone_who_sees_the_report_sees_its_actions_and_only_its_managers_get_the_links(client, reported):
    alpha = reported.org.id("Engineering/Alpha")
    action = record(reported, owner=reported.viewers["alpha_engineer"])
    closed = record(reported, title="Stop ranking by PR count.")
    action_close(actor=reported.viewers["eng_manager"], action=closed, outcome="The ranking is gone from the board.")
    for viewer, links in (("eng_manager", True), ("alpha_engineer", False), ("hr", False)):
        client.force_login(reported.users[viewer])
        body = client.get(unit_url(alpha)).content.decode()
        listed = actions_section(body)
        assert escape(action.title) in listed and reported.viewers["alpha_engineer"].name in listed, viewer
        earlier = listed[listed.index("Earlier actions") :]
        assert "Stop ranking by PR count." in earlier and "The ranking is gone from the board." in earlier
        assert (action_url("action_edit", action) in listed) is links, viewer
        assert (action_url("action_edit", closed) in listed) is False  # a closed action is history
        assert (new_url(alpha) in body) is links, viewer
    client.force_login(reported.users["design_engineer"])
    assert client.get(unit_url(alpha)).status_code == 404


def test_an_older_report_offers_no_recording_and_shows_only_actions_started_by_then(client, reported):
    alpha = reported.org.id("Engineering/Alpha")
    march_action = record(reported, cycle=reported.march, title="Started after March.", check_back=APRIL)
    april_action = record(reported, title="Started after April.")
    client.force_login(reported.users["eng_manager"])
    march = client.get(unit_url(alpha, "2026-03")).content.decode()
    assert new_url(alpha) not in march  # actions follow the latest results
    listed = actions_section(march)
    assert escape(march_action.title) in listed and escape(april_action.title) not in listed
    assert "with the April 2026 results" in listed and NOT_ENOUGH not in listed and CAVEAT not in listed


def test_at_the_check_back_the_report_shows_the_change_beside_the_organisations(client, reported):
    """From the published cells of the door, worked out here with the same rule."""
    alpha = reported.org.id("Engineering/Alpha")
    action = record(reported, cycle=reported.march, metric="psych_safety", check_back=APRIL, flag_kind=FLAG_KIND)
    client.force_login(reported.users["eng_manager"])
    listed = actions_section(client.get(unit_url(alpha)).content.decode())
    own = {c.cycle: c for c in unit_cells(unit_id=alpha, metrics=["psych_safety"])}
    org = {c.cycle: c for c in unit_cells(unit_id=ORGANISATION_ID, metrics=["psych_safety"])}
    assert not own["2026-03"].suppressed and not own["2026-04"].suppressed
    change = change_between(own["2026-03"], own["2026-04"])
    expected = check_back(
        metric=action.metric,
        started="2026-03",
        check_back_month=APRIL,
        shown_month=APRIL,
        cycles=[("2026-03", reported.march.month), ("2026-04", APRIL)],
        unit_cells=own,
        organisation_cells=org,
    )
    assert expected.unit_change == change and expected.organisation_change is not None
    assert escape(expected.sentence) in listed
    difference = f"{change.difference:+.2f}" if abs(change.difference) >= 0.005 else "0.00"
    assert difference.lstrip("+") in listed and "the organisation moved by" in listed
    assert escape(CAVEAT) in listed and "independent samples" in listed
    assert "worked" not in listed


def test_a_hidden_metric_is_never_checked_back_on(client, reported):
    """Gamma (three respondents) is hidden in both cycles: no number, the one sentence."""
    action = record(reported, unit="Engineering/Gamma", cycle=reported.march, check_back=APRIL)
    client.force_login(reported.users["eng_manager"])
    listed = actions_section(client.get(unit_url(reported.org.id("Engineering/Gamma"))).content.decode())
    assert escape(action.title) in listed and NOT_ENOUGH in listed
    assert not re.search(r"moved by|\d\.\d\d", listed)


def test_the_organisations_change_is_left_out_for_a_manager_who_may_not_open_it(client, reported):
    """With team reports off, a manager of Engineering may not open the organisation (decision 36)."""
    Organisation.objects.update(engineers_see_team_report=False)
    record(reported, cycle=reported.march, check_back=APRIL)
    client.force_login(reported.users["eng_manager"])
    listed = actions_section(client.get(unit_url(reported.org.id("Engineering/Alpha"))).content.decode())
    assert "since the action started" in listed or "No clear change yet" in listed
    assert "organisation" not in listed.split("</h4>", 1)[1].split("How the change is computed")[0]


def test_check_backs_cost_three_reads_of_the_door_however_many_actions(client, reported):
    alpha = reported.org.id("Engineering/Alpha")
    client.force_login(reported.users["eng_manager"])
    item_texts.cache_clear()
    client.get(unit_url(alpha))

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(unit_url(alpha)).status_code == 200
        return len(queries)

    without = count()
    record(reported, cycle=reported.march, check_back=APRIL)
    one_due = count()
    for metric in ("trust", "pressure", "psych_safety"):
        record(reported, cycle=reported.march, metric=metric, check_back=APRIL)
    record(reported, title="Not due yet.")
    many = count()
    assert one_due == without + 3  # the organisation's cells: served cycles, cells, snapshots
    assert many == one_due


# --- edit, close, delete -------------------------------------------------------------------------


def test_a_manager_edits_an_open_action(client, reported):
    action = record(reported)
    client.force_login(reported.users["eng_manager"])
    form = client.get(action_url("action_edit", action)).content.decode()
    assert 'value="Pair on the flaky tests."' in form and '<option value="2026-06" selected>' in form
    owner = reported.viewers["alpha_engineer"]
    response = client.post(
        action_url("action_edit", action),
        {"title": "Pair on the flaky tests, twice a week.", "owner": str(owner.pk), "check_back_month": "2026-08"},
    )
    assert response.status_code == 302 and response["Location"].endswith("#actions")
    action.refresh_from_db()
    assert (action.title, action.owner, action.check_back_month) == (
        "Pair on the flaky tests, twice a week.",
        owner,
        dt.date(2026, 8, 1),
    )
    assert AuditEvent.objects.filter(action="action_updated").count() == 1
    bad = client.post(action_url("action_edit", action), {"title": "", "owner": "", "check_back_month": "2027-01"})
    assert bad.status_code == 400
    body = bad.content.decode()
    assert "The changes were not saved" in body and "Say what you will try, in a sentence." in body
    action.refresh_from_db()
    assert action.title == "Pair on the flaky tests, twice a week."


def test_closing_needs_an_outcome_and_the_box_then_the_action_is_listed_as_earlier(client, reported):
    action = record(reported)
    client.force_login(reported.users["eng_manager"])
    assert client.get(action_url("action_close", action)).status_code == 200
    for data, message in (
        ({"outcome": "We stopped."}, "Tick the box to confirm closing the action"),
        ({"outcome": "", "confirm": "on"}, "Say in a sentence what happened"),
        ({"outcome": "x" * 501, "confirm": "on"}, "Keep the outcome to 500 characters (it has 501)"),
    ):
        response = client.post(action_url("action_close", action), data)
        assert response.status_code == 400 and escape(message) in response.content.decode()
        action.refresh_from_db()
        assert action.is_open
    response = client.post(
        action_url("action_close", action), {"outcome": "We stopped: it did not fit.", "confirm": "on"}
    )
    assert response.status_code == 302
    action.refresh_from_db()
    assert (action.status, action.outcome) == ("closed", "We stopped: it did not fit.")
    listed = actions_section(client.get(response["Location"]).content.decode())
    assert "We stopped: it did not fit." in listed[listed.index("Earlier actions") :]


def test_deleting_needs_the_box(client, reported):
    action = record(reported)
    client.force_login(reported.users["eng_manager"])
    page = client.get(action_url("action_delete", action)).content.decode()
    assert "recorded by mistake" in page
    refused = client.post(action_url("action_delete", action), {})
    assert refused.status_code == 400 and "Tick the box to confirm deleting" in refused.content.decode()
    assert Action.objects.filter(pk=action.pk).exists()
    response = client.post(action_url("action_delete", action), {"confirm": "on"})
    assert response.status_code == 302 and not Action.objects.filter(pk=action.pk).exists()
    assert AuditEvent.objects.filter(action="action_deleted").count() == 1


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("action_edit", {"title": "Later", "owner": "", "check_back_month": "2026-06"}, "This action is closed"),
        ("action_close", {"outcome": "Again", "confirm": "on"}, "This action is already closed."),
        ("action_delete", {"confirm": "on"}, "kept as the team"),
    ],
)
def test_a_closed_action_is_history_every_change_is_refused_with_a_message(client, reported, name, data, message):
    action = record(reported)
    action_close(actor=reported.viewers["eng_manager"], action=action, outcome="Done.")
    client.force_login(reported.users["eng_manager"])
    for response in (client.get(action_url(name, action)), client.post(action_url(name, action), data)):
        assert response.status_code == 302 and response["Location"].endswith("#actions")
    follow = client.get(unit_url(reported.org.id("Engineering/Alpha"))).content.decode()
    assert escape(message) in follow
    action.refresh_from_db()
    assert (action.title, action.outcome, action.status) == ("Pair on the flaky tests.", "Done.", "closed")


# --- HR's counts ---------------------------------------------------------------------------------


def department_row(body: str, name: str) -> list[int]:
    match = re.search(rf'<tr><th scope="row">{re.escape(name)}</th>((?:<td>\d+</td>)+)</tr>', body)
    assert match, name
    return [int(value) for value in re.findall(r"<td>(\d+)</td>", match.group(1))]


def test_hr_sees_per_department_how_many_flags_got_an_action(client, reported):
    org = reported.org
    engineering = {
        org.id(path) for path in ("Engineering", "Engineering/Alpha", "Engineering/Beta", "Engineering/Gamma")
    }
    product = {org.id(path) for path in ("Product", "Product/Design", "Product/Research")}
    # What the door serves as flags, counted here by hand: one per (cycle, unit, kind).
    flags = {
        (f.cycle, f.unit_id, f.kind) for c in (reported.march, reported.april) for f in organisation_flags(cycle=c)
    }
    assert ("2026-04", org.id("Engineering/Alpha"), FLAG_KIND) in flags
    on_engineering = sum(1 for _, unit, _ in flags if unit in engineering)
    on_product = sum(1 for _, unit, _ in flags if unit in product)

    record(reported, flag_kind=FLAG_KIND)  # answers Alpha's April flag: open, checks back in June
    record(reported, flag_kind="no_such_flag_kind", title="Not a flag of Alpha's.")  # counts as an action only
    closed = record(reported, unit="Engineering/Beta", cycle=reported.march, check_back=APRIL)  # reached
    action_close(actor=reported.viewers["eng_manager"], action=closed, outcome="Done.")
    record(reported, unit="Product/Design", check_back=dt.date(2026, 5, 1))

    client.force_login(reported.users["hr"])
    overview = client.get(reverse("reports:overview")).content.decode()
    assert reverse("reports:actions_overview") in overview
    body = client.get(reverse("reports:actions_overview")).content.decode()
    assert "<caption>Flags and actions per department, 2026-03 to 2026-04</caption>" in body
    # flags, flags with an action, open, reached the check-back, closed
    assert department_row(body, "Engineering") == [on_engineering, 1, 2, 1, 1]
    assert department_row(body, "Product") == [on_product, 0, 1, 0, 0]
    assert department_row(body, "All departments") == [on_engineering + on_product, 1, 3, 1, 1]
    # March's page: only the actions started after March, and March's flags.
    march = client.get(reverse("reports:actions_overview"), {"cycle": "2026-03"}).content.decode()
    march_flags = {key for key in flags if key[0] == "2026-03" and key[1] in engineering}
    assert department_row(march, "Engineering") == [len(march_flags), 0, 0, 0, 1]  # April's check-back not reached


@pytest.mark.parametrize("viewer", ["eng_manager", "alpha_engineer", "operator"])
def test_the_counts_are_hrs_alone(client, reported, viewer):
    client.force_login(reported.users[viewer])
    assert client.get(reverse("reports:actions_overview")).status_code == 404
    assert client.get(reverse("reports:actions_overview"), {"cycle": "2026-13"}).status_code == 404
