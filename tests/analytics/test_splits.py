"""R14: which three-bin splits a small cell's mean and share leave possible."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from analytics.core.disclosure import decide_population, decide_publication
from analytics.core.splits import mean_and_share_pin_the_bins


def histogram_table(n: int, scale_max: int) -> np.ndarray:
    """Every histogram of n answers over 1..scale_max, a row each (brute force, for reference)."""
    return np.array(
        [h for h in itertools.product(range(n + 1), repeat=scale_max) if sum(h) == n], dtype=np.int64
    ).reshape(-1, scale_max)


def three_bins(table: np.ndarray) -> np.ndarray:
    values = np.arange(1, table.shape[1] + 1)
    midpoint = (table.shape[1] + 1) / 2
    return np.column_stack([table[:, values < midpoint].sum(axis=1), table[:, values == midpoint].sum(axis=1),
                            table[:, values > midpoint].sum(axis=1)])  # fmt: skip


@pytest.mark.parametrize(("n", "scale_max"), [(n, 5) for n in range(1, 13)] + [(n, 7) for n in (3, 5, 7)])
def test_the_exact_rule_agrees_with_enumerating_every_histogram(n, scale_max):
    table = histogram_table(n, scale_max)
    sums = table @ np.arange(1, scale_max + 1)
    bins = three_bins(table)
    for total, above in {(int(s), int(b[2])) for s, b in zip(sums, bins, strict=True)}:
        splits = {tuple(row) for row in bins[(sums == total) & (bins[:, 2] == above)]}
        expected = len(splits) == 1 and sum(1 for c in next(iter(splits)) if c) > 1
        assert mean_and_share_pin_the_bins(n, total, above, scale_max) == expected, (n, total, above, splits)


def test_the_attack_example_is_pinned_and_a_looser_one_is_not():
    # trust1 = 1, 1, 4, 4, 4: mean 2.8 and 60% trusting leave only that split (2 distrust, 3 trust).
    assert mean_and_share_pin_the_bins(5, 14, 3, 5)
    # 1, 3, 4, 4, 4 (sum 16) or 2, 2, 4, 4, 4: one distrusts or two do; the split is not known.
    assert not mean_and_share_pin_the_bins(5, 16, 3, 5)


def test_a_large_cell_can_be_pinned_too():
    # Six answers with mean 2.5, half of them trusting: 1, 1, 1, 4, 4, 4, whatever k is.
    assert mean_and_share_pin_the_bins(6, 15, 3, 5)
    assert mean_and_share_pin_the_bins(60, 150, 30, 5)


def test_homogeneous_cells_are_not_reported_as_pinned():
    # Everyone answered 5: the mean alone says so; k-anonymity cannot hide homogeneity.
    assert not mean_and_share_pin_the_bins(6, 30, 6, 5)


@pytest.mark.parametrize("scale_max", [5, 7])
@pytest.mark.parametrize("n", [3, 5, 8])
def test_a_mean_alone_never_pins_a_split_with_answers_in_two_bins(n, scale_max):
    """Why the decider may publish a mean where it withholds the share: over every possible
    histogram, the sums that leave one three-bin split leave a homogeneous one."""
    table = histogram_table(n, scale_max)
    sums = table @ np.arange(1, scale_max + 1)
    bins = three_bins(table)
    for total in np.unique(sums):
        splits = {tuple(row) for row in bins[sums == total]}
        if len(splits) == 1:
            (only,) = splits
            assert sum(1 for count in only if count) == 1, (n, total, only)


def test_a_population_is_hidden_wherever_its_unit_is_hidden_on_respondents():
    """R11, the department-head example: Lab has a head of its own and two sub-teams. On
    respondents, Lab/X (5) must go so that Lab's residual (head + X) is not 1. AI users: the
    head uses none, so Lab/X's AI users would pass R5 on their own; they are hidden with X."""
    parents = {"Lab": None, "Lab/X": "Lab", "Lab/Y": "Lab"}
    respondents = decide_publication(parents, {"Lab": 1, "Lab/X": 5, "Lab/Y": 6}, k=5)
    assert not respondents["Lab/X"].published and respondents["Lab/Y"].published
    ai_users = decide_population(parents, {"Lab/X": 5, "Lab/Y": 6}, respondents, k=5)
    assert not ai_users["Lab/X"].published and ai_users["Lab/X"].reason == respondents["Lab/X"].reason
    assert ai_users["Lab"].published and ai_users["Lab/Y"].published
    # Alone, the AI-user counts would have published Lab/X: the head adds nothing to them.
    assert decide_publication(parents, {"Lab/X": 5, "Lab/Y": 6}, k=5)["Lab/X"].published
