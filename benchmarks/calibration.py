"""Measured error rates of `actbench report`'s decision (actbench.stats.calibration): null worlds (no true
difference) and worlds with a true +1 point, for several seed spreads and seed counts, judged by the
report's own decision code.

    python benchmarks/calibration.py                      # the README's table (a few minutes on 2 cores)
    python benchmarks/calibration.py --reps 1000 --boot-reps 200 --json out.json

Columns: false calls (null worlds: "better"/"worse" said although the activations are equal), p < 0.05
(null: should be about 5%), coverage of the 95% t-interval (of the true difference), coverage of the
two-stage bootstrap interval (seed pairs then images; on the first --boot-reps worlds), the exact
sign-flip test's rate of p < 0.05, the old pooled McNemar rule's rate of p < 0.05 (the test images as the
unit), and power (worlds with a true +1 point: how often "better" is said).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from actbench.report.build import build_report
from actbench.stats.calibration import rates, simulate_world, write_world


def setting_row(args: argparse.Namespace, seeds: int, spread: float) -> dict:
    null = rates(args.reps, seeds, spread, 0.0, args.images, seed=args.seed)
    boot = {}
    if args.boot_reps:
        boot = rates(args.boot_reps, seeds, spread, 0.0, args.images, boot=args.boot, seed=args.seed)
    alt = rates(args.reps, seeds, spread, args.effect, args.images, seed=args.seed)
    return {
        "seeds": seeds,
        "spread": spread,
        "false_calls": null["called"],
        "p_below_05": null["p_below"],
        "t_coverage": null["covered"],
        "t_coverage_alt": alt["covered"],
        "boot_coverage": boot.get("boot_covered"),
        "signflip_below_05": null["signflip_below"],
        "pooled_mcnemar_below_05": null["mcnemar_below"],
        "power": alt["called"],
    }


def end_to_end(worlds: int, seeds: int, spread: float, images: int) -> dict:
    """Null worlds written as run folders (actbench's layout) and judged by `build_report`, as
    `actbench report DIR --baseline relu --format json` does: how often it says better/worse."""
    rng = np.random.default_rng(2026)
    calls = low_p = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(worlds):
            root = write_world(Path(tmp) / f"w{i}", simulate_world(rng, seeds, spread, 0.0, images))
            row = next(r for r in build_report([root], bootstrap=0).rows if r["activation"] == "rational")
            calls += row["decision"] != "inconclusive"
            low_p += row["decision_p"] < 0.05
    return {"worlds": worlds, "seeds": seeds, "spread": spread, "calls": calls / worlds,
            "p_below": low_p / worlds}  # fmt: skip


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reps", type=int, default=1000, help="worlds per setting")
    p.add_argument("--boot-reps", type=int, default=100, help="worlds per setting for the bootstrap (slow)")
    p.add_argument("--boot", type=int, default=1000, help="bootstrap resamples per world")
    p.add_argument("--images", type=int, default=10_000, help="shared test images per world")
    p.add_argument("--seeds", default="3,5,10")
    p.add_argument("--spreads", default="0.2,0.5,0.8,1.2,2.0", help="seed-to-seed sd of accuracy, points")
    p.add_argument("--seed", type=int, default=0, help="which simulated worlds (Monte Carlo seed)")
    p.add_argument("--effect", type=float, default=1.0, help="true difference of the power worlds, points")
    p.add_argument("--end-to-end", type=int, default=200, help="null worlds judged through build_report")
    p.add_argument("--json", type=Path)
    p.add_argument("--quick", action="store_true", help="tiny sizes for a CI smoke test")
    args = p.parse_args()
    if args.quick:
        args.reps, args.boot_reps, args.boot, args.images = 20, 3, 50, 500
        args.seeds, args.spreads, args.end_to_end = "5", "0.8", 3
    start = time.perf_counter()
    heads = ["seeds", "spread", "false calls", "p<.05", "t cover", "t cover (+Δ)", "boot cover",
             "sign-flip p<.05", "pooled McNemar p<.05", f"power (+{args.effect:g})"]  # fmt: skip
    print(f"{args.reps} worlds per setting ({args.boot_reps} for the bootstrap, {args.boot} resamples), "
          f"{args.images} shared test images, matched seeds (rho 0.5)")  # fmt: skip
    print("| " + " | ".join(heads) + " |")
    print("|" + "|".join("---" for _ in heads) + "|")
    rows = []
    for seeds in (int(s) for s in args.seeds.split(",")):
        for spread in (float(s) for s in args.spreads.split(",")):
            r = setting_row(args, seeds, spread)
            rows.append(r)
            cells = [str(seeds), f"{spread:g}", *(_pct(r[k]) for k in list(r)[2:])]
            print("| " + " | ".join(cells) + " |", flush=True)
    e2e = end_to_end(args.end_to_end, 5, 0.8, args.images) if args.end_to_end else None
    if e2e:
        print(f"end to end (run folders -> actbench report, {e2e['worlds']} null worlds, 5 seeds, "
              f"spread 0.8): {_pct(e2e['calls'])} said better/worse, decision_p < 0.05 in "
              f"{_pct(e2e['p_below'])}")  # fmt: skip
    print(f"({time.perf_counter() - start:.0f} s)")
    if args.json:
        doc = {"args": vars(args) | {"json": str(args.json)}, "rows": rows, "end_to_end": e2e}
        args.json.write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
