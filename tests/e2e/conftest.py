"""Browser end-to-end fixtures: Debian's Chromium driven by Playwright (sync API), a survey
link on pytest-django's live server, and an axe-core check for every page the tests visit.

Chromium comes from Debian (`apt-get install chromium` gives /usr/bin/chromium); we never run
`playwright install`. Without it the tests skip locally and fail in CI (PULSE_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import service_missing

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 800}
# Every Playwright wait fails after this long instead of the 30 s default, so a broken page
# fails fast and the whole suite stays well under a minute.
TIMEOUT_MS = 5_000
# axe-core impacts that fail a page (ARCHITECTURE "Tests and CI").
BLOCKING_IMPACTS = {"serious", "critical"}
# The organisation's k for these tests: distinctive, so the page is seen to show the cycle's k.
TEST_K = 6


@pytest.fixture
def browser(live_server) -> Iterator[object]:
    """A fresh Playwright and Chromium for each test (about half a second).

    Not module- or session-scoped on purpose: while Playwright's sync API is started, its event
    loop stays registered as running in this thread, and Django then keeps its database
    connections in a per-context store instead of the thread's. pytest-django's setup and
    teardown of a transactional test would run on another connection than the one holding the
    serialized database, silently skipping the serialized rollback and re-running post_migrate
    after the flush, which breaks later serialized-rollback tests. Requesting live_server here
    makes the database fixtures set up before Playwright starts and tear down after it stops.
    """
    if not CHROMIUM.exists():
        service_missing(f"needs Debian's Chromium at {CHROMIUM}: apt-get install -y chromium")
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # With that loop registered, Django's async_unsafe guard raises SynchronousOnlyOperation for
    # every ORM call the test makes (fixtures, DB assertions), although nothing runs concurrently:
    # the test thread is blocked while the browser works. The guard is relaxed only while
    # Playwright runs, and restored afterwards.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        connections.close_all()  # the connections the test body opened while the loop was registered
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _new_page(browser, **context_options):
    context = browser.new_context(**context_options)
    context.set_default_timeout(TIMEOUT_MS)
    return context, context.new_page()


@pytest.fixture
def phone_page(browser):
    context, page = _new_page(browser, viewport=PHONE, is_mobile=True, has_touch=True)
    yield page
    context.close()


@pytest.fixture
def desktop_page(browser):
    context, page = _new_page(browser, viewport=DESKTOP)
    yield page
    context.close()


@pytest.fixture
def no_js_page(browser):
    context, page = _new_page(browser, viewport=DESKTOP, java_script_enabled=False)
    yield page
    context.close()


@dataclass(frozen=True)
class SurveyLink:
    url: str
    invitation_id: int
    k: int


@pytest.fixture
def survey_link(live_server) -> SurveyLink:
    """Opens this month's cycle for one engineer and returns their one-time link.

    The tests using it are marked django_db(transaction=True, serialized_rollback=True), so the
    instrument row the data migration installs is there although live_server flushes the database.
    """
    from surveys.models import Organisation
    from surveys.services.cycles import cycle_open
    from tests.factories import PersonFactory

    organisation = Organisation.current()
    organisation.anonymity_threshold = TEST_K
    organisation.save()
    PersonFactory()
    (link,) = cycle_open(send_mail=False).links
    return SurveyLink(url=f"{live_server.url}/s/{link.token}/", invitation_id=link.invitation_id, k=TEST_K)


@pytest.fixture(scope="session")
def axe():
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


@pytest.fixture
def assert_accessible(axe) -> Callable[[object, str], None]:
    """`assert_accessible(page, "step 1")`: axe-core finds no serious or critical violation on
    the page as it is now; on failure, every such violation is printed with its elements."""

    def check(page, label: str) -> None:
        violations = [
            violation
            for violation in axe.run(page).response["violations"]
            if violation.get("impact") in BLOCKING_IMPACTS
        ]
        if violations:
            lines = [f"axe-core: {len(violations)} serious/critical violation(s) on {label} ({page.url}):"]
            for violation in violations:
                lines.append(
                    f"- [{violation['impact']}] {violation['id']}: {violation['help']} ({violation['helpUrl']})"
                )
                for node in violation["nodes"]:
                    lines.append(f"    {' '.join(map(str, node['target']))}: {node['html'][:200]}")
                    if node.get("failureSummary"):
                        lines.append("      " + node["failureSummary"].replace("\n", "\n      "))
            report = "\n".join(lines)
            print(report)
            pytest.fail(report, pytrace=False)

    return check


# --- Report pages (tests/e2e/test_reports_browser.py) -------------------------------------------

# ARCHITECTURE's phone width for the report pages: nothing may be wider than this.
NARROW = {"width": 390, "height": 844}
DEMO_PASSWORD = "demo-e2e"
# The smallest demo that still flags Engineering/Payments at team level: at 7 teams (the
# minimum demo_seed allows) Engineering holds only Leadership and Payments, and Payments' own
# flags do not appear; at 8 it gains Checkout (engineer@demo.example's team) and they do.
DEMO_TEAMS = 8
DEMO_MONTHS = 12


@pytest.fixture
def demo(live_server, settings, tmp_path):
    """The demo organisation (surveys.demo.demo_seed) in the live server's database: 8 teams,
    12 monthly cycles closed and aggregated by the real job (queued on commit, run eagerly),
    and an open cycle. About 6 s on SQLite. Export files go to a temporary MEDIA_ROOT."""
    import logging

    from surveys.demo import demo_seed

    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    celery_logger = logging.getLogger("celery")
    level = celery_logger.level
    celery_logger.setLevel(logging.WARNING)  # one INFO line per task, two per cycle: noise here
    try:
        return demo_seed(teams=DEMO_TEAMS, months=DEMO_MONTHS, seed=7, password=DEMO_PASSWORD)
    finally:
        celery_logger.setLevel(level)


@pytest.fixture
def report_page(browser):
    """A desktop-sized page for the report tests; `check_page` looks at each page at 390 px too."""
    context, page = _new_page(browser, viewport=DESKTOP)
    yield page
    context.close()


@pytest.fixture
def sign_in(live_server) -> Callable[..., None]:
    """`sign_in(page, email, password)`: signs in through the login form and waits for the page
    it lands on."""

    def do(page, email: str, password: str = DEMO_PASSWORD, *, next_path: str = "") -> None:
        url = f"{live_server.url}/accounts/login/" + (f"?next={next_path}" if next_path else "")
        page.goto(url)
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Password").fill(password)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        if "/accounts/login/" in page.url:
            pytest.fail(f"signing in as {email} failed: still on {page.url}", pytrace=False)

    return do


# The page's widths, and (to say what to fix) the first elements reaching past the right edge.
WIDTHS_JS = """() => {
  const client = document.documentElement.clientWidth;
  const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
    + (typeof e.className === 'string' && e.className ? '.' + e.className.trim().split(/\\s+/).join('.') : '');
  const wide = [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > client + 0.5).slice(0, 5).map(name);
  return {scroll: document.documentElement.scrollWidth, client, wide};
}"""


@pytest.fixture
def check_page(assert_accessible) -> Callable[[object, str], None]:
    """`check_page(page, "label")`: at 390 px wide, the page does not scroll sideways and axe-core
    finds no serious or critical violation; the viewport is put back afterwards."""

    def check(page, label: str) -> None:
        viewport = page.viewport_size
        if viewport != NARROW:
            page.set_viewport_size(NARROW)
        try:
            widths = page.evaluate(WIDTHS_JS)
            if widths["scroll"] > widths["client"]:
                pytest.fail(
                    f"{label} ({page.url}) scrolls sideways at {NARROW['width']} px: scrollWidth {widths['scroll']}"
                    f" > clientWidth {widths['client']}; wider than the screen: {widths['wide']}",
                    pytrace=False,
                )
            assert_accessible(page, f"{label} at {NARROW['width']} px")
        finally:
            if viewport != NARROW:
                page.set_viewport_size(viewport)

    return check
