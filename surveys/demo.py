"""The demo organisation: a roster, a year of closed pulses and an open one, with planted patterns.

Everything goes through the doors real use goes through, so the demo exercises them rather than
a shortcut: the roster is written as CSV text and imported by `roster_parse`/`roster_import`,
cycles are opened and closed by the cycle services, and every answer is submitted with its
one-time token through `response_submit`. This module never touches the anonymous tables (an
import-linter contract forbids it); deleting a cycle cascades to them.

Answers come from per-person latent traits plus a monthly mood and per-item noise, rounded and
clipped to each scale. Three teams carry planted patterns that the analytics must find, and every
other team is stable, so a flag anywhere else is a false alarm.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import random
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from analytics.flags.playbook import PLAYBOOK
from surveys.closing import cycle_close
from surveys.emails import survey_link
from surveys.instrument import Instrument, load_definition, option_value_text
from surveys.models import Action, AuditEvent, Cycle, Invitation, Person, Role, Team
from surveys.roster import COLUMNS, RosterReport, roster_import, roster_parse
from surveys.selectors import cycle_progress
from surveys.services.actions import ActionInput, action_close, action_create, month_add
from surveys.services.cycles import cycle_open, links_issue, month_start, open_cycle_get
from surveys.submission import response_submit

DEMO_DOMAIN = "demo.example"
DEMO_ACTOR = "seed_demo"  # the audit actor of the demo's roster import, so --reset can remove its events
HR_EMAIL = f"hr@{DEMO_DOMAIN}"
MANAGER_EMAIL = f"manager@{DEMO_DOMAIN}"
ENGINEER_EMAIL = f"engineer@{DEMO_DOMAIN}"
ADMIN_EMAIL = f"admin@{DEMO_DOMAIN}"

PAYMENTS = "Engineering/Payments"
GROWTH = "Product/Growth"
INSIGHTS = "Data/Insights"
PEOPLE_TEAM = "People"
LEADERSHIP = "Leadership"

# Planted sizes: Payments and Growth are large enough for a trend test to have power (PRODUCT.md
# asks for a 1.5-point fall in a team of 8 or more to be flagged); Insights stays below k = 5.
PLANTED_SIZES = {PAYMENTS: (9, 10), GROWTH: (9, 10), INSIGHTS: (3, 3)}

# Total change over the last six cycles, on the trait's own scale. Safety falls (so ps1/ps3/ps5,
# reverse-scored, rise), pressure rises: the capability trap. Growth's agency and optimism rise,
# and its manager starts modelling AI use in the open (teams follow what their manager models).
PLANTED_TRENDS: dict[str, dict[str, float]] = {
    PAYMENTS: {"safety": -2.0, "pressure": 2.0},
    GROWTH: {"agency": 2.0, "optimism": 2.0, "manager_modelling": 1.5},
}
TREND_CYCLES = 6

# 8 = three Leadership teams, People, the three planted teams, and one stable Engineering team.
# With 7, Engineering is only Leadership and Payments, and the seeded demo showed Engineering's
# flags but none of Payments' own, which the demo exists to show.
TEAMS_MIN, TEAMS_MAX = 8, 200
MONTHS_MIN, MONTHS_MAX = 1, 36
FOUR_DEPARTMENTS_FROM = 12  # below this many leaf teams a fourth department would be nearly empty
LIVE_LINKS = 4
PAST_CYCLE_DAYS = 14  # a past cycle is closed this many days after it opened

# Share answering per team per closed cycle stays inside 60-95 %; the open cycle is mid-way.
CLOSED_RATE_LIMITS = (0.6, 0.95)
TEAM_RATE_RANGE = (0.66, 0.89)
MONTH_RATE_JITTER = 0.06
OPEN_CYCLE_RATE_RANGE = (0.35, 0.65)

ITEM_NOISE = 0.75  # per answer: the same person does not tick the same box on every item
MOOD_NOISE = 0.25  # per person per month: a good or bad month moves all of a construct's items
COMMENT_SHARE = 0.15

# The demo answers version 1 of the instrument: items, reverse keys and options come from it.
INSTRUMENT = Instrument(load_definition(1))
PS_ITEMS = tuple(item.key for item in INSTRUMENT.items if item.construct == "psychological_safety")
AGENCY_ITEMS = tuple(item.key for item in INSTRUMENT.items if item.construct == "agency")
OPTIMISM_ITEMS = tuple(item.key for item in INSTRUMENT.items if item.construct == "optimism")
SPEED_OPTIONS = tuple(option_value_text(option["value"]) for option in INSTRUMENT.item("speed1").options)
WS2_OPTIONS = tuple(option_value_text(option["value"]) for option in INSTRUMENT.item("ws2").options)
# Where workslop came from, with how often each source is ticked; "reports" only for managers.
WS3_SOURCES = (("teammates", 0.55), ("other_teams", 0.4), ("leaders", 0.2))
WS3_REPORTS = ("reports", 0.3)


@dataclass(frozen=True)
class Department:
    name: str
    weight: float  # share of the working teams it gets
    team_names: tuple[str, ...]


DEPARTMENTS = (
    Department(
        "Engineering",
        0.45,
        (
            "Checkout",
            "Mobile",
            "Web",
            "Search",
            "Identity",
            "Notifications",
            "Billing",
            "Onboarding",
            "Core API",
            "Integrations",
            "Messaging",
            "Accounts",
            "Catalogue",
            "Fulfilment",
            "Reporting",
            "Admin Tools",
            "Partner API",
        ),
    ),  # fmt: skip
    Department(
        "Product",
        0.2,
        ("Discovery", "Pricing", "Research", "Design Systems", "Content", "Activation", "Retention", "Marketplace"),
    ),
    Department(
        "Data", 0.15, ("Pipelines", "Machine Learning", "Analytics Engineering", "Experimentation", "Data Quality")
    ),
    Department(
        "Platform",
        0.2,
        (
            "Infrastructure",
            "Reliability",
            "Security",
            "Build and Release",
            "Observability",
            "Databases",
            "Networking",
            "Developer Experience",
            "Cloud Cost",
        ),
    ),  # fmt: skip
)

FIRST_NAMES = (
    "Aisha", "Ben", "Carla", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi", "Luca",
    "Maya", "Nikhil", "Olga", "Pedro", "Qian", "Rosa", "Samir", "Tara", "Umar", "Vera", "Wei", "Ximena",
    "Yusuf", "Zoe", "Amara", "Bruno", "Chloe", "Diego", "Emma", "Felix", "Greta", "Hana", "Ivan", "Julia",
    "Kofi", "Lena", "Mateo", "Nora", "Oscar", "Priya", "Rafael", "Sofia", "Tomas", "Uma", "Viktor", "Yara",
)  # fmt: skip
LAST_NAMES = (
    "Adeyemi", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ivanova", "Jensen",
    "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Quinn", "Rossi", "Schmidt", "Tanaka",
    "Usman", "Varga", "Weber", "Xu", "Yilmaz", "Zhang", "Almeida", "Brennan", "Chen", "Dimitrov", "Novak",
    "Horvat", "Khan", "Larsen", "Mensah", "Nilsen", "Ortiz", "Patel", "Reyes", "Silva", "Torres", "Vogel",
)  # fmt: skip

GENERAL_COMMENTS = (
    "Say in the pull request which parts were generated and how they were checked.",
    "Review is now the bottleneck. Give us time to review AI-assisted changes properly.",
    "Pair people who use the tools well with the rest of us, on real tickets.",
    "Stop counting merged pull requests; it rewards pasting generated code.",
    "Better tests, so we can trust generated code without reading every line twice.",
    "A standing retro question: when did AI help this sprint, and when did it hurt?",
    "Clear guidance on which data we may paste into which tools.",
    "Smaller pull requests. Generated changes are getting too big to review.",
    "The assistant guesses our internal APIs. Better internal docs would help it and us.",
    "It is good for boilerplate and test scaffolding; let's agree to use it there and not force it elsewhere.",
    "Fewer AI-written specs that nobody read before the planning meeting.",
    "Agree as a team where AI is not worth it, so nobody feels they must use it everywhere.",
)
PRESSURE_COMMENTS = (
    "It no longer feels OK to say a tool slowed me down. Drop the adoption targets.",
    "We get asked why our AI usage numbers are low. Measure what we deliver instead.",
    "Mistakes in generated code get called out in front of everyone, so people hide them.",
    "Deadlines assume AI makes us twice as fast. It doesn't, and we can't say so.",
)
PILOT_COMMENTS = (
    "The fortnightly show-and-tell of AI experiments, failures included, has really helped.",
    "Keep pairing on real work; it taught me more than any training did.",
    "Our manager showing what did not work made it much easier to try things.",
    "Writing down what good AI-assisted work looks like was worth the hour it took.",
)
NON_USER_COMMENTS = (
    "Let those of us who don't use AI tools opt out without having to justify it.",
    "I'd try the tools if someone showed me where they help in our codebase.",
)


class DemoError(Exception):
    """The demo cannot be seeded as asked; the message says why and what to do."""


@dataclass(frozen=True)
class TeamClimate:
    """A team's typical level on each latent trait; members scatter around it."""

    safety: float
    pressure: float
    agency: float
    optimism: float
    trust: float
    manager_modelling: float
    workslop_rate: float
    non_user_share: float
    response_rate: float
    spread: float = 1.0  # scales how far members scatter around the team's levels


@dataclass(frozen=True)
class MemberTraits:
    """One person's stable levels, on the scale of the items that measure them."""

    safety: float
    pressure: float
    agency: float
    optimism: float
    trust: float
    manager_modelling: float
    workslop_rate: float
    non_user: bool
    use_level: int  # use1 option for an AI user: 2 a few times ... 5 several times a day
    speed_log_ratio: float  # perceived log(time with AI / time without); below 0 feels faster


@dataclass(frozen=True)
class DemoMember:
    email: str
    name: str
    team: str
    role: str
    manages: str
    traits: MemberTraits

    @property
    def is_manager(self) -> bool:
        return self.role == Role.MANAGER


@dataclass(frozen=True)
class DemoTeam:
    path: str
    climate: TeamClimate
    members: tuple[DemoMember, ...]


@dataclass(frozen=True)
class DemoPlan:
    departments: tuple[str, ...]
    teams: tuple[DemoTeam, ...]

    @property
    def members(self) -> list[DemoMember]:
        return [member for team in self.teams for member in team.members]


@dataclass(frozen=True)
class CycleSummary:
    label: str
    invited: int
    answered: int
    is_open: bool
    closes_on: dt.date


@dataclass(frozen=True)
class LiveLink:
    url: str
    is_engineer_login: bool


@dataclass(frozen=True)
class DemoLogin:
    email: str
    description: str


@dataclass
class DemoSeedResult:
    created: bool
    people: int
    leaf_teams: int
    departments: list[str]
    cycles: list[CycleSummary] = field(default_factory=list)
    open_cycle: str | None = None
    live_links: list[LiveLink] = field(default_factory=list)
    engineer_has_answered: bool = False
    logins: list[DemoLogin] = field(default_factory=list)
    login_url: str = ""
    roster_warnings: list[str] = field(default_factory=list)
    actions: int = 0


def demo_seed(
    *,
    teams: int = 40,
    months: int = 12,
    seed: int = 7,
    password: str,
    reset: bool = False,
    today: dt.date | None = None,
    on_cycle: Callable[[CycleSummary], None] | None = None,
) -> DemoSeedResult:
    """Builds the demo organisation and its cycles, or, if it is already there, only refreshes
    the logins' passwords and a few live links. All in one transaction: a failure leaves nothing
    half-seeded (and SQLite is far faster with one commit than with thousands)."""
    if not TEAMS_MIN <= teams <= TEAMS_MAX:
        raise DemoError(f"--teams must be from {TEAMS_MIN} to {TEAMS_MAX}, got {teams}.")
    if not MONTHS_MIN <= months <= MONTHS_MAX:
        raise DemoError(f"--months must be from {MONTHS_MIN} to {MONTHS_MAX}, got {months}.")
    if not password:
        raise DemoError("--password must not be empty.")
    today = today or timezone.localdate()
    rng = random.Random(seed)  # noqa: S311 - reproducible fake data, not a secret  # nosec B311
    with transaction.atomic():
        if reset:
            demo_delete()
        if Person.objects.filter(email=HR_EMAIL).exists():
            return _demo_refresh(password=password, rng=rng)
        _refuse_foreign_data()
        plan = demo_plan_build(teams=teams, rng=rng)
        report = roster_import(rows=roster_parse(demo_roster_csv(plan=plan)), actor=DEMO_ACTOR)
        _roster_import_audit_summarise(report=report)
        result = DemoSeedResult(
            created=True,
            people=len(plan.members),
            leaf_teams=len(plan.teams),
            departments=list(plan.departments),
            roster_warnings=report.warnings,
        )
        _logins_ensure(password=password, result=result)
        _cycles_fill(plan=plan, months=months, today=today, rng=rng, result=result, on_cycle=on_cycle)
        result.actions = _actions_seed()
    return result


# The demo manager's actions on Payments, the team whose psychological safety falls while pressure
# rises (months_ago counts back from the open cycle). One closed with its outcome, one checked back
# on in the latest published cycle, one waiting for its check-back; the titles are the playbook's.
DEMO_ACTIONS = (
    # (metric, flag kind, playbook family and suggestion, started months ago, check back months ago, outcome)
    ("psych_safety", "psych_safety_falling", ("psych_safety", 2), 5, 3,
     "We took AI-use counts off the team dashboard; in the retro people said the ranking had made them "
     "hide failed experiments."),
    ("psych_safety", "psych_safety_falling", ("psych_safety", 0), 3, 1, ""),
    ("pressure", "capability_trap", ("capability_trap", 0), 1, -2, ""),
)  # fmt: skip


def _actions_seed() -> int:
    """Records DEMO_ACTIONS through the action services, as the demo manager, on the cycles they
    follow. Needs the months they name: a shorter demo (--months) gets the ones that fit."""
    manager = Person.objects.get(email=MANAGER_EMAIL)
    payments = _team_at(PAYMENTS)
    closed = list(Cycle.objects.filter(status=Cycle.Status.CLOSED).order_by("-month"))
    count = 0
    for metric, kind, (family, index), started_ago, check_ago, outcome in DEMO_ACTIONS:
        if payments is None or started_ago > len(closed):
            continue
        started = closed[started_ago - 1]  # closed[0] is the cycle before the open one
        action = action_create(
            actor=manager,
            unit=payments,
            started_cycle=started,
            data=ActionInput(
                metric=metric,
                flag_kind=kind,
                title=PLAYBOOK[family][index],
                owner_id=manager.pk,
                check_back_month=month_add(started.month, started_ago - check_ago),
            ),
        )
        if outcome:
            action_close(actor=manager, action=action, outcome=outcome)
        count += 1
    return count


def _team_at(path: str) -> Team | None:
    parent: Team | None = None
    for name in path.split("/"):
        parent = Team.objects.filter(parent=parent, name=name).first()
        if parent is None:
            return None
    return parent


def _audit(action: str, subject: str, **detail: object) -> None:
    """One audit event per demo action, its subject named in its detail (the admin lists it)."""
    AuditEvent.objects.create(actor=DEMO_ACTOR, action=action, detail={"subject": subject, **detail})


def _roster_import_audit_summarise(*, report: RosterReport) -> None:
    """The demo's roster import, audited as one event: the import records a role_set per person
    it creates (ANONYMITY R10), which for a demo of hundreds of made-up people is a page of
    identical rows that hides the actions an operator would look for. The summary keeps what
    they said: how many people were created with which role, and the teams created."""
    created = AuditEvent.objects.filter(actor=DEMO_ACTOR, action="role_set")
    roles = Counter(str(detail.get("role", "")) for detail in created.values_list("detail", flat=True))
    created.delete()
    _audit(
        "roster_imported",
        f"demo roster: {report.people_created} people, {len(report.teams_created)} teams",
        people_created=report.people_created,
        roles=dict(sorted(roles.items())),
        teams_created=len(report.teams_created),
        warnings=len(report.warnings),
    )


def demo_delete() -> None:
    """Deletes the demo: every cycle (cascading to its invitations, tallies and anonymous rows),
    the @demo.example people and users, the demo's teams and its audit events.

    Refuses when anyone else is on the roster: then the cycles are not only the demo's.
    """
    others = Person.objects.exclude(email__iendswith=f"@{DEMO_DOMAIN}").count()
    if others:
        raise DemoError(
            f"{others} people outside @{DEMO_DOMAIN} are on the roster, so the cycles here are not only the "
            "demo's; --reset would delete them. Seed the demo into a database of its own (set DATABASE_URL)."
        )
    # Actions, then cycles: both point at teams (actions at cycles too) with PROTECT.
    Action.objects.all().delete()
    Cycle.objects.all().delete()
    Person.objects.filter(email__iendswith=f"@{DEMO_DOMAIN}").delete()
    _demo_teams_delete()
    get_user_model().objects.filter(username__iendswith=f"@{DEMO_DOMAIN}").delete()
    AuditEvent.objects.filter(actor=DEMO_ACTOR).delete()
    # The demo manager's actions were audited under their own address.
    AuditEvent.objects.filter(actor__iendswith=f"@{DEMO_DOMAIN}").delete()
    # Closing a demo cycle dated in the past releases its comments at once, audited as the close's.
    AuditEvent.objects.filter(actor="close", action="comments_released").delete()


def _demo_teams_delete() -> None:
    """Deletes the demo's team trees, deepest level first (Team.parent is PROTECT)."""
    roots = [department.name for department in DEPARTMENTS] + [PEOPLE_TEAM]
    parent_of = dict(Team.objects.values_list("pk", "parent_id"))
    root_ids = set(Team.objects.filter(parent__isnull=True, name__in=roots).values_list("pk", flat=True))
    by_depth: dict[int, list[uuid.UUID]] = {}
    for team_id in parent_of:
        depth, node = 0, team_id
        while parent_of[node] is not None and depth <= len(parent_of):  # the bound guards a parent loop
            node = parent_of[node]
            depth += 1
        if node in root_ids:
            by_depth.setdefault(depth, []).append(team_id)
    for depth in sorted(by_depth, reverse=True):
        Team.objects.filter(pk__in=by_depth[depth]).delete()


def _refuse_foreign_data() -> None:
    if Person.objects.exists() or Team.objects.exists() or Cycle.objects.exists():
        raise DemoError(
            "This database already has a roster or cycles that seed_demo did not make, and the demo would mix "
            "with them. Seed it into a database of its own, e.g. DATABASE_URL=sqlite:////tmp/demo.sqlite3."
        )


def demo_plan_build(*, teams: int, rng: random.Random) -> DemoPlan:
    """Departments, leaf teams and people with their traits; pure (no database)."""
    departments = DEPARTMENTS[:3] if teams < FOUR_DEPARTMENTS_FROM else DEPARTMENTS
    names = _NameMaker(rng=rng)
    planted_by_department: dict[str, list[str]] = {department.name: [] for department in departments}
    for path in PLANTED_SIZES:
        planted_by_department[path.split("/")[0]].append(path.split("/")[1])
    # Each department has a Leadership team, and People is one more leaf.
    counts = {name: len(planted) for name, planted in planted_by_department.items()}
    for _ in range(teams - len(departments) - 1 - len(PLANTED_SIZES)):
        # Give the next team to the department furthest below its share.
        department = min(departments, key=lambda d: (counts[d.name] + 1) / d.weight)
        counts[department.name] += 1
    paths: list[tuple[Department, str]] = []
    for department in departments:
        planted = planted_by_department[department.name]
        extra = counts[department.name] - len(planted)
        own = list(department.team_names[:extra])
        own += [f"Squad {number}" for number in range(1, extra - len(own) + 1)]  # once the names run out
        paths.extend((department, f"{department.name}/{name}") for name in planted + own)
    engineer_team = next((path for d, path in paths if d.name == "Engineering" and path not in PLANTED_SIZES), PAYMENTS)

    plan_teams: list[DemoTeam] = []
    for department in departments:
        path = f"{department.name}/{LEADERSHIP}"
        climate = _climate_draw(rng=rng, path=path)
        head_email, head_name = (
            (MANAGER_EMAIL, "Demo Manager") if department.name == "Engineering" else names.next_person()
        )
        # The head sits in a Leadership team of their own, never directly on the department: people
        # on a unit with sub-teams would force a sibling to be hidden (ANONYMITY R5).
        roster = [(head_email, head_name, Role.MANAGER.value, department.name)]
        # The head's staff (principals, programme managers) answer as plain respondents.
        roster += [(*names.next_person(), Role.ENGINEER.value, "") for _ in range(rng.randint(4, 6))]
        plan_teams.append(_team_build(rng=rng, path=path, climate=climate, roster=roster))
        for team_department, path in paths:
            if team_department is not department:
                continue
            low, high = PLANTED_SIZES.get(path, (0, 0))
            size = rng.randint(low, high) if high else _team_size_draw(rng=rng)
            roster = [(*names.next_person(), Role.MANAGER.value, "")]  # the manager manages their own team
            roster += [(*names.next_person(), Role.ENGINEER.value, "") for _ in range(size - 1)]
            if path == engineer_team:
                roster[-1] = (ENGINEER_EMAIL, "Demo Engineer", Role.ENGINEER.value, "")
            plan_teams.append(_team_build(rng=rng, path=path, climate=_climate_draw(rng=rng, path=path), roster=roster))
    # HR runs the programme; the people partners and recruiters beside them answer as plain
    # respondents. Ten of them, so People rarely falls below k: a hidden top-level team is exactly
    # "organisation minus departments", and R5 would then hide a whole department to cover it.
    roster = [(HR_EMAIL, "Demo HR", Role.HR.value, "")]
    roster += [(*names.next_person(), Role.ENGINEER.value, "") for _ in range(9)]
    plan_teams.append(
        _team_build(rng=rng, path=PEOPLE_TEAM, climate=_climate_draw(rng=rng, path=PEOPLE_TEAM), roster=roster)
    )
    return DemoPlan(departments=tuple(d.name for d in departments), teams=tuple(plan_teams))


def _team_size_draw(*, rng: random.Random) -> int:
    """3 to 12 people, most of them 5 or more (about 7 % fall below k = 5)."""
    return min(12, max(3, round(rng.gauss(7.5, 2.0))))


class _NameMaker:
    def __init__(self, *, rng: random.Random):
        self.rng = rng
        self.used: set[str] = set()

    def next_person(self) -> tuple[str, str]:
        while True:
            first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
            local = f"{first}.{last}".lower()
            email = f"{local}@{DEMO_DOMAIN}"
            number = 2
            while email in self.used:
                email = f"{local}{number}@{DEMO_DOMAIN}"
                number += 1
            self.used.add(email)
            return email, f"{first} {last}"


def _climate_draw(*, rng: random.Random, path: str) -> TeamClimate:
    climate = TeamClimate(
        safety=rng.gauss(5.3, 0.35),
        pressure=rng.gauss(3.6, 0.5),
        agency=rng.gauss(4.9, 0.3),
        optimism=rng.gauss(4.8, 0.3),
        trust=rng.gauss(2.75, 0.3),  # a little below the midpoint: 33 % trust, 46 % distrust
        manager_modelling=rng.gauss(4.0, 0.6),
        workslop_rate=rng.uniform(0.25, 0.55),
        non_user_share=rng.uniform(0.08, 0.25),
        response_rate=rng.uniform(*TEAM_RATE_RANGE),
    )
    # The planted teams start from fixed levels so that their effect is exactly the planted one.
    if path == PAYMENTS:
        return replace(climate, safety=5.6, pressure=3.4)
    if path == GROWTH:
        return replace(climate, agency=4.0, optimism=4.0, manager_modelling=3.8, non_user_share=0.03, spread=0.65)
    if path == INSIGHTS:
        return replace(climate, response_rate=1.0)  # this team always answers
    return climate


def _team_build(
    *, rng: random.Random, path: str, climate: TeamClimate, roster: Sequence[tuple[str, str, str, str]]
) -> DemoTeam:
    members = tuple(
        DemoMember(email=email, name=name, team=path, role=role, manages=manages, traits=_traits_draw(rng, climate))
        for email, name, role, manages in roster
    )
    return DemoTeam(path=path, climate=climate, members=members)


def _traits_draw(rng: random.Random, climate: TeamClimate) -> MemberTraits:
    spread = climate.spread
    agency_offset = rng.gauss(0, 0.7 * spread)
    optimism = climate.optimism + 0.35 * agency_offset + rng.gauss(0, 0.6 * spread)  # the two go together
    return MemberTraits(
        safety=climate.safety + rng.gauss(0, 0.55),
        pressure=climate.pressure + rng.gauss(0, 0.7),
        agency=climate.agency + agency_offset,
        optimism=optimism,
        trust=climate.trust + 0.3 * (optimism - climate.optimism) + rng.gauss(0, 0.6),
        manager_modelling=climate.manager_modelling + rng.gauss(0, 0.6),
        workslop_rate=min(0.95, max(0.02, climate.workslop_rate + rng.gauss(0, 0.1))),
        non_user=rng.random() < climate.non_user_share,
        use_level=rng.choices((2, 3, 4, 5), weights=(15, 25, 35, 25))[0],
        speed_log_ratio=rng.gauss(-0.2, 0.18) - 0.05 * (optimism - climate.optimism),
    )


def demo_roster_csv(*, plan: DemoPlan) -> str:
    """The plan as the roster CSV an HR team would upload."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for member in plan.members:
        writer.writerow([member.email, member.name, member.team, member.role, member.manages])
    return buffer.getvalue()


def trend_position(*, months_ago: int) -> float:
    """How far along a planted trend a cycle is: 0 up to six cycles back, rising to 1 now."""
    return min(1.0, max(0.0, (TREND_CYCLES - 1 - months_ago) / (TREND_CYCLES - 1)))


def demo_answers_draw(*, member: DemoMember, months_ago: int, rng: random.Random) -> dict[str, str | list[str]]:
    """One month's answers as the form posts them (option values as strings), skip logic applied."""
    traits = member.traits
    drift = PLANTED_TRENDS.get(member.team, {})
    position = trend_position(months_ago=months_ago)

    def this_month(trait: str, level: float) -> float:
        return level + drift.get(trait, 0.0) * position + rng.gauss(0, MOOD_NOISE)

    def agreement(level: float, *, reverse: bool = False, high: int = 7) -> str:
        value = level + rng.gauss(0, ITEM_NOISE)
        if reverse:  # agreeing with a reverse-keyed item means a low level of the trait
            value = high + 1 - value
        return str(min(high, max(1, round(value))))

    answers: dict[str, str | list[str]] = {}
    safety = this_month("safety", traits.safety)
    for key in PS_ITEMS:
        answers[key] = agreement(safety, reverse=key in INSTRUMENT.reverse_keys)
    if traits.non_user:
        answers["use1"] = "1"
    else:
        answers["use1"] = str(min(5, max(2, traits.use_level + rng.choice((-1, 0, 0, 0, 0, 0, 1)))))
    received = rng.random() < traits.workslop_rate
    answers["ws1"] = rng.choices(("2", "3", "4", "5"), weights=(35, 35, 20, 10))[0] if received else "1"
    answers["voice1"] = agreement(safety - 0.4)
    answers["press1"] = agreement(this_month("pressure", traits.pressure))
    if not traits.non_user:
        answers["trust1"] = agreement(traits.trust, high=5)
        log_ratio = traits.speed_log_ratio + rng.gauss(0, 0.12)
        answers["speed1"] = min(SPEED_OPTIONS, key=lambda option: abs(math.log(float(option)) - log_ratio))
        answers["speed2"] = str(min(20, max(-10, round(-12 * log_ratio + rng.gauss(0, 2)))))
        agency = this_month("agency", traits.agency)
        for key in AGENCY_ITEMS:
            answers[key] = agreement(agency, reverse=key in INSTRUMENT.reverse_keys)
        optimism = this_month("optimism", traits.optimism)
        for key in OPTIMISM_ITEMS:
            answers[key] = agreement(optimism, reverse=key in INSTRUMENT.reverse_keys)
    if received:
        bracket = int(str(answers["ws1"])) - 2 + rng.choice((-1, 0, 0, 1))  # more often, more hours
        answers["ws2"] = WS2_OPTIONS[min(len(WS2_OPTIONS) - 1, max(0, bracket))]
        offered = [*WS3_SOURCES, WS3_REPORTS] if member.is_manager else list(WS3_SOURCES)
        sources = [source for source, share in offered if rng.random() < share]
        answers["ws3"] = sources or [rng.choice(offered)[0]]
    answers["mgr1"] = agreement(this_month("manager_modelling", traits.manager_modelling))
    if rng.random() < COMMENT_SHARE:
        answers["c1"] = _comment_choose(member=member, position=position, rng=rng)
    return answers


def _comment_choose(*, member: DemoMember, position: float, rng: random.Random) -> str:
    pool = list(GENERAL_COMMENTS)
    if member.traits.non_user:
        pool += NON_USER_COMMENTS
    # Later in a planted trend, the team's comments tell the same story as its numbers.
    if member.team == PAYMENTS and position >= 0.6:
        pool = list(PRESSURE_COMMENTS) * 2 + pool
    if member.team == GROWTH and position >= 0.6:
        pool = list(PILOT_COMMENTS) * 2 + pool
    return rng.choice(pool)


def _months(*, today: dt.date, count: int) -> list[dt.date]:
    """The first days of `count` months, oldest first, ending with today's month."""
    current = month_start(today)
    months = []
    for back in range(count - 1, -1, -1):
        year, month_index = divmod(current.year * 12 + current.month - 1 - back, 12)
        months.append(dt.date(year, month_index + 1, 1))
    return months


def _cycles_fill(
    *,
    plan: DemoPlan,
    months: int,
    today: dt.date,
    rng: random.Random,
    result: DemoSeedResult,
    on_cycle: Callable[[CycleSummary], None] | None,
) -> None:
    members = {member.email: member for member in plan.members}
    month_list = _months(today=today, count=months)
    for index, month in enumerate(month_list):
        months_ago = len(month_list) - 1 - index
        is_current = months_ago == 0
        # The open cycle starts today, not on the 1st, so it stays open for the demo's two weeks
        # rather than being closed by the next scheduled closing run.
        opened_on = today if is_current else month
        opened = cycle_open(month=month, today=opened_on, send_mail=False)
        tokens = {link.person_email: link.token for link in opened.links}
        _audit("cycle_opened", f"cycle {opened.cycle.label}", cycle=opened.cycle.label, invited=len(tokens),
               k=opened.cycle.k)  # fmt: skip
        answering = _respondents_choose(plan=plan, is_current=is_current, rng=rng)
        for email in answering:
            member = members[email]
            response_submit(
                token=tokens[email], raw_answers=demo_answers_draw(member=member, months_ago=months_ago, rng=rng)
            )
        cycle = opened.cycle
        if not is_current:
            cycle = cycle_close(cycle=cycle, today=opened_on + dt.timedelta(days=PAST_CYCLE_DAYS)).cycle
            _audit("cycle_closed", f"cycle {cycle.label}", cycle=cycle.label)
        summary = CycleSummary(
            label=cycle.label,
            invited=len(tokens),
            answered=len(answering),
            is_open=is_current,
            closes_on=cycle.closes_on,
        )
        result.cycles.append(summary)
        if on_cycle is not None:
            on_cycle(summary)
        if is_current:
            result.open_cycle = cycle.label
            waiting = [email for email in tokens if email not in set(answering) and email != ENGINEER_EMAIL]
            chosen = [ENGINEER_EMAIL] + rng.sample(waiting, min(LIVE_LINKS - 1, len(waiting)))
            result.live_links = [
                LiveLink(url=survey_link(tokens[email]), is_engineer_login=email == ENGINEER_EMAIL) for email in chosen
            ]


def _respondents_choose(*, plan: DemoPlan, is_current: bool, rng: random.Random) -> list[str]:
    """Who answers this month, team by team. The engineer login is left to answer the open cycle
    by hand in the demo."""
    answering: list[str] = []
    for team in plan.teams:
        if team.climate.response_rate >= 1.0:
            rate = 1.0
        elif is_current:
            rate = rng.uniform(*OPEN_CYCLE_RATE_RANGE)
        else:
            rate = team.climate.response_rate + rng.uniform(-MONTH_RATE_JITTER, MONTH_RATE_JITTER)
        size = len(team.members)
        count = round(size * rate)
        if not is_current and rate < 1.0:
            # Rounding must not push a small team outside 60-95 % (4 of 4, or 2 of 5).
            count = min(math.floor(size * CLOSED_RATE_LIMITS[1]), max(math.ceil(size * CLOSED_RATE_LIMITS[0]), count))
        candidates = [m.email for m in team.members if not (is_current and m.email == ENGINEER_EMAIL)]
        count = min(len(candidates), max(1, count))
        answering.extend(rng.sample(candidates, count))
    return answering


def _logins_ensure(*, password: str, result: DemoSeedResult) -> None:
    """Sets the demo logins' password (so the one printed always works) and the operator's
    superuser for /admin/."""
    people = {person.email: person for person in Person.objects.select_related("user", "team")}
    for email in (HR_EMAIL, MANAGER_EMAIL, ENGINEER_EMAIL):
        user = people[email].user if email in people else None
        if user is None:
            raise DemoError(f"{email} is missing or has no user account; run seed_demo --reset to rebuild the demo.")
        user.set_password(password)
        user.is_active = True
        user.save(update_fields=["password", "is_active"])
    user_model = get_user_model()
    admin = user_model.objects.filter(username=ADMIN_EMAIL).first()
    if admin is None:
        admin = user_model(username=ADMIN_EMAIL, email=ADMIN_EMAIL)
    admin.is_staff = admin.is_superuser = admin.is_active = True
    admin.set_password(password)
    admin.save()
    _audit("demo_logins_set", "demo logins", emails=[HR_EMAIL, MANAGER_EMAIL, ENGINEER_EMAIL, ADMIN_EMAIL],
           superuser=ADMIN_EMAIL)  # fmt: skip
    head_of = ", ".join(team.path for team in people[MANAGER_EMAIL].managed_teams.all())
    result.logins = [
        DemoLogin(HR_EMAIL, "HR: runs the programme, sees every published aggregate"),
        DemoLogin(MANAGER_EMAIL, f"manager: department head, manages {head_of} and its teams"),
        DemoLogin(ENGINEER_EMAIL, f"engineer on {people[ENGINEER_EMAIL].team.path}"),
        DemoLogin(ADMIN_EMAIL, "operator: superuser for /admin/"),
    ]
    result.login_url = settings.PULSE_BASE_URL + reverse("login")


def _demo_refresh(*, password: str, rng: random.Random) -> DemoSeedResult:
    """The demo is already here: add nothing, reset the logins' password and hand out fresh links
    (re-issuing voids the ones printed last time, exactly like "resend my link")."""
    leaf_teams = Team.objects.filter(children__isnull=True, members__isnull=False).distinct().count()
    departments = list(
        Team.objects.filter(parent__isnull=True, children__isnull=False).distinct().values_list("name", flat=True)
    )
    result = DemoSeedResult(
        created=False, people=Person.objects.count(), leaf_teams=leaf_teams, departments=departments
    )
    _logins_ensure(password=password, result=result)
    for cycle in Cycle.objects.order_by("month"):
        progress = cycle_progress(cycle=cycle)
        result.cycles.append(
            CycleSummary(
                label=cycle.label,
                invited=progress["invited"],
                answered=progress["answered"],
                is_open=cycle.is_open,
                closes_on=cycle.closes_on,
            )
        )
    open_cycle = open_cycle_get()
    if open_cycle is None:
        return result
    result.open_cycle = open_cycle.label
    waiting = Invitation.objects.filter(cycle=open_cycle, status=Invitation.Status.PENDING, person__is_active=True)
    engineer = list(waiting.filter(person__email=ENGINEER_EMAIL).values_list("pk", flat=True))
    result.engineer_has_answered = not engineer
    others = list(waiting.exclude(person__email=ENGINEER_EMAIL).order_by("pk").values_list("pk", flat=True))
    chosen = engineer + rng.sample(others, min(LIVE_LINKS - len(engineer), len(others)))
    links = links_issue(
        cycle=open_cycle, invitations=Invitation.objects.filter(pk__in=chosen), kind="resend", send_mail=False
    )
    links.sort(key=lambda link: link.person_email != ENGINEER_EMAIL)
    result.live_links = [
        LiveLink(url=survey_link(link.token), is_engineer_login=link.person_email == ENGINEER_EMAIL) for link in links
    ]
    return result
