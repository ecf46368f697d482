"""Statistics of the report: summaries over seeds and the comparison of two groups of seeds.

Pure functions on plain sequences of floats; scipy supplies the t distribution. The comparison is
Welch's unequal-variance t-test (B. L. Welch, "The generalization of 'Student's' problem when several
different population variances are involved", Biometrika 34, 1947) with the Welch-Satterthwaite degrees
of freedom (F. E. Satterthwaite, Biometrics Bulletin 2, 1946), and the effect size is Cohen's d with the
pooled standard deviation (J. Cohen, "Statistical Power Analysis for the Behavioral Sciences", 1988).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from actbench.stats.decisions import check_finite, welch_test


def describe(values: Sequence[float]) -> dict[str, Any]:
    """n, mean, sample std (ddof=1) and the t-based 95% confidence interval of the mean (None if n<2)."""
    from scipy import stats

    n = len(values)
    check_finite("describe", values)
    out: dict[str, Any] = {"n": n, "mean": None, "std": None, "ci_low": None, "ci_high": None}
    if n:
        out["mean"] = math.fsum(values) / n
    if n >= 2:
        std = statistics.stdev(values)
        half = float(stats.t.ppf(0.975, n - 1)) * std / math.sqrt(n)
        out.update(std=std, ci_low=out["mean"] - half, ci_high=out["mean"] + half)
    return out


def compare(values: Sequence[float], base: Sequence[float]) -> dict[str, Any]:
    """mean(values) - mean(base); the two-sided Welch t-test (stats.decisions.welch_test: scipy's, the one
    implementation) and Cohen's d = diff / pooled sd (Cohen 1988), when both n >= 2. Undefined parts
    (one run a side, no spread on either side) are None."""
    check_finite("compare", [*values, *base])
    out: dict[str, Any] = {"diff": None, "t": None, "df": None, "p": None, "d": None}
    if not values or not base:
        return out
    w = welch_test(values, base)
    out["diff"] = w["diff"]
    if w["sd"]:  # the pooled sd: None below 2 runs a side, 0 without spread
        out["d"] = w["diff"] / w["sd"]
    if w["t"] is not None:
        out.update(t=w["t"], df=w["df"], p=w["p"])
    return out


def finite_mean(values: Sequence[Any]) -> float | None:
    """Mean of the finite real numbers among `values` (other entries ignored); None when there are none."""
    nums = [
        float(v)
        for v in values
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    ]
    return math.fsum(nums) / len(nums) if nums else None
