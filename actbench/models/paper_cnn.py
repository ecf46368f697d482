"""`paper_cnn`: the three-conv-layer CNN of Enomoto, Kakuda & Miura (paper section 4).

The paper's figure of the network is not available, so the layout follows the classic TensorFlow
CIFAR-10 tutorial the paper's input pipeline matches, with three conv layers:

    input (N, C_in, S, S)                 C_in = 3 (CIFAR) or 1 (MNIST-like)
    3 x [ Conv2d(c_in, c_i, k, padding=k//2) -> [BatchNorm2d] -> activation_i -> MaxPool2d(2) ]
        (pooling runs before the activation when that is exact: see `resolve_pool_first`)
    flatten (N, c_3 * (S/8)^2)
    [ Linear(., h) -> activation -> Dropout ] for each h in `hidden` (the activation under test, or the
                                               fixed `model.hidden_act`)
    Linear(., num_classes)

Each activation is its own module instance (`make_activation` per layer), so a learnable `a` is
never shared across layers by accident. State-dict keys (features.*, head.*) are those of earlier
actbench versions, so old checkpoints load.
"""

from __future__ import annotations

import torch
from torch import nn

from actbench.activations import make_activation
from actbench.config import ActivationConfig, ModelConfig
from actbench.errors import UserError
from actbench.models.common import Network, fc_layers, resolve_pool_first


class PaperCNN(Network):
    def __init__(
        self,
        model: ModelConfig,
        act: ActivationConfig,
        num_classes: int,
        image_size: int = 32,
        in_channels: int = 3,
    ):
        super().__init__(model, act, num_classes, image_size, in_channels)
        if image_size < 8:
            raise UserError(f"image size {image_size} is too small for three 2x poolings (need >= 8)")
        pool = nn.MaxPool2d(2) if model.pool == "max" else nn.AvgPool2d(2)
        layers: list[nn.Module] = []
        pool_first = resolve_pool_first(model, act)
        c_in, size = in_channels, image_size
        for i, c in enumerate(model.channels, start=1):
            layers.append(
                nn.Conv2d(
                    c_in, c, model.kernel_size, padding=model.kernel_size // 2, bias=not model.batch_norm
                )
            )
            if model.batch_norm:
                layers.append(nn.BatchNorm2d(c))
            a = self.new_act(f"conv{i}", c)
            layers += [pool, a] if pool_first else [a, pool]
            # conv output: S + 2·(k // 2) − k + 1 (S for an odd k, S + 1 for an even one), then the 2x pool
            c_in, size = c, (size + 2 * (model.kernel_size // 2) - model.kernel_size + 1) // 2
        self.features = nn.Sequential(*layers)
        # model.hidden_act: a fixed function in the hidden layers, kept out of activations() (it is not
        # the unit under test: no learned parameters, not in Table 1 or the epoch lines)
        fixed = model.hidden_act
        new_fc_act = self.new_act if fixed is None else (lambda name, h: make_activation(fixed, h))
        hidden, width = fc_layers(c_in * size * size, model.hidden, model.dropout, new_fc_act)
        self.head = nn.Sequential(nn.Flatten(), *hidden, nn.Linear(width, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
