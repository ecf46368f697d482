"""Model cost: parameter count and multiply-accumulates (MACs) per image, counted with forward hooks."""

from __future__ import annotations

import torch
from torch import nn


def parameter_count(model: nn.Module) -> int:
    """All parameters, activation parameters included."""
    return sum(p.numel() for p in model.parameters())


def macs_per_image(model: nn.Module, input_shape: tuple[int, int, int]) -> int:
    """MACs of one forward pass for one (C, H, W) image, counting Conv2d and Linear layers only
    (weights x output positions; biases, norms, pooling and activations are not multiply-accumulates
    of a weight and are left out, as usual). Runs one no-grad forward in eval mode on a zero image on
    the model's device and restores the training mode, so running statistics are untouched."""
    total = 0

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        assert isinstance(module.weight, torch.Tensor)
        per_out = module.weight[0].numel()  # conv: C_in/groups * kh * kw; linear: in_features
        total += per_out * out[0].numel()  # output values of the one image in the batch

    handles = [
        m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, *input_shape, device=device))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return int(total)


def try_macs_per_image(model: nn.Module, input_shape: tuple[int, int, int]) -> int | None:
    """macs_per_image, or None when the forward pass fails (a run that ends `failed` still gets a summary)."""
    try:
        return macs_per_image(model, input_shape)
    except Exception:  # whatever broke training may break this forward too; the cost is then unknown
        return None
