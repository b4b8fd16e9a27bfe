"""The attacker's toolkit for tests/analytics/test_attack_findings.py.

Everything here goes through the product's public path only, as an organisation would use it:
the roster CSV and `import_roster`, `open_cycle`, the one-time links in the e-mails, the survey
form over HTTP (two steps, exactly the fields a browser would send), `close_cycle`, `aggregate`
and `export_aggregates --format csv`. Nothing is imported from `analytics.*` (its module paths are
changing), and nothing reads the anonymous side: the attacker only has the export and the roster.

The second half is a small brute-force kit: enumerate every multiset of n answers on a scale, keep
those consistent with what is published (means as rounded in the file, shares, counts, and the
interval under the hypothesis that it is the cell's own t interval), and look at what remains.
"""

from __future__ import annotations

import csv
import itertools
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from io import StringIO
from pathlib import Path

from django.core import mail
from django.core.management import call_command
from django.test import Client
from scipy import stats as scipy_stats

HEADER = "email,name,team,role,manages"
LINK = re.compile(r"https?://[^\s\"'<>]+/s/([^/\s\"'<>]+)/")

# ---------------------------------------------------------------------------------------------
# Answers: one full, consistent set per person (the skip logic decides which items are asked).
# ---------------------------------------------------------------------------------------------

#: A neutral respondent: answers every item it is asked. Values are the form's option values.
BASE_ANSWERS: dict[str, object] = {
    **{f"ps{i}": "4" for i in range(1, 8)},
    "use1": "4",
    "ws1": "1",
    "trust1": "3",
    "voice1": "4",
    "press1": "4",
    "speed1": "1",
    "speed2": "0",
    "ag1": "4", "ag2": "4", "ag3": "4", "ag4": "4",
    "op1": "4", "op2": "4",
    "ws2": "0.5",
    "ws3": ["teammates"],
    "mgr1": "4",
    "c1": "",
}  # fmt: skip

AI_ONLY = ("trust1", "speed1", "speed2", "ag1", "ag2", "ag3", "ag4", "op1", "op2")
RECEIVER_ONLY = ("ws2", "ws3")

#: Agency/optimism answers that put an AI user in each usage quadrant (cut-off 5, ag4 reversed).
QUADRANTS: dict[str, dict[str, str]] = {
    "pilot": {"ag1": "6", "ag2": "6", "ag3": "6", "ag4": "2", "op1": "6", "op2": "6"},
    "high_agency_low_optimism": {"ag1": "6", "ag2": "6", "ag3": "6", "ag4": "2", "op1": "2", "op2": "2"},
    "low_agency_high_optimism": {"ag1": "2", "ag2": "2", "ag3": "2", "ag4": "6", "op1": "6", "op2": "6"},
    "low_agency_low_optimism": {"ag1": "2", "ag2": "2", "ag3": "2", "ag4": "6", "op1": "2", "op2": "2"},
}


def answers(**overrides: object) -> dict[str, object]:
    """A full answer set for one person, consistent with the skip logic: a non-user ("use1": "1")
    is not asked the AI items, a non-receiver ("ws1": "1") is not asked ws2/ws3. Pass
    `quadrant="pilot"` etc. to set the agency and optimism items."""
    quadrant = overrides.pop("quadrant", None)
    chosen = {**BASE_ANSWERS}
    if quadrant is not None:
        chosen.update(QUADRANTS[str(quadrant)])
    chosen.update({key: str(value) if not isinstance(value, list) else value for key, value in overrides.items()})
    if chosen["use1"] == "1":
        for key in AI_ONLY:
            chosen.pop(key, None)
    if chosen["ws1"] == "1":
        for key in RECEIVER_ONLY:
            chosen.pop(key, None)
    return chosen


# ---------------------------------------------------------------------------------------------
# The organisation and a cycle, through the management commands and the survey links.
# ---------------------------------------------------------------------------------------------


@dataclass
class Member:
    email: str
    team: str
    answers: dict[str, object] | None  # None: invited, does not answer
    role: str = "engineer"
    manages: str = ""


@dataclass
class Roster:
    members: list[Member] = field(default_factory=list)

    def add(self, team: str, count: int, make: Callable[[int], dict[str, object] | None], *, role: str = "engineer",
            manages: str = "") -> Roster:  # fmt: skip
        slug = re.sub(r"[^a-z0-9]+", "-", team.lower()).strip("-")
        start = sum(1 for m in self.members if m.team == team)
        for index in range(start, start + count):
            self.members.append(Member(f"{slug}-{index}@example.com", team, make(index), role, manages))
        return self

    def headcount(self, unit_path: str) -> int:
        """People on the roster in a unit's subtree: the attacker (HR) has the roster."""
        return sum(1 for m in self.members if m.team == unit_path or m.team.startswith(unit_path + "/"))

    def direct_headcount(self, unit_path: str) -> int:
        """People on the roster sitting directly on the unit (a department head, say)."""
        return sum(1 for m in self.members if m.team == unit_path)

    def csv_text(self) -> str:
        lines = [HEADER]
        for m in self.members:
            name = m.email.split("@")[0].replace("-", " ").title()
            lines.append(f"{m.email},{name},{m.team},{m.role},{m.manages}")
        return "\n".join(lines) + "\n"


def import_roster(tmp_path: Path, roster: Roster) -> str:
    path = tmp_path / "roster.csv"
    path.write_text(roster.csv_text(), encoding="utf-8")
    out, err = StringIO(), StringIO()
    call_command("import_roster", str(path), stdout=out, stderr=err)
    assert f"{len(roster.members)} created" in out.getvalue(), out.getvalue() + err.getvalue()
    return err.getvalue()  # warnings (people sitting directly on an inner unit)


def open_cycle() -> dict[str, str]:
    """Opens the pulse with the management command; returns {e-mail: survey path} from the mails."""
    mail.outbox.clear()
    out = StringIO()
    call_command("open_cycle", stdout=out)
    assert "Opened" in out.getvalue(), out.getvalue()
    links: dict[str, str] = {}
    for message in mail.outbox:
        match = LINK.search(message.body)
        assert match, f"no survey link in the mail to {message.to}"
        (address,) = message.to
        links[address] = f"/s/{match.group(1)}/"
    return links


class _FormParser(HTMLParser):
    """The survey page's one form, as a browser sees it: hidden inputs, the csrf token, the
    visible fields and the option values they offer, and the submit buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden: list[tuple[str, str]] = []
        self.options: dict[str, set[str]] = {}
        self.kinds: dict[str, str] = {}
        self.buttons: set[str] = set()
        self.in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.in_form = True
        if not self.in_form:
            return
        if tag == "input":
            kind, name = a.get("type", "text"), a.get("name", "")
            if kind == "hidden":
                self.hidden.append((name, a.get("value", "")))
            elif kind in ("radio", "checkbox"):
                self.options.setdefault(name, set()).add(a.get("value", ""))
                self.kinds[name] = kind
            elif name:
                self.kinds[name] = kind
        elif tag == "textarea":
            self.kinds[a.get("name", "")] = "textarea"
        elif tag == "button" and a.get("name") == "action":
            self.buttons.add(a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.in_form = False


def _parse(html: str) -> _FormParser:
    parser = _FormParser()
    parser.feed(html)
    return parser


def _fill(page: _FormParser, chosen: Mapping[str, object], shown: set[str]) -> list[tuple[str, str]]:
    """The browser's POST body: the hidden inputs, then what this person ticks or types among the
    fields on the page (an option that the page does not offer is a test bug, not a choice)."""
    data = list(page.hidden)
    for name, kind in page.kinds.items():
        if name not in chosen:
            continue
        shown.add(name)
        value = chosen[name]
        values = value if isinstance(value, list) else [value]
        for v in values:
            if kind in ("radio", "checkbox"):
                assert str(v) in page.options[name], (
                    f"{name}={v!r} is not offered; options {sorted(page.options[name])}"
                )
            data.append((name, str(v)))
    return data


def _body(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    body: dict[str, list[str]] = {}
    for name, value in pairs:
        body.setdefault(name, []).append(value)
    return body


def answer_survey(link: str, chosen: Mapping[str, object]) -> None:
    """One person answers at their link in a fresh browser (CSRF enforced, cookies kept)."""
    browser = Client(enforce_csrf_checks=True)
    first = browser.get(link)
    assert first.status_code == 200, first.status_code
    step1 = _parse(first.content.decode())
    assert step1.buttons == {"next"}, step1.buttons
    shown: set[str] = set()
    second = browser.post(link, {**_body(_fill(step1, chosen, shown)), "action": "next"})
    assert second.status_code == 200, second.content.decode()[:2000]
    step2 = _parse(second.content.decode())
    assert "submit" in step2.buttons, "step 1 was refused: " + second.content.decode()[:2000]
    done = browser.post(link, {**_body(_fill(step2, chosen, shown)), "action": "submit"})
    assert done.status_code == 302 and done["Location"].endswith("/thanks/"), done.content.decode()[:2000]
    unasked = {key for key, value in chosen.items() if value not in ("", [])} - shown
    assert not unasked, f"answers prepared for items the form never asked: {sorted(unasked)}"


def run_cycle(tmp_path: Path, roster: Roster) -> Export:
    """The whole public path: roster, open, everyone answers at their link, close, aggregate,
    export as CSV. Returns the parsed export."""
    import_roster(tmp_path, roster)
    links = open_cycle()
    assert set(links) == {m.email for m in roster.members}
    for member in roster.members:
        if member.answers is not None:
            answer_survey(links[member.email], member.answers)
    out = StringIO()
    call_command("close_cycle", stdout=out)
    assert "Closed" in out.getvalue(), out.getvalue()
    call_command("aggregate", stdout=StringIO())
    path = tmp_path / "aggregates.csv"
    call_command("export_aggregates", "--format", "csv", "--out", str(path), stdout=StringIO())
    with path.open(encoding="utf-8", newline="") as handle:
        return Export(list(csv.DictReader(handle)), roster)


# ---------------------------------------------------------------------------------------------
# The export, read as the attacker reads it.
# ---------------------------------------------------------------------------------------------


def _float(text: str) -> float | None:
    return None if text in ("", None) else float(text)


def _decimals(text: str) -> int:
    """How many decimals the file gives: the stored rounding, as far as the reader can tell."""
    if not text or "e" in text.lower():
        return 17
    return len(text.split(".", 1)[1]) if "." in text else 0


@dataclass(frozen=True)
class Figure:
    """One exported cell. `tol(column)` is half the last published digit (exact when the file
    carries full float precision), so a candidate matches what is published, not more."""

    unit: str
    metric: str
    published: bool
    n: int | None
    value: float | None
    ci_low: float | None
    ci_high: float | None
    raw: Mapping[str, str]

    def tol(self, column: str) -> float:
        places = _decimals(self.raw[column])
        return 1e-9 if places >= 9 else 0.5 * 10.0**-places + 1e-12

    def matches(self, column: str, candidate: float) -> bool:
        published = getattr(self, column)
        return published is not None and abs(candidate - published) <= self.tol(column) * (1 + abs(published))

    @property
    def half_width(self) -> float | None:
        if self.ci_low is None or self.ci_high is None:
            return None
        return (self.ci_high - self.ci_low) / 2


class Export:
    def __init__(self, rows: list[dict[str, str]], roster: Roster) -> None:
        assert rows, "the export is empty"
        self.rows = rows
        self.roster = roster
        self.cells: dict[tuple[str, str], Figure] = {}
        for row in rows:
            published = row["suppressed"] not in ("True", "true", "1")
            figure = Figure(
                unit=row["unit_path"],
                metric=row["metric"],
                published=published,
                n=int(row["n"]) if published and row["n"] != "" else None,
                value=_float(row["value"]) if published else None,
                ci_low=_float(row["ci_low"]) if published else None,
                ci_high=_float(row["ci_high"]) if published else None,
                raw=row,
            )
            self.cells[(figure.unit, figure.metric)] = figure

    @property
    def units(self) -> list[str]:
        return sorted({unit for unit, _ in self.cells})

    @property
    def metrics(self) -> list[str]:
        return sorted({metric for _, metric in self.cells})

    def get(self, unit: str, metric: str) -> Figure | None:
        """The published figure, or None when it is hidden or not exported at all."""
        figure = self.cells.get((unit, metric))
        return figure if figure is not None and figure.published else None

    def exported(self, unit: str, metric: str) -> bool:
        return (unit, metric) in self.cells

    def published_metrics(self, unit: str) -> list[str]:
        return sorted(metric for (u, metric), f in self.cells.items() if u == unit and f.published)

    def count(self, unit: str, metric: str) -> int | None:
        """A published share's count of "yes" (share x n), as the attacker computes it."""
        figure = self.get(unit, metric)
        if figure is None or figure.value is None or figure.n is None:
            return None
        return round(figure.value * figure.n)

    def parent(self, unit: str) -> str | None:
        """The unit's parent as the export names it (parent_path), None for the root."""
        parents = {f.raw["parent_path"] for (u, _), f in self.cells.items() if u == unit}
        assert len(parents) == 1, parents
        return parents.pop() or None

    def children(self, unit: str) -> list[str]:
        return sorted({u for (u, _), f in self.cells.items() if f.raw["parent_path"] == unit})

    def organisation_unit(self) -> str:
        """The root of the tree in the export (the unit no roster team path names)."""
        teams = {m.team for m in self.roster.members}
        inner = {"/".join(t.split("/")[:i]) for t in teams for i in range(1, t.count("/") + 1)}
        roots = [u for u in self.units if u not in teams | inner]
        assert len(roots) == 1, roots
        return roots[0]

    def describe(self, unit: str) -> str:
        """A readable dump of one unit's published figures, for assertion messages."""
        parts = []
        for metric in self.published_metrics(unit):
            f = self.cells[(unit, metric)]
            parts.append(f"{metric}: n={f.n} value={f.value} ci=({f.ci_low}, {f.ci_high})")
        return f"{unit}: " + ("; ".join(parts) if parts else "nothing published")


# ---------------------------------------------------------------------------------------------
# Brute force.
# ---------------------------------------------------------------------------------------------


def multisets(scale: Sequence[float], n: int) -> Iterable[tuple[float, ...]]:
    """Every multiset of n answers on the scale (sorted tuples)."""
    return itertools.combinations_with_replacement(sorted(scale), n)


def own_t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float] | None:
    """The exact t interval of a cell computed from its own answers (what finding 3 exploits)."""
    n = len(values)
    if n < 2:
        return None
    mean = sum(values) / n
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    half = float(scipy_stats.t.ppf(0.5 + confidence / 2, n - 1)) * math.sqrt(variance / n)
    return mean - half, mean + half


Check = Callable[[tuple[float, ...]], bool]


def mean_check(figure: Figure | None, transform: Callable[[tuple[float, ...]], Sequence[float]] = lambda c: c) -> Check:
    """Candidate consistent with a published mean (rounded as stored). A hidden figure constrains nothing."""
    if figure is None or figure.value is None:
        return lambda candidate: True

    def check(candidate: tuple[float, ...]) -> bool:
        values = transform(candidate)
        return figure.n == len(values) and figure.matches("value", sum(values) / len(values))

    return check


def share_check(figure: Figure | None, condition: Callable[[float], bool],
                transform: Callable[[tuple[float, ...]], Sequence[float]] = lambda c: c) -> Check:  # fmt: skip
    """Candidate consistent with a published share of answers meeting `condition`."""
    if figure is None or figure.value is None:
        return lambda candidate: True

    def check(candidate: tuple[float, ...]) -> bool:
        values = transform(candidate)
        share = sum(1 for v in values if condition(v)) / len(values)
        return figure.n == len(values) and figure.matches("value", share)

    return check


def own_interval_check(figure: Figure | None,
                       transform: Callable[[tuple[float, ...]], Sequence[float]] = lambda c: c) -> Check:  # fmt: skip
    """Candidate consistent with the published interval read as the cell's own t interval."""
    if figure is None or figure.ci_low is None or figure.ci_high is None:
        return lambda candidate: True

    def check(candidate: tuple[float, ...]) -> bool:
        interval = own_t_interval(transform(candidate))
        return interval is not None and figure.matches("ci_low", interval[0]) and figure.matches("ci_high", interval[1])

    return check


def consistent(candidates: Iterable[tuple[float, ...]], hard: Sequence[Check], hypotheses: Sequence[Check] = (),
               *, truth: tuple[float, ...] | None = None) -> list[tuple[float, ...]]:  # fmt: skip
    """The candidates an attacker keeps. `hard` checks are facts read off the export; each of the
    `hypotheses` (e.g. "the interval is the cell's own t interval") is applied only if some
    candidate survives it: a hypothesis that no candidate fits is refuted, and the attacker drops
    it rather than concluding anything from it.

    With `truth` (the answers actually given, sorted), checks the attacker itself: the facts read
    off the export must never rule out what really happened. Tests then assert that the attacker
    does not end with exactly the truth: a hypothesis that happens to fit one wrong candidate (a
    fixed SD that equals some multiset's own SD) misleads the attacker but reveals nothing."""
    kept = [c for c in candidates if all(check(c) for check in hard)]
    if truth is not None:
        assert tuple(truth) in kept, f"attacker bug: the published facts rule out the true answers {truth}"
    for hypothesis in hypotheses:
        narrowed = [c for c in kept if hypothesis(c)]
        if narrowed:
            kept = narrowed
    return kept
