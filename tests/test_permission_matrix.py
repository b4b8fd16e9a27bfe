"""Every route × every kind of viewer, against the table in tests/permission_table.py.

The routes are read from the URL resolver, so a route added without a row in the table (or a row
whose route has gone) fails ``test_the_table_lists_every_route``. Each case of the table is then
requested by each role, with its URL kwargs filled from one organisation built once for the
module, and the status compared exactly (and, for redirects, where they go).

The admin: only ``admin:index`` and one changelist are in the table (ADMIN_LISTED); every other
route under admin/ is Django's own, generated per registered model and guarded by the same
AdminSite.admin_view staff check, so it is left out here on purpose (a route added under admin/
by hand would be left out too: keep custom views out of the admin's URLs, or list them).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.files.base import ContentFile
from django.db import transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from knox.models import AuthToken

from analytics.exports.models import ExportJob
from analytics.job.run import aggregate_cycle
from analytics.published import ORGANISATION_ID
from surveys.closing import cycle_close
from surveys.models import Invitation, Role
from surveys.services.actions import ActionInput, action_close, action_create
from surveys.services.cycles import cycle_open, links_issue
from surveys.submission import response_submit
from tests.analytics.builders import cycle_run, org_build, standard_answers
from tests.factories import PersonFactory
from tests.permission_table import ADMIN_LOGIN, LOGIN, ROLES, ROUTES, Case, Redirect, Route
from tests.surveys.helpers import FULL_ANSWERS

MARCH, APRIL, MAY = dt.date(2026, 3, 1), dt.date(2026, 4, 1), dt.date(2026, 5, 1)
# The admin routes the table lists; the rest of admin/ is left out (see the module docstring).
ADMIN_LISTED = {"admin:index", "admin:surveys_person_changelist"}


# --- the routes, from the resolver ---------------------------------------------------------------


def _walk(patterns, prefix: str = "", namespace: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            yield (f"{namespace}{pattern.name}" if pattern.name else "", prefix + str(pattern.pattern))


def resolver_routes() -> list[tuple[str, str]]:
    """(name, full route) of every URL pattern, in the resolver's order, the admin's trimmed."""
    return [
        (name, path)
        for name, path in _walk(get_resolver().url_patterns)
        if not path.startswith("admin/") or name in ADMIN_LISTED
    ]


def test_the_table_lists_every_route():
    found = Counter(resolver_routes())
    listed = Counter(route.key for route in ROUTES)
    missing = sorted((found - listed).elements())
    gone = sorted((listed - found).elements())
    assert not missing, f"routes with no row in tests/permission_table.py (add them, with every role): {missing}"
    assert not gone, f"rows in tests/permission_table.py for routes that no longer exist: {gone}"


def test_every_listed_admin_route_exists_and_every_route_but_the_shadowed_is_requested():
    names = {name for name, _ in _walk(get_resolver().url_patterns)}
    assert names >= ADMIN_LISTED
    for route in ROUTES:
        assert route.shadowed != bool(route.cases), f"{route.key}: a reachable route needs cases, a shadowed none"
        for case in route.cases:
            assert set(case.expect) == set(ROLES), f"{route.key} {case.label}: every role, once"


@pytest.mark.parametrize("route", [route for route in ROUTES if route.shadowed], ids=lambda route: route.name)
def test_a_shadowed_route_is_answered_by_the_earlier_one(route: Route):
    listed = [key for key in _walk(get_resolver().url_patterns) if key == route.key]
    assert len(listed) == 2, "shadowed means listed twice: once answering, once not"
    match = resolve("/" + route.path)
    own = [
        pattern
        for pattern in get_resolver().url_patterns
        if isinstance(pattern, URLPattern) and str(pattern.pattern) == route.path
    ]
    assert own and match.func is own[0].callback  # config/urls.py's own view answers the path


# --- the organisation ------------------------------------------------------------------------------


@dataclass
class World:
    refs: dict[str, str]
    users: dict[str, object]


def _build() -> World:
    org = org_build()
    low = {"Engineering/Alpha": "low"}
    march = cycle_run(org, standard_answers(org, safety=low)).cycle
    aggregate_cycle(cycle=march)
    # April: someone asks for a fresh link while it is open and never uses it; the cycle closes, so
    # the link is retired (the "this pulse has closed" page).
    april = cycle_run(org, standard_answers(org, label="apr", safety=low), month=APRIL, close=False).cycle
    unanswered = Invitation.objects.filter(cycle=april, status=Invitation.Status.PENDING).order_by("pk")[:1]
    closed_token = links_issue(cycle=april, invitations=unanswered, kind="resend", send_mail=False)[0].token
    cycle_close(cycle=april, today=APRIL + dt.timedelta(days=15))
    april.refresh_from_db()
    aggregate_cycle(cycle=april)

    # The viewers join after the published cycles, so they are not among the respondents.
    hr = PersonFactory(email="hr@example.com", role=Role.HR, team=org.units["Product/Research"])
    manager = PersonFactory(email="eng-lead@example.com", role=Role.MANAGER, team=org.units["Engineering/Beta"])
    manager.managed_teams.set([org.units["Engineering"]])
    manager_other = PersonFactory(email="product-lead@example.com", role=Role.MANAGER, team=org.units["Product/Design"])
    manager_other.managed_teams.set([org.units["Product"]])
    engineer = PersonFactory(email="alpha@example.com", team=org.units["Engineering/Alpha"])
    engineer_other = PersonFactory(email="design@example.com", team=org.units["Product/Design"])
    admin = get_user_model().objects.create_superuser("ops@example.com", "ops@example.com", "pw")
    other_hr = PersonFactory(email="hr2@example.com", role=Role.HR, team=org.units["Product/Research"])
    # A roster person who never signs in here: signing in changes last_login, which voids a reset
    # token, so the reset link is someone else's than any viewer's.
    forgetful = PersonFactory(email="forgetful@example.com", team=org.units["Engineering/Beta"])

    # May is open: one link left to answer, one answered.
    may = cycle_open(month=MAY, today=MAY, send_mail=False)
    links = sorted(may.links, key=lambda link: link.person_email)
    open_token, answered_token = links[0].token, links[1].token
    response_submit(token=answered_token, raw_answers=dict(FULL_ANSWERS))

    now = timezone.now()
    later, earlier = now + dt.timedelta(hours=24), now - dt.timedelta(hours=1)

    def job(requester, state: str, expires_at: dt.datetime | None) -> ExportJob:
        made = ExportJob.objects.create(
            requester=requester, format="csv", state=state, progress=100 if state == "done" else 40, k_values=[5]
        )
        if state in ("done", "expired"):
            made.finished_at, made.expires_at = now, expires_at
            if state == "done":
                made.file.save(f"pilotpulse-all-{made.pk}.zip", ContentFile(b"PK\x05\x06" + b"\0" * 18), save=False)
            made.save()
        return made

    job_done = job(hr.user, "done", later)
    job_running = job(hr.user, "running", None)
    job_expired = job(hr.user, "expired", earlier)
    job_other_hr = job(other_hr.user, "done", later)
    AuthToken.objects.create(user=engineer.user)

    def action(title: str):
        return action_create(
            actor=manager,
            unit=org.units["Engineering/Alpha"],
            started_cycle=april,
            data=ActionInput(
                metric="psych_safety",
                flag_kind="psych_safety_low",
                title=title,
                owner_id=manager.pk,
                check_back_month=dt.date(2026, 6, 1),
            ),
        )

    action_open = action("Stop ranking people by AI use or pull-request count.")
    action_closed = action_close(
        actor=manager, action=action("Drop adoption targets."), outcome="Dropped; nobody missed them."
    )
    action_alpha = action_create(
        actor=manager,
        unit=org.units["Engineering/Alpha"],
        started_cycle=april,
        data=ActionInput(
            metric="psych_safety",
            title="Stop ranking people by AI use or pull-request count.",
            owner_id=engineer.pk,
            check_back_month=dt.date(2026, 6, 1),
        ),
    )

    units = {
        "org": ORGANISATION_ID,
        "eng": org.id("Engineering"),
        "alpha": org.id("Engineering/Alpha"),
        "beta": org.id("Engineering/Beta"),
        "gamma": org.id("Engineering/Gamma"),
        "product": org.id("Product"),
        "design": org.id("Product/Design"),
        "research": org.id("Product/Research"),
        "nowhere": str(uuid.UUID("00000000-0000-4000-8000-00000000dead")),
    }
    refs = {
        **units,
        "job_done": str(job_done.pk),
        "job_running": str(job_running.pk),
        "job_expired": str(job_expired.pk),
        "job_other_hr": str(job_other_hr.pk),
        "survey_open": open_token,
        "survey_answered": answered_token,
        "survey_closed": closed_token,
        "survey_unknown": "x" * 43,
        "digest": AuthToken.objects.get(user=engineer.user).digest,
        "action_alpha": str(action_alpha.pk),
        "action_open": str(action_open.pk),
        "action_closed": str(action_closed.pk),
        "reset_uid": urlsafe_base64_encode(force_bytes(forgetful.user.pk)),
        "reset_token": default_token_generator.make_token(forgetful.user),
    }
    users = {
        "engineer": engineer.user,
        "engineer_other": engineer_other.user,
        "manager": manager.user,
        "manager_other": manager_other.user,
        "hr": hr.user,
        "admin": admin,
    }
    return World(refs=refs, users=users)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """Built once for the module inside a transaction rolled back at its end; each test runs in a
    savepoint of it (pytest-django's ``db``), so what a request changes is undone after it."""
    media = tmp_path_factory.mktemp("media")
    fast = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=str(media), PASSWORD_HASHERS=fast):
        with transaction.atomic():
            yield _build()
            transaction.set_rollback(True)


# --- the requests -----------------------------------------------------------------------------------


def _params():
    for route in ROUTES:
        for case in route.cases:
            for role in ROLES:
                marks = []
                if role in case.xfail:
                    marks.append(pytest.mark.xfail(strict=True, reason=case.xfail[role]))
                yield pytest.param(route, case, role, id=f"{route.name}[{case.label}]-{role}", marks=marks)


def _fill(template: str, refs: dict[str, str]) -> str:
    return template.format_map(refs)


def _location(expected: Redirect, path: str, refs: dict[str, str]) -> str:
    if expected == LOGIN:
        return f"{reverse('login')}?{urlencode({'next': path}, safe='/')}"
    if expected == ADMIN_LOGIN:
        return f"{reverse('admin:login')}?{urlencode({'next': path}, safe='/')}"
    return _fill(expected.to, refs)


@pytest.mark.parametrize(("route", "case", "role"), list(_params()))
def test_permission(db, world: World, route: Route, case: Case, role: str):
    refs = world.refs
    path = reverse(route.name, kwargs={key: _fill(value, refs) for key, value in case.kwargs.items()})
    assert resolve(path).route == route.path or route.name == "api:not_found", "the case requests its own route"
    client = Client()
    if role != "anonymous":
        client.force_login(world.users[role])
    query = {key: _fill(value, refs) for key, value in case.query.items()}
    if case.method == "get":
        response = client.get(path, query)
    elif case.method == "post":
        response = client.post(path, {key: _fill(value, refs) for key, value in case.data.items()})
    else:  # patch, delete: the API's, with a JSON body
        body = {key: _fill(value, refs) for key, value in case.data.items()}
        response = getattr(client, case.method)(path, body, content_type="application/json")
    expected = case.expect[role]
    shown = f"{case.method.upper()} {path}{'?' + urlencode(query) if query else ''} as {role}"
    if isinstance(expected, Redirect):
        # The login page's ?next= is the whole path asked for, its query included.
        asked = f"{path}?{urlencode(query)}" if query else path
        assert (response.status_code, response.get("Location")) == (302, _location(expected, asked, refs)), shown
    else:
        assert response.status_code == expected, shown
        if route.json and expected in (401, 404):
            assert response["Content-Type"].startswith("application/json"), shown
            assert "detail" in response.json(), shown
