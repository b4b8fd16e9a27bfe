"""One organisation for the hostile API suites, built once for the package, and a knox token for
each kind of caller.

STANDARD (tests/analytics/builders.py) answered in March and April 2026, both closed and
aggregated, so every read has published cells, flags and comments to serve; May is open, so the
cycle actions (remind, close) and "record on an open cycle" have something to act on. The callers
join the roster after the answers, as in tests/test_permission_matrix.py: HR (on Product/
Research), a manager of Engineering (on Engineering/Beta), an engineer (on Engineering/Alpha).
An open and a closed action on Alpha and one finished export of HR's give the path parameters of
the action and export operations something real to find.

Everything is built inside one transaction that is rolled back at the end, and each test runs in a
savepoint of it (pytest-django's ``db``), so what a request stores is undone after each test.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import Client, override_settings
from django.utils import timezone
from knox.models import AuthToken

from analytics.exports.models import ExportJob
from analytics.job.run import aggregate_cycle
from analytics.published import ORGANISATION_ID
from surveys.models import Action, AuditEvent, Cycle, Invitation, Person, Role, Team
from surveys.services.actions import ActionInput, action_close, action_create
from surveys.services.cycles import cycle_open
from tests.analytics.builders import cycle_run, org_build, standard_answers
from tests.factories import PersonFactory

MARCH, APRIL, MAY = dt.date(2026, 3, 1), dt.date(2026, 4, 1), dt.date(2026, 5, 1)
ROLES = ("hr", "manager", "engineer")


@dataclass
class World:
    tokens: dict[str, str]  # role -> knox token
    refs: dict[str, str]  # name -> an id the operations take (units, actions, export jobs)
    emails: dict[str, str] = field(default_factory=dict)  # role -> e-mail address on the roster

    def headers(self, role: str) -> dict[str, str]:
        """The request headers of ``role``; none for "anonymous"."""
        if role == "anonymous":
            return {}
        return {"Authorization": f"Token {self.tokens[role]}"}

    def client(self, role: str) -> Client:
        """A test client for ``role`` that answers an unhandled error as the server would (a 500
        response) instead of raising it into the test."""
        return Client(headers=self.headers(role), raise_request_exception=False)


def stored() -> dict[str, object]:
    """Everything a write of the API could leave behind: the rows of each kind it creates, every
    action as it stands (an edit or a close changes one in place), and the mail sent."""
    return {
        "actions": sorted(
            Action.objects.values_list("pk", "title", "owner_id", "check_back_month", "status", "outcome")
        ),
        "audit events": AuditEvent.objects.count(),
        "export jobs": ExportJob.objects.count(),
        "people": sorted(Person.objects.values_list("pk", "email", "name", "team_id", "role", "is_active")),
        "teams": Team.objects.count(),
        "cycles": sorted(Cycle.objects.values_list("pk", "status")),
        "invitations": sorted(Invitation.objects.values_list("pk", "status")),
        "mails": len(mail.outbox),
    }


def _build() -> World:
    org = org_build()
    low = {"Engineering/Alpha": "low"}  # Alpha carries psych_safety flags, so flag_kind has real values
    march = cycle_run(org, standard_answers(org, safety=low)).cycle
    aggregate_cycle(cycle=march)
    april = cycle_run(org, standard_answers(org, label="apr", safety=low), month=APRIL).cycle
    aggregate_cycle(cycle=april)
    cycle_open(month=MAY, today=MAY, send_mail=False)

    hr = PersonFactory(email="hr@example.com", role=Role.HR, team=org.units["Product/Research"])
    manager = PersonFactory(email="eng-lead@example.com", role=Role.MANAGER, team=org.units["Engineering/Beta"])
    manager.managed_teams.set([org.units["Engineering"]])
    engineer = PersonFactory(email="alpha@example.com", team=org.units["Engineering/Alpha"])
    people = {"hr": hr, "manager": manager, "engineer": engineer}

    def action(title: str):
        return action_create(
            actor=manager,
            unit=org.units["Engineering/Alpha"],
            started_cycle=april,
            data=ActionInput(
                metric="psych_safety", title=title, owner_id=manager.pk, check_back_month=dt.date(2026, 6, 1)
            ),
        )

    action_open = action("Stop ranking people by AI use.")
    action_closed = action_close(actor=manager, action=action("Drop adoption targets."), outcome="Dropped.")
    now = timezone.now()
    job = ExportJob.objects.create(
        requester=hr.user, format="csv", state="done", progress=100, k_values=[5], finished_at=now
    )
    job.expires_at = now + dt.timedelta(hours=24)
    job.file.save(f"pilotpulse-all-{job.pk}.zip", ContentFile(b"PK\x05\x06" + b"\0" * 18), save=False)
    job.save()

    tokens = {role: AuthToken.objects.create(user=person.user)[1] for role, person in people.items()}
    refs = {
        "org": ORGANISATION_ID,
        "engineering": org.id("Engineering"),
        "alpha": org.id("Engineering/Alpha"),
        "product": org.id("Product"),
        "action_open": str(action_open.pk),
        "action_closed": str(action_closed.pk),
        "job_done": str(job.pk),
        "manager_id": str(manager.pk),
    }
    return World(tokens=tokens, refs=refs, emails={role: person.email for role, person in people.items()})


@pytest.fixture(scope="package")
def world(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[World]:
    """Built once for the package inside a transaction rolled back at its end."""
    media = tmp_path_factory.mktemp("media")
    fast = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=str(media), PASSWORD_HASHERS=fast):
        with transaction.atomic():
            yield _build()
            transaction.set_rollback(True)


@pytest.fixture
def in_test_transaction(db) -> Iterator[None]:
    """Requests sent straight to the WSGI handler (schemathesis's WSGI transport) inside the test's
    transaction. Django closes a connection whose autocommit differs from its setting at every
    request's start and end, which inside a test transaction would break it; Django's own test
    client disconnects that handler around each request for the same reason."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
