"""Figures (matplotlib, Agg canvas: no display, no pyplot global state)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from actbench.activations import get_spec, make_activation, validate_activation


def activation_curve(
    name: str, v: torch.Tensor, a: float | None = None, params: dict[str, Any] | None = None
) -> torch.Tensor:
    """h(v) of the activation `name` for the inputs `v` (1-D, any float dtype), one layer-shared module with
    its one learnable parameter (``a``; Swish-beta's ``beta``) set to `a` (None: the registry's default
    init) and fixed `params`. The one place both the `acts --plot` figure (several a per activation) and
    the report's learned shapes compute it."""
    module = make_activation(name, 1, sharing="layer", **(params or {})).to(v.dtype)
    with torch.no_grad():
        if a is not None:
            learnable = dict(module.named_parameters())
            if len(learnable) != 1:
                raise ValueError(f"{name}: has {len(learnable)} learnable parameters, not one `a` to set")
            next(iter(learnable.values())).fill_(a)
        return module(v.view(-1, 1)).flatten()  # (N, C=1): broadcasts with any sharing


def plot_activation_curves(names: list[str], a_values: list[float], path: str | Path) -> Path:
    """Paper Fig. 1 style: h(v) on v ∈ [−6, 4], one panel per activation, one curve per ``a``.

    Activations without a learnable parameter get a single curve; ``a`` values an activation rejects
    (Rational's a <= 0, at its pole) are skipped and named in that panel's title. Returns ``path``.
    """
    path = Path(path)
    v = torch.linspace(-6, 4, 501, dtype=torch.float64)
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig = Figure(figsize=(4.2 * cols, 3.4 * rows), layout="constrained")
    FigureCanvasAgg(fig)
    for i, name in enumerate(names):
        spec = get_spec(name)
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.axhline(0, color="0.8", lw=0.8)
        ax.axvline(0, color="0.8", lw=0.8)
        one_a = spec.params and spec.init is not None  # PAU's coefficients are not one `a`
        inits: list[float | None] = list(a_values) if one_a else [None]
        skipped = [a for a in inits if a is not None and not _valid(name, a)]
        for a in (a for a in inits if a not in skipped):
            h = activation_curve(name, v, a)
            ax.plot(v.numpy(), h.numpy(), lw=1.5, label=None if a is None else f"a = {a:g}")
        title = f"{name}: {spec.formula}"
        if skipped:
            title += f"\n(a = {', '.join(f'{a:g}' for a in skipped)} not allowed)"
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("v")
        ax.set_ylabel("h(v)")
        ax.set_ylim(-4, 4)
        if one_a and len(skipped) < len(inits):
            ax.legend(fontsize=8, loc="upper left")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path


def _valid(name: str, a: float) -> bool:
    try:
        validate_activation(name, "layer", a, {})
    except ValueError:
        return False
    return True
