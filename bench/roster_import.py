"""Benchmark: the roster upload at its largest allowed file, through the browser's views.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pilotpulse_bench python bench/roster_import.py --people 10000

In its own test database (created and dropped here), signed in as HR, it times whole requests
through Django's test client (the view, the form, the parser, the dry run, the session, the
page; no network and no server): the preview and the apply of a first import of PEOPLE joiners
in 1 team per 8 people under 12 departments, then the preview and apply of the same file again
(nothing changes) and of one where a tenth of the people moved team. Prints figures; asserts
nothing. The default size is the most one file may hold (surveys.roster.ROSTER_MAX_ROWS).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment, teardown_test_environment  # noqa: E402


def roster_text(people: int, *, moved_every: int = 0) -> bytes:
    lines = ["email,name,team,role,manages"]
    for index in range(people):
        team = index // 8
        if moved_every and index % moved_every == 0:
            team += 1
        lines.append(f"p{index}@bench.example,Person {index},Dept {team % 12}/Team {team},engineer,")
    return ("\n".join(lines) + "\n").encode()


def timed(label: str, call):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    response = call()
    seconds = time.perf_counter() - started
    print(f"{label:<34} {seconds:6.2f} s  (HTTP {response.status_code})")
    return response


def main() -> None:
    from surveys.roster import ROSTER_MAX_ROWS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=ROSTER_MAX_ROWS)
    args = parser.parse_args()

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client
    from django.test.utils import override_settings

    from surveys.models import Person
    from tests.factories import PersonFactory

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        with override_settings(ALLOWED_HOSTS=["testserver"]):
            client = Client()
            client.force_login(PersonFactory(role="hr", email="hr@bench.example").user)
            print(f"database                           {connection.vendor}")
            for label, raw in (
                ("first import", roster_text(args.people)),
                ("same file again", roster_text(args.people)),
                ("a tenth moved", roster_text(args.people, moved_every=10)),
            ):
                print(f"{label}: {args.people:,} people, {len(raw) / 1024:,.0f} KB")
                preview = timed(
                    "  upload and preview",
                    lambda raw=raw: client.post("/programme/roster/", {"file": SimpleUploadedFile("r.csv", raw)}),
                )
                preview_id = preview.context["preview_id"]
                timed("  apply", lambda pid=preview_id: client.post("/programme/roster/apply/", {"preview": pid}))
            print(f"people stored                      {Person.objects.count():,}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS)                  {peak_mib:.0f} MiB for the whole process")


if __name__ == "__main__":
    main()
