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
