"""Packed runs vs the same runs one after the other: summed training images/s over the members.

Both ways train the same K run folders (one per activation, or per seed) with the real code paths
(`actbench.training.loop.run_training` per run, `actbench.pack.train.run_pack` for the pack), in this process,
on fresh folders. An epoch's cost counts training and validation; epoch 1 (warm-up) is left out:

    sequential: summed img/s = K * train images / (sum over runs of each run's steady epoch seconds)
    pack:       summed img/s = K * train images / (steady seconds between the pack's epoch ends)

`--engines` also times one training step of K ReLU models three ways (K separate models, one grouped-conv
model, torch.func vmap over stacked parameters): the measurement behind actbench.pack.model's choice; and one
optimizer step of K members, K `step()` calls vs the one merged step pack_train runs (actbench.pack.optim).
`--steps-only` times just these steps (no runs trained).

    python benchmarks/bench_pack.py                                   # 5 activations, CPU
    python benchmarks/bench_pack.py --set train.device=cuda --images 50000 --engines
    python benchmarks/bench_pack.py --steps-only --acts relu,relu,relu,relu,relu --set train.device=cuda
    python benchmarks/bench_pack.py --quick                           # CI smoke test
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from actbench import config as C  # noqa: E402
from actbench.pack.train import run_pack  # noqa: E402
from actbench.training import loop as T  # noqa: E402


def make_runs(args: argparse.Namespace, out: Path) -> list[Path]:
    dirs = []
    for act in args.acts.split(","):
        sets = [
            f"data.train_size={args.images + args.val}",
            f"data.val_size={args.val}",
            f"data.test_size={args.val}",
            f"train.epochs={args.epochs}",
            f"activation.name={act}",
            f"run.name={act}",
            *args.set,
        ]
        dirs.append(T.create_run(C.load_config("quickstart", sets), out, act))
    return dirs


def sequential(args: argparse.Namespace, out: Path) -> dict:
    dirs = make_runs(args, out)
    t0 = time.perf_counter()
    steady = []
    for d in dirs:
        summary = T.run_training(d)
        assert summary["status"] == "completed", summary.get("error")
        steady.append(summary["timing"]["steady_epoch_s"])
    n = args.images * len(dirs)
    return {"wall_s": time.perf_counter() - t0, "epoch_s": sum(steady), "images_per_s": n / sum(steady)}


def packed(args: argparse.Namespace, out: Path) -> dict:
    dirs = make_runs(args, out)
    ends: dict[int, float] = {}

    def hooks_for(run_dir: Path) -> T.Hooks:
        def on_event(kind: str, data: dict) -> None:
            if kind == "epoch":
                ends[data["epoch"]] = time.perf_counter()  # the last member's end of that epoch

        return T.Hooks(on_event=on_event)

    t0 = time.perf_counter()
    summaries = run_pack(dirs, hooks_for)
    wall = time.perf_counter() - t0
    assert all(s["status"] == "completed" for s in summaries), [s.get("error") for s in summaries]
    epochs = sorted(ends)
    steady = statistics.mean(ends[e] - ends[e - 1] for e in epochs[1:])
    n = args.images * len(dirs)
    return {"wall_s": wall, "epoch_s": steady, "images_per_s": n / steady}


def best_ms(fns: dict, dev: torch.device, rounds: int, steps: int) -> dict[str, float]:
    """ms per call of each function: best of `rounds` interleaved rounds of `steps` calls after one
    warm-up call (robust to a busy machine)."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            fn()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(steps):
                fn()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            best[name] = min(best[name], (time.perf_counter() - t0) / steps * 1000)
    return best


def engines(args: argparse.Namespace) -> dict:
    """ms per training step (forward + backward) of K ReLU CNNs: separate, grouped conv, vmap."""
    from torch import nn
    from torch.func import functional_call, stack_module_state, vmap

    k, b, c = len(args.acts.split(",")), args.batch, args.channels
    dev = torch.device("cuda" if any("cuda" in s for s in args.set) else "cpu")

    def net() -> nn.Module:
        layers: list[nn.Module] = []
        c_in = 3
        for _ in range(3):
            layers += [nn.Conv2d(c_in, c, 5, padding=2), nn.MaxPool2d(2), nn.ReLU()]
            c_in = c
        return nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * 16, 10)).to(dev)

    models = [net() for _ in range(k)]
    x, y = torch.randn(k, b, 3, 32, 32, device=dev), torch.randint(0, 10, (k, b), device=dev)

    def separate() -> None:
        for i, m in enumerate(models):
            F.cross_entropy(m(x[i]), y[i]).backward()

    params, buffers = stack_module_state(models)
    base = net().to("meta")

    def vmapped() -> None:
        out = vmap(lambda p, bu, xx: functional_call(base, (p, bu), (xx,)))(params, buffers, x)
        F.cross_entropy(out.reshape(-1, 10), y.reshape(-1), reduction="none").view(k, b).mean(
            1
        ).sum().backward()

    convs = [[m[i] for m in models] for i in (0, 3, 6)]
    lins = [m[10] for m in models]

    def grouped() -> None:
        h = x.transpose(0, 1).reshape(b, k * 3, 32, 32)
        for layer in convs:
            w, bias = torch.cat([m.weight for m in layer]), torch.cat([m.bias for m in layer])
            h = F.relu(F.max_pool2d(F.conv2d(h, w, bias, padding=2, groups=k), 2))
        h = h.reshape(b, k, -1).transpose(0, 1)
        w, bias = torch.stack([m.weight for m in lins]), torch.stack([m.bias for m in lins])
        out = torch.baddbmm(bias.unsqueeze(1), h, w.transpose(1, 2))
        F.cross_entropy(out.reshape(-1, 10), y.reshape(-1), reduction="none").view(k, b).mean(
            1
        ).sum().backward()

    fns = {"separate": separate, "grouped": grouped, "vmap": vmapped}
    best = best_ms(fns, dev, args.rounds, args.steps)
    return {"k": k, "batch": b, "channels": c, "device": str(dev), "ms_per_step": best}


def optimizer_steps(args: argparse.Namespace) -> dict:
    """ms per optimizer step of K paper CNN members (their ordinary optimizers, as build_optimizer makes
    them: fused Adam on CUDA): K `step()` calls vs one `MergedOptimizer.step()` (what pack_train runs)."""
    from actbench.data.pipeline import eval_batches, load_splits
    from actbench.pack.optim import MergedOptimizer
    from actbench.session import select_device, session_for

    acts = args.acts.split(",")
    c = args.channels
    sizes = ["data.train_size=300", "data.val_size=50", "data.test_size=50", f"model.channels=[{c},{c},{c}]"]
    cfgs = [C.load_config("quickstart", [*args.set, *sizes, f"activation.name={a}"]) for a in acts]
    dev = select_device(cfgs[0].train.device)
    splits = load_splits(cfgs[0].data).to(dev)
    sessions = [session_for(cfg, dev, splits) for cfg in cfgs]
    a = cfgs[0].augment
    x, y = next(eval_batches(splits.train_x, splits.train_y, args.batch, a, splits.mean, splits.std))
    for s in sessions:
        F.cross_entropy(s.model(s.prep(x)), y).backward()  # gradients to step with
    merged = MergedOptimizer([s.opt for s in sessions])

    def separate() -> None:
        for s in sessions:
            s.opt.step()

    fns = {"separate": separate, "merged": merged.step}
    best = best_ms(fns, dev, args.rounds, args.steps * 10)  # an optimizer step is short: more per timing
    return {"k": len(acts), "device": str(dev), "groups": merged.groups, "ms_per_step": best}


def runs_compared(args: argparse.Namespace, threads: int) -> dict:
    """The run-level comparison: the same K runs one after another, then as one pack."""
    with tempfile.TemporaryDirectory() as tmp:
        seq = sequential(args, Path(tmp) / "sequential")
        pack = packed(args, Path(tmp) / "pack")
    result = {"sequential": seq, "pack": pack, "ratio": pack["images_per_s"] / seq["images_per_s"]}
    k = len(args.acts.split(","))
    print(f"{k} runs ({args.acts}), {args.images} train images, {args.epochs} epochs, {threads} threads")
    for name in ("sequential", "pack"):
        r = result[name]
        print(
            f"{name:<10} steady epoch of all {k} runs {r['epoch_s']:7.2f}s  "
            f"summed {r['images_per_s']:7.0f} img/s  wall {r['wall_s']:6.1f}s (with data, warm-up, eval)"
        )
    print(f"pack / sequential summed images/s: {result['ratio']:.2f}x")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--acts", default="relu,elu,prelu,rational,exponential", help="one run per activation")
    ap.add_argument("--images", type=int, default=5000, help="training images per run")
    ap.add_argument("--val", type=int, default=1000, help="validation (and test) images")
    ap.add_argument("--epochs", type=int, default=3, help=">= 2: epoch 1 is warm-up")
    ap.add_argument("--set", action="append", default=[], help="config override for every run")
    ap.add_argument("--engines", action="store_true", help="also time separate vs grouped vs vmap steps")
    ap.add_argument("--batch", type=int, default=100, help="--engines: batch size")
    ap.add_argument("--channels", type=int, default=32, help="--engines: conv channels")
    ap.add_argument("--steps", type=int, default=3, help="--engines: steps per timing")
    ap.add_argument("--rounds", type=int, default=5, help="--engines: interleaved rounds (best of)")
    ap.add_argument(
        "--steps-only", action="store_true", help="only the step timings (--engines), no runs trained"
    )
    ap.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args()
    if args.quick:
        args.acts, args.images, args.val, args.epochs, args.engines = "relu,rational", 200, 50, 2, True
        args.set += ["model.channels=[4,4,4]", "train.batch_size=50", "train.device=cpu", "train.threads=1"]
        args.batch, args.channels, args.steps, args.rounds = 8, 4, 1, 1
    threads = next((int(s.split("=")[1]) for s in args.set if s.startswith("train.threads=")), 0)
    if threads:  # the engines comparison runs at the same thread count as the runs
        torch.set_num_threads(threads)
    threads = torch.get_num_threads()
    result: dict = {"acts": args.acts, "images": args.images, "epochs": args.epochs, "set": args.set}
    result["threads"] = threads
    if not args.steps_only:
        result |= runs_compared(args, threads)
    if args.engines or args.steps_only:
        result["engines"] = engines(args)
        e = result["engines"]
        ms = e["ms_per_step"]
        print(
            f"one step of {e['k']} ReLU CNNs (batch {e['batch']}, {e['channels']} ch, {e['device']}): "
            + ", ".join(f"{n} {v:.1f} ms" for n, v in ms.items())
            + f"  (grouped/separate {ms['grouped'] / ms['separate']:.2f}x, vmap/separate "
            f"{ms['vmap'] / ms['separate']:.2f}x)"
        )
        result["optimizer"] = optimizer_steps(args)
        o = result["optimizer"]
        ms = o["ms_per_step"]
        print(
            f"optimizer step of {o['k']} members ({o['device']}): {o['k']} separate steps "
            f"{ms['separate']:.3f} ms, one merged step ({o['groups']} param group(s)) {ms['merged']:.3f} ms "
            f"(merged/separate {ms['merged'] / ms['separate']:.2f}x)"
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
