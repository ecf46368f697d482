"""Measured error rates of the report's decision rule, by simulation (benchmarks/calibration.py prints
them; the tests assert them).

A world: one test set of `images` images of varied difficulty shared by every run, and two activations
("group" and "baseline") trained with seeds 0..n-1 each. A run's chance to classify image i is
sigmoid(z_i + u_run + delta): z_i ~ N(Z_MEAN, Z_SD) the image's easiness (logits), u_run the run's
seed-to-seed skill, delta the group's true advantage (0 in a null world). Matched seeds share part of
their skill (correlation `rho`: same initial weights and data order), and each image is then drawn
independently per run, so a run's accuracy varies by skill *and* by which borderline images it happens
to get right. `spread` is the total seed-to-seed standard deviation of one activation's accuracy (points):
the skill's part is what the image draws leave of it.

Per world the rule under test is the report's own (`actbench.stats.decisions.decide` then `classify`, one
comparison so p(Holm) = p); the true difference is E[acc group] - E[acc baseline] over seeds on this test
set, by Gauss-Hermite quadrature over the skill. Reported per setting: the rate of "better"/"worse" calls
(the false-call rate in null worlds, the power otherwise), the rate of p < 0.05, how often the
t-interval (and, optionally, the two-stage bootstrap interval) covers the true difference, and for
contrast the pooled McNemar rule the report used before (p < 0.05 on discordant images summed over
seed pairs, the test images as the unit).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from actbench.stats import decisions as D
from actbench.stats.paired import mcnemar_seeds

Z_MEAN, Z_SD = 1.4, 2.0  # image easiness in logits: ~72% mean accuracy, many easy and many hard images
NODES = 20  # Gauss-Hermite nodes for the expected accuracy over the skill distribution


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _slope(z: np.ndarray) -> float:
    """d(mean accuracy)/d(logit shift) at no shift: converts points into logits."""
    p = _sigmoid(z)
    return float(np.mean(p * (1 - p)))


def _expected_acc(z: np.ndarray, shift: float, sd: float) -> float:
    """E over u ~ N(0, sd) of the mean over images of sigmoid(z + shift + u), as a fraction."""
    x, w = np.polynomial.hermite_e.hermegauss(NODES)
    return float((_sigmoid(z[:, None] + shift + sd * x[None, :]) @ (w / w.sum())).mean())


def simulate_world(
    rng: np.random.Generator, seeds: int, spread: float, true_diff: float, images: int, rho: float = 0.5
) -> dict[str, Any]:
    """One world: correct (2, seeds, images) bool (0: group, 1: baseline), acc (2, seeds) in %, and
    the true expected difference in points."""
    z = rng.normal(Z_MEAN, Z_SD, images)
    slope = _slope(z)
    image_var = float(np.sum(_sigmoid(z) * (1 - _sigmoid(z)))) / images**2 * 1e4  # points^2 per run
    skill_sd = math.sqrt(max(spread**2 - image_var, 0.0)) / 100 / slope  # logits
    delta = true_diff / 100 / slope
    shared = rng.normal(0, 1, seeds)
    own = rng.normal(0, 1, (2, seeds))
    u = skill_sd * (math.sqrt(rho) * shared[None, :] + math.sqrt(1 - rho) * own)
    u[0] += delta
    p = _sigmoid(z[None, None, :] + u[:, :, None])
    correct = rng.random(p.shape) < p
    # the same distribution on both sides when delta is 0: the truth is exactly 0, no quadrature needed
    truth = 100 * (_expected_acc(z, delta, skill_sd) - _expected_acc(z, 0.0, skill_sd)) if delta else 0.0
    return {"correct": correct, "acc": 100 * correct.mean(axis=2), "true_diff": truth}


def judge(world: dict[str, Any], boot: int = 0, seed: int = 0) -> dict[str, Any]:
    """The report's rule on one world (matched seeds 0..n-1), the old pooled McNemar rule, coverage."""
    acc, truth = world["acc"], world["true_diff"]
    mine = [(s, float(a)) for s, a in enumerate(acc[0])]
    theirs = [(s, float(a)) for s, a in enumerate(acc[1])]
    res = D.decide(mine, theirs, n_boot=0)
    decision = D.classify(res["diff"], res["ci"], res["p"])
    ci = res["ci"]
    out = {
        "called": decision != "inconclusive",
        "p_below": res["p"] is not None and res["p"] < D.ALPHA,
        "covered": ci is not None and ci[0] <= truth <= ci[1],
        "signflip_below": res["p_signflip"] is not None and res["p_signflip"] < D.ALPHA,
        "mcnemar_below": mcnemar_seeds(list(zip(*world["correct"], strict=True)))["p"] < D.ALPHA,
    }
    if boot:
        diffs = world["correct"][0].astype(np.int8) - world["correct"][1].astype(np.int8)
        bci = D.two_stage_bootstrap(diffs, boot, seed)
        out["boot_covered"] = bci is not None and bci[0] <= truth <= bci[1]
    return out


def rates(
    reps: int,
    seeds: int,
    spread: float,
    true_diff: float = 0.0,
    images: int = 10_000,
    rho: float = 0.5,
    boot: int = 0,
    seed: int = 0,
) -> dict[str, Any]:
    """Fractions over `reps` seeded worlds of one setting (module docstring): call (false-call rate or
    power), p_below, covered (t-interval), signflip_below, mcnemar_below, boot_covered (when `boot`)."""
    rng = np.random.default_rng([seed, seeds, round(spread * 1000), round(true_diff * 1000)])
    results = [
        judge(simulate_world(rng, seeds, spread, true_diff, images, rho), boot, i) for i in range(reps)
    ]
    out: dict[str, Any] = {"reps": reps, "seeds": seeds, "spread": spread, "true_diff": true_diff}
    for key in results[0]:
        out[key] = sum(r[key] for r in results) / reps
    return out


# --- the same worlds as run folders, for end-to-end checks through `actbench report` ------------------


def write_world(root: Path, world: dict[str, Any], acts: tuple[str, str] = ("rational", "relu")) -> Path:
    """Run folders `<act>-s<seed>` as training writes them (config.yaml, summary.json, slim
    predictions.npz): the group's runs under acts[0], the baseline's under acts[1]."""
    import yaml

    from actbench import config as C
    from actbench import runs as R

    correct = world["correct"]
    labels = np.zeros(correct.shape[2], dtype=np.int32)  # every image is class 0: a hit predicts 0
    for g, act in enumerate(acts):
        for s in range(correct.shape[1]):
            cfg = C.to_dict(C.load_config("quickstart", [f"activation.name={act}", f"train.seed={s}"]))
            run = root / f"{act}-s{s}"
            run.mkdir(parents=True)
            (run / R.CONFIG).write_text(yaml.safe_dump(cfg, sort_keys=False))
            acc = float(correct[g, s].mean())
            part = {"epoch": 3, "val_loss": 1.0, "val_acc": acc, "test_loss": 1.0, "test_acc": acc}
            summary = {"status": R.COMPLETED, "error": None, "epochs_done": 3, "last": part, "best": part}
            (run / R.SUMMARY).write_text(json.dumps(summary))
            pred = np.where(correct[g, s], 0, 1).astype(np.int32)
            arrays = {"labels": labels, "last_epoch": np.int64(3), "best_epoch": np.int64(3)}
            np.savez_compressed(run / R.PREDICTIONS, last_pred=pred, best_pred=pred, **arrays)
    return root
