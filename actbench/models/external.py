"""`model.name: torchvision:<builder>` and `timm:<name>`: the networks everyone knows, with the activation
under test in place of each of their activation modules (see `actbench.models.swap`).

    torchvision.models.get_model(builder, weights=None, num_classes=...)        never downloads weights
    timm.create_model(name, pretrained=False, num_classes=..., in_chans=...)    an optional extra

then, in order: the input layer is adapted (the data's channels; the CIFAR stem below), one dry forward
pass at the data's size finds each activation's channels, the functional activations that cannot be
swapped are listed, and every activation module is replaced. `ExternalNetwork.activations()` gives the
replaced modules under their dotted names (``layer1.0.relu``), so learned parameters, reports and trackers
work as for actbench's own networks; `swap_info` goes into the run's env.json (`model`).

CIFAR stem (`model.cifar_stem`, null = when the images are at most 64 pixels): where the network starts
with a downsampling convolution (stride > 1 and a kernel wider than the stride: ResNet's 7x7/2, MobileNet's
3x3/2), that convolution becomes 3x3 stride 1 and a max-pool right after it (before the next convolution)
is removed, as in the CIFAR versions of these networks. A patchify stem (kernel = stride: ViT, Swin,
ConvNeXt) or a network without a strided first convolution (VGG) is left alone.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from actbench.config import ActivationConfig, ModelConfig, external_networks
from actbench.errors import UserError
from actbench.models.common import Network
from actbench.models.swap import dry_run, swap_activations, unswappable

SMALL_IMAGE = 64  # cifar_stem null: images of at most this many pixels get the CIFAR stem


def is_external(name: str) -> bool:
    return name.partition(":")[0] in ("torchvision", "timm") and ":" in name


def create(name: str, num_classes: int, in_channels: int) -> nn.Module:
    """The library's network `name` (torchvision:<builder> | timm:<name>), randomly initialised."""
    source, _, builder = name.partition(":")
    if builder not in external_networks(source):  # ConfigError (a ValueError) without timm
        raise UserError(f"model.name: {source} has no network {builder!r}")
    if source == "torchvision":
        from torchvision import models

        return models.get_model(builder, weights=None, num_classes=num_classes)
    import timm

    return timm.create_model(builder, pretrained=False, num_classes=num_classes, in_chans=in_channels)


def adapt_input(
    net: nn.Module, name: str, in_channels: int, image_size: int, cifar_stem: bool | None
) -> str | None:
    """Give the first convolution `in_channels` inputs and, where asked and possible, the CIFAR stem;
    returns what was changed for env.json (None: nothing)."""
    convs = [(n, m) for n, m in net.named_modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        return None
    first, conv = convs[0]
    k, stride = conv.kernel_size[0], conv.stride[0]
    has_stem = stride > 1 and k > stride
    if cifar_stem and not has_stem:
        raise UserError(
            f"model.cifar_stem: {name} has no downsampling stem to replace (its first convolution, "
            f"{first}, is {k}x{k} stride {stride}); use null or false"
        )
    stem = has_stem and (image_size <= SMALL_IMAGE if cifar_stem is None else cifar_stem)
    if not stem and conv.in_channels == in_channels:
        return None
    kwargs: dict[str, Any] = dict(kernel_size=3, stride=1, padding=1) if stem else dict(
        kernel_size=conv.kernel_size, stride=conv.stride, padding=conv.padding, dilation=conv.dilation
    )  # fmt: skip
    net.set_submodule(first, nn.Conv2d(in_channels, conv.out_channels, bias=conv.bias is not None, **kwargs))
    if not stem:
        return f"{first}: {in_channels} input channels"
    note = f"CIFAR stem: {first} {k}x{k} stride {stride} -> 3x3 stride 1"
    after = [n for n, _ in net.named_modules()]
    second = convs[1][0] if len(convs) > 1 else None
    between = after[after.index(first) + 1 : after.index(second) if second else len(after)]
    pool = next((n for n in between if isinstance(net.get_submodule(n), nn.MaxPool2d)), None)
    if pool is not None:
        net.set_submodule(pool, nn.Identity())
        note += f", max-pool {pool} removed"
    return note


class ExternalNetwork(Network):
    """A torchvision/timm network (`self.net`) with the activation under test in place of its activation
    modules; `swap_info`: what was swapped and what could not be (env.json's `model` entry)."""

    def __init__(
        self, model: ModelConfig, act: ActivationConfig, num_classes: int, image_size: int = 32,
        in_channels: int = 3,
    ):  # fmt: skip
        super().__init__(model, act, num_classes, image_size, in_channels)
        net = create(model.name, num_classes, in_channels)
        stem = adapt_input(net, model.name, in_channels, image_size, model.cifar_stem)
        shape = (2, in_channels, image_size, image_size)
        try:
            seen = dry_run(net, shape)
        except Exception as exc:  # noqa: BLE001 - the library's own error, named in one line
            raise UserError(
                f"model.name: {model.name} does not run on {in_channels}x{image_size}x{image_size} inputs "
                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
            ) from None
        missed, how = unswappable(net)
        replaced = swap_activations(net, seen, act.sharing, self.new_act)
        if not replaced:
            raise UserError(
                f"model.name: {model.name} has no activation module to swap"
                + (f" (its {len(missed)} activations are function calls, e.g. {missed[0]})" if missed else "")
            )
        self.net = net
        self.swap_info: dict[str, Any] = {
            "name": model.name,
            "swapped": sum(replaced.values()),
            "replaced": replaced,
            "activations": len(self._acts),
            "unswappable": missed,
            "unswappable_count": len(missed),
            "found_by": how,
            "input": stem,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        return out[0] if isinstance(out, tuple) else out  # GoogLeNet/Inception: (logits, aux logits)
