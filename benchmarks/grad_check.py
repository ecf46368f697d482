"""Do the paper's units pass their gradients when the model is compiled? (issue 21's GPU sweep: they did not)

For each of rational and exponential, one batch through the preset network (paper_cnn with the hidden
layers) forward and backward: eager, compiled as actbench compiles it now, and compiled with the autograd
Function traced as before the fix (`--old`). Prints, per variant, the parameters that got no gradient
(`models.params_without_gradient`, what the training guard reads) and the largest gradient difference
from eager, relative to the largest eager gradient.

    python benchmarks/grad_check.py [--device cuda] [--mode reduce-overhead] [--old]
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
import torch.nn.functional as F

from actbench.activations import functional as FN
from actbench.config import load_config
from actbench.models import build_model, params_without_gradient


def grads(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> dict[str, torch.Tensor]:
    for _ in range(steps):  # CUDA graphs record on a later call than the first: compare the last
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
    base = getattr(model, "_orig_mod", model)
    missing = sum(params_without_gradient(base), [])
    print(f"    no gradient: {missing or 'none'}")
    return {n: p.grad.detach().clone() for n, p in base.named_parameters() if p.grad is not None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--mode", default="reduce-overhead")
    ap.add_argument("--old", action="store_true", help="also the autograd Function traced (before the fix)")
    args = ap.parse_args()
    dev = torch.device(args.device)
    print(f"torch {torch.__version__} on {dev}, compile mode {args.mode}")
    for act in ("rational", "exponential"):
        cfg = load_config("cifar10_relu", [f"activation.name={act}", "model.hidden=[384,192]"])
        torch.manual_seed(0)
        eager = build_model(cfg.model, cfg.activation, 10, 24).to(dev)
        x, y = torch.randn(100, 3, 24, 24, device=dev) * 2, torch.randint(0, 10, (100,), device=dev)
        print(f"{act}: eager")
        ref = grads(eager, x, y, 1)
        scale = max(g.abs().max().item() for g in ref.values())
        variants = [("compiled", False)] + ([("compiled, Function traced (old)", True)] if args.old else [])
        for label, old in variants:
            torch._dynamo.reset()
            saved = FN._apply
            if old:  # what actbench did before: the autograd Function inside the traced graph
                FN._apply = lambda v, a, e, m, f: FN._NegRationalFn.apply(v, FN._broadcast_a(v, a), e, m, f)
            try:
                t = time.perf_counter()
                print(f"{act}: {label}")
                got = grads(torch.compile(copy.deepcopy(eager), mode=args.mode), x, y, 3)
            finally:
                FN._apply = saved
            diff = max((got[n] - g).abs().max().item() if n in got else float("inf") for n, g in ref.items())
            a = {n: [round(v, 6) for v in g[:3].tolist()] for n, g in got.items() if n.endswith(".a")}
            print(
                f"    max |grad - eager| / max |eager grad| = {diff / scale:.2e}; grad of a: {a}; "
                f"{time.perf_counter() - t:.1f}s"
            )


if __name__ == "__main__":
    main()
