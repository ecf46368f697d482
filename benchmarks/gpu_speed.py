"""Issue 38's protocol in one box: how far actbench is from "the units at ReLU's cost, packs that beat plain
workers, Table 2 x 5 seeds in minutes", measured on one device in one call.

    python benchmarks/gpu_speed.py                      # a GPU: at most 7 minutes (--budget-s 420)
    python benchmarks/gpu_speed.py --tiny               # CPU smoke test, tiny sizes (numbers mean nothing)
    bash benchmarks/gpu_speed.sh                        # the same with a log next to the JSON

Sections, in this order (each runs only if the time left allows it; the JSON is rewritten after each, so a
killed run keeps what it measured):
  acts    activation forward + backward on one (100, 32, 32, 32) tensor vs ReLU, per path: `eager` (the
          autograd Function), `triton` (fused=True on CUDA: activations.triton_kernels), `fused_compile`
          (fused=True with Triton off: the torch.compile'd closed forms), `compiled` (the unit inside a
          torch.compile'd caller: functional._traced, what a compiled model runs), `compiled_triton`
          (fused=True inside a compiled caller: the Triton kernels as a custom op)
  pack_steps  one eager training step of K = 5, 25 members (batch 100): K lone models vs one packed model,
          plain / channels-last / cudnn.benchmark (what a faster pack default would be chosen from)
  epochs  steady training epoch (25,000 images) per unit (relu, rational, exponential) in the mode
          actbench's auto settings pick on this device (CUDA: `compiled`, with CUDA graphs)
  packs   run-epochs per second of 5 plain workers (`sweep --workers 5`, 5 runs) vs five packs of 5 in five
          processes (`--pack 5 --workers 5`) and one pack of 25 (`--pack 25`), 3 epochs of 25,000 images,
          from the runs' own steady epoch times (a pack's whole epoch for its K members)
  e2e     the Table 2 x 5 seeds protocol (5 activations x 5 seeds = 25 runs) for a few epochs, with the
          arrangement the packs section found fastest: measured wall time (a packs sweep of 25 runs is
          reused as it is; plain workers: a new sweep on 10,000 images)
  epochs  the other modes: `eager` (compile off, fused off), `eager_triton` (compile off, fused on),
          `compiled_triton` (compile on, fused on: the kernels as a custom op) [`compiled` on the CPU], from
          which the per-device defaults of `activation.fused` are set

benchmarks/results/<device>-speed.json gets at least:
  unit_epoch_ratio        worst of Rational / Exponential steady epoch over ReLU's, default path
  pack_vs_workers         run-epochs/s of the best pack arrangement over plain workers'
  table2_5seeds_minutes   25 runs x 200 epochs of 50,000 images: {"value", "how": "measured" | "extrapolated",
                          "from"}; extrapolated = warm-up seconds of the e2e sweep + 25*200 run-epochs at the
                          best steady rate of the packs section (scaled to 50,000 images per epoch)
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from actbench.activations import functional as FN  # noqa: E402
from actbench.activations import make_activation, triton_kernels  # noqa: E402

UNITS = ("rational", "exponential")
FULL_IMAGES = 50_000  # a CIFAR-10 training epoch: what table2_5seeds_minutes is scaled to
TABLE2_RUNS, TABLE2_EPOCHS = 25, 200


class Clock:
    """The time box: `left()` seconds remain of `budget`; a section asks `fits(s)` before it starts."""

    def __init__(self, budget: float):
        self.t0, self.budget = time.perf_counter(), budget

    def left(self) -> float:
        return self.budget - (time.perf_counter() - self.t0)

    def fits(self, need: float) -> bool:
        return self.left() >= need


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device).lower()
        for short in ("h200", "h100", "a100", "l40s", "l4", "a10g", "v100", "t4"):
            if short in name:
                return short
        return name.replace("nvidia", "").strip().replace(" ", "-") or "cuda"
    return device.type


# --- acts -----------------------------------------------------------------------------------------------


def time_call(fn: Any, device: torch.device, repeat: int) -> float:
    """Median ms of fn() over `repeat` calls (after 3 warm-up calls)."""
    for _ in range(3):
        fn()
    sync(device)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        sync(device)
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def section_acts(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    shape = (4, 8, 8, 8) if args.tiny else (100, 32, 32, 32)
    repeat = 5 if args.tiny else 50
    x = torch.randn(shape, device=device) * 2
    g = torch.randn_like(x)
    backend = "aot_eager" if args.tiny and device.type == "cpu" else "inductor"
    triton_ok = triton_kernels.available(x)
    rows: dict[str, float] = {}
    notes: dict[str, str] = {}

    def fwd_bwd(m: Any) -> Any:
        params = list(m.parameters())

        def run() -> None:
            xi = x.detach().requires_grad_()
            y = m(xi)
            torch.autograd.grad(y, [xi, *params], g)

        return run

    rows["relu"] = time_call(fwd_bwd(torch.nn.ReLU()), device, repeat)
    for name in UNITS:
        for sharing in ("layer", "channel"):
            key = f"{name}/{sharing}"
            eager = make_activation(name, shape[1], sharing=sharing).to(device)
            fused = make_activation(name, shape[1], sharing=sharing, fused=True).to(device)
            rows[f"{key}/eager"] = time_call(fwd_bwd(eager), device, repeat)
            if triton_ok:
                rows[f"{key}/triton"] = time_call(fwd_bwd(fused), device, repeat)
            else:
                notes["triton"] = "not available here (no triton, or not a CUDA tensor)"
            if not triton_ok or args.tiny:  # on a GPU the Triton kernels replace it
                FN.USE_TRITON = False
                try:
                    rows[f"{key}/fused_compile"] = time_call(fwd_bwd(fused), device, repeat)
                finally:
                    FN.USE_TRITON = True
            if (
                sharing == "channel" and not args.tiny
            ):  # compiling costs seconds a row: the default sharing only
                continue
            compiled = torch.compile(eager, backend=backend)
            rows[f"{key}/compiled"] = time_call(fwd_bwd(compiled), device, repeat)
            if triton_ok:  # fused under compile: the Triton kernels as a custom op
                compiled = torch.compile(fused, backend=backend)
                rows[f"{key}/compiled_triton"] = time_call(fwd_bwd(compiled), device, repeat)
    relu = rows["relu"]
    return {
        "shape": list(shape),
        "compile_backend": backend,
        "ms": rows,
        "x_relu": {k: v / relu for k, v in rows.items()},
        "notes": notes,
    }


# --- pack steps -----------------------------------------------------------------------------------------


def section_pack_steps(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """ms per training step (forward + backward, eager) of K paper_cnn members, half ReLU half Rational:
    K lone models one after another vs one PackedCNN, the latter plain, channels-last, and on CUDA with
    cudnn.benchmark: which of these a pack's default should take (measured here, then chosen)."""
    b, c = (4, 4) if args.tiny else (100, 32)
    out: dict[str, Any] = {"batch": b, "channels": c, "ms": {}}
    for k in (5, 25):
        for name, ms in _pack_step_times(k, b, c, device, 2 if args.tiny else 10).items():
            out["ms"][f"k{k}/{name}"] = ms
    return out


def _pack_step_times(k: int, b: int, c: int, device: torch.device, repeat: int) -> dict[str, float]:
    import torch.nn.functional as F

    from actbench.config import load_config
    from actbench.models import build_model
    from actbench.pack.model import PackedCNN, member_losses

    acts = ["relu" if i % 2 else "rational" for i in range(k)]
    cfgs = [load_config(None, [f"activation.name={a}", f"model.channels=[{c},{c},{c}]"]) for a in acts]
    torch.manual_seed(0)
    members = [build_model(cf.model, cf.activation, 10, 32, 3).to(device) for cf in cfgs]
    order = sorted(range(k), key=lambda i: acts[i])  # equal activations adjacent, as pack.train orders them
    packed = PackedCNN([members[i] for i in order], [acts[i] for i in order], "max", [True] * k)
    x = torch.randn(b, k * 3, 32, 32, device=device)
    xcl = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (k, b), device=device)

    def lone() -> None:
        for i, m in enumerate(members):
            F.cross_entropy(m(x[:, 3 * i : 3 * i + 3]), y[i]).backward()

    def pack(xx: torch.Tensor) -> Any:
        return lambda: member_losses(packed(xx), y).sum().backward()

    ms = {"lone": time_call(lone, device, repeat), "pack": time_call(pack(x), device, repeat)}
    ms["pack_channels_last"] = time_call(pack(xcl), device, repeat)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        try:
            ms["pack_cudnn_benchmark"] = time_call(pack(x), device, repeat)
            ms["pack_channels_last_cudnn_benchmark"] = time_call(pack(xcl), device, repeat)
        finally:
            torch.backends.cudnn.benchmark = False
    return ms


# --- epochs ---------------------------------------------------------------------------------------------


def base_sets(args: argparse.Namespace, device: torch.device, images: int) -> list[str]:
    sets = [
        "data.name=synthetic",
        f"data.train_size={images + args.val}",
        f"data.val_size={args.val}",
        f"data.test_size={args.val}",
        f"train.device={device.type}",
    ]
    if args.tiny:
        sets.append("model.channels=[4,4,4]")
    return sets


MODES = {
    "eager": ["train.compile=false", "activation.fused=false"],
    "eager_triton": ["train.compile=false", "activation.fused=true"],
    "compiled": ["train.compile=true"],
    "compiled_triton": ["train.compile=true", "activation.fused=true"],
}


def default_mode(args: argparse.Namespace, device: torch.device) -> str:
    """The mode actbench's auto speed settings pick on `device` (CUDA: compiled)."""
    from actbench import session as S
    from actbench.config import load_config

    return (
        "compiled"
        if S.effective_speed(load_config(None, base_sets(args, device, 100)), device)["compile"]
        else "eager"
    )


def section_epochs(
    args: argparse.Namespace,
    device: torch.device,
    clock: Clock,
    which: str,
    done: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Steady epochs per unit; `which`: "default" (the auto mode only) or "others" (the other modes), added
    to `done` (the result of an earlier call)."""
    from actbench import session as S
    from actbench.config import load_config
    from actbench.training import loop as T

    if not hasattr(S.load_splits, "cache_info"):  # the same data for every row: generated once
        S.load_splits = functools.lru_cache(maxsize=1)(S.load_splits)
    images = args.epoch_images
    probe = torch.zeros(1, device=device)
    default = default_mode(args, device)
    modes = {m: v for m, v in MODES.items() if (m == default) == (which == "default")}
    res = done or {"images": images, "default_mode": default, "rows": {}, "skipped": {}}
    skipped = res["skipped"]
    for mode in ("eager_triton", "compiled_triton"):
        if mode in modes and not triton_kernels.available(probe):
            skipped[mode] = "triton not available here"
            del modes[mode]
    if "compiled" in modes and args.tiny and device.type == "cpu":
        skipped["compiled"] = "--tiny on the CPU (inductor's C++ compile takes minutes here)"
        del modes["compiled"]
    rows: dict[str, dict[str, Any]] = res["rows"]
    for mode, sets in modes.items():
        for act in ("relu", *UNITS):
            if not clock.fits(args.section_reserve * (3 if mode.startswith("compiled") else 1)):
                skipped[f"{mode}/{act}"] = "out of time"
                continue
            cfg = load_config(None, [*base_sets(args, device, images), f"activation.name={act}", *sets])
            s = S.make_session(cfg)
            hooks = T.Hooks()
            t0 = time.perf_counter()
            T.train_epoch(s, 1, hooks)  # warm-up: compile, CUDA graphs, allocator
            sync(s.device)
            warm = time.perf_counter() - t0
            times = []
            for e in range(2, 2 + args.epochs):
                t = time.perf_counter()
                T.train_epoch(s, e, hooks)
                sync(s.device)
                times.append(time.perf_counter() - t)
            rows[f"{mode}/{act}"] = {
                "epoch_s": statistics.median(times),
                "warmup_s": warm,
                "effective": s.speed,
            }
            print(f"  epoch {mode:13s} {act:12s} {statistics.median(times):8.3f} s  (warm-up {warm:.1f} s)")
            del s
    ratios = {}
    for mode in MODES:
        relu = rows.get(f"{mode}/relu")
        units = [rows.get(f"{mode}/{u}") for u in UNITS]
        if relu and all(units):
            ratios[mode] = max(u["epoch_s"] for u in units) / relu["epoch_s"]
    res["unit_epoch_ratio_per_mode"] = ratios
    return res


# --- packs and e2e: real sweeps in subprocesses -----------------------------------------------------------


def run_sweep(
    args: argparse.Namespace,
    device: torch.device,
    out: Path,
    name: str,
    acts: str,
    seeds: str,
    workers: int,
    pack: int | None,
    images: int,
    epochs: int,
    timeout: float,
) -> dict[str, Any]:
    """`actbench sweep` in a subprocess; per-run timing from the run folders, rates in run-epochs/s."""
    cmd = [
        sys.executable,
        "-m",
        "actbench",
        "sweep",
        "--acts",
        acts,
        "--seeds",
        seeds,
        "--workers",
        str(workers),
    ]
    cmd += ["--out", str(out), "--name", name, "--log-format", "text"]
    if pack:
        cmd += ["--pack", str(pack)]
    for s in [*base_sets(args, device, images), f"train.epochs={epochs}"]:
        cmd += ["--set", s]
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    t0 = time.perf_counter()
    log = out / f"{name}.log"
    with log.open("w") as fh:
        try:
            rc = subprocess.run(
                cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, timeout=timeout, check=False
            ).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    wall = time.perf_counter() - t0
    runs, packs = [], {}
    for summary in sorted((out / name).glob("*/summary.json")):
        d = json.loads(summary.read_text())
        env_json = summary.parent / "env.json"
        mates = json.loads(env_json.read_text()).get("packed_with", []) if env_json.exists() else []
        pack_times = d.get("pack_epoch_times") or []
        timing = d.get("timing") or {}
        runs.append({"run": summary.parent.name, "status": d.get("status"), "epochs": d.get("epochs_done")})
        if mates:  # one entry per pack: its whole epoch (training + every member's validation) for K members
            key = tuple(sorted([summary.parent.name, *(Path(m).name for m in mates)]))
            if len(pack_times) > 1:
                packs[key] = statistics.median(pack_times[1:])
        elif timing.get("steady_epoch_s"):
            packs[(summary.parent.name,)] = timing["steady_epoch_s"]
    # Concurrent units (processes) each deliver K run-epochs per epoch time: the summed rate.
    rate = sum(len(k) / t for k, t in packs.items() if t)
    done = sum(r["status"] == "completed" for r in runs)
    return {
        "command": " ".join(cmd[1:]),
        "rc": rc,
        "wall_s": wall,
        "runs": len(runs),
        "completed": done,
        "epochs": epochs,
        "images": images,
        "units": [{"members": len(k), "epoch_s": t} for k, t in packs.items()],
        "run_epochs_per_s": rate,
        "run_epochs_per_s_at_50k": rate * images / FULL_IMAGES,  # one run-epoch of 50,000 images
    }


ALL_ACTS = "relu,elu,prelu,rational,exponential"
SEEDS5 = "0,1,2,3,4"
# name -> (acts, seeds, workers, pack). On a GPU: 5 plain workers sharing the card (the baseline),
# five packs of 5 in five processes, one pack of all 25. --tiny: the same code paths with fewer runs.
ARRANGEMENTS = {
    "workers5": (ALL_ACTS, "0", 5, None),
    "pack5x5": (ALL_ACTS, SEEDS5, 5, 5),
    "pack25": (ALL_ACTS, SEEDS5, 1, 25),
}
TINY_ARRANGEMENTS = {
    "workers5": ("relu,rational", "0", 2, None),
    "pack5x5": ("relu,rational,exponential", "0", 1, 5),
}


def section_packs(args: argparse.Namespace, device: torch.device, clock: Clock, tmp: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, (acts, seeds, workers, pack) in (TINY_ARRANGEMENTS if args.tiny else ARRANGEMENTS).items():
        if not clock.fits(args.sweep_reserve):
            results[name] = {"skipped": "out of time"}
            continue
        timeout = max(10.0, min(args.sweep_timeout, clock.left() - 20))
        results[name] = r = run_sweep(
            args, device, tmp, name, acts, seeds, workers, pack, args.pack_images, args.pack_epochs, timeout
        )
        print(f"  {name:9s} {r['completed']}/{r['runs']} runs, {r['run_epochs_per_s']:.2f} run-epochs/s "
              f"({r['images']} images), wall {r['wall_s']:.1f} s")  # fmt: skip
    base = results.get("workers5", {}).get("run_epochs_per_s")
    packed = {
        k: v["run_epochs_per_s"] for k, v in results.items() if k != "workers5" and v.get("run_epochs_per_s")
    }
    best = max(packed, key=packed.get) if packed else None
    return {
        "arrangements": results,
        "best_pack": best,
        "pack_vs_workers": packed[best] / base if best and base else None,
    }


def section_e2e(
    args: argparse.Namespace, device: torch.device, clock: Clock, tmp: Path, packs: dict[str, Any]
) -> dict[str, Any]:
    """The 25 runs (5 activations x 5 seeds; --tiny: 5 x 1) for a few epochs on small data, with the fastest
    arrangement of the packs section (plain workers: five at a time)."""
    arr = packs.get("arrangements", {})
    rates = {k: v.get("run_epochs_per_s") or 0 for k, v in arr.items() if "skipped" not in v}
    best = max(rates, key=rates.get) if rates and max(rates.values()) else "pack25"
    _, _, workers, pack = ARRANGEMENTS.get(best, ARRANGEMENTS["pack25"])
    seeds = "0" if args.tiny else SEEDS5
    if args.tiny:
        workers, pack = 1, 5
    elif arr.get(best, {}).get("runs") == TABLE2_RUNS:  # that sweep already was the 25-run protocol
        return {**arr[best], "arrangement": best, "reused": f"the packs section's {best} sweep"}
    if not clock.fits(args.sweep_reserve):
        return {"skipped": "out of time", "arrangement": best}
    timeout = max(10.0, clock.left() - 10)
    r = run_sweep(
        args, device, tmp, "e2e", ALL_ACTS, seeds, workers, pack, args.e2e_images, args.e2e_epochs, timeout
    )
    r["arrangement"] = f"--workers {workers}" + (f" --pack {pack}" if pack else "")
    print(f"  e2e ({r['arrangement']}) {r['completed']}/{r['runs']} runs x {r['epochs']} epochs, "
          f"wall {r['wall_s']:.1f} s")  # fmt: skip
    return r


def table2_minutes(packs: dict[str, Any], e2e: dict[str, Any]) -> dict[str, Any]:
    """25 runs x 200 epochs of 50,000 images: measured if an e2e sweep did exactly that, else extrapolated."""
    if (
        e2e.get("runs") == TABLE2_RUNS
        and e2e.get("epochs") == TABLE2_EPOCHS
        and e2e.get("images") == FULL_IMAGES
    ):
        return {"value": e2e["wall_s"] / 60, "how": "measured", "from": "e2e wall"}
    arr = packs.get("arrangements", {})
    rates = {k: v.get("run_epochs_per_s_at_50k") or 0 for k, v in arr.items() if "skipped" not in v}
    if not rates or not max(rates.values()):
        return {"value": None, "how": "not measured", "from": "no packs section"}
    best = max(rates, key=rates.get)
    steady = TABLE2_RUNS * TABLE2_EPOCHS / rates[best]
    warm = 0.0
    if e2e.get("wall_s") and e2e.get("run_epochs_per_s"):  # what the e2e sweep spent beyond its steady epochs
        run_epochs = (e2e.get("completed") or 0) * e2e["epochs"]
        warm = max(0.0, e2e["wall_s"] - run_epochs / e2e["run_epochs_per_s"])
    return {
        "value": (warm + steady) / 60,
        "how": "extrapolated",
        "from": f"steady rate of {best} ({rates[best]:.3f} run-epochs/s at 50k images) x {TABLE2_RUNS}x"
        f"{TABLE2_EPOCHS} run-epochs + e2e warm-up {warm:.1f} s",
    }


# --- main -----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiny", action="store_true", help="tiny sizes (a CPU smoke test, ~1-2 minutes)")
    p.add_argument("--device", default="auto")
    p.add_argument("--budget-s", type=float, default=420.0, help="time box for all sections")
    p.add_argument("--sections", default="acts,pack_steps,epochs,packs,e2e")
    p.add_argument("--json", type=Path, help="default: benchmarks/results/<device>-speed.json")
    a = p.parse_args(argv)
    dev = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if a.device == "auto" else a.device)
    tiny = a.tiny
    # Sizes, GPU (a 420 s box on an H100/H200; compile warm-ups dominate) / --tiny (CPU smoke test):
    a.val = 50 if tiny else 5000
    a.epoch_images = 200 if tiny else 25_000  # epochs section: 1 warm-up + a.epochs timed, per row
    a.epochs = 1 if tiny else 2
    a.pack_images = 100 if tiny else 25_000  # packs section: steady rates are scaled to 50,000 images
    a.pack_epochs = 2 if tiny else 3
    a.e2e_images = 100 if tiny else 10_000
    a.e2e_epochs = 1 if tiny else 3
    a.sweep_timeout = 120.0 if tiny else 150.0  # one sweep at most
    a.section_reserve = 5.0 if tiny else 20.0  # an epochs row starts only with this much left (compiled: 3x)
    a.sweep_reserve = 5.0 if tiny else 60.0  # a sweep starts only with this much left
    if tiny:
        torch.set_num_threads(min(2, torch.get_num_threads()))
    clock = Clock(a.budget_s)
    out = a.json or REPO / "benchmarks" / "results" / f"{device_name(dev)}-speed.json"
    res: dict[str, Any] = {
        "device": device_name(dev),
        "device_full": torch.cuda.get_device_name(dev)
        if dev.type == "cuda"
        else platform.processor() or "cpu",
        "torch": torch.__version__,
        "tiny": tiny,
        "budget_s": a.budget_s,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    sections = a.sections.split(",")

    def save() -> None:
        res["elapsed_s"] = a.budget_s - clock.left()
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(res, indent=2, default=str) + "\n")

    with tempfile.TemporaryDirectory(prefix="actbench-speed-") as tmp:
        if "acts" in sections:
            print("== acts: forward + backward vs ReLU")
            res["acts"] = section_acts(a, dev)
            for k, v in res["acts"]["x_relu"].items():
                print(f"  {k:32s} {res['acts']['ms'][k]:8.3f} ms  {v:5.2f}x relu")
            save()
        if "pack_steps" in sections:
            print("== pack steps: K lone models vs one packed model, eager, per variant")
            res["pack_steps"] = section_pack_steps(a, dev)
            for key, ms in res["pack_steps"]["ms"].items():
                print(f"  {key:40s} {ms:8.2f} ms")
            save()
        if "epochs" in sections:  # the default path first: unit_epoch_ratio needs it; the others at the end
            print("== epochs: steady training epoch per unit, default mode")
            res["epochs"] = ep = section_epochs(a, dev, clock, "default")
            res["unit_epoch_ratio"] = ep["unit_epoch_ratio_per_mode"].get(ep["default_mode"])
            save()
        if "packs" in sections:
            print("== packs: run-epochs/s, plain workers vs packs")
            res["packs"] = section_packs(a, dev, clock, Path(tmp))
            res["pack_vs_workers"] = res["packs"]["pack_vs_workers"]
            save()
        if "e2e" in sections:
            print(f"== e2e: {TABLE2_RUNS}-run protocol on small data")
            res["e2e"] = section_e2e(a, dev, clock, Path(tmp), res.get("packs", {}))
            save()
        res["table2_5seeds_minutes"] = table2_minutes(res.get("packs", {}), res.get("e2e", {}))
        save()
        if "epochs" in sections:
            print("== epochs: the other modes (what the CUDA defaults are chosen from)")
            res["epochs"] = section_epochs(a, dev, clock, "others", res["epochs"])
            save()
    t2 = res["table2_5seeds_minutes"]
    print(
        f"unit_epoch_ratio {res.get('unit_epoch_ratio')}  pack_vs_workers {res.get('pack_vs_workers')}  "
        f"table2_5seeds_minutes {t2['value']} ({t2['how']})"
    )
    print(f"wrote {out} in {res['elapsed_s']:.0f} s")
    return res


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
