"""Empirical-Bayes shrinkage of unit proportions toward the organisation (the Pilot ratio)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# Above this prior strength (alpha + beta) the beta-binomial prior says "no between-unit
# variation beyond binomial noise": every unit's estimate is the pooled proportion to within
# n / 1e6 of the distance between them. A finite cap (rather than infinity) keeps the stored
# prior parameters ordinary floats and the estimates continuous as the fitted variance nears 0.
MAX_PRIOR_STRENGTH: Final = 1e6
# Below this the prior carries (almost) no weight and each unit keeps its raw proportion.
MIN_PRIOR_STRENGTH: Final = 1e-6


@dataclass(frozen=True, slots=True)
class ShrinkageResult:
    """The fitted beta prior and each unit's posterior mean, in the order the units were given."""

    alpha: float
    beta: float
    estimates: FloatArray

    @property
    def prior_mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)


def beta_binomial_shrinkage(successes: npt.ArrayLike, trials: npt.ArrayLike) -> ShrinkageResult:
    """Shrink each unit's proportion toward the pooled one by empirical Bayes (beta-binomial).

    Model: unit i has its own true proportion pi_i ~ Beta(alpha, beta) and x_i ~ Binomial(n_i,
    pi_i). The prior is fitted across units and each unit gets its posterior mean
    (x_i + alpha) / (n_i + alpha + beta): a small team moves a long way toward the organisation,
    a large one hardly at all (Efron & Morris 1975; Robinson 2017, "Introduction to Empirical
    Bayes", ch. 3).

    The prior is fitted by the method of moments, in the form that separates real between-unit
    variation from binomial noise (the n-weighted moment estimator of the beta-binomial
    intra-class correlation rho = 1 / (alpha + beta + 1); Kleinman 1973, JASA 68:46-54, with unit
    weights n_i). With N = sum n_i, pooled p = sum x_i / N and S = sum n_i (x_i/n_i - p)^2, the
    beta-binomial model gives

        E[S] = p(1-p) * [(k - 1) + rho * (N - sum n_i^2 / N - (k - 1))]

    and rho is solved from S. The prior mean is the pooled proportion, so every estimate lies
    between its unit's raw proportion and the pooled one.

    Fallback: when S is not above what binomial noise alone produces (rho <= 0), there is no
    evidence units differ, and the prior strength alpha + beta is set to MAX_PRIOR_STRENGTH:
    every unit gets (to within a negligible amount) the pooled proportion. Robinson's simpler fit
    on the raw proportions' variance would instead read small-team noise as real differences
    and hardly shrink at all, the opposite of what small teams need.

    Units with no trials are left out of the fit and get the prior mean.
    """
    x = np.asarray(successes, dtype=np.float64).ravel()
    n = np.asarray(trials, dtype=np.float64).ravel()
    if x.shape != n.shape:
        raise ValueError(f"successes and trials must have the same length; got {x.size} and {n.size}")
    if np.any(n < 0) or np.any(x < 0) or np.any(x > n):
        raise ValueError("need 0 <= successes <= trials for every unit")
    observed = n > 0
    total = float(n.sum())
    if total == 0:
        raise ValueError("no unit has any trials: there is nothing to shrink toward")
    pooled = float(x.sum()) / total

    x_obs, n_obs = x[observed], n[observed]
    units = int(n_obs.size)
    noise = pooled * (1 - pooled)
    # How many "effective" trials the between-unit variance is spread over; 0 when every unit has
    # a single trial or there is one unit, and then rho cannot be told from noise at all.
    spread = total - float(np.sum(n_obs**2)) / total - (units - 1)
    if noise == 0 or spread <= 0:
        rho = 0.0
    else:
        between = float(np.sum(n_obs * (x_obs / n_obs - pooled) ** 2))
        rho = (between / noise - (units - 1)) / spread

    # rho <= 0: no variation beyond noise (full pooling). rho >= 1 happens when units are all
    # 0% or 100% (complete separation): the prior then carries almost no weight.
    strength = MAX_PRIOR_STRENGTH if rho <= 0 else 1 / rho - 1
    strength = min(max(strength, MIN_PRIOR_STRENGTH), MAX_PRIOR_STRENGTH)
    alpha, beta = pooled * strength, (1 - pooled) * strength
    estimates = (x + alpha) / (n + strength)
    return ShrinkageResult(alpha=alpha, beta=beta, estimates=estimates)
