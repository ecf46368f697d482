"""Statistics on per-example predictions and plain numbers: McNemar, multiple comparisons, power,
ensembles, calibration. The decision itself (the training run as the unit) is `actbench.stats.decisions`.

Pure functions on numpy arrays and plain numbers (scipy supplies the distributions). Accuracies and
their differences are in percent points. Seed s of one group is matched with seed s of the other (same
data order, augmentation and initial weights of the layers they share).

- McNemar's exact test (Q. McNemar, Psychometrika 12, 1947; exact form: the conditional binomial test):
  of the images exactly one of the two models gets right, b favour the group and c the baseline; under
  H0 (either model equally likely to be the right one) b ~ Binomial(b + c, 1/2), and the two-sided p is
  2 P(X <= min(b, c)), capped at 1. It treats the two trained networks as fixed: a small p says *these
  two networks* differ on the test distribution, not that a new seed would repeat it, so the report
  gives it per seed pair and never as the decision (summed over seed pairs, it calls a difference in
  about a quarter of worlds where the activations are equal: `actbench.stats.calibration`).
- Holm-Bonferroni step-down adjustment (S. Holm, Scand. J. Statist. 6, 1979): controls the family-wise
  error rate over the m comparisons of one report without assuming independence.
- Seeds for 80% power: the smallest n whose two-sided t-test at alpha = 0.05 reaches power 0.8 for a
  given difference and seed spread, from the noncentral t distribution (J. Cohen, "Statistical Power
  Analysis for the Behavioral Sciences", 1988): paired (one-sample t on the per-seed differences,
  df = n - 1, noncentrality d sqrt(n)) or unpaired (two groups of n, noncentrality d sqrt(n/2), d the
  difference over sqrt((s_a^2 + s_b^2) / 2), and the Welch-Satterthwaite df (n - 1)(s_a^2 + s_b^2)^2 /
  (s_a^4 + s_b^4), which is 2n - 2 only for equal spreads: at n = 2 with very unequal spreads it is near
  1, and df = 2 said "2 seeds suffice" for a comparison Welch's test left inconclusive). Plugging in
  the observed difference makes it a post hoc figure ("if the observed difference were the true one");
  `--mde` plugs in a difference chosen in advance.
- Seed ensemble: the mean of the members' softmax vectors, then argmax.
- Expected calibration error (C. Guo et al., "On Calibration of Modern Neural Networks", ICML 2017):
  15 equal-width bins of the top-class probability; sum over bins of (share of images) x |accuracy -
  mean confidence|.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from actbench.stats.decisions import ALPHA, MAX_SEEDS

POWER = 0.8
ECE_BINS = 15


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


# --- power ------------------------------------------------------------------------------------------


def welch_df_factor(sd_a: float, sd_b: float) -> float:
    """(s_a^2 + s_b^2)^2 / (s_a^4 + s_b^4), in [1, 2]: Welch-Satterthwaite's df for two groups of n is this
    times n - 1 (2: equal spreads, df = 2n - 2; 1: one spread dominates, df = n - 1)."""
    va, vb = sd_a**2, sd_b**2
    return (va + vb) ** 2 / (va**2 + vb**2) if va + vb > 0 else 2.0


def t_power(effect: float, n: int, paired: bool, alpha: float = ALPHA, df_factor: float = 2.0) -> float:
    """Power of the two-sided t-test at `alpha` for standardized effect `effect` with n seeds per group
    (paired: n matched pairs, one-sample t on the differences; else two independent groups of n, Welch's
    test with df = df_factor (n - 1): `welch_df_factor`, 2 for equal spreads)."""
    from scipy import stats

    df = n - 1 if paired else df_factor * (n - 1)
    ncp = abs(effect) * math.sqrt(n if paired else n / 2)  # two-sided: the sign does not matter
    crit = float(stats.t.ppf(1 - alpha / 2, df))
    near = float(stats.nct.sf(crit, df, ncp))  # rejecting with the effect's sign
    far = float(stats.nct.cdf(-crit, df, ncp))  # with the wrong sign: at most alpha / 2
    if not math.isfinite(near):  # scipy gives nan far in the tail (huge effect): the limit is 0 or 1
        return 1.0 if ncp > crit else 0.0
    # scipy also gives nan for the far tail alone (e.g. effect 3 with 5 pairs at alpha 0.05/20), where
    # it is negligible: dropping it keeps the near tail (the old sum fell back to 0 or 1 for all of it)
    return near + (far if math.isfinite(far) else 0.0)


def seeds_needed(
    diff: float, sd: float, paired: bool, power: float = POWER, alpha: float = ALPHA, df_factor: float = 2.0
) -> int | None:
    """Smallest n >= 2 (seeds per group) whose t-test has `power` for a true difference `diff` with
    seed standard deviation `sd` (of the per-seed differences when paired, else sqrt of the mean of the
    two groups' variances, with Welch's `df_factor`: t_power). None when diff is 0 (nothing to detect);
    MAX_SEEDS + 1 when more than MAX_SEEDS would be needed."""
    from scipy import stats

    if not (math.isfinite(diff) and math.isfinite(sd)) or diff == 0:
        return None
    if sd == 0:
        return 2  # no spread at all: the smallest design with a spread estimate
    effect = abs(diff) / sd
    z = float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))
    n = max(2, math.floor((1 if paired else 2) * (z / effect) ** 2) - 1)  # normal approximation: a floor
    while n <= MAX_SEEDS:
        if t_power(effect, n, paired, alpha, df_factor) >= power:
            return n
        n += 1
    return MAX_SEEDS + 1


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
