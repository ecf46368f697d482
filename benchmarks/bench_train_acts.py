"""Training throughput of paper_cnn per activation (and per speed feature), with the real training loop.

For each activation: build a Session exactly as `actbench train` does, run `--warmup` epochs (compilation,
allocator warm-up), then time `--epochs` steady epochs of `training.loop.train_epoch`. Prints images/s,
the median (and min–max) of the steady epoch seconds and the ratio of epoch time to ReLU's; `--json FILE`
writes the same table.

    python benchmarks/bench_train_acts.py                                  # CPU, 5k images, auto
    python benchmarks/bench_train_acts.py --set activation.fused=false     # eager Rational/Exponential
    python benchmarks/bench_train_acts.py --device cuda --images 50000 --set train.compile=true
    python benchmarks/bench_train_acts.py --quick                          # CI smoke test
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from actbench import session as S  # noqa: E402
from actbench.config import load_config  # noqa: E402
from actbench.training import loop as T  # noqa: E402

ACTS = "relu,elu,prelu,rational,exponential"
# Same data for every activation: generate (or load) it once per process, not once per row.
S.load_splits = functools.lru_cache(maxsize=1)(S.load_splits)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(act: str, args: argparse.Namespace) -> dict:
    sets = [
        "data.name=synthetic",
        f"data.train_size={args.images + 100}",
        "data.test_size=100",
        "data.val_size=100",
        f"activation.name={act}",
        f"train.device={args.device}",
        *args.set,
    ]
    if args.fused is not None:  # default: actbench's per-device auto choice
        sets.append(f"activation.fused={str(args.fused).lower()}")
    cfg = load_config(None, sets)
    s = S.make_session(cfg)
    hooks = T.Hooks()
    t0 = time.perf_counter()
    for e in range(1, args.warmup + 1):
        T.train_epoch(s, e, hooks)
    sync(s.device)
    warmup = time.perf_counter() - t0
    times = []
    for e in range(args.warmup + 1, args.warmup + args.epochs + 1):
        t = time.perf_counter()
        T.train_epoch(s, e, hooks)
        sync(s.device)
        times.append(time.perf_counter() - t)
    epoch_s = statistics.median(times)
    return {
        "activation": act,
        "images": len(s.splits.train_y),
        "warmup_s": warmup,
        "epoch_s": epoch_s,
        "epoch_min_s": min(times),
        "epoch_max_s": max(times),
        "images_per_s": len(s.splits.train_y) / epoch_s,
        "device": str(s.device),
        "effective": s.speed,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--acts", default=ACTS)
    p.add_argument("--images", type=int, default=5000)
    p.add_argument("--epochs", type=int, default=3, help="timed steady-state epochs (median reported)")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--device", default="auto")
    p.add_argument("--fused", action=argparse.BooleanOptionalAction, default=None, help="default: auto")
    p.add_argument("--set", action="append", default=[], help="config override, e.g. train.amp=bf16")
    p.add_argument("--json", type=Path)
    p.add_argument("--quick", action="store_true", help="tiny sizes for a CI smoke test")
    args = p.parse_args()
    if args.quick:
        args.images, args.epochs, args.warmup = 200, 1, 1
        args.set = ["model.channels=[4,4,4]", "train.threads=1", *args.set]
    rows = [measure(a, args) for a in args.acts.split(",")]
    base = next((r["epoch_s"] for r in rows if r["activation"] == "relu"), rows[0]["epoch_s"])
    print(
        f"{'activation':<12} {'img/s':>9} {'epoch s':>9} {'min–max':>13} {'vs relu':>8} {'warm-up s':>10}   "
        f"({rows[0]['device']}, {rows[0]['images']} images, "
        f"overrides: {' '.join(args.set) or 'none'}, fused={args.fused})"
    )
    for r in rows:
        r["ratio_to_relu"] = r["epoch_s"] / base
        print(
            f"{r['activation']:<12} {r['images_per_s']:>9.0f} {r['epoch_s']:>9.3f} "
            f"{r['epoch_min_s']:>6.3f}–{r['epoch_max_s']:<6.3f} "
            f"{r['ratio_to_relu']:>7.2f}x {r['warmup_s']:>10.2f}   "
            f"compile={r['effective']['compile_mode'] if r['effective']['compile'] else 'off'} "
            f"fused={r['effective']['fused']}"
        )
    if args.json:
        args.json.write_text(
            json.dumps({"args": vars(args) | {"json": str(args.json)}, "rows": rows}, indent=2)
        )


if __name__ == "__main__":
    main()
