"""Statistics on per-example predictions: paired tests, multiple comparisons, power, ensembles, calibration.

Pure functions on numpy arrays and plain numbers (scipy supplies the distributions). Accuracies and
their differences are in percent points. Two groups (an activation and the baseline) are compared on
the same test images; seed s of one group is matched with seed s of the other (same data order,
augmentation and initial weights of the layers they share), so both the images and the seeds pair.

- McNemar's exact test (Q. McNemar, Psychometrika 12, 1947; exact form: the conditional binomial test):
  of the images exactly one of the two models gets right, b favour the group and c the baseline; under
  H0 (either model equally likely to be the right one) b ~ Binomial(b + c, 1/2), and the two-sided p is
  2 P(X <= min(b, c)), capped at 1.
- Several matched seeds are combined by summing the discordant counts over the seed pairs (B = sum b_s,
  C = sum c_s) and testing B of B + C exactly as above: the exact conditional test of H0 "in every seed
  pair, a discordant image is equally likely to favour either side" (the stratified McNemar test; the
  binomial form of the Mantel-Haenszel test for matched pairs). It treats the trained networks as fixed:
  it says these networks differ on the test distribution, not that a new seed would repeat it. The
  bootstrap below and Welch's test over seeds carry the seed-to-seed variation.
- Paired bootstrap of the accuracy difference (B. Efron & R. Tibshirani, "An Introduction to the
  Bootstrap", 1993): each replicate draws the matched seed pairs with replacement and, independently,
  the test images with replacement (one draw for all seeds: the images are shared), and recomputes the
  mean accuracy difference; the 95% CI is the 2.5/97.5 percentiles. Resampling both ways of a crossed
  seeds x images design errs on the wide side (A. B. Owen, "The pigeonhole bootstrap", Ann. Appl. Stat.
  1, 2007). The generator is seeded, so a report is reproducible.
- Holm-Bonferroni step-down adjustment (S. Holm, Scand. J. Statist. 6, 1979): controls the family-wise
  error rate over the m comparisons of one report without assuming independence.
- Seeds for 80% power: the smallest n whose two-sided t-test at alpha = 0.05 reaches power 0.8 for the
  observed difference and seed spread, from the noncentral t distribution (J. Cohen, "Statistical Power
  Analysis for the Behavioral Sciences", 1988): paired (one-sample t on the per-seed differences,
  df = n - 1, noncentrality d sqrt(n)) or unpaired (two groups of n, df = 2n - 2, noncentrality
  d sqrt(n/2)). The spread counts seed-to-seed variation only, not the test set's own sampling noise.
- Seed ensemble: the mean of the members' softmax vectors, then argmax.
- Expected calibration error (C. Guo et al., "On Calibration of Modern Neural Networks", ICML 2017):
  15 equal-width bins of the top-class probability; sum over bins of (share of images) x |accuracy -
  mean confidence|.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np

ALPHA = 0.05  # two-sided significance level of the verdicts and of the power calculation
POWER = 0.8
ECE_BINS = 15
MAX_SEEDS = 10_000  # power search gives up beyond this ("more than 10000 seeds")
CHUNK = 64  # bootstrap replicates per vectorised step (memory: 2 x CHUNK x images int64)


# --- McNemar ----------------------------------------------------------------------------------------


def discordant(correct: np.ndarray, base_correct: np.ndarray) -> tuple[int, int]:
    """(b, c): images only the group gets right, images only the baseline gets right."""
    a, b = np.asarray(correct, dtype=bool), np.asarray(base_correct, dtype=bool)
    return int(np.count_nonzero(a & ~b)), int(np.count_nonzero(~a & b))


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: 2 P(X <= min(b, c)), X ~ Binomial(b + c, 1/2), capped at 1."""
    from scipy import stats

    n = b + c
    if n == 0:
        return 1.0  # the two models agree on every image: no evidence either way
    return min(1.0, 2.0 * float(stats.binom.cdf(min(b, c), n, 0.5)))


def mcnemar_seeds(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """McNemar per matched seed pair (group correct, baseline correct) and combined over the pairs by
    summing the discordant counts (see the module docstring)."""
    per = [discordant(a, b) for a, b in pairs]
    big_b, big_c = sum(b for b, _ in per), sum(c for _, c in per)
    return {
        "b": big_b,
        "c": big_c,
        "p": mcnemar_exact(big_b, big_c),
        "per_pair": [{"b": b, "c": c, "p": mcnemar_exact(b, c)} for b, c in per],
    }


# --- bootstrap --------------------------------------------------------------------------------------


def paired_bootstrap(
    diffs: np.ndarray, n_boot: int, seed: int | Sequence[int] = 0, level: float = 0.95
) -> dict[str, Any]:
    """CI of the mean accuracy difference (percent points) from `diffs`: int (seed pairs k, images N),
    correct(group) - correct(baseline) in {-1, 0, 1}. Resamples seed pairs and images (module docstring).
    Returns diff (the observed one), ci_low, ci_high, n_boot; the CI is None when n_boot is 0."""
    d = np.asarray(diffs, dtype=np.int8)
    k, n = d.shape
    out: dict[str, Any] = {"diff": 100.0 * float(d.mean()), "ci_low": None, "ci_high": None, "n_boot": n_boot}
    if n_boot <= 0 or n == 0:
        return out
    rng = np.random.default_rng(seed)
    d64 = d.T.astype(np.int64)  # (N, k)
    reps = np.empty(n_boot)
    for start in range(0, n_boot, CHUNK):
        m = min(CHUNK, n_boot - start)
        seeds = rng.integers(0, k, size=(m, k))  # replicate r uses seed pairs seeds[r]
        images = rng.integers(0, n, size=(m, n))  # ... and images images[r], the same for every pair
        # how often replicate r drew each image, (m, N); integer matmul: exact and no BLAS threads
        counts = np.bincount((images + n * np.arange(m)[:, None]).ravel(), minlength=m * n).reshape(m, n)
        sums = counts @ d64  # (m, k): each pair's summed difference on each replicate
        reps[start : start + m] = sums[np.arange(m)[:, None], seeds].sum(axis=1) / (k * n)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(100.0 * reps, [tail, 100 - tail])
    return out | {"ci_low": float(low), "ci_high": float(high)}


# --- multiple comparisons ---------------------------------------------------------------------------


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values, in the input order; None entries are not tests (left None).
    With the m p-values sorted ascending, adjusted p_(i) = max over j <= i of min(1, (m - j + 1) p_(j))."""
    tests = sorted((p, i) for i, p in enumerate(pvalues) if p is not None)
    m = len(tests)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(tests):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


# --- power ------------------------------------------------------------------------------------------


def t_power(effect: float, n: int, paired: bool, alpha: float = ALPHA) -> float:
    """Power of the two-sided t-test at `alpha` for standardized effect `effect` with n seeds per group
    (paired: n matched pairs, one-sample t on the differences; else two independent groups of n)."""
    from scipy import stats

    df = n - 1 if paired else 2 * n - 2
    ncp = effect * math.sqrt(n if paired else n / 2)
    crit = float(stats.t.ppf(1 - alpha / 2, df))
    power = float(stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp))
    if not math.isfinite(power):  # scipy gives nan far in the tail (huge effect): the limit is 0 or 1
        return 1.0 if abs(ncp) > crit else 0.0
    return power


def seeds_needed(
    diff: float, sd: float, paired: bool, power: float = POWER, alpha: float = ALPHA
) -> int | None:
    """Smallest n >= 2 (seeds per group) whose t-test has `power` for a true difference `diff` with
    seed standard deviation `sd` (of the per-seed differences when paired, else within a group).
    None when diff is 0 (nothing to detect); MAX_SEEDS + 1 when more than MAX_SEEDS would be needed."""
    from scipy import stats

    if not (math.isfinite(diff) and math.isfinite(sd)) or diff == 0:
        return None
    if sd == 0:
        return 2  # no spread at all: the smallest design with a spread estimate
    effect = abs(diff) / sd
    z = float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))
    n = max(2, math.floor((1 if paired else 2) * (z / effect) ** 2) - 1)  # normal approximation: a floor
    while n <= MAX_SEEDS:
        if t_power(effect, n, paired, alpha) >= power:
            return n
        n += 1
    return MAX_SEEDS + 1


def seed_spread(values: Sequence[float], base: Sequence[float], paired: bool) -> float | None:
    """The seed standard deviation for `seeds_needed`: sd of the differences of matched seeds (paired,
    `values` and `base` in matched order) or the pooled within-group sd (unpaired); None below 2 seeds."""
    if paired:
        if len(values) != len(base) or len(values) < 2:
            return None
        return statistics.stdev([a - b for a, b in zip(values, base, strict=True)])
    na, nb = len(values), len(base)
    if na < 2 or nb < 2:
        return None
    pooled = ((na - 1) * statistics.variance(values) + (nb - 1) * statistics.variance(base)) / (na + nb - 2)
    return math.sqrt(pooled)


def welch_ci(
    values: Sequence[float], base: Sequence[float], level: float = 0.95
) -> tuple[float, float] | None:
    """Welch's CI of mean(values) - mean(base), Welch-Satterthwaite df; None below 2 per side or no spread."""
    from scipy import stats

    na, nb = len(values), len(base)
    if na < 2 or nb < 2:
        return None
    va, vb = statistics.variance(values) / na, statistics.variance(base) / nb
    if va + vb == 0:
        return None
    df = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    diff = statistics.fmean(values) - statistics.fmean(base)
    half = float(stats.t.ppf(0.5 + level / 2, df)) * math.sqrt(va + vb)
    return diff - half, diff + half


# --- ensembles and calibration ----------------------------------------------------------------------


def ensemble_accuracy(probs: Sequence[np.ndarray], labels: np.ndarray) -> float:
    """Accuracy (%) of the seed ensemble: argmax of the mean of the members' softmax (N, C) arrays."""
    mean = ensemble_prob(probs)
    return 100.0 * float(np.mean(mean.argmax(axis=1) == labels))


def ensemble_prob(probs: Sequence[np.ndarray]) -> np.ndarray:
    """float32 (N, C): the mean of the members' softmax probabilities."""
    total = np.zeros(probs[0].shape, dtype=np.float32)
    for p in probs:
        total += p.astype(np.float32)
    return total / len(probs)


def ece(prob: np.ndarray, labels: np.ndarray, pred: np.ndarray | None = None, bins: int = ECE_BINS) -> float:
    """Expected calibration error (%) with `bins` equal-width bins of the top-class probability: bin b
    holds confidences in (b/bins, (b+1)/bins]. `pred` defaults to the argmax of `prob`."""
    p = np.asarray(prob, dtype=np.float32)
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) if pred is None else np.asarray(pred)) == labels
    which = np.clip(np.ceil(conf * bins).astype(np.int64) - 1, 0, bins - 1)
    gap = np.bincount(which, weights=correct - conf.astype(np.float64), minlength=bins)
    return 100.0 * float(np.abs(gap).sum() / max(1, len(labels)))


# --- the verdict ------------------------------------------------------------------------------------


def _seeds(n: int) -> str:
    return f"{n} seed" if n == 1 else f"{n} seeds"


def verdict(
    name: str,
    baseline: str,
    diff: float,
    ci: tuple[float, float] | None,
    p_holm: float | None,
    n: int,
    needed: int | None,
    alpha: float = ALPHA,
) -> str:
    """One plain sentence: "<name> vs <baseline>: +2.1 points [1.4, 2.8], p(Holm) = 0.003: better", or
    why it is not distinguishable and about how many seeds would be (`needed`: seeds_needed's answer,
    None when unknown). Better/worse needs p(Holm) < alpha and a CI (when there is one) excluding 0."""
    head = f"{name} vs {baseline}: {diff:+.1f} points"
    if ci is not None:
        head += f" [{ci[0]:.1f}, {ci[1]:.1f}]"
    if p_holm is not None:
        head += f", p(Holm) = {p_holm:.2g}"
    ci_clear = ci is None or ci[0] > 0 or ci[1] < 0
    if p_holm is not None and p_holm < alpha and ci_clear and diff != 0:
        once = " (1 seed: another seed may differ)" if n == 1 else ""
        return f"{head}: {'better' if diff > 0 else 'worse'}{once}"
    if p_holm is not None and p_holm < alpha:
        head += " on these test images, but the 95% CI over seeds and images includes 0"
    if diff == 0:
        return f"{head}: no difference observed with {_seeds(n)}"
    if n < 2:
        return f"{head}: not distinguishable with {_seeds(n)}; a seed spread needs 2 or more per group"
    if needed is not None and needed > MAX_SEEDS:
        return f"{head}: not distinguishable with {_seeds(n)}; more than {MAX_SEEDS} would be needed"
    if needed is not None and needed > n:
        return f"{head}: not distinguishable with {_seeds(n)}; about {needed} would be needed"
    return f"{head}: not distinguishable with {_seeds(n)}"
