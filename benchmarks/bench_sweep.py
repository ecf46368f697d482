"""Wall time of one small sweep with --workers 1 vs --workers N (each in a fresh folder).

Every run is an ordinary `actbench train` process, so this measures what a user gets: process start-up,
data generation, training and evaluation. On CPU the cores are split between workers (OMP_NUM_THREADS);
on a GPU all workers share the card (one GPU per worker when there are several).

    python benchmarks/bench_sweep.py                          # 5 activations, quick-start sized runs
    python benchmarks/bench_sweep.py --workers 1,2,5 --set train.device=cuda --set data.train_size=50000
    python benchmarks/bench_sweep.py --quick                  # CI smoke test
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from actbench import runs  # noqa: E402
from actbench import timing as TM  # noqa: E402


def run_sweep(workers: int, args: argparse.Namespace, out: Path) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "actbench",
        "sweep",
        "--acts",
        args.acts,
        "--seeds",
        args.seeds,
        "--workers",
        str(workers),
        "--out",
        str(out),
        "--name",
        f"w{workers}",
    ]
    for item in args.set:
        cmd += ["--set", item]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"sweep with {workers} workers failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    steady, n_runs = [], 0
    for summary in (out / f"w{workers}").glob("*/summary.json"):
        epoch_times = runs.read_json(summary).get("epoch_times") or []
        steady += TM.steady(epoch_times)  # epoch 1 is warm-up
        n_runs += bool(epoch_times)
    epoch_s = TM.robust(steady)  # median of all runs' steady epochs, with min-max
    return {
        "workers": workers,
        "wall_s": wall,
        "runs": n_runs,
        "median_steady_epoch_s": epoch_s["median"],
        "min_steady_epoch_s": epoch_s["min"],
        "max_steady_epoch_s": epoch_s["max"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--acts", default="relu,elu,prelu,rational,exponential")
    p.add_argument("--seeds", default="0")
    p.add_argument("--workers", default="1,2", help="comma-separated worker counts to compare")
    p.add_argument("--set", action="append", default=[], help="config override for every run")
    p.add_argument("--json", type=Path)
    p.add_argument("--quick", action="store_true", help="tiny runs for a CI smoke test")
    args = p.parse_args()
    base = ["data.train_size=3000", "data.val_size=500", "train.epochs=3"]
    if args.quick:
        args.acts = "relu,exponential"
        base = [
            "data.train_size=200",
            "data.test_size=100",
            "data.val_size=50",
            "model.channels=[4,4,4]",
            "train.epochs=1",
        ]
    args.set = base + args.set
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for w in [int(v) for v in args.workers.split(",")]:
            rows.append(run_sweep(w, args, Path(tmp)))
    one = rows[0]["wall_s"]
    print(f"sweep of {args.acts} x seeds {args.seeds} ({' '.join(args.set)})")
    print(f"{'workers':>7} {'wall s':>8} {'speed-up':>9} {'median epoch s':>15} {'min–max':>13}")
    for r in rows:
        r["speedup"] = one / r["wall_s"]
        spread = TM.fmt_range(r["min_steady_epoch_s"], r["max_steady_epoch_s"], ".3f")
        print(
            f"{r['workers']:>7} {r['wall_s']:>8.1f} {r['speedup']:>8.2f}x "
            f"{r['median_steady_epoch_s'] or 0:>15.3f} {spread:>13}"
        )
    print("epoch s: median (and min–max) of the steady epochs (epoch 1 left out) of every run of the sweep")
    if args.json:
        args.json.write_text(json.dumps({"sets": args.set, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
