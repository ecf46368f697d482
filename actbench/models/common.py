"""Helpers every network shares: the activation factory call, pool-first resolution, learned parameters."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import torch
from torch import nn

from actbench.activations import activation_parameters, commutes_with_max_pool, make_activation
from actbench.config import ActivationConfig, ModelConfig


def make_act(cfg: ActivationConfig, channels: int) -> nn.Module:
    """A fresh activation for a layer with `channels` outputs: sharing, init and params from the config."""
    return make_activation(
        cfg.name, channels, sharing=cfg.sharing, init=cfg.init, fused=bool(cfg.fused), **dict(cfg.params)
    )


def fc_layers(
    width: int, widths: tuple[int, ...] | list[int], dropout: float, new_act: Callable[[str, int], nn.Module]
) -> tuple[list[nn.Module], int]:
    """[Linear -> activation -> [Dropout]] per hidden width, from `width` inputs; each activation comes from
    `new_act("fc1", h)`, `new_act("fc2", h)`, ... (Network.new_act) -> (layers, output width)."""
    layers: list[nn.Module] = []
    for j, h in enumerate(widths, start=1):
        layers += [nn.Linear(width, h), new_act(f"fc{j}", h)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = h
    return layers, width


class Network(nn.Module):
    """Base of every network: one constructor signature (model config, activation config, num_classes,
    image_size, in_channels) and ``activations()``: {layer name: activation module} in network order, the
    names reports and logs use. Subclasses build each activation with ``self.new_act(name, channels)``;
    the modules are also held in a plain dict (not registered twice), so state_dict keys stay those of
    earlier actbench versions and old checkpoints load."""

    _acts: dict[str, nn.Module]  # set through __dict__ in __init__ (not registered as submodules)
    _act_cfg: ActivationConfig

    def __init__(
        self, model: ModelConfig, act: ActivationConfig, num_classes: int, image_size: int = 32,
        in_channels: int = 3,
    ):  # fmt: skip
        super().__init__()
        self.__dict__["_acts"] = {}  # layer name -> activation module (network order)
        self.__dict__["_act_cfg"] = act

    def new_act(self, name: str, channels: int) -> nn.Module:
        """A fresh activation module for the layer `name` with `channels` outputs (see make_act)."""
        self._acts[name] = make_act(self._act_cfg, channels)
        return self._acts[name]

    def activations(self) -> dict[str, nn.Module]:
        return dict(self._acts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - every network defines it
        raise NotImplementedError


POOLED = ("paper_cnn", "vgg_small")  # networks with a pooling right after an activation


def resolve_pool_first(model: ModelConfig, act: ActivationConfig) -> bool:
    """model.pool_first, with null resolved to "whenever it is exact" (see commutes_with_max_pool); always
    False for networks with no pooling after an activation (resnet20, mlp): there is nothing to reorder.
    Pool-first does not apply to torchvision/timm networks (their layers are never reordered): False."""
    if model.name not in POOLED:
        return False
    if model.pool_first is not None:
        return model.pool_first
    return model.pool == "max" and commutes_with_max_pool(act.name, act.params)


def learned_parameters(model: nn.Module) -> dict[str, dict[str, list[float]]]:
    """{"conv1": {"a": [values...]}, ...}: every learnable parameter of every activation (CPU floats).

    Layout convention: dim 0 of a parameter is its sharing group (1 per layer, or C per channel); a
    parameter with more dims holds several coefficients, each logged on its own as ``name[k]`` (k indexes
    the flattened remaining dims), e.g. PAU's ``p[0]`` ... ``p[5]``. A 0-dim parameter is one value.
    """
    out: dict[str, dict[str, list[float]]] = {}
    base = cast(Network, getattr(model, "_orig_mod", model))  # torch.compile wrapper
    for layer, mod in base.activations().items():
        values: dict[str, list[float]] = {}
        for name, p in activation_parameters(mod).items():
            t = p.detach().float().cpu()
            if t.dim() <= 1:
                values[name] = t.flatten().tolist()
                continue
            t = t.reshape(t.shape[0], -1)  # (groups, coefficients)
            values |= {f"{name}[{k}]": t[:, k].tolist() for k in range(t.shape[1])}
        if values:
            out[layer] = values
    return out


def params_without_gradient(model: nn.Module) -> tuple[list[str], list[str]]:
    """(activation parameters, other parameters) that require a gradient but got none from the last
    backward (``.grad`` None or all zero), by name. Read between ``backward()`` and the optimizer step."""
    base = cast(Network, getattr(model, "_orig_mod", model))  # torch.compile wrapper
    act_ids = {id(p) for mod in base.activations().values() for p in activation_parameters(mod).values()}
    act: list[str] = []
    other: list[str] = []
    for name, p in base.named_parameters():
        if p.requires_grad and (p.grad is None or not bool(p.grad.any())):
            (act if id(p) in act_ids else other).append(name)
    return act, other
