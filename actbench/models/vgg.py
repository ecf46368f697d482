"""`vgg_small`: a small VGG-style network with batch norm (Simonyan & Zisserman 2015; Ioffe & Szegedy 2015).

    input (N, C_in, S, S)
    for each width w in model.widths (default 64, 128, 256):
        Conv3x3(., w) -> BN -> act -> Conv3x3(w, w) -> BN -> act -> MaxPool2d(2)
        (the second act and the pool swap when that is exact: model.pool_first, as in paper_cnn)
    global average pool -> Linear(w_last, num_classes)

Activation names: conv1..conv{2 * len(widths)}, the activation after each conv.
"""

from __future__ import annotations

import torch
from torch import nn

from actbench.config import ActivationConfig, ModelConfig
from actbench.errors import UserError
from actbench.models.common import Network, resolve_pool_first

VGG_SMALL_WIDTHS = (64, 128, 256)


class VGGSmall(Network):
    def __init__(
        self,
        model: ModelConfig,
        act: ActivationConfig,
        num_classes: int,
        image_size: int = 32,
        in_channels: int = 3,
    ):
        super().__init__(model, act, num_classes, image_size, in_channels)
        widths = model.widths or VGG_SMALL_WIDTHS
        if image_size < 2 ** len(widths):
            raise UserError(f"image size {image_size} is too small for {len(widths)} 2x poolings")
        pool = nn.MaxPool2d(2) if model.pool == "max" else nn.AvgPool2d(2)
        pool_first = resolve_pool_first(model, act)
        layers: list[nn.Module] = []
        c_in = in_channels
        for width in widths:
            for _ in range(2):
                layers += [nn.Conv2d(c_in, width, 3, padding=1, bias=False), nn.BatchNorm2d(width)]
                layers.append(self.new_act(f"conv{len(self._acts) + 1}", width))
                c_in = width
            if pool_first:  # act(max(x)) == max(act(x)) for a non-decreasing act: 4x less activation work
                layers.insert(len(layers) - 1, pool)
            else:
                layers.append(pool)
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean((2, 3)))
