"""Epoch time of a torchvision network with its activations swapped: ReLU vs Rational vs Exponential.

For each activation: build a Session exactly as `actbench train` does with `model.name` (default
torchvision:resnet18; the CIFAR stem, since the synthetic images are 32x32), run `--warmup` epochs
(compilation of the fused activation kernel, allocator warm-up), then time `--epochs` epochs of
`training.loop.train_epoch`, one epoch of each activation in turn, and keep each one's best (the least
disturbed by other work on a shared machine). Prints the
best and median epoch seconds and the ratio of the best epoch to ReLU's; `--json FILE` writes the table.

    python benchmarks/bench_tv_models.py                          # CPU, resnet18, 512 images, best of 3
    python benchmarks/bench_tv_models.py --model torchvision:mobilenet_v2 --set activation.fused=false
    python benchmarks/bench_tv_models.py --quick                  # CI smoke test
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from actbench import session as S  # noqa: E402
from actbench.config import load_config  # noqa: E402
from actbench.models import network_info  # noqa: E402
from actbench.training import loop as T  # noqa: E402

ACTS = "relu,rational,exponential"
S.load_splits = functools.lru_cache(maxsize=1)(S.load_splits)  # same data for every activation


def session(act: str, args: argparse.Namespace) -> S.Session:
    cfg = load_config(
        None,
        [
            "data.name=synthetic",
            f"data.train_size={args.images + 50}",
            "data.test_size=50",
            "data.val_size=50",
            f"model.name={args.model}",
            f"activation.name={act}",
            f"train.batch_size={args.batch}",
            "train.device=cpu",
            *args.set,
        ],
    )
    return S.make_session(cfg)


def epoch_s(s: S.Session, epoch: int) -> float:
    t = time.perf_counter()
    T.train_epoch(s, epoch, T.Hooks())
    return time.perf_counter() - t


def measure(acts: list[str], args: argparse.Namespace) -> list[dict]:
    """Warm each activation's session up, then time its epochs in rounds (relu, rational, exponential,
    relu, ...): a change in the machine's load then falls on every activation alike."""
    sessions = {a: session(a, args) for a in acts}
    warmup = {a: sum(epoch_s(s, e) for e in range(1, args.warmup + 1)) for a, s in sessions.items()}
    times: dict[str, list[float]] = {a: [] for a in acts}
    for e in range(args.warmup + 1, args.warmup + args.epochs + 1):
        for a, s in sessions.items():
            times[a].append(epoch_s(s, e))
    rows = []
    for a, s in sessions.items():
        info = network_info(s.model) or {}
        rows.append(
            {
                "activation": a,
                "images": len(s.splits.train_y),
                "warmup_s": warmup[a],
                "epoch_best_s": min(times[a]),
                "epoch_median_s": statistics.median(times[a]),
                "epoch_times_s": times[a],
                "images_per_s": len(s.splits.train_y) / min(times[a]),
                "swapped": info.get("swapped"),
                "effective": s.speed,
            }
        )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="torchvision:resnet18")
    p.add_argument("--acts", default=ACTS)
    p.add_argument("--images", type=int, default=512)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--epochs", type=int, default=3, help="timed epochs (the best is reported)")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--set", action="append", default=[], help="config override, e.g. activation.fused=false")
    p.add_argument("--json", type=Path)
    p.add_argument("--quick", action="store_true", help="tiny sizes for a CI smoke test")
    args = p.parse_args()
    if args.quick:  # no compiled kernel: its compilation alone would take most of a smoke test
        args.images, args.batch, args.epochs, args.warmup = 16, 16, 1, 0
        args.set = ["train.threads=1", "activation.fused=false", *args.set]
    load = os.getloadavg()
    rows = measure(args.acts.split(","), args)
    base = next((r["epoch_best_s"] for r in rows if r["activation"] == "relu"), rows[0]["epoch_best_s"])
    print(
        f"{args.model} (CIFAR stem), cpu ({torch.get_num_threads()} threads), {rows[0]['images']} images of "
        f"32x32, batch {args.batch}, best of {args.epochs} epochs (taken in turns) after {args.warmup} "
        f"warm-up, overrides: {' '.join(args.set) or 'none'}\n"
        f"load average at the start {load[0]:.1f} (1 min), {load[1]:.1f} (5 min): other jobs shared the "
        "CPU, so the ratios are the result, not the seconds"
    )
    print(f"{'activation':<12} {'best s':>8} {'median s':>9} {'img/s':>7} {'vs relu':>8} {'warm-up s':>10}")
    for r in rows:
        r["ratio_to_relu"] = r["epoch_best_s"] / base
        print(
            f"{r['activation']:<12} {r['epoch_best_s']:>8.2f} {r['epoch_median_s']:>9.2f} "
            f"{r['images_per_s']:>7.1f} {r['ratio_to_relu']:>7.2f}x {r['warmup_s']:>10.2f}   "
            f"swapped={r['swapped']} fused={r['effective']['fused']}"
        )
    if args.json:
        doc = {"args": vars(args) | {"json": str(args.json)}, "load_average": load, "rows": rows}
        args.json.write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
