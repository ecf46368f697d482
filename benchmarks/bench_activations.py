"""Speed and memory of every registered activation: forward + backward on one (N, C, H, W) tensor.

    python benchmarks/bench_activations.py                  # float32 (100, 32, 32, 32), the paper's batch
    python benchmarks/bench_activations.py --quick          # tiny shape, few repeats: CI smoke test
    python benchmarks/bench_activations.py --json out.json  # also write the table as JSON

Per row: median ms of ``y = act(x); autograd.grad(y, [x, *params], g)`` (rows timed round-robin, so
load from other processes hits every row alike), its ratio to ReLU, the bytes the activation keeps alive
for backward (counted with ``torch.autograd.graph.saved_tensors_hooks``, in units of one input-sized
tensor) and the peak of tensors allocated during one forward + backward (same units; counted through a
TorchDispatchMode, so not measured for torch.compile'd kernels). Modes: ``eager`` (the registered
module), ``fused`` (``fused=True``: torch.compile'd kernels; first-call compile time reported),
``autograd`` (naive ``torch.where`` formula with autograd, for reference).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import weakref
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from actbench.activations import ACTIVATIONS, make_activation  # noqa: E402

FUSABLE = ("rational", "exponential")


class _Naive(torch.nn.Module):
    """Plain-autograd paper formula (eqs. 5, 6) with torch.where: the slow reference implementation."""

    def __init__(self, exponential: bool, channels: int, sharing: str, init: float):
        super().__init__()
        self.exponential = exponential
        self.a = torch.nn.Parameter(torch.full((channels if sharing == "channel" else 1,), init))

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        a = self.a if self.a.numel() == 1 else self.a.view(-1, *([1] * (v.dim() - 2)))
        k = a.exp() if self.exponential else a
        return torch.where(v >= 0, v, k * v / (k - v))


class _AllocTracker(TorchDispatchMode):
    """Peak bytes of storages created by aten ops while active. A storage counts from the first op that
    returns it until the last tracked tensor on it is garbage-collected (tensor finalizers)."""

    def __init__(self) -> None:
        super().__init__()
        self.live = self.peak = 0
        self._refs: dict[int, int] = {}  # storage data_ptr -> number of live tracked tensors on it
        self._tensors: set[int] = set()  # id() of tracked tensors (in-place ops return the same object)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor) and id(t) not in self._tensors:
                ptr, size = t.untyped_storage().data_ptr(), t.untyped_storage().nbytes()
                if ptr not in self._refs:
                    self._refs[ptr] = 0
                    self.live += size
                    self.peak = max(self.peak, self.live)
                self._refs[ptr] += 1
                self._tensors.add(id(t))
                weakref.finalize(t, self._release, id(t), ptr, size)
        return out

    def _release(self, tid: int, ptr: int, size: int) -> None:
        self._tensors.discard(tid)
        self._refs[ptr] -= 1
        if self._refs[ptr] == 0:
            del self._refs[ptr]
            self.live -= size


def _saved_bytes(module: torch.nn.Module, x: torch.Tensor) -> int:
    """Bytes of distinct storages saved for backward by one forward call."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        module(x)
    return sum(seen.values())


def _step(module: torch.nn.Module, x: torch.Tensor, g: torch.Tensor) -> None:
    y = module(x)
    torch.autograd.grad(y, [x, *module.parameters()], g)
    if x.is_cuda:
        torch.cuda.synchronize()


def _prepare(module: torch.nn.Module, x: torch.Tensor, g: torch.Tensor, track: bool) -> dict:
    """First-call time (includes torch.compile for fused modules), saved bytes and peak allocation."""
    t0 = time.perf_counter()
    _step(module, x, g)
    first_s = time.perf_counter() - t0
    _step(module, x, g)
    tracker = _AllocTracker()
    if track:  # not for compiled kernels: they allocate outside the dispatcher (and would recompile)
        with tracker:
            _step(module, x, g)
    input_bytes = x.numel() * x.element_size()
    return {
        "first_call_s": first_s,
        "saved_x_input": _saved_bytes(module, x) / input_bytes,
        "peak_alloc_x_input": tracker.peak / input_bytes if track else None,
    }


def _median_ms(
    modules: list[torch.nn.Module], x: torch.Tensor, g: torch.Tensor, repeat: int, sequential: bool = False
) -> list[float]:
    """Round-robin over all modules, ``repeat`` rounds: load from other processes hits every row alike.
    ``sequential``: all repeats of one row back to back (warm caches and allocator, as inside a training
    loop that calls the same layer every step; best on a quiet machine)."""
    times: list[list[float]] = [[] for _ in modules]
    order = [(i, m) for i, m in enumerate(modules) for _ in range(repeat)] if sequential else None
    rounds = [order] if sequential else [list(enumerate(modules))] * repeat
    for rnd in rounds:
        for i, module in rnd:
            t0 = time.perf_counter()
            _step(module, x, g)
            times[i].append(time.perf_counter() - t0)
    return [statistics.median(t) * 1e3 for t in times]


def _cases(names: list[str], fused: bool) -> list[tuple[str, str, str]]:
    """(name, sharing, mode) rows; sharing "-" for activations without a learnable parameter."""
    rows = []
    for name in names:
        sharings = ("layer", "channel") if ACTIVATIONS[name].supports_sharing else ("-",)
        for sharing in sharings:
            rows.append((name, sharing, "eager"))
            if name in FUSABLE:
                rows.append((name, sharing, "autograd"))
                if fused:
                    rows.append((name, sharing, "fused"))
    return rows


def _build(name: str, sharing: str, mode: str, channels: int) -> torch.nn.Module:
    if mode == "autograd":
        return _Naive(name == "exponential", channels, sharing, ACTIVATIONS[name].init)
    return make_activation(name, channels, "layer" if sharing == "-" else sharing, fused=mode == "fused")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", default="100,32,32,32", help="N,C,H,W of the float32 input")
    p.add_argument("--repeat", type=int, default=30, help="timed repetitions (median reported)")
    p.add_argument("--sequential", action="store_true", help="time each row's repeats back to back")
    p.add_argument("--quick", action="store_true", help="tiny shape (4,8,8,8), 3 repeats, no fused rows")
    p.add_argument("--no-fused", action="store_true", help="skip the torch.compile'd rows")
    p.add_argument("--names", default=",".join(ACTIVATIONS), help="comma-separated activations")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    shape = (4, 8, 8, 8) if args.quick else tuple(int(s) for s in args.shape.split(","))
    repeat = 3 if args.quick else args.repeat
    names = [n.strip() for n in args.names.split(",") if n.strip()]
    unknown = [n for n in names if n not in ACTIVATIONS]
    if unknown:
        p.error(f"unknown activation(s) {unknown}; valid: {', '.join(ACTIVATIONS)}")

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(shape, device=args.device, requires_grad=True)
    g = torch.randn(shape, device=args.device)
    cases = _cases(names, fused=not (args.quick or args.no_fused))
    modules = [_build(name, sharing, mode, shape[1]).to(args.device) for name, sharing, mode in cases]
    results = [
        {"name": name, "sharing": sharing, "mode": mode, **_prepare(m, x, g, track=mode != "fused")}
        for (name, sharing, mode), m in zip(cases, modules, strict=True)
    ]
    for r, ms in zip(results, _median_ms(modules, x, g, repeat, args.sequential), strict=True):
        r["ms"] = ms
    relu_ms = next((r["ms"] for r in results if r["name"] == "relu"), None)
    for r in results:
        r["x_relu"] = r["ms"] / relu_ms if relu_ms else None

    threads = torch.get_num_threads()
    print(f"input {shape} float32 on {args.device}, torch {torch.__version__}, {threads} threads")
    head = ("activation", "sharing", "mode", "ms", "x relu", "saved", "peak", "1st s")
    print("{:12} {:8} {:8} {:>8} {:>7} {:>6} {:>6} {:>6}".format(*head))
    for r in results:
        ratio = "-" if r["x_relu"] is None else f"{r['x_relu']:.2f}"
        peak = "n/a" if r["peak_alloc_x_input"] is None else f"{r['peak_alloc_x_input']:.2f}"
        print(
            f"{r['name']:12} {r['sharing']:8} {r['mode']:8} {r['ms']:8.2f} {ratio:>7} "
            f"{r['saved_x_input']:6.2f} {peak:>6} {r['first_call_s']:6.2f}"
        )
    print("saved / peak: bytes kept for backward / peak allocated in fwd+bwd, in units of the input size")
    if args.json:
        meta = {"shape": list(shape), "device": args.device, "torch": torch.__version__}
        meta |= {"threads": threads, "machine": platform.machine(), "repeat": repeat}
        args.json.write_text(json.dumps({**meta, "results": results}, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
