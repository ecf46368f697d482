"""The comparison part of `actbench report`: the decision per group (the training run is the unit),
power, and what per-example predictions add (per-pair McNemar, seed ensembles, calibration).

`comparison_row` adds to each group's row (`actbench.report.build.group_row`):
    endpoints  {last, best}: the seed-level comparison with the baseline at each checkpoint
               (`stats.decisions.decide`: paired t over matched seeds, else Welch; P(group > baseline));
               `finish` sets p_holm and decision at the primary endpoint only
    decision, decision_p, decision_p_holm, decision_ci, decision_method
               the endpoint of `--metric`, flat, for machine readers (`finish`)
    paired     None when no run of the group has predictions.npz for the checkpoint; else n (runs with
               predictions), ensemble accuracy %, ECE % (describe over seeds), the ensemble's ECE %, and
               vs_baseline: matched seed pairs, McNemar's b / c summed and per pair (p, and p_holm over
               every pair of the report, set by `finish`) with how many pairs differ at p_holm < 0.05
               (these two trained networks on these images: not a test of the activation), the
               ensemble accuracy difference
    power      seeds per group for 80% power on the decision's basis ("paired" or "unpaired") at the
               family's level: post hoc (if the observed difference were the true one), `--mde` points
`finish` (once per report) adds the Holm-adjusted p-values over the report's one family — the decisions
at the primary endpoint (`--metric`, last by default) — the decisions, power at the family's level and
`verdict`. The other endpoint is computed as a sensitivity analysis (difference, interval, raw p) and
never carries a decision word.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from actbench import lists
from actbench import runs as R
from actbench.errors import not_allowed
from actbench.predictions import Predictions, load
from actbench.report.groups import Group, ReportError, Run
from actbench.report.model import TESTS, ReportOptions
from actbench.stats import decisions as D
from actbench.stats import paired as P
from actbench.stats.decisions import ALPHA, match_seeds
from actbench.stats.summary import describe

BOOTSTRAP_SEED = 0  # fixed: the same runs give the same CIs
Score = Callable[[Run, str], "dict[str, Any] | None"]  # report.run_result: accuracy % of a run


def parse_tests(tests: str | Sequence[str]) -> tuple[str, ...]:
    """ "welch,paired" (or a sequence of names) -> the checked names; ReportError names --tests."""
    names = lists.parse(tests, "--tests", allow_empty=True) if isinstance(tests, str) else list(tests)
    for name in names or [""]:
        if name not in TESTS:
            raise not_allowed("--tests", name, TESTS, "; comma-separated", cls=ReportError)
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
    final = (run.summary.get(checkpoint) or {}) if isinstance(run.summary, dict) else {}
    if pred is not None and (mismatch := _unlike_summary(pred, final if isinstance(final, dict) else {})):
        return None, f"{path}: {mismatch}; this run is left out of the per-image statistics"
    return pred, problem


def _unlike_summary(pred: Predictions, final: dict[str, Any]) -> str | None:
    """How the predictions disagree with the summary.json entry of their checkpoint (the test of the same
    weights): another epoch, another number of test images, another accuracy (a truncated or foreign
    file). None when they agree or the summary has nothing to compare with."""
    n, epoch, acc, test_n = len(pred.labels), final.get("epoch"), final.get("test_acc"), final.get("test_n")
    if epoch is not None and pred.epoch != epoch:
        return f"{pred.checkpoint} predictions are of epoch {pred.epoch}, summary.json's of {epoch}"
    if isinstance(test_n, int) and n != test_n:
        return f"{n} test images, summary.json's test had {test_n} (truncated?)"
    if isinstance(acc, int | float) and n and abs(float(pred.correct.mean()) - acc) > 1.0 / n + 1e-9:
        mine = 100 * float(pred.correct.mean())
        return f"{pred.checkpoint} accuracy {mine:.2f}% over its {n} images, summary.json's {100 * acc:.2f}%"
    return None


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


def bootstrap_seed(label: str, base_label: str) -> list[int]:
    """Per comparison, so a group's CI does not depend on which other groups are in the report."""
    digest = hashlib.sha256(f"{label}\n{base_label}".encode()).digest()
    return [BOOTSTRAP_SEED, int.from_bytes(digest[:8], "big")]


# --- one row ----------------------------------------------------------------------------------------


def _paired_vs(
    group: Group, base: Group, mine: list[tuple[Any, Predictions]], opts: ReportOptions, notes: list[str]
) -> dict[str, Any] | None:
    """Image-level comparison of matched seed pairs: McNemar per pair (these two trained networks on
    these test images) and the ensembles' difference. Not a test of the activation (`decisions` is)."""
    labels = mine[0][1].labels
    theirs = _group_predictions(base.completed, opts.metric, labels, notes)
    out: dict[str, Any] = {"baseline_n": len(theirs)}
    pairs = match_seeds(mine, theirs)
    if "paired" in opts.tests and pairs:
        mc = P.mcnemar_seeds([(a.correct, b.correct) for _, a, b in pairs])
        out |= {"seeds": [s for s, _, _ in pairs], "pairs": len(pairs)}  # pairs_differ: `finish`, after Holm
        out |= {"b": mc["b"], "c": mc["c"], "per_pair": mc["per_pair"]}
    elif "paired" in opts.tests and theirs:
        notes.append(f"{group.label}: no seed numbers in common with {base.label}, no per-image comparison")
    mine_probs, their_probs = _probs(mine), _probs(theirs)
    if "ensemble" in opts.tests and theirs and mine_probs is not None and their_probs is not None:
        out["ensemble_diff"] = P.ensemble_accuracy(mine_probs, labels) - P.ensemble_accuracy(
            their_probs, labels
        )
    return out if len(out) > 1 else None


def _probs(preds: list[tuple[Any, Predictions]]) -> list[np.ndarray] | None:
    """Every prediction's probabilities, or None when one has none (a slim copy)."""
    probs = [p.prob for _, p in preds if p.prob is not None]
    return probs if len(probs) == len(preds) else None


def paired_row(
    group: Group, used: list[Run], base: Group | None, opts: ReportOptions
) -> dict[str, Any] | None:
    """Ensemble, calibration and the per-image comparison with the baseline, from predictions.npz."""
    tests = opts.tests
    if not {"paired", "ensemble", "calibration"} & set(tests):
        return None
    notes: list[str] = []
    mine = _group_predictions(used, opts.metric, None, notes)
    if not mine:
        return {"n": 0, "notes": notes} if notes else None
    probs, labels = _probs(mine), mine[0][1].labels
    out: dict[str, Any] = {"checkpoint": opts.metric, "n": len(mine), "notes": notes}
    if probs is None and {"ensemble", "calibration"} & set(tests):
        notes.append(f"{group.label}: predictions without probabilities (slim copies): no ensemble, no ECE")
    if "ensemble" in tests and probs is not None:
        out["ensemble_acc_pct"] = P.ensemble_accuracy(probs, labels)
    if "calibration" in tests and probs is not None:
        out["ece_pct"] = describe([P.ece(q, p.labels, p.pred) for q, (_, p) in zip(probs, mine, strict=True)])
        out["ensemble_ece_pct"] = P.ece(P.ensemble_prob(probs), labels)
    out["vs_baseline"] = _paired_vs(group, base, mine, opts, notes) if base is not None else None
    return out


def power_row(
    decision: dict[str, Any] | None, mde: float | None, alpha: float = ALPHA
) -> dict[str, Any] | None:
    """Seeds per group for 80% power on the decision's own basis (paired t when seeds match, else two
    groups) at level `alpha` (the family's: ALPHA / m, Holm's first step, so a difference the power figure
    says is covered would also pass Holm): post hoc, if the observed difference were the true one; and
    for `mde` points (planning)."""
    if not decision or not decision.get("sd"):  # None: one run a side; 0: no spread to plan with
        return None
    paired = decision["method"] == "paired-t"
    diff, sd, df_factor = decision["diff"], decision["sd"], 2.0
    if not paired:  # Welch: the groups' own spreads, and the Welch-Satterthwaite df the test itself uses
        sd_a, sd_b = decision["sd_group"], decision["sd_baseline"]
        sd, df_factor = math.sqrt((sd_a**2 + sd_b**2) / 2), P.welch_df_factor(sd_a, sd_b)
    return {
        "basis": "paired" if paired else "unpaired",
        "n": decision["n"],
        "diff": diff,
        "sd": sd,
        "df_factor": None if paired else df_factor,
        "alpha": alpha,
        "seeds_needed": P.seeds_needed(diff, sd, paired, alpha=alpha, df_factor=df_factor),
        "mde": mde,
        "seeds_for_mde": P.seeds_needed(mde, sd, paired, alpha=alpha, df_factor=df_factor) if mde else None,
    }


def _seed_scores(runs: list[Run], metric: str, score: Score) -> list[tuple[Any, float]]:
    return [(r.flat.get("train.seed"), x["acc"]) for r in runs if (x := score(r, metric))]


def decision_row(
    group: Group, used: list[Run], base: Group, opts: ReportOptions, score: Score
) -> dict[str, Any]:
    """The seed-level comparison (`decisions.decide`) at each endpoint (last, best) the runs have;
    decisions and Holm are filled in by `finish`."""
    seed = bootstrap_seed(group.label, base.label)
    out = {}
    for metric in R.CHECKPOINTS:
        mine, theirs = _seed_scores(used, metric, score), _seed_scores(base.completed, metric, score)
        out[metric] = D.decide(mine, theirs, opts.bootstrap, seed)
    return out


def comparison_row(
    group: Group, used: list[Run], base: Group | None, opts: ReportOptions, score: Score
) -> dict[str, Any]:
    """`paired`, `endpoints` and the decision fields of a group's row (module docstring; `power` is set by
    `finish`, which knows the family); `score` = report.run_result."""
    out: dict[str, Any] = {"paired": paired_row(group, used, base, opts), "power": None, "endpoints": None}
    out |= dict.fromkeys(DECISION_KEYS) | {"verdict": None}
    if base is None or base is group:
        return out
    out["endpoints"] = decision_row(group, used, base, opts, score)
    return out


# --- the report -------------------------------------------------------------------------------------

DECISION_KEYS = (
    "decision",
    "decision_p",
    "decision_p_holm",
    "decision_ci",
    "decision_method",
    "decision_metric",
)


def family(rows: list[dict[str, Any]], opts: ReportOptions) -> dict[str, Any]:
    """What the report's decisions are corrected over (the report's JSON `family`): the primary endpoint
    (`--metric`, declared before the runs are read), Holm over its m comparisons; the other endpoint is
    a sensitivity analysis with no decision."""
    m = sum(((r.get("endpoints") or {}).get(opts.metric) or {}).get("p") is not None for r in rows)
    other = next(c for c in R.CHECKPOINTS if c != opts.metric)
    return {"endpoint": opts.metric, "correction": "holm", "alpha": ALPHA, "m": m, "sensitivity": other}


def _per_image_vs(row: dict[str, Any]) -> dict[str, Any]:
    return (row.get("paired") or {}).get("vs_baseline") or {}


def mcnemar_pairs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every seed pair's McNemar result the report prints, all groups in row order: the family that
    `mcnemar_family` corrects over (and the per-image table's title counts)."""
    return [q for r in rows for q in _per_image_vs(r).get("per_pair") or []]


def mcnemar_family(rows: list[dict[str, Any]]) -> None:
    """Holm over every per-image McNemar p the report prints (all groups' seed pairs, one family), then
    each group's `pairs_differ` = its pairs with p_holm < ALPHA."""
    per = mcnemar_pairs(rows)
    for q, adjusted in zip(per, D.holm([q["p"] for q in per]), strict=True):
        q["p_holm"] = adjusted
    for r in rows:
        vs = _per_image_vs(r)
        if "per_pair" in vs:
            vs["pairs_differ"] = sum(q["p_holm"] < ALPHA for q in vs["per_pair"])


def finish(rows: list[dict[str, Any]], opts: ReportOptions) -> list[str]:
    """One Holm family (the decisions at the primary endpoint), then each row's decision fields, power
    at the family's level, and verdict; returns warnings. The other endpoint keeps its difference,
    interval and unadjusted p as a sensitivity analysis: no p (Holm), no decision word."""
    tests = opts.tests
    m = D.decide_family([d for r in rows if (d := (r.get("endpoints") or {}).get(opts.metric))])
    mcnemar_family(rows)  # the per-image table's own family: its seed pairs, never a decision
    warnings = [n for r in rows for n in (r.get("paired") or {}).get("notes", [])]
    with_preds = sum(1 for r in rows if (r.get("paired") or {}).get("n"))
    if with_preds and {"paired", "ensemble", "calibration"} & set(tests):
        for r in rows:
            missing = r["n"] - (r.get("paired") or {}).get("n", 0)
            if missing > 0:
                warnings.append(
                    f"{r['group']}: {missing} of {r['n']} run(s) have no {opts.metric} predictions "
                    f"({R.PREDICTIONS}); write them with: actbench eval RUN --checkpoint last,best"
                )
    for r in rows:
        d = (r.get("endpoints") or {}).get(opts.metric)
        if d and d.get("unmatched"):  # the results table's n and means count these runs, the test does not
            seeds = ", ".join(map(str, d["seeds"]))
            warnings.append(
                f"{r['group']}: the decision pairs {d['n']} matched seeds with {r['baseline']} ({seeds}); "
                f"{d['unmatched']} run(s) whose seed has no result on the other side are left out of it"
            )
        if d:
            if "power" in tests:
                r["power"] = power_row(d, opts.mde, ALPHA / max(m, 1))
            r |= {"decision": d["decision"], "decision_p": d["p"], "decision_p_holm": d["p_holm"]}
            r |= {"decision_ci": d["ci"], "decision_method": d["method"], "decision_metric": opts.metric}
            r["verdict"] = D.verdict(r["group"], r["baseline"], d, r.get("power"), opts.metric)
    return warnings
