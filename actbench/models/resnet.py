"""`resnet20`: the CIFAR ResNet of He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition"
(CVPR 2016, section 4.2), n = 3 (6n + 2 = 20 layers, about 0.27 M parameters for 10 classes).

    input (N, C_in, S, S)
    Conv3x3(C_in, w1) -> BN -> act                                              conv1
    3 stages (widths w1, w2, w3 = 16, 32, 64), 3 basic blocks each; the first block of stages 2 and 3
    halves the size with stride 2. Basic block:
        Conv3x3 -> BN -> act -> Conv3x3 -> BN, + shortcut, -> act               conv{2i}, conv{2i+1}
        shortcut: identity, or option A of the paper when the shape changes (subsample by 2 and pad the
        new channels with zeros: no parameters)
    global average pool -> Linear(w3, num_classes)

Activation names follow the conv they come after: conv1 (stem), then conv2..conv19; the one after an
odd conv >= 3 runs after the residual addition, as in the paper. No pooling moves around an activation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from actbench.config import ActivationConfig, ModelConfig, check_resnet_widths
from actbench.errors import UserError
from actbench.models.common import Network

RESNET20_WIDTHS = (16, 32, 64)
BLOCKS_PER_STAGE = 3  # n in 6n + 2


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, act1: nn.Module, act2: nn.Module):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.act1 = act1
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.act2 = act2
        self.stride, self.extra = stride, c_out - c_in

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        """Option A: identity; when the shape changes, subsample and zero-pad the new channels."""
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.extra > 0:
            x = F.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.bn1(self.conv1(x)))
        return self.act2(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet20(Network):
    def __init__(
        self,
        model: ModelConfig,
        act: ActivationConfig,
        num_classes: int,
        image_size: int = 32,
        in_channels: int = 3,
    ):
        super().__init__(model, act, num_classes, image_size, in_channels)
        if image_size < 4:
            raise UserError(f"image size {image_size} is too small for resnet20's two 2x strides (need >= 4)")
        widths = model.widths or RESNET20_WIDTHS
        check_resnet_widths(tuple(widths))  # a ModelConfig made in Python skips config validation
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False),
            nn.BatchNorm2d(widths[0]),
            self.new_act("conv1", widths[0]),
        )
        blocks: list[nn.Module] = []
        c_in, conv = widths[0], 1
        for stage, width in enumerate(widths):
            for b in range(BLOCKS_PER_STAGE):
                a1, a2 = self.new_act(f"conv{conv + 1}", width), self.new_act(f"conv{conv + 2}", width)
                blocks.append(BasicBlock(c_in, width, 2 if stage > 0 and b == 0 else 1, a1, a2))
                c_in, conv = width, conv + 2
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(c_in, num_classes)
        for m in self.modules():  # He et al. 2015 init for the convs, as the paper's CIFAR experiments
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(x))
        return self.fc(x.mean((2, 3)))
