"""Stronger learnable baselines: the Padé Activation Unit and Swish with a learnable β.

Registered in ``actbench.activations.ACTIVATIONS`` like the paper's units, with the same ``sharing``
scopes. Parameter layout (the convention ``actbench.models.learned_parameters`` reads): dim 0 is the
sharing group, size 1 (``layer``) or C (``channel``, dim 1 of the input); further dims index distinct
coefficients, each logged on its own (``p[0]`` ... ``p[5]``, ``q[0]`` ... ``q[3]``).

PAU: A. Molina, P. Schramowski, K. Kersting, "Padé Activation Units: End-to-end Learning of Flexible
Activation Functions in Deep Networks", ICLR 2020 (arXiv:1907.06732). The "safe" PAU of degrees (m, n) =
(5, 4) is

    F(x) = (p_0 + p_1 x + ... + p_5 x^5) / (1 + |q_1|·|x| + |q_2|·|x|^2 + |q_3|·|x|^3 + |q_4|·|x|^4),

whose denominator is >= 1, so F has no poles. ``q[k-1]`` holds q_k. The default initial coefficients are
the authors' least-squares fit of leaky ReLU ("pade_optimized_leakyrelu" in github.com/ml-research/pau,
pau/cuda/python_imp/Pade.py, the init their ``PAU()`` uses), as published.

Swish-β: P. Ramachandran, B. Zoph, Q. V. Le, "Searching for Activation Functions", 2017
(arXiv:1710.05941): f(x) = x·σ(βx) with β trainable, initialised to 1 (= SiLU); β → ∞ approaches ReLU,
β = 0 gives x/2.
"""

from __future__ import annotations

import torch
from torch import nn

# Leaky-ReLU fit of Molina et al. (ml-research/pau, "pade_optimized_leakyrelu"): p_0..p_5 and q_1..q_4.
PAU_LEAKY_RELU_P = (
    3.35583603e-02,
    5.05000375e-01,
    1.65343934e00,
    2.01001052e00,
    9.31901999e-01,
    1.52424124e-01,
)
PAU_LEAKY_RELU_Q = (3.30847488e-06, 3.98021568e00, 5.12471206e-07, 3.01830109e-01)


def _group_view(coef: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(G,) coefficient -> broadcastable with x: (1,) stays, (C,) becomes (C, 1, ..., 1) for dim 1 of x."""
    if coef.numel() == 1:
        return coef.reshape(1)
    if x.dim() < 2 or x.shape[1] != coef.numel():
        raise ValueError(f"channel-shared parameters: {coef.numel()} values, input {tuple(x.shape)}")
    return coef.view(-1, *([1] * (x.dim() - 2)))


def pau(x: torch.Tensor, p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Safe PAU F(x) (module docstring); p: (G, 6), q: (G, 4), G = 1 or C. Horner in x and in |x|."""
    p, q = p.to(x.dtype), q.to(x.dtype).abs()
    num = _group_view(p[:, -1], x)
    for j in range(p.shape[1] - 2, -1, -1):
        num = num * x + _group_view(p[:, j], x)
    ax = x.abs()
    den = _group_view(q[:, -1], x) * ax
    for k in range(q.shape[1] - 2, -1, -1):
        den = (den + _group_view(q[:, k], x)) * ax
    return num / (den + 1)


class PAU(nn.Module):
    """Safe Padé Activation Unit of degrees (5, 4) (Molina et al. 2020); init approximates leaky ReLU."""

    def __init__(self, channels: int, sharing: str):
        super().__init__()
        self.sharing = sharing
        g = channels if sharing == "channel" else 1
        self.p = nn.Parameter(torch.tensor(PAU_LEAKY_RELU_P, dtype=torch.float32).repeat(g, 1))
        self.q = nn.Parameter(torch.tensor(PAU_LEAKY_RELU_Q, dtype=torch.float32).repeat(g, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pau(x, self.p, self.q)

    def extra_repr(self) -> str:
        return f"sharing={self.sharing}, degrees=(5, 4), groups={self.p.shape[0]}"


class SwishBeta(nn.Module):
    """Swish x·σ(βx) with a learnable β (Ramachandran et al. 2017), (1,) per layer or (C,) per channel."""

    def __init__(self, channels: int, sharing: str, init: float):
        super().__init__()
        self.sharing = sharing
        n = channels if sharing == "channel" else 1
        self.beta = nn.Parameter(torch.full((n,), float(init), dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        beta = _group_view(self.beta, x).to(x.dtype)
        return x * torch.sigmoid(beta * x)

    def extra_repr(self) -> str:
        return f"sharing={self.sharing}, num_beta={self.beta.numel()}"
