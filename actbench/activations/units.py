"""The paper's learnable units as modules: PReLU, Rational, Exponential, one float32 parameter ``a``
shared by the layer (shape (1,)) or by each output channel (shape (C,), dim 1 of the input)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from actbench.activations.functional import RATIONAL_A_MIN, exponential, prepare_fused, rational


class Learnable(nn.Module):
    """Base of the learnable units: one float32 parameter ``a``, (1,) per layer or (C,) per channel."""

    def __init__(self, channels: int, sharing: str, init: float):
        super().__init__()
        self.sharing = sharing
        n = channels if sharing == "channel" else 1
        self.a = nn.Parameter(torch.full((n,), float(init), dtype=torch.float32))

    def extra_repr(self) -> str:
        return f"sharing={self.sharing}, num_a={self.a.numel()}"


class PReLU(Learnable):
    """PReLU (He et al. 2015; paper eq. 1): v for v > 0, a·v otherwise. torch.nn.functional.prelu."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.prelu(x, self.a.to(x.dtype))  # F.prelu needs matching dtypes (bfloat16 inputs)


class Rational(Learnable):
    """Rational unit of Enomoto, Kakuda & Miura (paper eq. 5); see :func:`rational`."""

    def __init__(
        self, channels: int, sharing: str, init: float, fused: bool = False, a_min: float = RATIONAL_A_MIN
    ):
        super().__init__(channels, sharing, init)
        self.fused, self.a_min = fused, float(a_min)
        if fused:
            prepare_fused()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rational(x, self.a, self.a_min, self.fused)


class Exponential(Learnable):
    """Exponential unit of Enomoto, Kakuda & Miura (paper eq. 6); see :func:`exponential`."""

    def __init__(self, channels: int, sharing: str, init: float, fused: bool = False):
        super().__init__(channels, sharing, init)
        self.fused = fused
        if fused:
            prepare_fused()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return exponential(x, self.a, self.fused)


def activation_parameters(module: nn.Module) -> dict[str, torch.Tensor]:
    """Learnable parameters of one activation module (any module: its own ``nn.Parameter``s, dotted names
    for submodules), e.g. {"a": Parameter of shape (1,) or (C,)}. Frozen ones (requires_grad False) are
    left out. Empty for parameter-free activations. These are the live parameters: detach before storing.
    """
    return {k: p for k, p in module.named_parameters() if p.requires_grad}
