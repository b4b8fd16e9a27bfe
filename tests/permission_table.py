"""The expected permission matrix: every URL route of the site × every kind of viewer, with the
exact status each gets (tests/test_permission_matrix.py checks it against the URL resolver, so a
new route cannot be left out, and against real requests).

Written by hand from the rules, not computed from the code:

- HR sees every unit; a manager sees the units they manage and everything below them, plus their
  own team's lineage; an engineer sees their own team and the units above it (the organisation's
  ``engineers_see_team_report``, default on); nobody else sees a unit: 404, never 403, on pages
  and in the API alike.
- The overview and instrument health are HR's (404 for everyone else); a unit's heatmap is HR's
  and its managers'; the exports are HR's (404 for everyone else), and a job's status and file
  are its requester's only (another HR user's job is 404).
- The API answers anonymous requests with 401 JSON; pages send anonymous visitors to
  /accounts/login/?next=<the page>. Survey links, the privacy page and the resend form need no
  sign-in. The admin is for staff only.

Viewers (tests/test_permission_matrix.py builds them, as tests/analytics/reports/conftest.py does):

    anonymous        not signed in
    engineer         on Engineering/Alpha
    engineer_other   on Product/Design
    manager          manages Engineering, sits on Engineering/Beta
    manager_other    manages Product, sits on Product/Design
    hr               HR, sits on Product/Research
    admin            a superuser with no roster entry (the operator)

Placeholders in ``{braces}`` (URL kwargs, query values, expected redirect targets) are filled from
the fixture organisation: units ``org`` (the organisation), ``eng`` (Engineering), ``alpha``,
``beta``, ``gamma`` (Engineering's teams; Gamma is below k and hidden), ``product``, ``design``,
``research`` (Product's teams) and ``nowhere`` (a UUID that is no unit); export jobs ``job_done``,
``job_running`` and ``job_expired`` (HR's), ``job_other_hr`` (a second HR user's, done); survey
tokens ``survey_open``, ``survey_answered`` (both of the open cycle), ``survey_closed`` (of a
closed cycle) and ``survey_unknown``; ``digest`` (an API token of the engineer's); ``action_alpha``,
``action_open`` and ``action_closed`` (actions on Alpha following April, the manager's); and
``reset_uid``/``reset_token`` (a valid password-reset link of a roster person who is no viewer).
"""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("anonymous", "engineer", "engineer_other", "manager", "manager_other", "hr", "admin")
SIGNED_IN = ROLES[1:]
ROSTER = ("engineer", "engineer_other", "manager", "manager_other", "hr")


@dataclass(frozen=True)
class Redirect:
    """A 302. ``to`` is "login" (the site's login page, ?next= the path asked for), "admin_login"
    (the admin's, likewise), or a path (placeholders allowed), compared exactly."""

    to: str


LOGIN = Redirect("login")
ADMIN_LOGIN = Redirect("admin_login")
Expect = int | Redirect


@dataclass(frozen=True)
class Case:
    """One request made by every role: ``expect[role]`` is what that role must get. ``xfail``
    names (role: reason) cells where the code is known to be wrong and the table says what it
    should do (strict: the test fails once the code is fixed, so the mark is removed)."""

    label: str
    expect: dict[str, Expect]
    method: str = "get"
    kwargs: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)
    xfail: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    """One URL pattern as the resolver lists it: its full route and its (namespaced) name.
    ``json``: every 401/404 body of the route must be JSON (the API's errors).
    ``shadowed``: an earlier pattern answers this route's path, so no request can reach it; the
    test checks that instead of making requests."""

    name: str
    path: str
    cases: tuple[Case, ...] = ()
    json: bool = False
    shadowed: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.path)


def row(default: Expect, **by_role: Expect) -> dict[str, Expect]:
    """``default`` for every role, except the ones named."""
    unknown = set(by_role) - set(ROLES)
    assert not unknown, f"not a role: {unknown}"
    return {role: by_role.get(role, default) for role in ROLES}


def page(sees: frozenset[str] | set[str] | tuple[str, ...]) -> dict[str, Expect]:
    """A signed-in page: anonymous to the login page, ``sees`` 200, anyone else 404."""
    return {role: LOGIN if role == "anonymous" else (200 if role in sees else 404) for role in ROLES}


def api(sees: frozenset[str] | set[str] | tuple[str, ...], ok: int = 200) -> dict[str, Expect]:
    """An API read: anonymous 401, ``sees`` ``ok``, anyone else 404."""
    return {role: 401 if role == "anonymous" else (ok if role in sees else 404) for role in ROLES}


# Who may see each unit's report (pages and API alike), straight from the rules above.
SEES_UNIT: dict[str, frozenset[str]] = {
    # Everyone on the roster has the organisation at the top of their own lineage.
    "org": frozenset(ROSTER),
    # Engineering: its manager, its Alpha engineer (the unit above their team), HR.
    "eng": frozenset({"engineer", "manager", "hr"}),
    "alpha": frozenset({"engineer", "manager", "hr"}),
    "beta": frozenset({"manager", "hr"}),  # the manager's own team too, but managed anyway
    "gamma": frozenset({"manager", "hr"}),  # hidden below k, still the manager's business
    "product": frozenset({"engineer_other", "manager_other", "hr"}),
    "design": frozenset({"engineer_other", "manager_other", "hr"}),
    "research": frozenset({"manager_other", "hr"}),  # HR sits here, but sees it as HR
    "nowhere": frozenset(),  # no such unit: 404 for HR too
}
# Whose business a unit's heatmap is: HR's and the unit's managers' (managing it or a unit above).
MANAGES_UNIT: dict[str, frozenset[str]] = {
    "org": frozenset({"hr"}),  # no manager manages the organisation
    **{unit: frozenset({"manager", "hr"}) for unit in ("eng", "alpha", "beta", "gamma")},
    **{unit: frozenset({"manager_other", "hr"}) for unit in ("product", "design", "research")},
    "nowhere": frozenset(),
}
UNITS = tuple(SEES_UNIT)

# Who records and changes a unit's actions: its managers only (HR reads them on the report; managers
# own the loop). The organisation is no team: nobody records on it.
ACTS_ON_UNIT: dict[str, frozenset[str]] = {
    "org": frozenset(),
    **{unit: frozenset({"manager"}) for unit in ("eng", "alpha", "beta", "gamma")},
    **{unit: frozenset({"manager_other"}) for unit in ("product", "design", "research")},
    "nowhere": frozenset(),
}
MANAGER = frozenset({"manager"})
HR = frozenset({"hr"})
MANAGERS = frozenset({"manager", "manager_other"})

ROSTER_CSV = "email,name,team,role\nalpha@example.com,Alpha Person,Engineering/Alpha,engineer\n"
ACTION_BODY = {
    "unit": "{alpha}",
    "cycle": "2026-04",
    "metric": "psych_safety",
    "title": "Stop ranking people by AI use or pull-request count.",
    "owner": "alpha@example.com",  # the engineer, on Alpha
    "check_back_month": "2026-06",
}
# Who reads an action on Alpha (actions_visible_to): HR, Engineering's manager, Alpha's engineer;
# who may change it (manageable_unit_ids): Engineering's manager. A reader who may not change it
# gets 403; anyone else 404, as for an action that does not exist.
READS_ALPHA_ACTIONS = frozenset({"engineer", "manager", "hr"})


def change(ok: int) -> dict[str, Expect]:
    """A write on Alpha's action: anonymous 401, its manager ``ok``, its other readers 403, anyone else 404."""
    return {
        role: 401 if role == "anonymous" else ok if role == "manager" else 403 if role in READS_ALPHA_ACTIONS else 404
        for role in ROLES
    }


ROUTES: tuple[Route, ...] = (
    # --- start page and the survey side (surveys/urls.py) ----------------------------------------
    Route(
        "home",
        "",
        (
            Case(
                "start page per role",
                row(
                    LOGIN,
                    engineer=Redirect("/units/{alpha}/"),
                    engineer_other=Redirect("/units/{design}/"),
                    manager=Redirect("/my-teams/"),
                    manager_other=Redirect("/my-teams/"),
                    hr=Redirect("/overview/"),
                    admin=200,  # the operator's page, pointing at the admin
                ),
            ),
        ),
    ),
    Route("pulse_status", "pulse/", (Case("own pulse", page(SIGNED_IN)),)),
    Route(
        "survey",
        "s/<str:token>/",
        (  # No sign-in: the same answer whoever asks (and nothing of the session is read).
            Case("open link", row(200), kwargs={"token": "{survey_open}"}),
            Case("open link, empty post", row(400), method="post", kwargs={"token": "{survey_open}"}),
            Case("answered link", row(409), kwargs={"token": "{survey_answered}"}),
            Case("closed cycle's link", row(410), kwargs={"token": "{survey_closed}"}),
            Case("unknown link", row(404), kwargs={"token": "{survey_unknown}"}),
        ),
    ),
    Route("survey_thanks", "thanks/", (Case("thanks", row(200)),)),
    Route(
        "link_resend",
        "resend/",
        (
            Case("form", row(200)),
            Case("empty post", row(400), method="post"),  # "enter your work e-mail address"
        ),
    ),
    Route("privacy", "privacy/", (Case("privacy", row(200)),)),
    # --- report pages (analytics/reports/urls.py) ------------------------------------------------
    Route("reports:overview", "overview/", (Case("HR's start page", page(HR)),)),
    Route("reports:actions_overview", "overview/actions/", (Case("flags and actions per department", page(HR)),)),
    Route(
        "reports:action_new",
        "units/<uuid:unit_id>/actions/new/",
        (
            *(Case(unit, page(ACTS_ON_UNIT[unit]), kwargs={"unit_id": f"{{{unit}}}"}) for unit in UNITS),
            Case("from Alpha's flag", page(MANAGER), kwargs={"unit_id": "{alpha}"}, query={"flag": "psych_safety_low"}),
            # The manager: the form again with what to fix, 400; nothing recorded.
            Case("empty post", row(404, anonymous=LOGIN, manager=400), method="post", kwargs={"unit_id": "{alpha}"}),
        ),
    ),
    *(
        Route(
            f"reports:action_{verb}",
            f"actions/<uuid:action_id>/{verb}/",
            (
                Case("open action", page(MANAGER), kwargs={"action_id": "{action_open}"}),
                # A closed action is history: back to its report with the reason.
                Case(
                    "closed action",
                    row(404, anonymous=LOGIN, manager=Redirect("/units/{alpha}/#actions")),
                    kwargs={"action_id": "{action_closed}"},
                ),
                Case("no such action", page(()), kwargs={"action_id": "{nowhere}"}),
                Case(
                    "empty post",
                    row(404, anonymous=LOGIN, manager=400),
                    method="post",
                    kwargs={"action_id": "{action_open}"},
                ),
            ),
        )
        for verb in ("edit", "close", "delete")
    ),
    Route("reports:my_teams", "my-teams/", (Case("managers' start page", page(MANAGERS)),)),
    Route(
        "reports:unit",
        "units/<uuid:unit_id>/",
        tuple(Case(unit, page(SEES_UNIT[unit]), kwargs={"unit_id": f"{{{unit}}}"}) for unit in UNITS),
    ),
    Route(
        "reports:heatmap",
        "units/<uuid:unit_id>/heatmap/",
        tuple(Case(unit, page(MANAGES_UNIT[unit]), kwargs={"unit_id": f"{{{unit}}}"}) for unit in UNITS),
    ),
    # Comments listed at the units each viewer may see: everyone on the roster has some.
    Route("reports:comments", "comments/", (Case("listed comments", page(ROSTER)),)),
    Route("reports:health", "instrument-health/", (Case("alpha per construct", page(HR)),)),
    # --- HR's export pages (analytics/exports/urls.py) -------------------------------------------
    Route(
        "exports:home",
        "exports/",
        (
            Case("list and form", page(HR)),
            # Starts an export (queued once committed) and comes back to the list.
            Case("start", row(404, anonymous=LOGIN, hr=Redirect("/exports/")), method="post", data={"format": "csv"}),
            # A bad format: the form again, 400. (An empty POST is no bound form, `request.POST or None`,
            # so it is the plain page, 200: a bound one is what says "400".)
            Case("bad format", row(404, anonymous=LOGIN, hr=400), method="post", data={"format": "pdf"}),
        ),
    ),
    Route(
        "exports:status",
        "exports/<int:job_id>/status/",
        (
            Case("own job", page(HR), kwargs={"job_id": "{job_done}"}),
            Case("another HR user's job", page(()), kwargs={"job_id": "{job_other_hr}"}),
        ),
    ),
    Route(
        "exports:download",
        "exports/<int:job_id>/download/",
        (
            Case("own job, done", page(HR), kwargs={"job_id": "{job_done}"}),
            Case("own job, running", row(404, anonymous=LOGIN, hr=409), kwargs={"job_id": "{job_running}"}),
            Case("own job, expired", row(404, anonymous=LOGIN, hr=410), kwargs={"job_id": "{job_expired}"}),
            Case("another HR user's job", page(()), kwargs={"job_id": "{job_other_hr}"}),
        ),
    ),
    # --- the API (analytics/api/urls.py, analytics/exports/api_urls.py) -------------------------
    Route("api:me", "api/v1/me/", (Case("who am I", api(SIGNED_IN)),), json=True),
    Route("api:cycles", "api/v1/cycles/", (Case("published cycles", api(SIGNED_IN)),), json=True),
    # The operator is signed in and gets an empty tree, not an error.
    Route("api:units", "api/v1/units/", (Case("visible tree", api(SIGNED_IN)),), json=True),
    Route(
        "api:cells",
        "api/v1/cells/",
        (
            # Without a unit: HR reads the organisation; anyone else must name one (400).
            Case("no unit", row(400, anonymous=401, hr=200)),
            *(Case(unit, api(SEES_UNIT[unit]), query={"unit": f"{{{unit}}}"}) for unit in UNITS),
        ),
        json=True,
    ),
    Route(
        "api:flags",
        "api/v1/flags/",
        (
            Case("every visible unit", api(SIGNED_IN)),
            *(Case(unit, api(SEES_UNIT[unit]), query={"unit": f"{{{unit}}}"}) for unit in UNITS),
        ),
        json=True,
    ),
    Route(
        "api:comments",
        "api/v1/comments/",
        (
            Case("every visible unit", api(SIGNED_IN)),
            *(Case(unit, api(SEES_UNIT[unit]), query={"unit": f"{{{unit}}}"}) for unit in UNITS),
        ),
        json=True,
    ),
    Route(
        "api:exports-api-start",
        "api/v1/exports/",
        (
            Case("start", api(HR, ok=202), method="post", data={"format": "csv"}),
            Case("empty post", api(HR, ok=400), method="post"),  # HR: "format: choose one of ..."
            Case("get (post only)", api(HR, ok=405)),  # the HR check comes first: 404 for the rest
        ),
        json=True,
    ),
    Route(
        "api:exports-api-status",
        "api/v1/exports/<int:job_id>/",
        (
            Case("own job", api(HR), kwargs={"job_id": "{job_done}"}),
            Case("another HR user's job", api(()), kwargs={"job_id": "{job_other_hr}"}),
        ),
        json=True,
    ),
    Route(
        "api:exports-api-download",
        "api/v1/exports/<int:job_id>/download/",
        (
            Case("own job, done", api(HR), kwargs={"job_id": "{job_done}"}),
            Case("own job, running", api(HR, ok=409), kwargs={"job_id": "{job_running}"}),
            Case("own job, expired", api(HR, ok=410), kwargs={"job_id": "{job_expired}"}),
            Case("another HR user's job", api(()), kwargs={"job_id": "{job_other_hr}"}),
        ),
        json=True,
    ),
    Route(
        "api:programme_cycles",
        "api/v1/programme/cycles/",
        (
            Case("the cycle calendar", api(HR)),
            Case("post (get only)", api(HR, ok=405), method="post"),  # the HR check comes first
        ),
        json=True,
    ),
    Route(
        "api:programme_cycles_open",
        "api/v1/programme/cycles/open/",
        (
            # HR: May 2026 is still open, so no other month's cycle may open: 409, nothing mailed.
            Case("open", api(HR, ok=409), method="post"),
            Case("get (post only)", api(HR, ok=405)),
        ),
        json=True,
    ),
    Route(
        "api:programme_cycles_remind",
        "api/v1/programme/cycles/remind/",
        (
            # HR: May opened weeks ago and no reminder went out today: sent, 200.
            Case("remind", api(HR), method="post"),
            Case("get (post only)", api(HR, ok=405)),
        ),
        json=True,
    ),
    Route(
        "api:programme_cycles_close",
        "api/v1/programme/cycles/close/",
        (
            Case("close May", api(HR), method="post"),
            Case("get (post only)", api(HR, ok=405)),
        ),
        json=True,
    ),
    Route(
        "api:roster_preview",
        "api/v1/programme/roster/preview/",
        (
            # A one-person roster file: HR gets the dry run (nothing stored); the rest 404, as on the pages.
            Case("preview a file", api(HR), method="post", data={"csv": ROSTER_CSV}),
            Case("empty post", api(HR, ok=400), method="post"),  # HR: "csv: send the roster CSV…"
            Case("get (post only)", api(HR, ok=405)),  # the HR check comes first: 404 for the rest
        ),
        json=True,
    ),
    Route(
        "api:roster_apply",
        "api/v1/programme/roster/apply/",
        (
            # A fingerprint of no roster: HR gets 409 (nothing applied).
            Case(
                "stale fingerprint", api(HR, ok=409), method="post", data={"csv": ROSTER_CSV, "fingerprint": "0" * 64}
            ),
            Case("empty post", api(HR, ok=400), method="post"),
            Case("get (post only)", api(HR, ok=405)),
        ),
        json=True,
    ),
    Route(
        "api:actions",
        "api/v1/actions/",
        (
            # Everyone signed in gets the actions they may read (the operator: none).
            Case("the actions I may read", api(SIGNED_IN)),
            Case("Alpha's actions", api(READS_ALPHA_ACTIONS), query={"unit": "{alpha}"}),
            Case("record on Alpha", change(201), method="post", data=ACTION_BODY),
            # No unit to decide on: "unit: give the unit_id…", the same 400 for everyone signed in.
            Case("empty post", row(400, anonymous=401), method="post"),
        ),
        json=True,
    ),
    Route(
        "api:action",
        "api/v1/actions/<uuid:action_id>/",
        (
            Case("Alpha's action", api(READS_ALPHA_ACTIONS), kwargs={"action_id": "{action_alpha}"}),
            Case("no such action", api(()), kwargs={"action_id": "{nowhere}"}),
            Case(
                "edit",
                change(200),
                method="patch",
                kwargs={"action_id": "{action_alpha}"},
                data={"title": "Drop the leaderboard."},
            ),
            Case("delete", change(204), method="delete", kwargs={"action_id": "{action_alpha}"}),
            # GET, PATCH and DELETE only: 405 once signed in, before the action is looked up.
            Case("post", row(405, anonymous=401), method="post", kwargs={"action_id": "{action_alpha}"}),
        ),
        json=True,
    ),
    Route(
        "api:action_close",
        "api/v1/actions/<uuid:action_id>/close/",
        (
            Case(
                "close",
                change(200),
                method="post",
                kwargs={"action_id": "{action_alpha}"},
                data={"outcome": "We stopped the ranking."},
            ),
            Case("no such action", api(()), method="post", kwargs={"action_id": "{nowhere}"}),
            Case("get (post only)", row(405, anonymous=401), kwargs={"action_id": "{action_alpha}"}),
        ),
        json=True,
    ),
    # The token page is a signed-in page (not an API read): everyone signed in manages their own.
    Route("api:tokens", "api/tokens/", (Case("own tokens", page(SIGNED_IN)),)),
    Route(
        "api:token_create",
        "api/tokens/new/",
        (
            Case("post", page(SIGNED_IN) | {role: 201 for role in SIGNED_IN}, method="post"),
            Case("get (post only)", page(SIGNED_IN) | {role: 405 for role in SIGNED_IN}),
        ),
    ),
    Route(
        "api:token_revoke",
        "api/tokens/revoke/",
        (
            # The engineer's token: only the engineer may revoke it; for anyone else it is not there.
            Case(
                "the engineer's token",
                row(404, anonymous=LOGIN, engineer=Redirect("/api/tokens/")),
                method="post",
                data={"digest": "{digest}"},
            ),
            Case("empty post", page(()), method="post"),
        ),
    ),
    # The schema and its docs describe the API, and hold no data: public, as test_schema.py has it.
    Route("api:schema", "api/schema/", (Case("schema", row(200)),)),
    Route("api:docs", "api/docs/", (Case("swagger ui", row(200)),)),
    # Anything else under /api/: a JSON 404 for everyone (no endpoint, so nothing to sign in to).
    Route(
        "api:not_found",
        "api/^(?P<rest>[\\s\\S]*)$",
        (Case("no such endpoint", row(404), kwargs={"rest": "v1/nope/"}),),
        json=True,
    ),
    # --- accounts (config/urls.py, django.contrib.auth.urls) -------------------------------------
    Route(
        "password_reset",
        "accounts/password_reset/",
        (
            Case("form", row(200)),
            Case("empty post", row(200), method="post"),  # the form again, with its error (Django's)
        ),
    ),
    Route("login", "accounts/login/", (Case("form", row(200)),)),
    # django.contrib.auth.urls' own login: config/urls.py's (with the field-worded form) comes
    # first on the same path, so this one is never reached.
    Route("login", "accounts/login/", shadowed=True),
    Route(
        "logout",
        "accounts/logout/",
        (
            Case("post", row(Redirect("/accounts/login/")), method="post"),
            Case("get (post only since Django 5)", row(405)),
        ),
    ),
    Route(
        "password_change",
        "accounts/password_change/",
        (
            Case("form", page(SIGNED_IN)),
            Case("empty post", page(SIGNED_IN), method="post"),  # the form again, with its errors
        ),
    ),
    Route("password_change_done", "accounts/password_change/done/", (Case("done", page(SIGNED_IN)),)),
    # django.contrib.auth.urls' own password_reset: config/urls.py's (with the roster form) comes
    # first on the same path, so this one is never reached.
    Route("password_reset", "accounts/password_reset/", shadowed=True),
    Route("password_reset_done", "accounts/password_reset/done/", (Case("done", row(200)),)),
    Route(
        "password_reset_confirm",
        "accounts/reset/<uidb64>/<token>/",
        (
            # A valid link moves its token into the session and redirects to the set-password form.
            Case(
                "valid link",
                row(Redirect("/accounts/reset/{reset_uid}/set-password/")),
                kwargs={"uidb64": "{reset_uid}", "token": "{reset_token}"},
            ),
            Case(
                "invalid link",  # "the link was invalid" page
                row(200),
                kwargs={"uidb64": "{reset_uid}", "token": "bad-token"},
            ),
        ),
    ),
    # django.contrib.auth.urls' own password_reset_confirm: config/urls.py's (with the worded
    # set-password form) comes first on the same path, so this one is never reached.
    Route("password_reset_confirm", "accounts/reset/<uidb64>/<token>/", shadowed=True),
    Route("password_reset_complete", "accounts/reset/done/", (Case("done", row(200)),)),
    # --- HR's programme (surveys/programme/) -----------------------------------------------------
    Route("programme:home", "programme/", (Case("the programme", page(HR)),)),
    Route(
        "programme:roster",
        "programme/roster/",
        (
            Case("upload form", page(HR)),
            # No file: the form again with "Choose the roster CSV file to upload.", 400; nothing stored.
            Case("empty post", row(404, anonymous=LOGIN, hr=400), method="post"),
            # A preview id that is no stored preview: "There is no preview…", 400.
            Case("unknown preview", row(404, anonymous=LOGIN, hr=400), method="post", data={"preview": "nope"}),
        ),
    ),
    Route(
        "programme:roster_apply",
        "programme/roster/apply/",
        (
            Case("get", row(404, anonymous=LOGIN, hr=405)),  # POST only; the HR check runs first
            Case("empty post", row(404, anonymous=LOGIN, hr=400), method="post"),
            Case("unknown preview", row(404, anonymous=LOGIN, hr=400), method="post", data={"preview": "nope"}),
        ),
    ),
    Route(
        "programme:audit",
        "programme/audit/",
        (
            Case("every event", page(HR)),
            Case("filtered", page(HR), query={"kind": "role_set", "date_from": "2026-01-01"}),
            # A filter that cannot be read: the form and what to fix, 400, no results.
            Case("bad date", row(404, anonymous=LOGIN, hr=400), query={"date_from": "01/04/2026"}),
        ),
    ),
    Route(
        "programme:audit_csv",
        "programme/audit/export.csv",
        (
            Case("CSV of the filtered events (itself audited)", page(HR), query={"kind": "role_set"}),
            Case("unknown kind", row(404, anonymous=LOGIN, hr=400), query={"kind": "no_such_kind"}),
        ),
    ),
    Route(
        "programme:settings",
        "programme/settings/",
        (
            Case("the settings", page(HR)),
            # HR: a bad value is the form again, 400, with its errors; nothing saved.
            Case("bad value", row(404, anonymous=LOGIN, hr=400), method="post", data={"anonymity_threshold": "2"}),
        ),
    ),
    Route(
        "programme:cycle_thresholds",
        "programme/settings/cycles/<str:month>/",
        (
            Case("a closed cycle", page(HR), kwargs={"month": "2026-04"}),
            Case("the open cycle", page(HR), kwargs={"month": "2026-05"}),
            Case("no such cycle", page(()), kwargs={"month": "2031-01"}),  # 404 for HR too
            # Step one of a raise: HR gets the confirmation page (nothing is saved yet).
            Case(
                "raise, step one", page(HR), method="post", kwargs={"month": "2026-05"}, data={"field": "k", "k": "9"}
            ),
            Case("empty post", row(404, anonymous=LOGIN, hr=400), method="post", kwargs={"month": "2026-05"}),
        ),
    ),
    Route(
        "programme:cycles",
        "programme/cycles/",
        (
            Case("the cycle calendar", page(HR)),
            Case("post", row(404, anonymous=LOGIN, hr=405), method="post"),  # GET only; the HR check runs first
        ),
    ),
    Route(
        "programme:cycle_open",
        "programme/cycles/open/",
        (
            Case("get", row(404, anonymous=LOGIN, hr=405)),  # POST only; the HR check runs first
            # HR: the box not ticked: the page again with "Tick the box…", 400; nothing opened or mailed.
            Case("post without the confirm box", row(404, anonymous=LOGIN, hr=400), method="post"),
        ),
    ),
    Route(
        "programme:cycle_remind",
        "programme/cycles/remind/",
        (
            Case("get", row(404, anonymous=LOGIN, hr=405)),
            # HR: the box not ticked: 400; no reminder sent, no link voided.
            Case("post without the confirm box", row(404, anonymous=LOGIN, hr=400), method="post"),
        ),
    ),
    Route(
        "programme:cycle_close",
        "programme/cycles/close/",
        (
            Case("get", row(404, anonymous=LOGIN, hr=405)),
            # HR: the box not ticked: 400; the open May 2026 cycle stays open.
            Case("post without the confirm box", row(404, anonymous=LOGIN, hr=400), method="post"),
        ),
    ),
    Route(
        "programme:cycle_closing_date",
        "programme/cycles/closing-date/",
        (
            Case("get", row(404, anonymous=LOGIN, hr=405)),
            # HR: a valid date but the box not ticked: 400; the closing date is unchanged.
            Case(
                "new date without the confirm box",
                row(404, anonymous=LOGIN, hr=400),
                method="post",
                data={"closing-closes_on": "2099-01-31"},
            ),
            Case("empty post", row(404, anonymous=LOGIN, hr=400), method="post"),
        ),
    ),
    Route(
        "programme:cycle_comments",
        "programme/cycles/<str:month>/comments/",
        (
            # March and April closed on dates long past, so their review window is over: released.
            Case("a closed cycle's comments", page(HR), kwargs={"month": "2026-04"}),
            Case("the open cycle: reviewed after it closes", page(HR), kwargs={"month": "2026-05"}),
            Case("no such cycle", page(()), kwargs={"month": "2031-01"}),  # 404 for HR too
            Case("malformed month", page(()), kwargs={"month": "april"}),
            Case("post", row(404, anonymous=LOGIN, hr=405), method="post", kwargs={"month": "2026-04"}),
        ),
    ),
    Route(
        "programme:cycle_comments_release",
        "programme/cycles/<str:month>/comments/release/",
        (
            Case("get", row(404, anonymous=LOGIN, hr=405), kwargs={"month": "2026-04"}),  # POST only
            # HR: the box not ticked: the page again with "Tick the box…", 400; nothing released.
            Case(
                "post without the confirm box",
                row(404, anonymous=LOGIN, hr=400),
                method="post",
                kwargs={"month": "2026-04"},
            ),
            # HR: an open cycle's comments cannot be released: 409, nothing released.
            Case(
                "the open cycle",
                row(404, anonymous=LOGIN, hr=409),
                method="post",
                kwargs={"month": "2026-05"},
                data={"release-confirm": "on"},
            ),
            Case(
                "no such cycle",
                row(404, anonymous=LOGIN),
                method="post",
                kwargs={"month": "2031-01"},
                data={"release-confirm": "on"},
            ),
        ),
    ),
    Route(
        "programme:cycle_comment_redact",
        "programme/cycles/<str:month>/comments/redact/",
        (
            Case("get", row(404, anonymous=LOGIN, hr=405), kwargs={"month": "2026-04"}),  # POST only
            # HR: no comment named: the page again with the fix, 400; nothing redacted.
            Case("empty post", row(404, anonymous=LOGIN, hr=400), method="post", kwargs={"month": "2026-04"}),
            # HR: an id that is no listed comment: "already redacted or is not listed", back to the page.
            Case(
                "unknown comment",
                row(404, anonymous=LOGIN, hr=Redirect("/programme/cycles/2026-04/comments/")),
                method="post",
                kwargs={"month": "2026-04"},
                data={"comment": "{nowhere}", "confirm": "on"},
            ),
        ),
    ),
    Route(
        "programme:cycle_aggregation_retry",
        "programme/cycles/<str:month>/retry/",
        (
            Case("get", row(404, anonymous=LOGIN, hr=405), kwargs={"month": "2026-04"}),  # POST only
            # HR: April's aggregation is done, not failed: "nothing was retried", back to the page.
            Case(
                "a done run",
                row(404, anonymous=LOGIN, hr=Redirect("/programme/cycles/")),
                method="post",
                kwargs={"month": "2026-04"},
            ),
            Case("the open cycle", row(404, anonymous=LOGIN), method="post", kwargs={"month": "2026-05"}),
            Case("no such cycle", row(404, anonymous=LOGIN), method="post", kwargs={"month": "2031-01"}),
        ),
    ),
    # --- health (config/health_urls.py): for probes, no sign-in; the same JSON for everyone ------
    # 200 while healthy (tests run eagerly: worker and beat report "eager"); 503 JSON when not.
    Route("health:web", "healthz/", (Case("web", row(200)), Case("post", row(405), method="post"))),
    Route("health:worker", "healthz/worker/", (Case("worker heartbeat", row(200)),)),
    Route("health:beat", "healthz/beat/", (Case("beat heartbeat", row(200)),)),
    # --- the admin: staff only ------------------------------------------------------------------
    # Only its index and one model's changelist are listed; every other admin/ route is left out
    # (see ADMIN_LISTED in tests/test_permission_matrix.py): they are Django's own, generated per
    # registered model, and all go through AdminSite.admin_view, the same staff check these two
    # exercise. Signed-in non-staff are sent to the admin's login like anonymous visitors.
    Route("admin:index", "admin/", (Case("index", row(ADMIN_LOGIN, admin=200)),)),
    Route(
        "admin:surveys_person_changelist",
        "admin/surveys/person/",
        (Case("the roster", row(ADMIN_LOGIN, admin=200)),),
    ),
)
