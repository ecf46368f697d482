"""Statistics across tasks (a suite: several networks and data sets): ranks, the Friedman test and the
Nemenyi critical difference, following J. Demšar, "Statistical Comparisons of Classifiers over Multiple
Data Sets", JMLR 7, 2006. Pure functions on a (tasks, methods) array of scores; scipy supplies the
distributions.

- Ranks: per task, 1 = the best score (highest accuracy), ties get the mean of the ranks they span
  (`scipy.stats.rankdata`). Mean ranks over the N tasks summarise a method across the suite.
- Friedman test of "all methods rank alike": chi2_F = 12N / (k(k+1)) [sum_j R_j^2 - k(k+1)^2 / 4] with
  k - 1 degrees of freedom (R_j: mean ranks; Demšar's eq.), divided, when scores tie within a task, by the
  standard tie correction C = 1 - sum (t^3 - t) / (N k (k^2 - 1)) over every group of t tied scores
  (as `scipy.stats.friedmanchisquare`; without ties C = 1 and this is Demšar's form), and the
  Iman-Davenport F_F = (N - 1) chi2_F / (N(k - 1) - chi2_F) with (k - 1, (k - 1)(N - 1)) degrees of
  freedom, which Demšar recommends as less conservative (from the corrected chi2_F: the two-way ANOVA F
  on the ranks). The chi-square approximation wants about
  N > 10 and k > 5; with fewer than `MIN_TASKS` tasks the report says the cross-task test means little.
- Nemenyi post hoc: two methods differ when their mean ranks differ by at least the critical difference
  CD = q_alpha sqrt(k(k+1) / (6N)), q_alpha = the studentized range quantile / sqrt(2) (Demšar's
  Table 5: 2.569 for k = 4 at alpha 0.05).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

ALPHA = 0.05
MIN_TASKS = 5  # below this many tasks: mean ranks only, no significance verdict (autorank's convention)


def ranks(scores: np.ndarray) -> np.ndarray:
    """(tasks, methods) scores, higher better -> ranks, 1 = best, ties averaged; NaN scores not allowed."""
    from scipy.stats import rankdata

    s = np.asarray(scores, dtype=float)
    if s.ndim != 2 or np.isnan(s).any():
        raise ValueError("scores must be a complete (tasks, methods) array")
    return rankdata(-s, axis=1)


def tie_sum(rank_table: np.ndarray) -> float:
    """sum (t^3 - t) over every group of t tied ranks within a task (a row): 0 without ties."""
    counts = [np.unique(row, return_counts=True)[1] for row in np.asarray(rank_table, dtype=float)]
    return float(sum(np.sum(c.astype(float) ** 3 - c) for c in counts))


def friedman(mean_ranks: np.ndarray, n_tasks: int, ties: float = 0.0) -> dict[str, Any]:
    """Friedman chi2_F and the Iman-Davenport F_F from the mean ranks of k methods over `n_tasks` tasks;
    `ties`: `tie_sum` of the rank table, for the tie correction (0: no ties, Demšar's form)."""
    from scipy import stats

    r = np.asarray(mean_ranks, dtype=float)
    k, n = len(r), n_tasks
    out: dict[str, Any] = {"chi2": None, "p": None, "f": None, "f_p": None, "df": k - 1, "f_note": None}
    if k < 2 or n < 2:
        return out
    chi2 = 12 * n / (k * (k + 1)) * (float(np.sum(r**2)) - k * (k + 1) ** 2 / 4)
    c = 1 - ties / (n * k * (k * k - 1))
    if c > 1e-12:  # C = 0: every method tied in every task, chi2_F = 0 (nothing ranks them apart)
        chi2 /= c
    out |= {"chi2": chi2, "p": float(stats.chi2.sf(chi2, k - 1))}
    denom = n * (k - 1) - chi2
    if denom > 1e-9 * n * (k - 1):  # rounding of the tie correction: no F of 1e15 for a zero divisor
        f = (n - 1) * chi2 / denom
        out |= {"f": f, "f_p": float(stats.f.sf(f, k - 1, (k - 1) * (n - 1)))}
    else:  # every task ranks the methods identically: F_F divides by zero. No number is printed (an
        # infinite F with p = 0 read as overwhelming evidence with 2 tasks); chi2_F and its p still stand.
        out["f_note"] = "undefined: every task ranks the methods in the same order"
    return out


def nemenyi_q(k: int, alpha: float = ALPHA) -> float:
    """q_alpha of the Nemenyi test for k methods: studentized range quantile (infinite df) / sqrt(2)."""
    from scipy.stats import studentized_range

    return float(studentized_range.ppf(1 - alpha, k, math.inf)) / math.sqrt(2)


def critical_difference(k: int, n_tasks: int, alpha: float = ALPHA) -> float:
    """Mean ranks further apart than this differ at `alpha` (Nemenyi): q_alpha sqrt(k(k+1) / (6N))."""
    return nemenyi_q(k, alpha) * math.sqrt(k * (k + 1) / (6 * n_tasks))


def cliques(names: list[str], mean_ranks: np.ndarray, cd: float) -> list[list[str]]:
    """Maximal groups of methods (sorted by mean rank) whose ranks all lie within `cd` of each other:
    the bars of a critical-difference diagram. Groups of one are left out."""
    order = sorted(range(len(names)), key=lambda i: mean_ranks[i])
    out: list[list[int]] = []
    for a, i in enumerate(order):
        group = [j for j in order[a:] if mean_ranks[j] - mean_ranks[i] < cd]
        if len(group) > 1 and not any(set(group) <= set(g) for g in out):
            out.append(group)
    return [[names[j] for j in g] for g in out]


def suite_summary(scores: np.ndarray, names: list[str], alpha: float = ALPHA) -> dict[str, Any]:
    """Mean ranks, Friedman / Iman-Davenport, the critical difference and its cliques for a complete
    (tasks, methods) score array (mean accuracy % per task and method)."""
    r = ranks(scores)
    n, k = r.shape
    mean = r.mean(axis=0)
    cd = critical_difference(k, n, alpha) if k >= 2 else None
    out = {
        "methods": list(names),
        "tasks": n,
        "mean_ranks": dict(zip(names, map(float, mean), strict=True)),
        "friedman": friedman(mean, n, tie_sum(r)),
        "critical_difference": cd,
        "cliques": cliques(list(names), mean, cd) if cd is not None else [],
        "alpha": alpha,
        # autorank's convention: with fewer than MIN_TASKS tasks, mean ranks but no significance verdict
        "significance": n >= MIN_TASKS and cd is not None,
    }
    return out
