"""The comparison part of `actbench report`: paired tests on per-example predictions, Holm adjustment,
seeds needed for 80% power, seed ensembles, calibration, and one verdict sentence per group.

`comparison_row` adds to each group's row (`actbench.report.group_row`):
    paired     None when no run of the group has predictions.npz for the checkpoint; else n (runs with
               predictions), ensemble accuracy %, ECE % (describe over seeds), the ensemble's ECE %, and
               vs_baseline: matched seeds, the mean paired accuracy difference with its bootstrap CI,
               McNemar's b / c / p (and p_holm, set by `finish`), the ensemble accuracy difference
    power      the seeds per group needed for 80% power (two-sided alpha 0.05) and on what basis:
               "paired" (sd of matched seeds' differences, when the paired comparison exists) or
               "unpaired" (pooled within-group sd, Welch's design)
    welch_ci   Welch's 95% CI of the accuracy difference, for the verdict
`finish` (once per report) adds the Holm-adjusted p-values (Welch: acc_pct.p_holm in vs_baseline;
McNemar: paired.vs_baseline.p_holm; each over the report's comparisons, the unadjusted kept) and
`verdict`. The statistics themselves are in `actbench.paired`.
"""

from __future__ import annotations

import functools
import hashlib
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from actbench import paired as P
from actbench import runs as R
from actbench.groups import Group, ReportError, Run
from actbench.predictions import Predictions, load
from actbench.report_model import TESTS
from actbench.stats import describe

BOOTSTRAP_SEED = 0  # fixed: the same runs give the same CIs
Score = Callable[[Run, str], "dict[str, Any] | None"]  # report.run_result: accuracy % of a run


def parse_tests(tests: str | Sequence[str]) -> tuple[str, ...]:
    """ "welch,paired" (or a sequence of names) -> the checked names; ReportError names --tests."""
    names = tests.split(",") if isinstance(tests, str) else list(tests)
    names = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    for name in names or [""]:
        if name not in TESTS:
            allowed = ", ".join(TESTS)
            raise ReportError(f"--tests: {name!r} is not allowed (allowed: {allowed}; comma-separated)")
    return tuple(names)


# --- predictions of a group -------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _load_cached(run_dir: str, checkpoint: str, mtime_ns: int) -> tuple[Predictions | None, str | None]:
    """Baseline runs are read once per report, not once per group (mtime: a rewritten file is re-read)."""
    try:
        return load(Path(run_dir), checkpoint), None
    except R.RunError as exc:
        return None, f"{exc}; paired statistics skip this run"


def run_predictions(run: Run, checkpoint: str) -> tuple[Predictions | None, str | None]:
    """The run's predictions for `checkpoint`, if it has them and they belong to the summary's epoch."""
    path = run.path / R.PREDICTIONS
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return None, None  # no file: a run made before predictions existed
    pred, problem = _load_cached(str(run.path), checkpoint, mtime)
    epoch = (run.summary.get(checkpoint) or {}).get("epoch") if isinstance(run.summary, dict) else None
    if pred is not None and epoch is not None and pred.epoch != epoch:
        stale = f"{checkpoint} predictions are of epoch {pred.epoch}, summary.json's of {epoch}"
        return None, f"{path}: {stale}; skipped"
    return pred, problem


def _group_predictions(
    runs: list[Run], checkpoint: str, labels: np.ndarray | None, notes: list[str]
) -> list[tuple[Any, Predictions]]:
    """(seed, predictions) of the runs that have them on the test set `labels` (None: the first one's)."""
    out = []
    for run in runs:
        pred, problem = run_predictions(run, checkpoint)
        if problem:
            notes.append(problem)
        if pred is None:
            continue
        labels = pred.labels if labels is None else labels
        if not np.array_equal(pred.labels, labels):
            notes.append(f"{run.path / R.PREDICTIONS}: another test set than the comparison's; skipped")
            continue
        out.append((run.flat.get("train.seed"), pred))
    return out


def match_seeds(mine: list[tuple[Any, Any]], theirs: list[tuple[Any, Any]]) -> list[tuple[Any, Any, Any]]:
    """(seed, mine, theirs) for the seed numbers both sides have, in seed order; one run on each side
    pairs whatever their seeds (McNemar for one seed per group)."""
    a, b = dict(mine), dict(theirs)
    common = sorted(set(a) & set(b), key=str)
    if not common and len(mine) == len(theirs) == 1:
        return [(mine[0][0], mine[0][1], theirs[0][1])]
    return [(s, a[s], b[s]) for s in common]


def bootstrap_seed(label: str, base_label: str) -> list[int]:
    """Per comparison, so a group's CI does not depend on which other groups are in the report."""
    digest = hashlib.sha256(f"{label}\n{base_label}".encode()).digest()
    return [BOOTSTRAP_SEED, int.from_bytes(digest[:8], "big")]


# --- one row ----------------------------------------------------------------------------------------


def _paired_vs(
    group: Group, base: Group, mine: list[tuple[Any, Predictions]], opts: dict[str, Any], notes: list[str]
) -> dict[str, Any] | None:
    labels = mine[0][1].labels
    theirs = _group_predictions(base.completed, opts["metric"], labels, notes)
    out: dict[str, Any] = {"baseline_n": len(theirs)}
    pairs = match_seeds(mine, theirs)
    if "paired" in opts["tests"] and pairs:
        mc = P.mcnemar_seeds([(a.correct, b.correct) for _, a, b in pairs])
        diffs = np.stack([a.correct.astype(np.int8) - b.correct.astype(np.int8) for _, a, b in pairs])
        boot = P.paired_bootstrap(diffs, opts["bootstrap"], bootstrap_seed(group.label, base.label))
        out |= {"seeds": [s for s, _, _ in pairs], "pairs": len(pairs), **boot}
        out |= {"b": mc["b"], "c": mc["c"], "p": mc["p"], "p_holm": None, "per_pair": mc["per_pair"]}
    elif "paired" in opts["tests"] and theirs:
        notes.append(f"{group.label}: no seed numbers in common with {base.label}, no paired test")
    if "ensemble" in opts["tests"] and theirs:
        out["ensemble_diff"] = P.ensemble_accuracy([p.prob for _, p in mine], labels) - P.ensemble_accuracy(
            [p.prob for _, p in theirs], labels
        )
    return out if len(out) > 1 else None


def paired_row(
    group: Group, used: list[Run], base: Group | None, opts: dict[str, Any]
) -> dict[str, Any] | None:
    """Ensemble, calibration and the paired comparison with the baseline, from predictions.npz."""
    tests = opts["tests"]
    if not {"paired", "ensemble", "calibration"} & set(tests):
        return None
    notes: list[str] = []
    mine = _group_predictions(used, opts["metric"], None, notes)
    if not mine:
        return {"n": 0, "notes": notes} if notes else None
    probs, labels = [p.prob for _, p in mine], mine[0][1].labels
    out: dict[str, Any] = {"checkpoint": opts["metric"], "n": len(mine), "notes": notes}
    if "ensemble" in tests:
        out["ensemble_acc_pct"] = P.ensemble_accuracy(probs, labels)
    if "calibration" in tests:
        out["ece_pct"] = describe([P.ece(p.prob, p.labels, p.pred) for _, p in mine])
        out["ensemble_ece_pct"] = P.ece(P.ensemble_prob(probs), labels)
    out["vs_baseline"] = _paired_vs(group, base, mine, opts, notes) if base is not None else None
    return out


def power_row(
    mine: list[tuple[Any, float]], theirs: list[tuple[Any, float]], paired_basis: bool
) -> dict[str, Any] | None:
    """Seeds needed for 80% power from (seed, accuracy %) of the group and of the baseline."""
    if paired_basis:
        pairs = match_seeds(mine, theirs)
        values, base = [a for _, a, _ in pairs], [b for _, _, b in pairs]
        n = len(pairs)
    else:
        values, base = [a for _, a in mine], [b for _, b in theirs]
        n = min(len(values), len(base))
    if not values or not base:
        return None
    diff = statistics.fmean(values) - statistics.fmean(base)
    sd = P.seed_spread(values, base, paired_basis)
    needed = P.seeds_needed(diff, sd, paired_basis) if sd is not None else None
    return {
        "basis": "paired" if paired_basis else "unpaired",
        "n": n,
        "diff": diff,
        "sd": sd,
        "seeds_needed": needed,
    }


def comparison_row(
    group: Group, used: list[Run], base: Group | None, opts: dict[str, Any], score: Score
) -> dict[str, Any]:
    """`paired`, `power` and `welch_ci` of a group's row (module docstring); `score` = report.run_result."""
    tests = opts["tests"]
    paired = paired_row(group, used, base, opts)
    out: dict[str, Any] = {"paired": paired, "power": None, "welch_ci": None, "verdict": None}
    if base is None:
        return out
    mine = [(r.flat.get("train.seed"), x["acc"]) for r in used if (x := score(r, opts["metric"]))]
    theirs = [(r.flat.get("train.seed"), x["acc"]) for r in base.completed if (x := score(r, opts["metric"]))]
    has_paired = ((paired or {}).get("vs_baseline") or {}).get("p") is not None
    if "power" in tests:
        out["power"] = power_row(mine, theirs, has_paired and "paired" in tests)
    ci = P.welch_ci([a for _, a in mine], [b for _, b in theirs])
    out["welch_ci"] = list(ci) if ci else None
    return out


# --- the report -------------------------------------------------------------------------------------


def _verdict(row: dict[str, Any], tests: Sequence[str]) -> str | None:
    if row["baseline"] is None:
        return None
    vs = (row.get("paired") or {}).get("vs_baseline") or {}
    power = row.get("power") or {}
    if "paired" in tests and vs.get("p") is not None:
        ci = (vs["ci_low"], vs["ci_high"]) if vs.get("ci_low") is not None else None
        needed = power.get("seeds_needed") if power.get("basis") == "paired" else None
        return P.verdict(row["group"], row["baseline"], vs["diff"], ci, vs["p_holm"], vs["pairs"], needed)
    welch = ((row.get("vs_baseline") or {}).get("acc_pct")) or {}
    if "welch" in tests and welch.get("diff") is not None:
        ci = tuple(row["welch_ci"]) if row.get("welch_ci") else None
        n = min(row["n"], power.get("n", row["n"]))
        needed = power.get("seeds_needed") if power.get("basis") == "unpaired" else None
        return P.verdict(row["group"], row["baseline"], welch["diff"], ci, welch.get("p_holm"), n, needed)
    return None


def finish(rows: list[dict[str, Any]], opts: dict[str, Any]) -> list[str]:
    """Holm over the report's comparisons (per test), then each row's verdict; returns warnings."""
    tests = opts["tests"]
    welch = [((r.get("vs_baseline") or {}).get("acc_pct")) or {} for r in rows]
    if "welch" in tests:
        for w, adj in zip(welch, P.holm([w.get("p") for w in welch]), strict=True):
            if w:
                w["p_holm"] = adj
    paired = [((r.get("paired") or {}).get("vs_baseline")) or {} for r in rows]
    for v, adj in zip(paired, P.holm([v.get("p") for v in paired]), strict=True):
        if "p" in v:
            v["p_holm"] = adj
    warnings = [n for r in rows for n in (r.get("paired") or {}).get("notes", [])]
    with_preds = sum(1 for r in rows if (r.get("paired") or {}).get("n"))
    if with_preds and {"paired", "ensemble", "calibration"} & set(tests):
        for r in rows:
            missing = r["n"] - (r.get("paired") or {}).get("n", 0)
            if missing > 0:
                warnings.append(
                    f"{r['group']}: {missing} of {r['n']} run(s) have no {opts['metric']} predictions "
                    f"({R.PREDICTIONS}); write them with: actbench eval RUN --checkpoint last,best"
                )
    for r in rows:
        r["verdict"] = _verdict(r, tests)
    return warnings
