"""Benchmark your own activation with actbench, without editing actbench.

1. Write an ``nn.Module`` class (or a factory returning one). actbench calls it with the keyword
   arguments its signature takes: ``channels`` (the layer's output channels; dim 1 of the input),
   ``sharing`` ("layer" or "channel"), ``init`` (only when the config sets one) and any
   ``activation.params``. Its ``nn.Parameter``s are learned, logged per epoch, reported and plotted.
   Dim 0 of each parameter is the sharing group (1 per layer, or C per channel).
2. Declare ``non_decreasing = True`` only if the function is non-decreasing for every parameter value:
   actbench then max-pools before it where that is exact (4x less activation work).
3. Use it by import path (the module must be importable: here ``PYTHONPATH=examples``)::

       PYTHONPATH=examples actbench train --config quickstart --set activation.name=custom_activation:Snake
       PYTHONPATH=examples actbench sweep --acts relu,custom_activation:Snake --seeds 0,1,2

   or register a name from an installed package, in its pyproject.toml::

       [project.entry-points."actbench.activations"]
       snake = "my_package.acts:Snake"

   after which ``pip install my-package`` makes ``actbench acts`` list ``snake`` and
   ``activation.name: snake`` work.

Run this file to train the quick-start model with Snake (2,000 images, 2 epochs) and print the
learned α per layer:
``PYTHONPATH=. python examples/custom_activation.py`` (from the repository root).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn


class Snake(nn.Module):
    """x + sin²(αx)/α (Ziyin, Hartwig & Ueda 2020), α per layer or per output channel."""

    non_decreasing = True  # d/dx = 1 + sin(2αx) >= 0 for every α: pooling first is exact

    def __init__(self, channels: int, sharing: str = "layer", init: float = 1.0):
        super().__init__()
        groups = channels if sharing == "channel" else 1
        self.alpha = nn.Parameter(torch.full((groups,), float(init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (C,) -> (C, 1, ..., 1) to broadcast over dim 1 of (N, C) or (N, C, H, W)
        a = self.alpha.view(-1, *([1] * (x.dim() - 2))) if self.alpha.numel() > 1 else self.alpha
        a = a.to(x.dtype)
        return x + torch.sin(a * x) ** 2 / a


def main(out: str = "runs") -> None:
    from actbench.config import load_config
    from actbench.training import loop as train

    sys.path.insert(0, str(Path(__file__).resolve().parent))  # so "custom_activation:Snake" imports
    sets = ["activation.name=custom_activation:Snake", "train.epochs=2", "data.train_size=2000"]
    cfg = load_config("quickstart", sets)
    run_dir = train.create_run(cfg, Path(out), "custom-snake", force=True)
    summary = train.run_training(run_dir)
    print(f"{summary['status']}: test accuracy {summary['last']['test_acc']:.3f}")
    for layer, params in summary["learned"].items():
        print(layer, {k: [round(v, 3) for v in vals] for k, vals in params.items()})


if __name__ == "__main__":
    main(*sys.argv[1:])
