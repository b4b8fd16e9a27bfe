"""The aggregation job: the only reader of the anonymous side after a cycle closes.

One run for one closed cycle: read its answers once into pandas, compute partials per team,
decide publication for the whole tree (ANONYMITY R4, R5, R6), write the cells, then the flags and
the released comments. Each stage has a fill-state row (started/done): a stage found "started"
was interrupted, and a rerun replaces its output. Each cycle's latest run also has a state row
(AggregationRun: queued, running with its stage, done, failed, or refused by the disclosure
checker) for HR's cycles page. Writes replace the cycle's rows in one
transaction per stage, so a rerun writes identical results. A cache lock keeps two runs of one
cycle from overlapping (as Read the Docs does for builds).
"""

from __future__ import annotations

import logging
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from analytics.core.catalogue import RESPONSES
from analytics.core.cells import CycleCells, cells_compute, series_dict
from analytics.core.checker import PublicationRefused, publication_check, require_publishable
from analytics.core.partials import Partials, partials_compute
from analytics.core.scoring import Scoring
from analytics.core.tree import ORGANISATION, UnitTree
from analytics.job.comments import comments_release
from analytics.job.storage import answers_frame, cycle_results_write
from analytics.models import AggregationRun, AggregationStage, PurgedCycle, ReleasedComment, UnitSnapshot
from surveys.models import Cycle, InvitationTally, Organisation, Team

logger = logging.getLogger(__name__)

LOCK_SECONDS = 30 * 60
STAGE_CELLS, STAGE_FLAGS, STAGE_COMMENTS = "cells", "flags", "comments"
STAGES = (STAGE_CELLS, STAGE_FLAGS, STAGE_COMMENTS)
Progress = Callable[[str], None]


class AggregationRefused(Exception):
    """The cycle cannot be aggregated now (still open, or another run holds its lock)."""


class CycleStillOpen(AggregationRefused):
    """R8: results exist only once the cycle has closed. Retrying will not help."""


class AggregationBusy(AggregationRefused):
    """Another run holds the cycle's lock. Passes on its own: the task retries later."""


class CyclePurged(AggregationRefused):
    """The cycle's answers were purged (analytics.job.retention): a run would read nothing and
    replace its stored results with empty ones. Its stored results are final; retrying will not help."""


def purged_cycle_ids() -> set[int]:
    """Ids of the cycles whose answers were purged: never aggregated again."""
    return set(PurgedCycle.objects.values_list("cycle_id", flat=True))


def refuse_if_purged(cycle: Cycle) -> None:
    purged_at = PurgedCycle.objects.filter(cycle=cycle).values_list("purged_at", flat=True).first()
    if purged_at is not None:
        raise CyclePurged(
            f"The answers of {cycle.label} were purged on {timezone.localdate(purged_at):%Y-%m-%d} (retention): "
            "it cannot be aggregated again, and its stored results stay as they are."
        )


@dataclass(frozen=True)
class AggregationSummary:
    cycle: str
    respondents: int
    units: int
    cells_published: int
    cells_hidden: int
    flags: int
    comments_released: int


@contextmanager
def cycle_lock(cycle_id: int) -> Iterator[None]:
    """cache.add is atomic in Redis (SET NX): only one run of a cycle at a time."""
    key, token = f"aggregate-cycle-{cycle_id}", secrets.token_hex(8)
    if not cache.add(key, token, timeout=LOCK_SECONDS):
        raise AggregationBusy("Another aggregation of this cycle is running; try again when it has finished.")
    try:
        yield
    finally:
        if cache.get(key) == token:
            cache.delete(key)


@contextmanager
def fill_stage(cycle: Cycle, stage: str) -> Iterator[None]:
    state = AggregationStage.objects.filter(cycle=cycle, stage=stage).values_list("state", flat=True).first()
    if state == AggregationStage.State.STARTED:
        logger.warning("aggregation: redoing interrupted stage %s of %s", stage, cycle.label)
    AggregationStage.objects.update_or_create(
        cycle=cycle,
        stage=stage,
        defaults={"state": AggregationStage.State.STARTED, "finished_at": None, "k": cycle.k},
    )
    yield
    AggregationStage.objects.filter(cycle=cycle, stage=stage).update(
        state=AggregationStage.State.DONE, finished_at=timezone.now()
    )


# --- the state of each cycle's latest run ---------------------------------------------------------------------------

RunState = AggregationRun.State
RunStage = AggregationRun.Stage


def run_state_set(cycle: Cycle, state: str, *, stage: str = "", error: str = "") -> None:
    """Record where the cycle's latest run is. Written in autocommit where the caller holds no
    transaction, so the cycles page sees each stage as it starts."""
    AggregationRun.objects.update_or_create(
        cycle=cycle,
        defaults={"state": state, "stage": stage, "error": error[:100], "k": cycle.k, "changed_at": timezone.now()},
    )


def runs_queued(cycles: Iterable[Cycle]) -> None:
    """Mark the cycles' aggregation as queued (closing, the nightly catch-up, a retry)."""
    for cycle in cycles:
        run_state_set(cycle, RunState.QUEUED)


def refused_under_current_k() -> set[int]:
    """Ids of cycles whose latest run the disclosure checker stopped under the k they have now.

    Running them again would stop again (the same answers, tree and k give the same findings), so
    nothing queues them until k is raised, which is a new decision (R3)."""
    return {
        cycle_id
        for cycle_id, run_k, cycle_k in AggregationRun.objects.filter(state=RunState.REFUSED).values_list(
            "cycle_id", "k", "cycle__k"
        )
        if run_k == cycle_k
    }


def _run_state_set_safely(cycle: Cycle, state: str, *, error: str = "") -> None:
    # Recording a failure must never hide the failure itself (a broken connection, an aborted
    # transaction): the job's log keeps the original error either way.
    try:
        with transaction.atomic():
            run_state_set(cycle, state, error=error)
    except (DatabaseError, TransactionManagementError):
        logger.exception("aggregation: could not record state %s of %s", state, cycle.label)


@contextmanager
def run_recorded(cycle: Cycle) -> Iterator[None]:
    """Record how the work inside ends if it does not end well: refused (PublicationRefused, the
    checker's finding, R15) or failed (any other exception, by class name only: an exception's
    words may quote data). AggregationRefused is left alone: "busy" means another run is going
    and its state is the true one; "still open" is no run at all."""
    try:
        yield
    except AggregationRefused:
        raise
    except PublicationRefused:
        _run_state_set_safely(cycle, RunState.REFUSED)
        raise
    except Exception as error:
        _run_state_set_safely(cycle, RunState.FAILED, error=type(error).__name__)
        raise


# --- the tree and the invited counts ---------------------------------------------------------------------------------


def organisation_tree() -> UnitTree[str]:
    teams = Team.objects.values_list("id", "name", "parent_id")
    return UnitTree.from_teams(teams, Organisation.current().name)


def cycle_tree(cycle: Cycle) -> UnitTree[str]:
    """The organisation as it stood when the cycle was first aggregated (at its close).

    R6: publication is decided once per cycle. A rerun on today's teams (a team moved to another
    department since) would publish a second set of numbers for the same cycle, and the two
    could be subtracted to isolate the moved team; so every rerun reuses the first run's tree.
    """
    snapshots = list(UnitSnapshot.objects.filter(cycle=cycle).values_list("unit_id", "parent_id", "path"))
    if not snapshots:
        return organisation_tree()
    paths = {str(unit): path for unit, _, path in snapshots}
    teams = []
    organisation_name = Organisation.current().name
    for unit, parent, path in snapshots:
        unit_id = str(unit)
        if unit_id == ORGANISATION:
            organisation_name = path
            continue
        parent_id = str(parent) if parent is not None and str(parent) != ORGANISATION else None
        # The name is what the path adds to the parent's (a name may itself contain "/").
        name = path[len(paths[parent_id]) + 1 :] if parent_id else path
        teams.append((unit_id, name, parent_id))
    return UnitTree.from_teams(teams, organisation_name)


def invited_by_team(cycle: Cycle) -> dict[str, int]:
    return {
        str(team): invited
        for team, invited in InvitationTally.objects.filter(cycle=cycle).values_list("team_id", "invited")
    }


# --- the job ---------------------------------------------------------------------------------


def cycles_needing_aggregation() -> list[Cycle]:
    """Closed cycles, oldest first, whose aggregation never finished every stage or was decided
    under another k than the cycle's own (k raised after close, R3), and every closed cycle
    after the first such one: their trend flags quote its cells. A cycle the disclosure checker
    stopped under its current k is never among them (:func:`refused_under_current_k`), nor a
    cycle whose answers were purged (:func:`purged_cycle_ids`): rerunning it would wipe its results."""
    skipped = refused_under_current_k() | purged_cycle_ids()
    closed = [
        cycle for cycle in Cycle.objects.filter(status=Cycle.Status.CLOSED).order_by("month") if cycle.pk not in skipped
    ]
    decided_with: dict[int, list[int | None]] = defaultdict(list)
    for cycle_id, k in AggregationStage.objects.filter(state=AggregationStage.State.DONE).values_list("cycle_id", "k"):
        decided_with[cycle_id].append(k)
    for position, cycle in enumerate(closed):
        ks = decided_with.get(cycle.pk, [])
        if len(ks) < len(STAGES) or any(k != cycle.k for k in ks):
            return closed[position:]
    return []


def cycles_after(cycle: Cycle) -> list[Cycle]:
    """Closed cycles later than ``cycle``, oldest first, except those refused under their current
    k or purged: what must be aggregated again after it (their trend flags quote its cells)."""
    skipped = refused_under_current_k() | purged_cycle_ids()
    later = Cycle.objects.filter(status=Cycle.Status.CLOSED, month__gt=cycle.month).order_by("month")
    return [later_cycle for later_cycle in later if later_cycle.pk not in skipped]


def comments_withhold(*, cycle: Cycle) -> int:
    """Take a cycle's released comments down and mark its comments stage undone, in one
    transaction (its comment threshold was raised: R7 must be decided again); the catch-up run
    (:func:`cycles_needing_aggregation`) lists them again. Returns how many were withdrawn."""
    with transaction.atomic():
        withdrawn, _ = ReleasedComment.objects.filter(cycle=cycle).delete()
        AggregationStage.objects.filter(cycle=cycle, stage=STAGE_COMMENTS).delete()
    return withdrawn


def fanout_team_groups(tree: UnitTree[str], *, min_teams: int) -> list[list[str]] | None:
    """The teams of each top-level unit, one list per fan-out task; None to run in one process.

    Top-level units are the natural seam: each holds whole departments, so every team's partials
    are computed by exactly one task, and only the organisation level needs merged numbers.
    """
    top_level = tree.top_level_units()
    if len(tree.parents) - 1 < min_teams or len(top_level) < 2:
        return None
    return [sorted(tree.subtree(unit)) for unit in top_level]


def cycle_partials(cycle: Cycle, *, team_ids: set[str] | None = None) -> Partials:
    """Partials of some teams (all by default): what one fan-out task computes."""
    return partials_compute(
        answers_frame(cycle.pk, team_ids), scoring=cycle_scoring(cycle), pilot_cutoff=float(cycle.pilot_cutoff)
    )


def cycle_scoring(cycle: Cycle) -> Scoring:
    """How the cycle's answers are scored: from the instrument version it opened with."""
    return Scoring.from_definition(cycle.instrument_version.definition)


def aggregate_cycle(
    *, cycle: Cycle, partials: Partials | None = None, progress: Progress | None = None
) -> AggregationSummary:
    """Aggregates one closed cycle end to end. `partials` lets the fan-out pass merged partials
    computed by several workers; without it this process computes them itself.

    The cycle's run state follows it: running with each stage as it starts, done at the end,
    refused when the checker stops it, failed on any other exception (which is raised again).
    A cycle whose answers were purged is refused (CyclePurged) and its stored results are left alone."""
    say = progress or (lambda message: None)
    if cycle.is_open:
        raise CycleStillOpen(
            f"The {cycle.label} cycle is still open: results are released when it closes (ANONYMITY R8)."
        )

    def stage(code: str, message: str) -> None:
        # Called outside the stages' transactions, so the state is visible while the stage runs.
        run_state_set(cycle, RunState.RUNNING, stage=code)
        say(f"{cycle.label}: {message}")

    with cycle_lock(cycle.pk), run_recorded(cycle):
        # Checked under the lock, which the purge takes too: a run never starts on purged answers.
        refuse_if_purged(cycle)
        tree = cycle_tree(cycle)
        stage(RunStage.READING, "reading answers")
        partials = partials if partials is not None else cycle_partials(cycle)
        stage(RunStage.COMPUTING, f"computing {len(tree.parents):,} units")
        organisation = Organisation.current()
        scoring = cycle_scoring(cycle)
        computed = cells_compute(
            partials,
            tree,
            scoring=scoring,
            invited=invited_by_team(cycle),
            k=cycle.k,
            hourly_cost=float(organisation.hourly_cost),
        )
        stage(RunStage.CHECKING, "checking what would be published")
        with fill_stage(cycle, STAGE_CELLS), transaction.atomic():
            publication_require_checked(
                computed, partials, tree, scoring=scoring, k=cycle.k, hourly_cost=float(organisation.hourly_cost)
            )
            cycle_results_write(cycle, tree, computed)
        stage(RunStage.FLAGS, "flags")
        from analytics.flags.stage import flags_compute_for_cycle  # imported late: the stage imports storage

        with fill_stage(cycle, STAGE_FLAGS), transaction.atomic():
            flags = flags_compute_for_cycle(cycle=cycle, tree=tree)
        stage(RunStage.COMMENTS, "comments")
        with fill_stage(cycle, STAGE_COMMENTS), transaction.atomic():
            released = comments_release(cycle=cycle, tree=tree, respondents=series_dict(partials.respondents))
        run_state_set(cycle, RunState.DONE)
    cells = computed.cells
    return AggregationSummary(
        cycle=cycle.label,
        respondents=int(partials.respondents.sum()),
        units=len(tree.parents),
        cells_published=int(cells["published"].sum()),
        cells_hidden=int((~cells["published"]).sum()),
        flags=flags,
        comments_released=released,
    )


def publication_require_checked(
    computed: CycleCells, partials: Partials, tree: UnitTree[str], *, scoring: Scoring, k: int, hourly_cost: float
) -> None:
    """R15: the independent checker over everything about to be stored. A finding stops the
    stage (its transaction stores nothing); the log names units, metrics and rules, no value."""
    variables = partials.variables
    direct_n = {
        variable: series_dict(variables[(variable, "n")]) for variable in {column[0] for column in variables.columns}
    }
    direct_n[RESPONSES] = series_dict(partials.respondents)
    bins = partials.bins.groupby(["item", "team_id"])["count"].sum()
    item_direct_n = {str(item): series_dict(bins.loc[item]) for item in bins.index.get_level_values(0).unique()}
    findings = publication_check(
        computed.cells,
        tree,
        direct_n=direct_n,
        distributions=computed.distributions,
        item_direct_n=item_direct_n,
        team_sums=variables,
        fixed_sd=scoring.fixed_sd,
        hourly_cost=hourly_cost,
        k=k,
    )
    for finding in findings[:50]:
        logger.error("aggregation refused: %s %s breaks %s", finding.unit, finding.metric, finding.rule)
    require_publishable(findings)
