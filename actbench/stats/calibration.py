"""Measured error rates of the report's decisions, by simulation.

Two kinds of world. The family worlds (second half of the module: `fit_world`, `simulate_family`,
`write_family`) are fitted to real runs and have the report's shape: benchmarks/calibration.py judges them
with `build_report` and prints the family-wise false-call rate and power of the published reading. The
two-activation worlds below check one comparison's paired t-test (its level and interval coverage; the
tests assert them):

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

import functools
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
    assert res is not None  # both sides have runs
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
    from actbench import runs as R

    correct = world["correct"]
    labels = np.zeros(correct.shape[2], dtype=np.int32)  # every image is class 0: a hit predicts 0
    for g, act in enumerate(acts):
        for s in range(correct.shape[1]):
            acc = float(correct[g, s].mean())
            run = _completed_run(root, act, s, val_acc=acc, test_acc=acc)
            pred = np.where(correct[g, s], 0, 1).astype(np.int32)
            arrays: dict[str, Any] = {"labels": labels, "last_epoch": np.int64(3), "best_epoch": np.int64(3)}
            np.savez_compressed(run / R.PREDICTIONS, last_pred=pred, best_pred=pred, **arrays)
    return root


# --- the whole report in worlds fitted to real runs ---------------------------------------------------
#
# A family world: G activations x k matched seeds on one test set of N images. Run (a, s) gets image i
# right with probability sigmoid(z_i + eta_{s,i} + u_{a,s} + delta_a): z_i the image's easiness, eta_{s,i}
# what seed s does to image i whatever the activation (matched seeds share initial weights and data
# order, so they tend to get the same images right), u_{a,s} the run's skill (matched seeds share a part
# rho of it), delta_a the activation's true advantage in logits. The five parameters are fitted to real
# runs' slim predictions: mean accuracy, how often two runs of other seeds disagree on an image, how often
# matched seeds of two activations do, the seed-to-seed spread of accuracy and the correlation of matched
# seeds' accuracies (`observe` measures all five, on real runs and on simulated ones alike).

FAMILY_ACTS = ("relu", "elu", "prelu", "rational", "exponential")  # the report's shape: relu is the baseline


def observe(correct: dict[tuple[str, int], np.ndarray]) -> dict[str, float]:
    """The five statistics of {(activation, seed): correct (N,) bool}: acc (mean %), disagree_other_seed,
    disagree_matched (fractions of images), spread (pooled within-activation sd of accuracy, points),
    matched_r (mean correlation of matched seeds' accuracies over activation pairs)."""
    import itertools

    keys = sorted(correct)
    acts, seeds = sorted({a for a, _ in keys}), sorted({s for _, s in keys})
    acc = {k: 100 * float(correct[k].mean()) for k in keys}
    pairs = list(itertools.combinations(keys, 2))
    other = [float(np.mean(correct[a] != correct[b])) for a, b in pairs if a[1] != b[1]]
    matched = [float(np.mean(correct[a] != correct[b])) for a, b in pairs if a[1] == b[1]]
    # an unfinished sweep has activations with fewer seeds: the spread from those with 2 or more, the
    # correlation over the seeds both activations of a pair have (3 or more, else it is +-1 by construction)
    var = [np.var(v, ddof=1) for a in acts if len(v := [acc[(a, s)] for s in seeds if (a, s) in acc]) >= 2]
    rs = []
    for a, b in itertools.combinations(acts, 2):
        both = [s for s in seeds if (a, s) in acc and (b, s) in acc]
        if len(both) >= 3:
            rs.append(np.corrcoef([acc[(a, s)] for s in both], [acc[(b, s)] for s in both])[0, 1])
    return {
        "acc": float(np.mean(list(acc.values()))),
        "disagree_other_seed": float(np.mean(other)),
        "disagree_matched": float(np.mean(matched)),
        "spread": float(math.sqrt(np.mean(var))),
        "matched_r": float(np.nanmean(rs)),
    }


def read_runs(folder: Path, checkpoint: str = "last") -> dict[tuple[str, int], np.ndarray]:
    """{(activation, seed): correct (N,) bool} from the slim predictions of `<act>-s<seed>` run folders."""
    out = {}
    for run in sorted(Path(folder).glob("*-s*")):
        act, _, seed = run.name.rpartition("-s")
        with np.load(run / "predictions.npz") as f:
            out[(act, int(seed))] = f[f"{checkpoint}_pred"] == f["labels"]
    return out


def fit_world(target: dict[str, float]) -> dict[str, float]:
    """World parameters whose expected statistics match `target` (see `observe`): z_mean, z_sd and eta_sd
    (logits) from accuracy and the two disagreement rates, by least squares over Gauss-Hermite
    expectations; skill_sd (logits) and rho from the spread and the matched correlation, net of the
    image-sampling variance of a 10,000-image test set."""
    from scipy import optimize

    x, w = np.polynomial.hermite_e.hermegauss(40)
    w = w / w.sum()

    def moments(zm: float, zs: float, es: float) -> tuple[float, float, float]:
        z = zm + zs * x  # image easiness nodes
        p = _sigmoid(z[:, None] + es * x[None, :])  # (image node, eta node)
        m = p @ w  # E over eta, per z
        return float(m @ w), float((2 * p * (1 - p)) @ w @ w), float((2 * m * (1 - m)) @ w)

    goal = np.array([target["acc"] / 100, target["disagree_matched"], target["disagree_other_seed"]])
    res = optimize.least_squares(
        lambda v: np.array(moments(v[0], abs(v[1]), abs(v[2]))) - goal, x0=[1.4, 2.0, 0.5], xtol=1e-10
    )
    zm, zs, es = float(res.x[0]), abs(float(res.x[1])), abs(float(res.x[2]))
    p = _sigmoid(zm + math.hypot(zs, es) * x)
    image_var = float((p * (1 - p)) @ w) / 10_000 * 1e4  # points^2: the Bernoulli draws of one run
    slope = float((p * (1 - p)) @ w)  # d acc / d logit
    skill_var = max(target["spread"] ** 2 - image_var, 1e-6)
    rho = min(1.0, max(0.0, target["matched_r"] * target["spread"] ** 2 / skill_var))
    skill_sd = math.sqrt(skill_var) / 100 / slope
    return {"z_mean": zm, "z_sd": zs, "eta_sd": es, "skill_sd": skill_sd, "rho": rho, "slope": slope}


def simulate_family(
    rng: np.random.Generator, world: dict[str, float], seeds: int, effects: dict[str, float] | None = None,
    images: int = 10_000, acts: tuple[str, ...] = FAMILY_ACTS,
) -> dict[tuple[str, int], np.ndarray]:  # fmt: skip
    """One family world: {(activation, seed): correct (images,) bool}; `effects`: true advantage in points
    per activation (converted to logits with the world's slope; absent: 0)."""
    z = rng.normal(world["z_mean"], world["z_sd"], images)
    eta = rng.normal(0, world["eta_sd"], (seeds, images))
    shared = rng.normal(0, 1, seeds)
    out: dict[tuple[str, int], np.ndarray] = {}
    for a in acts:
        own = rng.normal(0, 1, seeds)
        u = world["skill_sd"] * (math.sqrt(world["rho"]) * shared + math.sqrt(1 - world["rho"]) * own)
        delta = (effects or {}).get(a, 0.0) / 100 / world["slope"]
        p = _sigmoid(z[None, :] + eta + (u + delta)[:, None])
        hits = rng.random(p.shape) < p
        out |= {(a, s): hits[s] for s in range(seeds)}
    return out


@functools.cache
def _config_text(act: str, seed: int) -> str:
    from actbench import config as C

    return C.dump_yaml(C.load_config("quickstart", [f"activation.name={act}", f"train.seed={seed}"]))


def _completed_run(root: Path, act: str, seed: int, val_acc: float, test_acc: float) -> Path:
    """<root>/<act>-s<seed> with config.yaml and a completed 3-epoch summary.json, as training writes them."""
    from actbench import runs as R

    run = root / f"{act}-s{seed}"
    run.mkdir(parents=True)
    (run / R.CONFIG).write_text(_config_text(act, seed))
    part = {"epoch": 3, "val_loss": 1.0, "val_acc": val_acc, "test_loss": 1.0, "test_acc": test_acc}
    summary = {"status": R.COMPLETED, "error": None, "epochs_done": 3, "last": part, "best": part}
    (run / R.SUMMARY).write_text(json.dumps(summary))
    return run


def write_family(root: Path, correct: dict[tuple[str, int], np.ndarray]) -> Path:
    """Run folders `<act>-s<seed>` (config.yaml and a completed summary.json, as training writes them)
    for `build_report`: what the report's decisions read."""
    for (act, s), hits in correct.items():
        _completed_run(root, act, s, val_acc=0.5, test_acc=float(hits.mean()))
    return root
