"""Models. `paper_cnn`: the three-conv-layer CNN of Enomoto, Kakuda & Miura (paper section 4).

The paper's figure of the network is not available, so the layout follows the classic TensorFlow
CIFAR-10 tutorial the paper's input pipeline matches, with three conv layers:

    input (N, 3, S, S)
    3 x [ Conv2d(c_in, c_i, k, padding=k//2) -> [BatchNorm2d] -> activation_i -> MaxPool2d(2) ]
        (pooling runs before the activation when that is exact: see `resolve_pool_first`)
    flatten (N, c_3 * (S/8)^2)
    [ Linear(., h) -> activation -> Dropout ] for each h in `hidden`
    Linear(., num_classes)

Each activation is its own module instance (`make_activation` per layer), so a learnable `a` is
never shared across layers by accident.
"""

from __future__ import annotations

import torch
from torch import nn

from actbench.activations import activation_parameters, commutes_with_max_pool, make_activation
from actbench.config import ActivationConfig, ModelConfig


def _act(cfg: ActivationConfig, channels: int) -> nn.Module:
    return make_activation(
        cfg.name, channels, sharing=cfg.sharing, init=cfg.init, fused=bool(cfg.fused), **dict(cfg.params)
    )


class PaperCNN(nn.Module):
    def __init__(self, model: ModelConfig, act: ActivationConfig, num_classes: int, image_size: int = 32):
        super().__init__()
        pool = nn.MaxPool2d(2) if model.pool == "max" else nn.AvgPool2d(2)
        layers: list[nn.Module] = []
        pool_first = resolve_pool_first(model, act)
        c_in, size = 3, image_size
        acts: dict[str, nn.Module] = {}  # "conv1", ... -> activation module, for logging learned `a`
        for i, c in enumerate(model.channels, start=1):
            layers.append(
                nn.Conv2d(
                    c_in, c, model.kernel_size, padding=model.kernel_size // 2, bias=not model.batch_norm
                )
            )
            if model.batch_norm:
                layers.append(nn.BatchNorm2d(c))
            acts[f"conv{i}"] = _act(act, c)
            layers += [pool, acts[f"conv{i}"]] if pool_first else [acts[f"conv{i}"], pool]
            c_in, size = c, size // 2
        self.features = nn.Sequential(*layers)
        head: list[nn.Module] = [nn.Flatten()]
        width = c_in * size * size
        for j, h in enumerate(model.hidden, start=1):
            acts[f"fc{j}"] = _act(act, h)
            head += [nn.Linear(width, h), acts[f"fc{j}"]]
            if model.dropout > 0:
                head.append(nn.Dropout(model.dropout))
            width = h
        head.append(nn.Linear(width, num_classes))
        self.head = nn.Sequential(*head)
        # A plain dict (not registered again) so state_dict keys stay unique.
        self.__dict__["_acts"] = acts

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def activations(self) -> dict[str, nn.Module]:
        """Activation modules in network order, keyed conv1..conv3, fc1.."""
        return dict(self._acts)


def resolve_pool_first(model: ModelConfig, act: ActivationConfig) -> bool:
    """model.pool_first, with null resolved to "whenever it is exact" (see commutes_with_max_pool)."""
    if model.pool_first is not None:
        return model.pool_first
    return model.pool == "max" and commutes_with_max_pool(act.name, act.params)


def build_model(
    model: ModelConfig, act: ActivationConfig, num_classes: int, image_size: int = 32
) -> nn.Module:
    if image_size < 8:
        raise ValueError(f"image size {image_size} is too small for three 2x poolings (need >= 8)")
    return PaperCNN(model, act, num_classes, image_size)


def learned_parameters(model: nn.Module) -> dict[str, dict[str, list[float]]]:
    """{"conv1": {"a": [values...]}, ...} of every learnable activation parameter (CPU floats)."""
    out: dict[str, dict[str, list[float]]] = {}
    base = getattr(model, "_orig_mod", model)  # torch.compile wrapper
    for layer, mod in base.activations().items():
        params = activation_parameters(mod)
        if params:
            out[layer] = {k: v.detach().float().cpu().flatten().tolist() for k, v in params.items()}
    return out
