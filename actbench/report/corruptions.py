"""The CIFAR-10-C part of `actbench report`: error per corruption, mCE and relative mCE, and a heat map.

Reads the corruptions.json that `actbench.robustness.evaluate` writes into a run folder. Errors are in
percent (100 - accuracy %). Following Hendrycks & Dietterich (ICLR 2019), for a run f and corruption c:

    CE_c     = sum_s E(f, c, s) / sum_s E(base, c, s)
    relCE_c  = sum_s (E(f, c, s) - E(f, clean)) / sum_s (E(base, c, s) - E(base, clean))
    mCE, relative mCE = the mean of CE_c, relCE_c over the benchmark's 15 corruptions (those measured)

relCE_c divides by the baseline's own degradation; where that is under MIN_DEGRADATION points on average
over severities (brightness, for these small CNNs) the ratio is mostly noise, so that corruption is left
out of relative mCE and the table says which.

The paper normalises by AlexNet's errors; AlexNet is no reference for these small CNNs, so here `base`
is the report's baseline activation: the mean error of its runs (seeds) per corruption and severity. The
baseline's own mCE is then about 100% and the others read as "% of the baseline's corruption error".
The four extra corruptions (speckle_noise, gaussian_blur, spatter, saturate) get errors and CE but stay
out of the means, as in the paper. Per-run values are summarised over seeds (mean ± std) and compared
with the baseline's by Welch's t-test; the per-example predictions (corruption-predictions.npz) give the
paired example-level comparison (below).

Paired example-level comparison (`paired_corruption`): mCE compares seed-level averages (Welch's test
over seeds); the same test images under the same corruptions are seen by every run, so a paired
comparison is far more sensitive, as for clean accuracy (`actbench.report.comparisons`). From each run's
corruption-predictions.npz:

    c(run, image)   = number of the report's benchmark (corruption, severity) cells in which the run
                      classifies that corrupted image correctly (0 .. cells)
    Δacc corrupted  = mean over matched seed pairs and test images of c(group) - c(baseline), / cells,
                      in percent points: the accuracy difference averaged over all corrupted images

The training run is the unit, as for clean accuracy (`actbench.stats.decisions`): each matched seed pair
gives one difference (its mean over all corrupted images), and the 95% CI is the t-interval over those
pair differences (None below 2 pairs). No McNemar p-value is given: it would treat the images, and the
15 x 5 versions of each, as independent evidence about the activation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from actbench import runs as R
from actbench.report import fmt as F
from actbench.report.groups import Group, Run, as_dict
from actbench.robustness.corruptions import BENCHMARK, PUBLISHED
from actbench.stats.decisions import match_seeds, t_interval
from actbench.stats.summary import compare, describe, finite_mean

MIN_DEGRADATION = 1.0  # points: relative CE needs the baseline to lose at least this much (see rel_omitted)

Grid = dict[str, list[int]]  # corruption -> severities compared


# --- paired example-level comparison (corruption-predictions.npz) -----------------------------------


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
    ci = None if st.get("ci_low") is None else (st["ci_low"], st["ci_high"])
    return f"{st['diff']:+.2f}" + F.bracket(ci)


# --- mCE and relative mCE ---------------------------------------------------------------------------


def run_errors(run: Run) -> tuple[float | None, dict[str, dict[int, float]]]:
    """(clean error %, {corruption: {severity: error %}}) of one run; (None, {}) without data."""
    data = as_dict(run.corruptions)
    clean = finite_mean([as_dict(data.get("clean")).get("acc")])
    out: dict[str, dict[int, float]] = {}
    for name, entries in as_dict(data.get("results")).items():
        for e in entries if isinstance(entries, list) else []:
            sev, acc = as_dict(e).get("severity"), finite_mean([as_dict(e).get("acc")])
            if isinstance(sev, int) and acc is not None:
                out.setdefault(name, {})[sev] = 100 * (1 - acc)
    return (None if clean is None else 100 * (1 - clean)), out


def _order(name: str) -> tuple[int, str]:
    return (PUBLISHED.index(name) if name in PUBLISHED else len(PUBLISHED)), name


def corruption_grid(runs: Sequence[Run]) -> Grid:
    """Per corruption, the severities every run measuring it has (report-wide, so means compare)."""
    per_run = [run_errors(r)[1] for r in runs if r.corruptions]
    names = sorted({n for errs in per_run for n in errs}, key=_order)
    grid: Grid = {}
    for name in names:
        sets = [set(errs[name]) for errs in per_run if name in errs]
        shared = sorted(set.intersection(*sets))
        if shared:
            grid[name] = shared
    return grid


def _complete(runs: Sequence[Run], grid: Grid) -> list[tuple[Run, float, dict[str, dict[int, float]]]]:
    """Runs with a clean error and every (corruption, severity) of `grid`."""
    out = []
    for r in runs:
        clean, errs = run_errors(r)
        if clean is not None and all(s in errs.get(n, {}) for n, sevs in grid.items() for s in sevs):
            out.append((r, clean, errs))
    return out


def baseline_errors(base_runs: Sequence[Run], grid: Grid) -> tuple[float, dict[str, dict[int, float]]] | None:
    """Mean clean error and mean error per corruption and severity over the baseline's runs."""
    done = _complete(base_runs, grid)
    if not done:
        return None
    clean = math.fsum(c for _, c, _ in done) / len(done)
    mean = {
        n: {s: math.fsum(e[n][s] for _, _, e in done) / len(done) for s in sevs} for n, sevs in grid.items()
    }
    return clean, mean


def run_scores(clean: float, errs: dict[str, dict[int, float]], grid: Grid,
               base: tuple[float, dict[str, dict[int, float]]] | None) -> dict[str, Any]:  # fmt: skip
    """Error % per corruption (mean over severities), CE and relative CE % per corruption, mCE, rel. mCE."""
    error = {n: math.fsum(errs[n][s] for s in sevs) / len(sevs) for n, sevs in grid.items()}
    ce: dict[str, float | None] = dict.fromkeys(grid)
    rel: dict[str, float | None] = dict.fromkeys(grid)
    if base is not None:
        base_clean, base_err = base
        for n, sevs in grid.items():
            den = math.fsum(base_err[n][s] for s in sevs)
            rel_den = math.fsum(base_err[n][s] - base_clean for s in sevs)
            ce[n] = 100 * math.fsum(errs[n][s] for s in sevs) / den if den > 0 else None
            rel_num = math.fsum(errs[n][s] - clean for s in sevs)
            # a ratio to a degradation under MIN_DEGRADATION points is mostly noise: left out (rel_omitted)
            rel[n] = 100 * rel_num / rel_den if rel_den >= MIN_DEGRADATION * len(sevs) else None
    bench = [n for n in grid if n in BENCHMARK]

    def mean(d: dict[str, float | None]) -> float | None:  # over the benchmark's corruptions, all defined
        return finite_mean([d[n] for n in bench]) if bench and all(d[n] is not None for n in bench) else None

    kept = [n for n in bench if rel[n] is not None]
    rel_mce = finite_mean([rel[n] for n in kept]) if kept else None
    return {"error": error, "ce": ce, "rel_ce": rel, "mce": mean(ce), "rel_mce": rel_mce}


def rel_omitted(grid: Grid, base: tuple[float, dict[str, dict[int, float]]] | None) -> list[str]:
    """Benchmark corruptions left out of relative mCE: the baseline's mean degradation (error under the
    corruption minus clean error, over severities) is under MIN_DEGRADATION points."""
    if base is None:
        return []
    clean, err = base
    return [
        n for n, sevs in grid.items()
        if n in BENCHMARK and math.fsum(err[n][s] - clean for s in sevs) < MIN_DEGRADATION * len(sevs)
    ]  # fmt: skip


def corruption_stats(
    runs: Sequence[Run], grid: Grid, base_runs: Sequence[Run] | None, norm_runs: Sequence[Run] | None = None
) -> dict[str, Any]:
    """describe() over the runs of every score of run_scores, normalised by `norm_runs` (default
    `base_runs`), and mCE / rel. mCE vs `base_runs`' (None: no comparison)."""
    base = baseline_errors(norm_runs if norm_runs is not None else base_runs or [], grid)
    done = _complete(runs, grid)
    scores = [run_scores(c, e, grid, base) for _, c, e in done]
    base_scores = [run_scores(c, e, grid, base) for _, c, e in _complete(base_runs or [], grid)]

    def values(key: str, scs: list[dict[str, Any]], name: str | None = None) -> list[float]:
        vals = [sc[key] if name is None else sc[key][name] for sc in scs]
        return [v for v in vals if v is not None]

    def versus(key: str) -> dict[str, Any] | None:
        return None if base_runs is None else compare(values(key, scores), values(key, base_scores))

    data = [as_dict(r.corruptions) for r, _, _ in done]
    return {
        "grid": grid,
        "mce_corruptions": [n for n in grid if n in BENCHMARK],
        "n": len(done),
        "source": "/".join(sorted({str(d.get("source")) for d in data})) or None,
        "checkpoint": "/".join(sorted({str(d.get("checkpoint")) for d in data})) or None,
        "clean_error_pct": describe([c for _, c, _ in done]),
        "error_pct": {n: describe(values("error", scores, n)) for n in grid},
        "ce_pct": {n: describe(values("ce", scores, n)) for n in grid},
        "mce_pct": describe(values("mce", scores)),
        "rel_mce_pct": describe(values("rel_mce", scores)),
        "rel_mce_omitted": rel_omitted(grid, base),
        "vs_baseline": {"mce_pct": versus("mce"), "rel_mce_pct": versus("rel_mce")},
    }


def corruption_row(
    group: Group,
    used: list[Run],
    base: Group | None,
    groups: list[Group],
    baseline: str,
    paired: bool = True,
) -> dict[str, Any] | None:
    """corruption_stats of one group's `used` runs on the report-wide grid, normalised by its baseline
    group (the baseline group by itself), plus the paired comparison with the baseline over the
    corrupted test images (when `paired`); None when no run has data."""
    grid = corruption_grid([r for g in groups for r in g.completed])
    if not grid or not any(r.corruptions for r in used):
        return None
    base_runs = base.completed if base is not None else None
    is_base = group.activation == baseline
    st = corruption_stats(used, grid, base_runs, group.completed if is_base else base_runs)
    st["paired"] = None
    if base is not None and not is_base and paired:
        st["paired"] = paired_corruption(used, base.completed, grid)
    return st


def corruption_warnings(groups: list[Group]) -> list[str]:
    """Severities left out because not every run has them; mixed in-memory / published-file sources."""
    runs = [r for g in groups for r in g.completed if r.corruptions]
    grid = corruption_grid(runs)
    out = []
    by_dropped: dict[tuple[int, ...], list[str]] = {}  # one line per set of left-out severities
    for name in sorted({n for r in runs for n in run_errors(r)[1]}, key=_order):
        have = set().union(*(run_errors(r)[1].get(name, {}) for r in runs))
        dropped = tuple(sorted(have - set(grid.get(name, []))))
        if dropped:
            by_dropped.setdefault(dropped, []).append(name)
    for dropped, names in by_dropped.items():
        what = f"corruption {names[0]}" if len(names) == 1 else f"corruptions {', '.join(names)}"
        out.append(f"{what}: severity {', '.join(map(str, dropped))} not in every run, left out")
    sources = {str(as_dict(r.corruptions).get("source")) for r in runs}
    if len(sources) > 1:
        out.append(f"corruptions: runs mix sources ({', '.join(sorted(sources))}); errors are not comparable")
    return out


# --- rendering ----------------------------------------------------------------------------------------


def _pm(d: dict[str, Any] | None) -> str:
    return F.pm(d, ".1f")


def corruption_cells(rows: list[dict[str, Any]], baseline: str) -> tuple[list[str], list[list[str]]]:
    """One line per group: clean error, mCE, rel. mCE (vs baseline), then error % per corruption."""
    rows = [r for r in rows if r.get("corruptions")]
    grid = rows[0]["corruptions"]["grid"] if rows else {}
    heads = ["group", "n", "clean err %", "mCE %", f"ΔmCE vs {baseline}", "p", "rel. mCE %"]
    heads += ["Δacc corrupted (paired) [95% CI]", *grid]
    cells = []
    for r in rows:
        st = r["corruptions"]
        vs = st["vs_baseline"]["mce_pct"] or {}
        diff = (
            "baseline"
            if r["activation"] == baseline
            else ("—" if vs.get("diff") is None else f"{vs['diff']:+.1f}")
        )
        p = "—" if vs.get("p") is None else f"{vs['p']:.3g}"
        errs = [_pm(st["error_pct"][n]) for n in grid]
        paired = "baseline" if r["activation"] == baseline else paired_cell(st.get("paired"))
        cells.append([r["group"], str(st["n"]), _pm(st["clean_error_pct"]), _pm(st["mce_pct"]), diff, p,
                      _pm(st["rel_mce_pct"]), paired, *errs])  # fmt: skip
    return heads, cells


def corruption_title(rows: list[dict[str, Any]], baseline: str) -> str:
    rows = [r for r in rows if r.get("corruptions")]
    st = rows[0]["corruptions"] if rows else {"mce_corruptions": [], "source": None}
    omitted = st.get("rel_mce_omitted") or []
    left_out = f"; omitted: {', '.join(omitted)}" if omitted else ""
    return (
        f"CIFAR-10-C: test error % per corruption (mean over severities) and mCE over "
        f"{len(st['mce_corruptions'])} of the 15 benchmark corruptions, normalised by {baseline}'s errors "
        f"(not AlexNet's; mean ± std over seeds; p: Welch t-test of mCE, the unit is the training run "
        f"(one mCE per seed), unadjusted; rel. mCE: degradation from the unit's own clean error relative "
        f"to {baseline}'s, over the corruptions where {baseline} loses at least {MIN_DEGRADATION:g} "
        f"point{left_out}; Δacc corrupted: accuracy difference in points over all benchmark corrupted test "
        f"images, matched seeds, with the "
        f"t-interval over seed pairs; source: {st['source']})"
    )


def plot_corruption_heatmap(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """Heat map activation (group) x corruption of the mean test error % over severities and seeds."""
    rows = [r for r in rows if r.get("corruptions") and r["corruptions"]["n"]]
    if not rows:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(rows[0]["corruptions"]["grid"])
    values = [[r["corruptions"]["error_pct"][n]["mean"] for n in names] for r in rows]
    fig = Figure(figsize=(1.0 + 0.55 * len(names), 1.4 + 0.45 * len(rows)))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(values, cmap="viridis_r", aspect="auto")
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), [r["group"] for r in rows], fontsize=8)
    for i, line in enumerate(values):
        for j, v in enumerate(line):
            ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=7, color="w")
    fig.colorbar(image, ax=ax, label="test error % (mean over severities)")
    ax.set_title("CIFAR-10-C test error % by activation and corruption", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path
