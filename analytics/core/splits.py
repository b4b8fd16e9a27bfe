"""Whether an item's published mean and share pin its three-bin split (ANONYMITY R14).

All published figures of one item together split its respondents into categories. A mean and a
share of one item can pin a second share: five trust1 answers with mean 2.8 of which 60% trust
(4 or 5) can only be 1, 1, 4, 4, 4, so the hidden distrust share is 40%; six with mean 2.5 and
half trusting can only be 1, 1, 1, 4, 4, 4, whatever k is.
"""

from __future__ import annotations


def mean_and_share_pin_the_bins(n: int, total: float, above_midpoint: int, scale_max: int) -> bool:
    """Whether a cell's published mean (as its sum ``total``) and its count above the midpoint
    leave exactly one three-bin split (below, on, above the midpoint), with answers in more than
    one bin.

    Exact for any n, without enumerating answers: within a bin of consecutive values, c answers
    can sum to every integer from c x its lowest value to c x its highest. So with ``above``
    answers above the midpoint and d below it, the split is possible exactly when the total,
    less the midpoint answers' sum, less some sum the d low answers can make, is a sum the high
    answers can make; a few comparisons per d.

    A split with everyone in one bin is the homogeneity that k-anonymity cannot hide (ANONYMITY,
    "What k-anonymity cannot promise"): the mean alone says it. Any other single split is a
    hidden share that the published figures determine, which R14 forbids.
    """
    midpoint = (scale_max + 1) // 2  # odd scales: 3 of 5, 4 of 7
    low_min, low_max = 1, midpoint - 1
    high_min, high_max = midpoint + 1, scale_max
    rest = n - above_midpoint
    target = round(total)
    high_lowest, high_highest = above_midpoint * high_min, above_midpoint * high_max
    possible = []
    for below in range(rest + 1):
        left = target - (rest - below) * midpoint  # what the low and high answers sum to
        # Low answers sum to [below * low_min, below * low_max]; the high ones must make the rest.
        if left - below * low_max <= high_highest and left - below * low_min >= high_lowest:
            possible.append(below)
            if len(possible) > 1:
                return False
    if len(possible) != 1:
        return False
    split = (possible[0], rest - possible[0], above_midpoint)
    return sum(1 for count in split if count) > 1
