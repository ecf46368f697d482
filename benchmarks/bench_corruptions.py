"""Cost of a CIFAR-10-C evaluation: every in-memory corruption x 5 severities of one CIFAR-10-sized model.

Builds the session of the paper's CIFAR-10 preset (paper_cnn, 32 channels, 24x24 centre crop) on a
synthetic test split of `--images` 32x32 images (random weights: the cost does not depend on them), then
runs what `actbench eval RUN --corruptions all` runs, timing per corruption the corruption itself and
the model's forward passes. Wall seconds and this process's CPU seconds (time.process_time, all threads)
are both recorded: on a machine shared with other work the CPU seconds are the cost, the wall time is
not. Prints a table and the totals; `--json FILE` writes the numbers.

    python benchmarks/bench_corruptions.py --threads 2            # 10,000 images, all corruptions
    python benchmarks/bench_corruptions.py --quick                # CI smoke test
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from actbench import session as S  # noqa: E402
from actbench.config import load_config  # noqa: E402
from actbench.robustness import evaluate as CE  # noqa: E402
from actbench.robustness.corruptions import SEVERITIES  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=10000, help="test images (CIFAR-10: 10,000)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--corruptions", default="all")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.quick:
        args.images, args.corruptions = 20, "gaussian_noise,jpeg_compression"
    torch.set_num_threads(args.threads)
    sets = ["data.name=synthetic", "data.train_size=200", f"data.test_size={args.images}",
            "data.val_size=0", f"train.device={args.device}", f"train.threads={args.threads}"]  # fmt: skip
    s = S.make_session(load_config("cifar10_relu", sets))
    names = CE.parse_corruptions(args.corruptions)
    x, y = s.splits.test_x, s.splits.test_y

    def clocks() -> tuple[float, float]:
        return time.perf_counter(), time.process_time()

    w0, c0 = clocks()
    CE.score_images(s, [x], y)
    w1, c1 = clocks()
    clean = {"wall_s": w1 - w0, "cpu_s": c1 - c0}
    rows = []
    for name in names:
        row = {
            "corruption": name,
            "corrupt_wall_s": 0.0,
            "corrupt_cpu_s": 0.0,
            "model_wall_s": 0.0,
            "model_cpu_s": 0.0,
        }
        for sev in SEVERITIES:
            w0, c0 = clocks()
            chunks = list(CE.memory_chunks(x, name, sev, seed=0))
            w1, c1 = clocks()
            CE.score_images(s, chunks, y)
            w2, c2 = clocks()
            row["corrupt_wall_s"] += w1 - w0
            row["corrupt_cpu_s"] += c1 - c0
            row["model_wall_s"] += w2 - w1
            row["model_cpu_s"] += c2 - c1
        rows.append(row)
        cw, cc, mw, mc = (row[k] for k in ("corrupt_wall_s", "corrupt_cpu_s", "model_wall_s", "model_cpu_s"))
        print(
            f"{name:18s} corruption cpu {cc:7.2f} s (wall {cw:7.2f})   model cpu {mc:6.2f} s (wall {mw:6.2f})"
        )
    total = {
        k: clean[k] + sum(r[f"corrupt_{k}"] + r[f"model_{k}"] for r in rows) for k in ("wall_s", "cpu_s")
    }
    corrupt_cpu, model_cpu = (sum(r[f"{k}_cpu_s"] for r in rows) for k in ("corrupt", "model"))
    print(
        f"TOTAL {len(names)} corruptions x 5 severities + clean, {args.images} images, "
        f"{args.threads} threads: "
        f"cpu {total['cpu_s']:.1f} s ({total['cpu_s'] / 60:.1f} min; corruption {corrupt_cpu:.1f} s, model "
        f"{model_cpu:.1f} s), wall {total['wall_s']:.1f} s; clean pass cpu {clean['cpu_s']:.2f} s"
    )
    if args.json:
        doc = {"images": args.images, "threads": args.threads, "device": args.device, "clean": clean,
               "total": total, "rows": rows}  # fmt: skip
        args.json.write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
