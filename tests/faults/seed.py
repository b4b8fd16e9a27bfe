"""Seeds a throwaway database from its own process (the fault and deployment tests' app processes
see only real, committed data): `python -m tests.faults.seed [--open] [--submit] [--close] [--flagged]`.

Always: the standard organisation of tests/analytics/builders.py (five teams in two departments,
Gamma below k) and an HR login. --open opens the current month's cycle without e-mail and hands
back each link with the answers its person will give; --submit stores them in-process; --close
closes the cycle (which queues its aggregation on REDIS_URL); --flagged has Engineering/Alpha
answer the safety items unfavourably, so that the flags stage has a flag to write. Prints one
JSON line.
"""

from __future__ import annotations

import argparse
import json
import os

import django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--open", action="store_true")
    parser.add_argument("--submit", action="store_true")
    parser.add_argument("--close", action="store_true")
    parser.add_argument("--flagged", action="store_true")
    options = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()

    from django.contrib.auth import get_user_model

    from surveys.closing import cycle_close
    from surveys.models import Person, Role
    from surveys.services.cycles import cycle_open
    from surveys.submission import response_submit
    from tests.analytics.builders import org_build, standard_answers

    org = org_build()
    password = "fault-test-pw-4821"  # noqa: S105 - a throwaway database's login
    user = get_user_model().objects.create_user("hr@example.com", "hr@example.com", password)
    Person.objects.create(
        email="hr@example.com", name="HR", team=org.units["Product/Research"], role=Role.HR, user=user
    )
    out: dict[str, object] = {
        "hr": {"username": "hr@example.com", "password": password},
        "teams": {path: str(team.pk) for path, team in org.units.items()},
        "respondents": org.respondents,
    }
    if options.open:
        opened = cycle_open(send_mail=False)
        team_of = dict(Person.objects.values_list("email", "team_id"))
        by_team: dict[object, list[str]] = {}
        for link in sorted(opened.links, key=lambda link: link.person_email):
            by_team.setdefault(team_of[link.person_email], []).append(link.token)
        answers = standard_answers(org, safety={"Engineering/Alpha": "low"} if options.flagged else None)
        links = []
        for path, team_answers in answers.items():
            tokens = by_team[org.units[path].pk]
            links += [
                {"team": path, "token": token, "answers": raw} for token, raw in zip(tokens, team_answers, strict=False)
            ]
        spare = [token for tokens in by_team.values() for token in tokens if token not in {x["token"] for x in links}]
        if options.submit:
            for link in links:
                response_submit(token=link["token"], raw_answers=link["answers"])
        if options.close:
            cycle_close(cycle=opened.cycle)
        out.update(cycle_id=opened.cycle.pk, month=opened.cycle.month.strftime("%Y-%m"), links=links, spare=spare)
    print(json.dumps(out))  # noqa: T201 - the test reads it


if __name__ == "__main__":
    main()
