"""Small realistic organisations whose cycles are run end to end through the real services:
open (one-time links), submit through `response_submit`, close through `cycle_close`.

Every answer handed to the survey is also kept here, so tests can compute the expected numbers
by hand from what people said, independently of analytics.core.scoring and analytics.core.catalogue.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from scipy import stats as scipy_stats

from analytics.core.scoring import Scoring
from analytics.core.tree import ORGANISATION
from analytics.models import MetricCell
from surveys.closing import cycle_close
from surveys.instrument import load_definition
from surveys.models import Cycle, Organisation, Person, Team
from surveys.services.cycles import cycle_open
from surveys.submission import response_submit
from tests.surveys.helpers import team_with_people

K = 5
MARCH = dt.date(2026, 3, 1)
REVERSED_PS = {"ps1", "ps3", "ps5"}  # surveys/instruments/v1.json: "reverse": true (and ag4)
SPEED_OPTIONS = ["0.33", "0.5", "0.75", "0.9", "1", "1.1", "1.25", "1.5"]
HOURS_OPTIONS = ["0.5", "1.5", "3.5", "7.5", "12"]

# (department, team, people on the roster, how many of them answer). Alpha, Beta and Gamma make a
# department of 17 respondents in which Gamma (3) is below k = 5, so R5 must hide a sibling; Product
# (11 respondents) is safe as it stands. At the comment threshold (10) both departments list their
# own comments and no team does.
STANDARD = (
    ("Engineering", "Alpha", 9, 8),
    ("Engineering", "Beta", 7, 6),
    ("Engineering", "Gamma", 4, 3),
    ("Product", "Design", 7, 6),
    ("Product", "Research", 6, 5),
)
#: How version 1 of the instrument scores answers (what a cycle opened with v1 uses).
V1_SCORING = Scoring.from_definition(load_definition(1))


@dataclass
class Org:
    units: dict[str, Team]  # "Engineering", "Engineering/Alpha", ...
    respondents: dict[str, int]  # team path -> how many answer in each cycle

    def id(self, path: str) -> str:
        """Unit id as the aggregation stores it; "" is the organisation."""
        return ORGANISATION if path == "" else str(self.units[path].pk)

    def teams_under(self, path: str) -> list[str]:
        return [team for team in self.respondents if path == "" or team == path or team.startswith(path + "/")]

    def parents(self) -> dict[str, str | None]:
        """The unit tree as analytics.disclosure wants it, keyed by unit id."""
        tree: dict[str, str | None] = {ORGANISATION: None}
        for team in self.units.values():
            tree[str(team.pk)] = str(team.parent_id) if team.parent_id else ORGANISATION
        return tree


@dataclass
class Submitted:
    """What each team's respondents answered in one cycle (raw form values), for hand computation."""

    cycle: Cycle
    answers: dict[str, list[dict[str, object]]] = field(default_factory=dict)  # team path -> answers

    def under(self, org: Org, path: str) -> list[dict[str, object]]:
        return [answer for team in org.teams_under(path) for answer in self.answers.get(team, [])]


def org_build(plan: Sequence[tuple[str, str, int, int]] = STANDARD, *, k: int = K, comment_threshold: int = 10) -> Org:
    organisation = Organisation.current()
    organisation.anonymity_threshold, organisation.comment_threshold = k, comment_threshold
    organisation.save()
    units: dict[str, Team] = {}
    respondents: dict[str, int] = {}
    for department, team, size, answering in plan:
        if department not in units:
            units[department] = Team.objects.create(name=department)
        path = f"{department}/{team}"
        units[path] = team_with_people(f"{department} {team}", size, parent=units[department])
        Team.objects.filter(pk=units[path].pk).update(name=team)  # helper names people after the team
        units[path].name = team
        respondents[path] = answering
    return Org(units=units, respondents=respondents)


def answers_make(seed: str, *, ai_user: bool = True, comment: str | None = None, safety: str = "mixed") -> dict:
    """One plausible respondent's raw answers. `safety="low"` answers the safety items unfavourably
    (a team that will be flagged for low psychological safety), "mixed" mostly favourably."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not security
    if safety == "low":
        ps = {key: str(rng.randint(5, 7) if key in REVERSED_PS else rng.randint(1, 3)) for key in _ps_keys()}
    else:  # a reasonably safe team: scores between 4 and 7, so not every unit is flagged "low"
        ps = {key: str(rng.randint(1, 4) if key in REVERSED_PS else rng.randint(4, 7)) for key in _ps_keys()}
    ws1 = rng.randint(1, 5)
    raw: dict[str, object] = {
        **ps,
        "use1": str(rng.randint(2, 5) if ai_user else 1),
        "ws1": str(ws1),
        "voice1": str(rng.randint(1, 7)),
        "press1": str(rng.randint(1, 7)),
        "mgr1": str(rng.randint(1, 7)),
    }
    if ai_user:
        raw.update(
            trust1=str(rng.randint(1, 5)),
            speed1=rng.choice(SPEED_OPTIONS),
            speed2=str(rng.randint(-10, 20)),
            **{key: str(rng.randint(1, 7)) for key in ("ag1", "ag2", "ag3", "ag4", "op1", "op2")},
        )
    if ws1 > 1:
        raw.update(ws2=rng.choice(HOURS_OPTIONS), ws3=rng.sample(["teammates", "leaders", "other_teams"], 2))
    if comment:
        raw["c1"] = comment
    return raw


def _ps_keys() -> list[str]:
    return [f"ps{i}" for i in range(1, 8)]


def standard_answers(org: Org, *, label: str = "", safety: Mapping[str, str] | None = None) -> dict[str, list[dict]]:
    """Answers for every team of `org`: every fourth person does not use AI, and everyone leaves a
    comment naming their team (so a test can see where each comment was listed)."""
    safety = safety or {}
    out: dict[str, list[dict]] = {}
    for team, answering in org.respondents.items():
        out[team] = [
            answers_make(
                f"{label}{team}-{index}",
                ai_user=index % 4 != 3,
                comment=f"comment {index} from {team}{label}",
                safety=safety.get(team, "mixed"),
            )
            for index in range(answering)
        ]
    return out


def cycle_run(
    org: Org, answers: Mapping[str, Sequence[dict]], *, month: dt.date = MARCH, close: bool = True
) -> Submitted:
    """Opens the month's cycle, submits `answers[team]` through the teams' own one-time links and
    closes the cycle (unless close=False)."""
    result = cycle_open(month=month, today=month, send_mail=False)
    team_of = dict(Person.objects.values_list("email", "team_id"))
    links: dict[object, list[str]] = {}
    for link in sorted(result.links, key=lambda link: link.person_email):
        links.setdefault(team_of[link.person_email], []).append(link.token)
    submitted = Submitted(cycle=result.cycle)
    for team, team_answers in answers.items():
        tokens = links[org.units[team].pk]
        assert len(team_answers) <= len(tokens), f"{team} has fewer people than answers"
        for token, raw in zip(tokens, team_answers, strict=False):
            response_submit(token=token, raw_answers=raw)  # type: ignore[arg-type]
        submitted.answers[team] = list(team_answers)
    if close:
        cycle_close(cycle=result.cycle, today=month + dt.timedelta(days=15))
        submitted.cycle.refresh_from_db()
    return submitted


def march_and_april(org: Org) -> tuple[Cycle, Cycle]:
    """March and April 2026 answered, closed and aggregated; Alpha answers the safety items
    unfavourably in both (a team the flags will notice)."""
    from analytics.job.run import aggregate_cycle  # the job imports the door; builders stay light

    low = {"Engineering/Alpha": "low"}
    march = cycle_run(org, standard_answers(org, safety=low)).cycle
    aggregate_cycle(cycle=march)
    april = cycle_run(org, standard_answers(org, label="apr", safety=low), month=dt.date(2026, 4, 1)).cycle
    aggregate_cycle(cycle=april)
    return march, april


# --- hand computation ---------------------------------------------------------------------------


def psych_safety_score(raw: Mapping[str, object]) -> float:
    """Edmondson's seven items, ps1/ps3/ps5 reverse-scored (8 - answer), averaged."""
    values = [8 - int(str(raw[key])) if key in REVERSED_PS else int(str(raw[key])) for key in _ps_keys()]
    return sum(values) / len(values)


def mean_t_interval(values: Sequence[float]) -> tuple[float, float, float]:
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(scipy_stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def mean_fixed_sd_interval(values: Sequence[float], sd: float) -> tuple[float, float, float]:
    """R13: the interval of a cell that may not show its own spread, by hand."""
    n = len(values)
    mean = sum(values) / n
    half = float(scipy_stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def cells_by(cycle: Cycle, metric: str) -> dict[str, MetricCell]:
    return {str(cell.unit_id): cell for cell in MetricCell.objects.filter(cycle=cycle, metric=metric)}
