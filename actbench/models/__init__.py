"""Networks (`model.name`), one registry: every nonlinearity comes from the activation factory.

| name        | module                      | activation names                  |
|-------------|-----------------------------|-----------------------------------|
| paper_cnn   | actbench.models.paper_cnn   | conv1..conv3, fc1..               |
| resnet20    | actbench.models.resnet      | conv1..conv19                     |
| vgg_small   | actbench.models.vgg         | conv1..conv6                      |
| mlp         | actbench.models.mlp         | fc1..                             |
| torchvision:<builder>, timm:<name> | actbench.models.external | the swapped modules' dotted names |

Each network takes (model config, activation config, num_classes, image_size, in_channels) and has
``activations()``: {layer name: activation module} in network order, the names reports use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from actbench.config import ActivationConfig, ModelConfig
from actbench.errors import UserError
from actbench.models.common import (
    Network,
    learned_parameters,
    make_act,
    params_without_gradient,
    resolve_pool_first,
)
from actbench.models.cost import macs_per_image, parameter_count, try_macs_per_image
from actbench.models.mlp import MLP
from actbench.models.paper_cnn import PaperCNN
from actbench.models.resnet import ResNet20
from actbench.models.vgg import VGGSmall

__all__ = [
    "MODELS",
    "build_model",
    "learned_parameters",
    "macs_per_image",
    "make_act",
    "network_info",
    "parameter_count",
    "params_without_gradient",
    "resolve_pool_first",
    "try_macs_per_image",
]

ModelBuilder = Callable[[ModelConfig, ActivationConfig, int, int, int], Network]
MODELS: dict[str, ModelBuilder] = {
    "paper_cnn": PaperCNN,
    "resnet20": ResNet20,
    "vgg_small": VGGSmall,
    "mlp": MLP,
}


def network_info(model: nn.Module) -> dict[str, Any] | None:
    """What a torchvision/timm network's activation swap did (env.json's `model`); None for the others."""
    info = getattr(getattr(model, "_orig_mod", model), "swap_info", None)
    return dict(info) if info is not None else None


def build_model(
    model: ModelConfig,
    act: ActivationConfig,
    num_classes: int,
    image_size: int = 32,
    in_channels: int = 3,
) -> Network:
    """The network `model.name` for (N, in_channels, image_size, image_size) inputs."""
    if ":" in model.name:
        from actbench.models.external import ExternalNetwork, is_external  # local: imports torchvision

        if is_external(model.name):
            return ExternalNetwork(model, act, num_classes, image_size, in_channels)
    builder = MODELS.get(model.name)
    if builder is None:
        raise UserError(
            f"model.name: unknown network {model.name!r} (valid: {', '.join(MODELS)}, torchvision:<builder>, "
            "timm:<name>)"
        )
    return builder(model, act, num_classes, image_size, in_channels)
