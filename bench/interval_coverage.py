"""Simulation: coverage of small-cell intervals built from the organisation's SD (ANONYMITY R13).

    .venv/bin/python bench/interval_coverage.py [--reps 20000] [--seed 20250917]

A cell with n < 30 publishes mean +/- q * SD_org / sqrt(n), where SD_org is the whole
organisation's sample SD for that metric and cycle (R13), so the interval says nothing about the
cell beyond its mean and n. This script measures how often that interval covers the team's true
mean, for teams of n = 5..29 whose true SD is 0.5..1.5 times the organisation's, and for a
bimodal team, with two choices of q: the normal z (1.96) and Student t on n - 1 df.

Data (each a discrete, bounded distribution, as the instrument produces it):
  (a) psychological-safety score: mean of 7 items, each a rounded and clipped latent normal on
      1..7 (person level theta ~ N(loc, scale), item j = clip(round(theta + e_j), 1, 7),
      e_j ~ N(0, 1.1), which gives Cronbach's alpha ~ 0.8 organisation-wide); values k/7 in 1..7.
      Organisation: mean 5.0, SD 1.0. Team mean 5.2.
  (b) one 7-point item (e.g. voice1): clip(round(N(loc, scale)), 1, 7). Organisation: mean 4.6,
      SD 1.5. Team means 3, 4, 5 and 6.
  (c) workslop hours per receiver: category clip(round(N(loc, scale)), 0, 4) mapped to the ws2
      midpoints {0.5, 1.5, 3.5, 7.5, 12} h (right-skewed). Organisation = its receivers
      (40% of respondents). Team mean 3.0 h.
  (d) log time ratio (speed1): category clip(round(N(loc, scale)), 0, 7) mapped to
      log{0.33, 0.5, 0.75, 0.9, 1, 1.1, 1.25, 1.5} (left-skewed, unevenly spaced). Organisation =
      AI users (80% of respondents). Team mean log(0.8).

Every distribution's probabilities are computed exactly (for (a) by quadrature over theta and
7-fold convolution of the item probabilities), so its mean and SD are exact, not sampled. For
each target ratio the latent (loc, scale) is solved so that the DISCRETISED team distribution has
exactly the target mean and SD = ratio * the organisation's exact SD; rounding and clipping make
the latent scale differ from the realised SD, so both are printed above each table. The realised
ratio is the one the columns and the summary use. Where a rounded normal cannot reach a ratio at
that mean on that bounded scale, the cell prints as "  n/a". The interval's target is the team
population's mean (the expected value of its discretised distribution).

Two versions of SD_org, both reported:
  KNOWN      SD_org = the organisation's exact population SD (like R13's fixed SD stored with the
             instrument version, when that stored SD is right);
  ESTIMATED  SD_org = sample SD (ddof 1) of a simulated organisation drawn afresh each replicate:
             --org-size respondents (300) times the metric's population share, the team's own n
             answers among them (the remainder drawn from the organisation's distribution).

Bimodal team: half near 2 and half near 6 on the 1..7 scales (analogous clusters for (c), (d)),
both as an iid 50/50 mixture (its population SD ratio is printed) and as a fixed split
(n // 2 low, the rest high; truth = that composition's expected mean).

Monte Carlo: within one data type and n the same uniforms drive every ratio column and the same
simulated organisations drive every cell (common random numbers: smoother tables, and each cell's
own estimate is unbiased). Standard error of one cell near 95% is about 0.15 points at 20,000
replicates. Prints tables and a summary; asserts nothing.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy import optimize, stats

from analytics.stats.estimates import mean_intervals_known_sd


# --- The rule under test ---------------------------------------------------------------------
# The product's small-cell rule (ANONYMITY R13), analytics.stats.estimates.mean_intervals_known_sd
# (Student t), measured against the normal z it was chosen over.
def small_cell_interval(mean, n, sd_org, confidence=0.95, quantile="t"):
    """Return (low, high) = mean -/+ q * sd_org / sqrt(n); q is Student t on n - 1 df (the
    product's rule, called here) or the normal z. Elementwise on arrays of means and SDs."""
    mean = np.asarray(mean, dtype=np.float64)
    if quantile == "t":
        counts = np.full(mean.shape, n)
        _, low, high = mean_intervals_known_sd(counts, mean * n, np.asarray(sd_org), confidence)
        return low, high
    if quantile != "z":
        raise ValueError(f"quantile must be 'z' or 't', not {quantile!r}")
    half = stats.norm.ppf(1.0 - (1.0 - confidence) / 2.0) * np.asarray(sd_org) / math.sqrt(n)
    return mean - half, mean + half


# --- Discrete distributions ------------------------------------------------------------------
NS = list(range(5, 30))  # every n that R13 gives the organisation's SD (below 30)
RATIOS = [round(0.5 + 0.1 * i, 1) for i in range(11)]
QUANTILES = ("z", "t")
MODES = ("known", "estimated")
GOAL = 0.93
GOAL_RATIO = 1.1

PS_ITEMS = 7
PS_ITEM_NOISE = 1.1
_Z = np.linspace(-8.0, 8.0, 1201)
_ZW = stats.norm.pdf(_Z)
_ZW /= _ZW.sum()


def rounded_normal_pmf(loc, scale, ncat):
    """P(clip(round(N(loc, scale)), 0, ncat - 1) = k) for k = 0..ncat-1."""
    edges = np.arange(ncat - 1) + 0.5
    if scale <= 0:
        cdf = (edges >= loc).astype(float)
    else:
        cdf = stats.norm.cdf((edges - loc) / scale)
    cdf = np.concatenate([[0.0], cdf, [1.0]])
    return np.diff(cdf)


def ps_score_pmf(loc, scale, noise=PS_ITEM_NOISE):
    """Exact pmf of the mean of 7 items, item = clip(round(theta + e), 1, 7), theta ~ N(loc, scale).

    Returned over the 43 sums 7..49 (score = sum / 7).
    """
    theta = loc + scale * _Z  # quadrature nodes for theta
    edges = np.arange(1, 7) + 0.5  # item boundaries between 1..7
    cdf = stats.norm.cdf((edges[None, :] - theta[:, None]) / noise)
    cdf = np.hstack([np.zeros((len(theta), 1)), cdf, np.ones((len(theta), 1))])
    item = np.diff(cdf, axis=1)  # G x 7, P(item = 1..7 | theta)
    dist = item
    for _ in range(PS_ITEMS - 1):
        new = np.zeros((len(theta), dist.shape[1] + 6))
        for k in range(7):
            new[:, k : k + dist.shape[1]] += dist * item[:, k : k + 1]
        dist = new
    return _ZW @ dist


class Scale:
    """A metric's support and the latent model that puts probabilities on it."""

    def __init__(self, key, title, values, pmf_fn, loc_range, scale_max):
        self.key, self.title = key, title
        self.values = np.asarray(values, dtype=float)
        self.pmf_fn = pmf_fn
        self.loc_range = loc_range
        self.scale_max = scale_max

    def pmf(self, loc, scale):
        p = np.clip(self.pmf_fn(loc, scale), 0.0, None)
        return p / p.sum()

    def moments(self, p):
        m = float(p @ self.values)
        return m, float(math.sqrt(max(p @ (self.values - m) ** 2, 0.0)))

    def loc_for_mean(self, target_mean, scale):
        # loc_range is the latent span of the scale; widen it with the scale so that the mean
        # (monotone in loc) reaches every value between the scale's ends.
        lo = self.loc_range[0] - 10.0 * scale - 5.0
        hi = self.loc_range[1] + 10.0 * scale + 5.0

        def gap(loc):
            return self.moments(self.pmf(loc, scale))[0] - target_mean

        if gap(lo) > 0 or gap(hi) < 0:
            return None
        return optimize.brentq(gap, lo, hi, xtol=1e-11)

    def solve(self, target_mean, target_sd):
        """Latent (loc, scale) whose discretised distribution has this mean and SD, or None."""

        def sd_gap(scale):
            loc = self.loc_for_mean(target_mean, scale)
            return self.moments(self.pmf(loc, scale))[1] - target_sd

        lo, hi = 1e-4, self.scale_max
        g_lo, g_hi = sd_gap(lo), sd_gap(hi)
        if g_lo > 0 or g_hi < 0:
            return None
        scale = optimize.brentq(sd_gap, lo, hi, xtol=1e-10)
        return self.loc_for_mean(target_mean, scale), scale


PS = Scale(
    "a",
    "psychological-safety score (mean of 7 items, 1..7)",
    np.arange(7, 50) / 7.0,
    ps_score_pmf,
    (1.0, 7.0),
    12.0,
)
ITEM7 = Scale(
    "b",
    "single 7-point item (voice1, 1..7)",
    np.arange(1, 8),
    lambda loc, s: rounded_normal_pmf(loc - 1.0, s, 7),
    (1.0, 7.0),
    40.0,
)
WS_HOURS = Scale(
    "c",
    "workslop hours per receiver {0.5,1.5,3.5,7.5,12}",
    [0.5, 1.5, 3.5, 7.5, 12.0],
    lambda loc, s: rounded_normal_pmf(loc, s, 5),
    (0.0, 4.0),
    40.0,
)
LOG_RATIO = Scale(
    "d",
    "log time ratio (speed1, log{.33,.5,.75,.9,1,1.1,1.25,1.5})",
    np.log([0.33, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5]),
    lambda loc, s: rounded_normal_pmf(loc, s, 8),
    (0.0, 7.0),
    40.0,
)

# (scale, org mean, org SD, org population share, team means, bimodal clusters (loc, scale) x 2)
# Bimodal clusters are in latent units: score/item units for (a), (b); category index for (c), (d).
DATA = [
    (PS, 5.0, 1.0, 1.0, [5.2], ((2.0, 0.4), (6.0, 0.4))),
    (ITEM7, 4.6, 1.5, 1.0, [3.0, 4.0, 5.0, 6.0], ((2.0, 0.5), (6.0, 0.5))),
    (WS_HOURS, None, None, 0.4, [3.0], ((0.2, 0.5), (3.6, 0.5))),
    (LOG_RATIO, None, None, 0.8, [math.log(0.8)], ((1.0, 0.5), (6.0, 0.5))),
]
# Organisations without a target mean/SD use these latent parameters directly.
ORG_LATENT = {"c": (1.0, 1.1), "d": (2.7, 1.6)}


# --- Simulation ------------------------------------------------------------------------------
def draw(cdf, u):
    return np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)


def coverages(x, n, truth, sd_known, org_s, org_q, org_total):
    """Coverage for each (quantile, mode) given team samples x (reps x n) of values."""
    s = x.sum(axis=1)
    mean = s / n
    tot_s = org_s + s
    tot_q = org_q + (x * x).sum(axis=1)
    sd_est = np.sqrt(np.maximum(tot_q - tot_s * tot_s / org_total, 0.0) / (org_total - 1))
    out = {}
    for q in QUANTILES:
        for mode, sd in (("known", sd_known), ("estimated", sd_est)):
            low, high = small_cell_interval(mean, n, sd, quantile=q)
            out[q, mode] = float(np.mean((low <= truth + 1e-12) & (truth - 1e-12 <= high)))
    return out


def fmt_cov(c):
    if c is None:
        return "   n/a"
    return f"{100 * c:5.1f}" + ("*" if c < GOAL else " ")


def run(args):
    rng = np.random.default_rng(args.seed)
    reps = args.reps
    results = []  # dicts: type, setting, n, ratio, q, mode, cov
    bimodal = []

    for scale, org_mean, org_sd_target, share, team_means, clusters in DATA:
        if org_mean is not None:
            org_loc, org_scale = scale.solve(org_mean, org_sd_target)
        else:
            org_loc, org_scale = ORG_LATENT[scale.key]
        org_p = scale.pmf(org_loc, org_scale)
        org_m, org_sd = scale.moments(org_p)
        org_cdf = np.cumsum(org_p)
        org_total = int(round(args.org_size * share))
        if org_total < 30:
            raise SystemExit("R13: below 30 answers the product uses a stored SD (the KNOWN case); raise --org-size")

        # Simulated organisations (the respondents other than the team), one per replicate.
        others = scale.values[draw(org_cdf, rng.random((reps, org_total - min(NS))))]
        cs = np.cumsum(others, axis=1)
        cs2 = np.cumsum(others * others, axis=1)

        def org_stats(n, cs=cs, cs2=cs2, org_total=org_total):
            k = org_total - n
            return cs[:, k - 1], cs2[:, k - 1]

        head = (
            f"({scale.key}) {scale.title}\n"
            f"    organisation: latent loc {org_loc:.3f} scale {org_scale:.3f} -> mean {org_m:.4f}"
            f", SD {org_sd:.4f}; estimated from {org_total} respondents (team included)"
        )
        print("=" * 96)
        print(head)

        for team_mean in team_means:
            # Calibrate each ratio column.
            cols = []
            for r in RATIOS:
                sol = scale.solve(team_mean, r * org_sd)
                if sol is None:
                    cols.append(None)
                    continue
                p = scale.pmf(*sol)
                m, sd = scale.moments(p)
                cols.append(dict(ratio=r, loc=sol[0], scale=sol[1], cdf=np.cumsum(p), mean=m, realised=sd / org_sd))
            setting = f"({scale.key}) team mean {team_mean:.3g}"
            table = {}
            for n in NS:
                u = rng.random((reps, n))
                o_s, o_q = org_stats(n)
                for j, col in enumerate(cols):
                    if col is None:
                        continue
                    x = scale.values[draw(col["cdf"], u)]
                    cov = coverages(x, n, col["mean"], org_sd, o_s, o_q, org_total)
                    for (q, mode), c in cov.items():
                        table[q, mode, n, j] = c
                        results.append(dict(setting=setting, n=n, ratio=col["realised"], q=q, mode=mode, cov=c))
            print("-" * 96)
            print(f"{setting}  (realised team mean {team_mean:.4f}); latent scale per column, then realised SD ratio:")
            print("   latent " + "".join(f"{c['scale']:7.3f}" if c else "    n/a" for c in cols))
            print("   ratio  " + "".join(f"{c['realised']:7.3f}" if c else "    n/a" for c in cols))
            unreachable = [RATIOS[j] for j, c in enumerate(cols) if c is None]
            if unreachable:
                print(f"   ratios {unreachable} not reachable by a rounded normal at this mean")
            for mode in MODES:
                for q in QUANTILES:
                    print(f"\n   coverage %, quantile {q}, SD_org {mode.upper()}   (* below 93%)")
                    print("    n  " + "".join(f"  {r:4.1f} " for r in RATIOS))
                    for n in NS:
                        print(
                            f"   {n:2d}  "
                            + "".join(fmt_cov(table.get((q, mode, n, j))) + " " for j in range(len(RATIOS)))
                        )

        # Bimodal team.
        pl = scale.pmf(*clusters[0])
        ph = scale.pmf(*clusters[1])
        pm = 0.5 * pl + 0.5 * ph
        m_mix, sd_mix = scale.moments(pm)
        (ml, sdl), (mh, sdh) = scale.moments(pl), scale.moments(ph)
        cdf_mix, cdf_l, cdf_h = np.cumsum(pm), np.cumsum(pl), np.cumsum(ph)
        print("-" * 96)
        print(
            f"({scale.key}) BIMODAL team: clusters mean {ml:.3f} (SD {sdl:.3f}) and {mh:.3f}"
            f" (SD {sdh:.3f}); iid 50/50 mixture mean {m_mix:.3f}, SD {sd_mix:.3f},"
            f" ratio {sd_mix / org_sd:.3f}"
        )
        print("   fixed split: n//2 low, rest high; 'eff. ratio' = sqrt(n Var(mean)) / SD_org")
        print(
            "    n  | iid mixture: z-known t-known z-est  t-est | fixed split: eff.ratio z-known t-known z-est  t-est"
        )
        for n in NS:
            o_s, o_q = org_stats(n)
            x = scale.values[draw(cdf_mix, rng.random((reps, n)))]
            cov_mix = coverages(x, n, m_mix, org_sd, o_s, o_q, org_total)
            k = n // 2
            xl = scale.values[draw(cdf_l, rng.random((reps, k)))]
            xh = scale.values[draw(cdf_h, rng.random((reps, n - k)))]
            truth = (k * ml + (n - k) * mh) / n
            cov_fix = coverages(np.hstack([xl, xh]), n, truth, org_sd, o_s, o_q, org_total)
            eff = math.sqrt((k * sdl**2 + (n - k) * sdh**2) / n) / org_sd
            row = [cov_mix[q, m] for m in MODES for q in QUANTILES]
            rowf = [cov_fix[q, m] for m in MODES for q in QUANTILES]
            print(
                f"   {n:2d}  |             "
                + " ".join(fmt_cov(c) + " " for c in row)
                + f"|             {eff:5.3f}    "
                + " ".join(fmt_cov(c) + " " for c in rowf)
            )
            for (q, m), c in cov_mix.items():
                bimodal.append(dict(type=scale.key, kind="mixture", n=n, ratio=sd_mix / org_sd, q=q, mode=m, cov=c))
            for (q, m), c in cov_fix.items():
                bimodal.append(dict(type=scale.key, kind="fixed split", n=n, ratio=eff, q=q, mode=m, cov=c))
    return results, bimodal


def summary(results, bimodal, reps):
    se = math.sqrt(0.95 * 0.05 / reps)
    print("=" * 96)
    print(
        f"SUMMARY (goal: coverage >= {100 * GOAL:.0f}% wherever realised ratio <= {GOAL_RATIO};"
        f" Monte Carlo SE of one cell near 95% = {100 * se:.2f} points)"
    )
    for mode in MODES:
        for q in QUANTILES:
            rs = [r for r in results if r["q"] == q and r["mode"] == mode]
            goal = [r for r in rs if r["ratio"] <= GOAL_RATIO + 1e-6]
            worst = min(goal, key=lambda r: r["cov"])
            fails = [r for r in goal if r["cov"] < GOAL]
            at15 = [r["cov"] for r in rs if abs(r["ratio"] - 1.5) < 1e-6]
            at10 = [r["cov"] for r in rs if abs(r["ratio"] - 1.0) < 1e-6]
            bm = [b["cov"] for b in bimodal if b["q"] == q and b["mode"] == mode and b["kind"] == "mixture"]
            bf = [b["cov"] for b in bimodal if b["q"] == q and b["mode"] == mode and b["kind"] == "fixed split"]
            print(f"\n  quantile {q}, SD_org {mode.upper()}:")
            print(
                f"    min coverage at ratio <= {GOAL_RATIO}: {100 * worst['cov']:.1f}% "
                f"({worst['setting']}, n={worst['n']}, ratio {worst['ratio']:.1f}); "
                f"{len(fails)} of {len(goal)} such cells below {100 * GOAL:.0f}%"
            )
            if fails:
                by = {}
                for r in fails:
                    by.setdefault((r["setting"], round(r["ratio"], 1)), []).append(r["n"])
                for (s, rat), ns in sorted(by.items()):
                    print(f"      below goal: {s}, ratio {rat}: n = {ns}")
            print(
                f"    coverage at ratio 1.0: {100 * min(at10):.1f}..{100 * max(at10):.1f}%;"
                f" at ratio 1.5: {100 * min(at15):.1f}..{100 * max(at15):.1f}% "
                f"({len(at15)} cells)"
            )
            print(
                f"    bimodal iid mixture: {100 * min(bm):.1f}..{100 * max(bm):.1f}%;"
                f" fixed split: {100 * min(bf):.1f}..{100 * max(bf):.1f}%"
            )
            for key in dict.fromkeys(b["type"] for b in bimodal):
                mix = [
                    b
                    for b in bimodal
                    if b["type"] == key and b["q"] == q and b["mode"] == mode and b["kind"] == "mixture"
                ]
                covs = [b["cov"] for b in mix]
                print(
                    f"      ({key}) mixture, ratio {mix[0]['ratio']:.2f}: n={NS[0]} {100 * covs[0]:.1f}%,"
                    f" n={NS[-1]} {100 * covs[-1]:.1f}% (range {100 * min(covs):.1f}..{100 * max(covs):.1f}%)"
                )
            # Where coverage falls below the goal: first failing ratio per setting and n.
            settings = list(dict.fromkeys(r["setting"] for r in rs))
            print("    smallest ratio with coverage < 93% (n = 5..29; '-' none up to 1.5):")
            for s in settings:
                cells = []
                for n in NS:
                    bad = sorted(r["ratio"] for r in rs if r["setting"] == s and r["n"] == n and r["cov"] < GOAL)
                    cells.append(f"{bad[0]:4.1f}" if bad else "   -")
                print(f"      {s:24s} " + " ".join(cells))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=20000, help="replicates per cell (20000)")
    ap.add_argument("--seed", type=int, default=20250917, help="RNG seed (20250917)")
    ap.add_argument("--org-size", type=int, default=300, help="respondents in the simulated organisation (300)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    print(
        f"interval_coverage: seed={args.seed} reps={args.reps} org_size={args.org_size} "
        f"n={NS[0]}..{NS[-1]} ratios={RATIOS[0]}..{RATIOS[-1]} confidence=0.95 "
        f"numpy={np.__version__}"
    )
    print("interval = mean +/- q * SD_org / sqrt(n); q = z (1.96) or t(n-1, 0.975)")
    results, bimodal = run(args)
    summary(results, bimodal, args.reps)
    print(f"\n(elapsed {time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
