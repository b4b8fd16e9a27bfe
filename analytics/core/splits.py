"""Which answers a small cell's published figures leave possible (ANONYMITY R14).

All published figures of one item together split its respondents into categories. A mean and a
share of one item can pin a second share: five trust1 answers with mean 2.8 of which 60% trust
(4 or 5) can only be 1, 1, 4, 4, 4, so the hidden distrust share is 40%. These functions
enumerate every answer histogram an item's published figures allow, which is cheap for the
small cells where the question arises (n below 2k, so at most 19 answers on a 5- or 7-point
scale: a few tens of thousands of histograms, enumerated once per n and scale).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import numpy as np
import numpy.typing as npt

#: Three bins of an ordinal item on a 1..m scale (m odd): below the midpoint, on it, above it.
LOW, MIDDLE, HIGH = 0, 1, 2


def _histograms(n: int, scale_max: int) -> Iterator[tuple[int, ...]]:
    """Every way to spread n answers over the values 1..scale_max (stars and bars)."""
    if scale_max == 1:
        yield (n,)
        return
    for first in range(n + 1):
        for rest in _histograms(n - first, scale_max - 1):
            yield (first, *rest)


@lru_cache(maxsize=64)
def histogram_table(n: int, scale_max: int) -> npt.NDArray[np.int64]:
    """All answer histograms of n answers on 1..scale_max, one row each (column j: answers j+1)."""
    return np.array(list(_histograms(n, scale_max)), dtype=np.int64).reshape(-1, scale_max)


def three_bins(histograms: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Counts below, on and above the scale's midpoint, per histogram row."""
    scale_max = histograms.shape[1]
    values = np.arange(1, scale_max + 1)
    midpoint = (scale_max + 1) / 2
    return np.column_stack(
        [histograms[:, values < midpoint].sum(axis=1), histograms[:, values == midpoint].sum(axis=1),
         histograms[:, values > midpoint].sum(axis=1)]
    )  # fmt: skip


def mean_and_share_pin_the_bins(n: int, total: float, above_midpoint: int, scale_max: int) -> bool:
    """Whether a cell's published mean (as its sum ``total``) and its share above the midpoint
    (as a count) leave exactly one three-bin split, with answers in more than one bin.

    A split with everyone in one bin is the homogeneity that k-anonymity cannot hide (ANONYMITY,
    "What k-anonymity cannot promise"): the mean alone says it. Any other single split is a
    hidden share that the published figures determine, which R14 forbids.
    """
    table = histogram_table(n, scale_max)
    values = np.arange(1, scale_max + 1)
    bins = three_bins(table)
    possible = (np.rint(table @ values) == round(total)) & (bins[:, HIGH] == above_midpoint)
    splits = {tuple(row) for row in bins[possible]}
    if len(splits) != 1:
        return False
    (only,) = splits
    return sum(1 for count in only if count) > 1
