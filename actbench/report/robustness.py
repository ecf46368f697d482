"""The robustness part of `actbench report`: accuracy under input noise per level, and its nAUC.

nAUC (key `auc_pct`) is the area under the accuracy-vs-level curve by the trapezoid rule, divided by the
level range: a mean accuracy over levels *weighted by the spacing of the levels* (for levels 0, 0.02,
0.05, 0.1, 0.2 the weights are .05, .125, .2, .375, .25), not the plain mean over the levels.

Reads the robustness.json that `robustness.noise` writes into a run folder (accuracies there are fractions,
here percent). Levels are compared only where every run measured them, so nAUCs compare like with like.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from actbench.report.groups import Group, Run, as_dict
from actbench.stats.summary import compare, describe, finite_mean

# What a noise level means per kind (actbench.robustness.noise); for labels of tables and figures.
NOISE_UNITS = {
    "gaussian": "std in [0,1] pixel units",
    "uniform": "half-width in [0,1] pixel units",
    "salt_pepper": "fraction of pixels",
}


def robustness_curve(run: Run, kind: str) -> dict[float, float]:
    """{noise level: test accuracy %} of one run under `kind` noise; {} when it has none."""
    entries = as_dict(as_dict(run.robustness).get("results")).get(kind)
    out: dict[float, float] = {}
    for e in entries if isinstance(entries, list) else []:
        level, acc = (
            finite_mean([as_dict(e).get("level")]),
            finite_mean([as_dict(e).get("acc")]),
        )  # None unless a number
        if level is not None and acc is not None:
            out[round(level, 9)] = 100 * acc  # rounded: levels from JSON match as keys
    return out


def robustness_levels(runs: list[Run]) -> dict[str, list[float]]:
    """Per noise kind, the levels that every run measuring that kind has, so nAUCs compare like with like."""
    kinds = sorted({k for r in runs for k in as_dict(as_dict(r.robustness).get("results"))})
    out: dict[str, list[float]] = {}
    for kind in kinds:
        curves = [set(c) for c in (robustness_curve(r, kind) for r in runs) if c]
        if curves:
            out[kind] = sorted(set.intersection(*curves))
    return out


def auc(levels: Sequence[float], accs: Sequence[float]) -> float:
    """Trapezoid area under accuracy vs level, divided by the level range (nAUC): a mean accuracy over
    levels weighted by their spacing (module docstring), not the plain mean."""
    if len(levels) == 1:
        return accs[0]
    steps = range(len(levels) - 1)
    area = math.fsum((levels[i + 1] - levels[i]) * (accs[i] + accs[i + 1]) / 2 for i in steps)
    return area / (levels[-1] - levels[0])


def robustness_curves(runs: list[Run], kind: str, levels: list[float]) -> list[tuple[Run, list[float]]]:
    """(run, accuracy % at each of `levels`) for the runs that measured all of them."""
    pairs = [(r, robustness_curve(r, kind)) for r in runs]
    return [(r, [c[lv] for lv in levels]) for r, c in pairs if levels and all(lv in c for lv in levels)]


def robustness_stats(
    runs: list[Run], kind: str, levels: list[float], base_runs: list[Run] | None
) -> dict[str, Any]:
    """Accuracy % per level and its nAUC (describe over seeds), and the nAUC vs the baseline's (Welch)."""
    curves = robustness_curves(runs, kind, levels)
    aucs = [auc(levels, accs) for _, accs in curves]
    checkpoints = sorted({str(as_dict(r.robustness).get("checkpoint")) for r, _ in curves})
    base = [auc(levels, accs) for _, accs in robustness_curves(base_runs or [], kind, levels)]
    return {
        "levels": levels,
        "n": len(curves),
        "checkpoint": "/".join(checkpoints) or None,
        "acc_pct": [describe([accs[i] for _, accs in curves]) for i in range(len(levels))],
        "auc_pct": describe(aucs),
        "vs_baseline": None if base_runs is None else compare(aucs, base),
    }


def robustness_row(used: list[Run], base: Group | None, groups: list[Group]) -> dict[str, Any]:
    """robustness_stats per noise kind for one group's `used` runs, on the levels shared report-wide."""
    levels = robustness_levels([r for g in groups for r in g.completed])  # report-wide: one grid per kind
    base_runs = base.completed if base is not None else None
    return {kind: robustness_stats(used, kind, lv, base_runs) for kind, lv in levels.items() if lv}


def robustness_warnings(groups: list[Group]) -> list[str]:
    """One line per noise kind whose levels differ between runs (only the shared levels are compared)."""
    runs = [r for g in groups for r in g.completed]
    out = []
    for kind, levels in robustness_levels(runs).items():
        dropped = sorted(set().union(*(robustness_curve(r, kind) for r in runs)) - set(levels))
        if dropped:
            listed = ", ".join(f"{x:g}" for x in dropped)
            out.append(f"robustness {kind}: level(s) {listed} not measured in every run, left out")
    return out
