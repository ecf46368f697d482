"""Paired example-level comparison of corruption robustness (CIFAR-10-C) with the baseline.

mCE compares seed-level averages (Welch's test over seeds, `report.corruptions`); the same test images
under the same corruptions are seen by every run, so a paired comparison is far more sensitive, as for
clean accuracy (`actbench.report.comparisons`). From each run's corruption-predictions.npz:

    c(run, image)   = number of the report's benchmark (corruption, severity) cells in which the run
                      classifies that corrupted image correctly (0 .. cells)
    Δacc corrupted  = mean over matched seed pairs and test images of c(group) - c(baseline), / cells,
                      in percent points: the accuracy difference averaged over all corrupted images

The training run is the unit, as for clean accuracy (`actbench.stats.decisions`): each matched seed pair gives
one difference (its mean over all corrupted images), and the 95% CI is the t-interval over those pair
differences (None below 2 pairs). No McNemar p-value is given: it would treat the images, and the 15 x 5
versions of each, as independent evidence about the activation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from actbench import runs as R
from actbench.report.groups import Run
from actbench.robustness.corruptions import BENCHMARK
from actbench.stats.decisions import match_seeds, t_interval

Grid = dict[str, list[int]]  # corruption -> severities compared (report.corruptions.corruption_grid)


def benchmark_cells(grid: Grid) -> list[tuple[str, int]]:
    """The (corruption, severity) cells of the grid that belong to the 15 benchmark corruptions."""
    return [(n, s) for n, sevs in grid.items() if n in BENCHMARK for s in sevs]


def correct_counts(run: Run, cells: Sequence[tuple[str, int]]) -> tuple[np.ndarray, np.ndarray] | None:
    """(labels (N,), per image the number of `cells` classified correctly (N,)) from the run's
    corruption-predictions.npz; None when the file is missing, unreadable or lacks a cell."""
    try:
        f = R.read_npz(run.path / R.CORRUPTION_PREDICTIONS)
    except R.RunError:
        return None
    keys = [f"{n}/{s}" for n, s in cells]
    if "labels" not in f or any(k not in f for k in keys):
        return None
    labels = f["labels"].astype(np.int64)
    counts = np.zeros(len(labels), dtype=np.int64)
    for k in keys:
        counts += f[k].astype(np.int64) == labels
    return labels, counts


def _seeded(runs: Sequence[Run], cells: Sequence[tuple[str, int]]) -> list[tuple[Any, tuple]]:
    return [(r.flat.get("train.seed"), c) for r in runs if (c := correct_counts(r, cells)) is not None]


def paired_corruption(runs: Sequence[Run], base_runs: Sequence[Run], grid: Grid) -> dict[str, Any] | None:
    """Δacc corrupted (percent points) of `runs` vs `base_runs` over matched seeds, with the t-interval
    over the seed pairs' differences; None without matched runs on the same test images."""
    cells = benchmark_cells(grid)
    if not cells:
        return None
    pairs = [
        (s, a, b)
        for s, a, b in match_seeds(_seeded(runs, cells), _seeded(base_runs, cells))
        if len(a[0]) == len(b[0]) and np.array_equal(a[0], b[0])  # the same test images
    ]
    if not pairs:
        return None
    # per pair: mean over images of the per-image count difference, / cells -> accuracy points
    per_pair = [100.0 * float(np.mean(a[1] - b[1])) / len(cells) for _, a, b in pairs]
    ci = t_interval(per_pair)
    return {
        "pairs": len(pairs),
        "seeds": [s for s, _, _ in pairs],
        "cells": len(cells),
        "diff": float(np.mean(per_pair)),
        "per_pair": per_pair,
        "ci_low": ci[0] if ci else None,
        "ci_high": ci[1] if ci else None,
    }


def paired_cell(st: dict[str, Any] | None) -> str:
    """`+1.2 [+0.4, +2.0]` (Δacc corrupted and its CI), or — without a paired comparison."""
    if not st or st.get("diff") is None:
        return "—"
    if st.get("ci_low") is None:
        return f"{st['diff']:+.2f}"
    return f"{st['diff']:+.2f} [{st['ci_low']:+.2f}, {st['ci_high']:+.2f}]"
