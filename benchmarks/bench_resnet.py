"""ResNet-20 training epoch time per activation, relative to ReLU (target: Rational/Exponential <= 1.15x).

Same measurement as bench_train_acts.py (a Session built as `actbench train` builds it, `--warmup` epochs,
then the median of `--epochs` timed epochs of `training.loop.train_epoch`), on `model.name=resnet20`
with CIFAR-10 shaped synthetic data (3x32x32, pad-and-crop + flip, batch 128 as in the resnet20 presets).
ResNet-20 has no pooling between activations, so pool-first never applies: the activation runs on every
feature map.

    python benchmarks/bench_resnet.py                                  # CPU, 1,000 images
    python benchmarks/bench_resnet.py --device cuda --images 50000     # one GPU (compile auto-on)
    python benchmarks/bench_resnet.py --quick                          # CI smoke test
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_train_acts (and actbench) from this checkout

from bench_train_acts import measure  # noqa: E402

TARGET = 1.15  # issue 14: Rational/Exponential epoch <= 1.15x ReLU's


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--acts", default="relu,rational,exponential")
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--epochs", type=int, default=2, help="timed steady-state epochs (median reported)")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--fused", action=argparse.BooleanOptionalAction, default=None, help="default: auto")
    p.add_argument("--set", action="append", default=[], help="config override, e.g. train.threads=2")
    p.add_argument("--json", type=Path)
    p.add_argument("--quick", action="store_true", help="tiny sizes for a CI smoke test")
    args = p.parse_args()
    args.set = ["model.name=resnet20", "train.batch_size=128", *args.set]
    if args.quick:
        args.images, args.epochs, args.warmup = 128, 1, 1
        args.set = [*args.set, "model.widths=[4,4,4]", "train.threads=1"]
    rows = [measure(a, args) for a in args.acts.split(",")]
    base = next((r["epoch_s"] for r in rows if r["activation"] == "relu"), rows[0]["epoch_s"])
    print(f"resnet20, {rows[0]['device']}, {rows[0]['images']} images, overrides: {' '.join(args.set)}")
    print(f"{'activation':<12} {'img/s':>8} {'epoch s':>9} {'vs relu':>8} {'target':>7}   fused")
    for r in rows:
        r["ratio_to_relu"] = r["epoch_s"] / base
        ok = "ok" if r["ratio_to_relu"] <= TARGET else "MISSED"
        speed = f"{r['images_per_s']:>8.0f} {r['epoch_s']:>9.3f} {r['ratio_to_relu']:>7.2f}x"
        print(f"{r['activation']:<12} {speed} {ok:>7}   {r['effective']['fused']}")
    if args.json:
        doc = {"args": vars(args) | {"json": str(args.json)}, "target": TARGET, "rows": rows}
        args.json.write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
