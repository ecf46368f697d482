"""The false-call rate and power of the reading a reader of a results page meets, measured by simulation.

Worlds are fitted to committed real runs (actbench.stats.calibration: accuracy, per-image disagreement
between runs of other seeds and of matched seeds, seed-to-seed spread, matched-seed correlation), have the
report's shape (relu + elu, prelu, rational, exponential, matched seeds), are written as run folders and
judged by `build_report` — the report's own code path, every decision it prints (Holm over the four
comparisons at the primary endpoint). Reported:

- family-wise false calls: null worlds (no true difference anywhere) in which the report says "better" or
  "worse" for any activation, with a Wilson 95% interval, at 3, 5 and 10 seeds;
- power: worlds where rational is truly +0.5, +1 or +2 points better (the others equal to relu): how
  often the report calls rational "better";
- the fit: the real runs' statistics next to the simulated worlds' (mean over the null worlds at 5 seeds).

    python benchmarks/calibration.py                       # docs/statistics.md's table (~20 min on 2 cores)
    python benchmarks/calibration.py --null-worlds 2000 --json out.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from actbench.report.build import build_report
from actbench.stats.calibration import fit_world, observe, read_runs, simulate_family, write_family

REPO = Path(__file__).resolve().parents[1]


def wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson score 95% interval of a proportion k / n (scipy's; the hand-written formula printed a lower
    bound of -0.0% at k = 0)."""
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def judge(correct: dict, tmp: Path) -> dict[str, str]:
    """The report's decisions on one world: {activation: better | worse | inconclusive}."""
    root = write_family(tmp, correct)
    report = build_report([root], tests="power", bootstrap=0)  # decisions need no predictions
    return {r["activation"]: r["decision"] for r in report.rows if r["decision"]}


def run_setting(world: dict, seeds: int, effect: float, worlds: int, seed: int, images: int) -> dict:
    rng = np.random.default_rng([seed, seeds, round(effect * 100)])
    any_call = rational_better = wrong_sign = 0
    stats = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(worlds):
            correct = simulate_family(rng, world, seeds, {"rational": effect} if effect else None, images)
            if effect == 0 and seeds == 5:
                stats.append(observe(correct))
            calls = judge(correct, Path(tmp) / f"w{i}")
            others = {a: d for a, d in calls.items() if a != "rational" or effect == 0}
            any_call += any(d != "inconclusive" for d in others.values())
            rational_better += calls.get("rational") == "better"
            wrong_sign += calls.get("rational") == "worse"
    lo, hi = wilson(any_call, worlds)
    out = {"seeds": seeds, "effect": effect, "worlds": worlds, "false_calls": any_call / worlds}
    out |= {"false_calls_ci": [lo, hi], "power": rational_better / worlds if effect else None}
    out["wrong_sign"] = wrong_sign / worlds if effect else None
    if stats:
        out["simulated"] = {k: float(np.mean([s[k] for s in stats])) for k in stats[0]}
    return out


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=Path, default=REPO / "docs/results/runs/cifar10-cpu", help="real runs")
    p.add_argument("--null-worlds", type=int, default=1000, help="null worlds per seed count")
    p.add_argument("--power-worlds", type=int, default=200, help="worlds per effect and seed count")
    p.add_argument("--seeds", default="3,5,10")
    p.add_argument("--effects", default="0.5,1,2", help="rational's true advantage, points")
    p.add_argument("--images", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0, help="which simulated worlds (Monte Carlo seed)")
    p.add_argument("--json", type=Path)
    p.add_argument("--quick", action="store_true", help="tiny sizes for a CI smoke test")
    args = p.parse_args()
    if args.quick:
        args.null_worlds, args.power_worlds, args.seeds, args.effects, args.images = 4, 2, "3", "1", 500
    start = time.perf_counter()
    real = observe(read_runs(args.runs))
    world = fit_world(real)
    print(f"fitted to {len(read_runs(args.runs))} runs in {args.runs.name}: " + ", ".join(
        f"{k} {v:.3f}" for k, v in world.items()))  # fmt: skip
    rows = []
    print("| seeds | family-wise false calls [95% CI] | " + " | ".join(
        f"power, rational +{e} points" for e in args.effects.split(",")) + " |")  # fmt: skip
    print("|---|---|" + "---|" * len(args.effects.split(",")))
    for seeds in (int(s) for s in args.seeds.split(",")):
        null = run_setting(world, seeds, 0.0, args.null_worlds, args.seed, args.images)
        alts = [
            run_setting(world, seeds, float(e), args.power_worlds, args.seed, args.images)
            for e in args.effects.split(",")
        ]
        rows += [null, *alts]
        lo, hi = null["false_calls_ci"]
        cells = [str(seeds), f"{_pct(null['false_calls'])} [{_pct(lo)}, {_pct(hi)}]"]
        cells += [f"{_pct(a['power'])} (worse: {_pct(a['wrong_sign'])})" for a in alts]
        print("| " + " | ".join(cells) + " |", flush=True)
    sim = next((r["simulated"] for r in rows if "simulated" in r), None)
    if sim:
        print("fit check (real runs / simulated null worlds at 5 seeds): " + ", ".join(
            f"{k} {real[k]:.3f} / {sim[k]:.3f}" for k in real))  # fmt: skip
    print(f"({time.perf_counter() - start:.0f} s)")
    if args.json:
        doc = {"args": {k: str(v) for k, v in vars(args).items()}, "real": real, "world": world, "rows": rows}
        args.json.write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
