"""`mlp`: a multi-layer perceptron on flattened images.

    input (N, C_in, S, S) -> flatten (N, C_in * S * S)
    [ Linear(., h) -> activation -> Dropout ] for each h in model.widths (default 512, 256)
    Linear(., num_classes)

Activation names: fc1, fc2, ...
"""

from __future__ import annotations

import torch
from torch import nn

from actbench.config import ActivationConfig, ModelConfig
from actbench.models.common import Network, fc_layers

MLP_WIDTHS = (512, 256)


class MLP(Network):
    def __init__(
        self,
        model: ModelConfig,
        act: ActivationConfig,
        num_classes: int,
        image_size: int = 32,
        in_channels: int = 3,
    ):
        super().__init__(model, act, num_classes, image_size, in_channels)
        width = in_channels * image_size * image_size
        hidden, width = fc_layers(width, model.widths or MLP_WIDTHS, model.dropout, self.new_act)
        self.net = nn.Sequential(nn.Flatten(), *hidden, nn.Linear(width, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
