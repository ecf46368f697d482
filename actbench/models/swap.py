"""Put the activation under test into a network built elsewhere (torchvision, timm).

`swap_activations` walks the network's named modules and replaces every activation *module* (`SWAPPED`:
ReLU, ReLU6, LeakyReLU, PReLU, RReLU, ELU, CELU, SELU, GELU, SiLU, Mish, Hardswish and timm's own
classes of those) by a fresh one from the activation factory, one instance per replaced module, under the
module's dotted name (``layer1.0.relu``). Gates and outputs (Sigmoid, Hardsigmoid, Tanh, Softmax) stay.

Channels (for ``sharing: channel``) come from a dry forward pass: hooks record the input shape of every
call of every activation module on a zero batch of the data's size (eval mode, no gradients, no RNG). A
module called with several channel counts (torchvision's Bottleneck applies one ``relu`` after three
layers) gets one activation per count (``layer1.0.relu@256``). A module whose input has its channels
last (a Linear on (N, H, W, C) or (N, L, D) tokens: ConvNeXt, ViT, Swin) only takes ``sharing: layer``.

Calls that are not modules cannot be swapped: ``F.relu(x)``, ``torch.relu(x)``, ``x.relu_()`` inside a
``forward``. `unswappable` lists them: by tracing the network with torch.fx (every call, with the module
it sits in) or, where tracing fails (data-dependent control flow), by scanning the source of each module
class (calls in module-level helper functions are then not seen).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from actbench.errors import UserError

SWAPPED = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.CELU, nn.SELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Hardswish,
)  # fmt: skip
# timm's own activation classes (timm.layers.activations, activations_me), matched by class name
SWAPPED_NAMES = frozenset(
    {"Swish", "SwishMe", "Mish", "MishMe", "HardSwish", "HardSwishMe", "HardMish", "HardMishMe", "GELU",
     "GELUTanh", "QuickGELU", "PReLU"}
)  # fmt: skip
_NAMES = "relu|relu6|leaky_relu|prelu|rrelu|elu|celu|selu|gelu|silu|mish|hardswish"
FUNCTIONS = frozenset(
    f
    for name in _NAMES.split("|")
    for mod in (F, torch)
    for f in (getattr(mod, name, None), getattr(mod, f"{name}_", None))
    if f is not None
)
METHODS = frozenset({"relu", "relu_"})  # Tensor.relu(), the only activation methods in common use
# source scan: F.relu(, torch.nn.functional.gelu(, torch.relu_(, x.relu()
SOURCE_CALL = re.compile(rf"\b(?:F|functional|torch)\.((?:{_NAMES})_?)\s*\(|\.(relu_?)\(\s*\)")


def is_activation(module: nn.Module) -> bool:
    """An activation module the swap replaces."""
    return isinstance(module, SWAPPED) or type(module).__name__ in SWAPPED_NAMES


@dataclass
class DryRun:
    """What one forward pass showed: the leaf modules in call order, and each activation's input shapes
    with the leaf module called just before it."""

    order: list[str] = field(default_factory=list)
    calls: dict[str, list[tuple[tuple[int, ...], str | None]]] = field(default_factory=dict)


def dry_run(net: nn.Module, shape: tuple[int, ...]) -> DryRun:
    """Run `net` once on zeros of `shape` (eval mode, no grad; training mode and buffers untouched)."""
    seen = DryRun()
    mods = dict(net.named_modules())

    def leaf(name: str) -> Callable[..., None]:
        def hook(_m: nn.Module, args: tuple[Any, ...]) -> None:
            if name in acts:
                x = args[0] if args and isinstance(args[0], torch.Tensor) else None
                before = next((n for n in reversed(seen.order) if n not in acts), None)
                seen.calls.setdefault(name, []).append((tuple(x.shape) if x is not None else (), before))
            seen.order.append(name)

        return hook

    acts = {n for n, m in mods.items() if is_activation(m)}
    leaves = [n for n, m in mods.items() if n and (n in acts or not any(True for _ in m.children()))]
    handles = [mods[n].register_forward_pre_hook(leaf(n)) for n in leaves]
    was_training = net.training
    try:
        net.eval()
        with torch.no_grad():
            net(torch.zeros(shape))
    finally:
        net.train(was_training)
        for h in handles:
            h.remove()
    return seen


def _preceding_width(net: nn.Module, name: str) -> int:
    """Output width of the last layer registered before `name` (an activation the dry run never called,
    e.g. an auxiliary head that runs in training mode only); 1 when there is none."""
    width = 1
    for n, m in net.named_modules():
        if n == name:
            break
        for attr in ("out_channels", "out_features", "num_features"):
            if isinstance(getattr(m, attr, None), int):
                width = getattr(m, attr)
    return width


def _channel_counts(net: nn.Module, name: str, seen: DryRun, sharing: str) -> list[int]:
    """The channel counts the activation `name` sees (one per distinct count; one entry for layer sharing)."""
    calls = seen.calls.get(name)
    if not calls:
        return [_preceding_width(net, name)]
    mods = dict(net.named_modules())
    counts: list[int] = []
    for shape, before in calls:
        channels_last = len(shape) == 3 or (len(shape) > 2 and isinstance(mods.get(before or ""), nn.Linear))
        if sharing == "channel" and channels_last:
            raise UserError(
                f"activation.sharing: channel needs the channels in dim 1, but {name} gets {shape} inputs "
                "with the channels last (after a Linear, or tokens); use sharing: layer for this network"
            )
        c = shape[1] if len(shape) >= 2 else 1
        if c not in counts:
            counts.append(c)
    return counts if sharing == "channel" else counts[:1]


class ByChannels(nn.Module):
    """One activation per channel count for a module the network calls on several widths (channel
    sharing): the input's dim 1 picks which."""

    def __init__(self, acts: dict[int, nn.Module]):
        super().__init__()
        self.acts = nn.ModuleDict({str(c): a for c, a in acts.items()})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.acts[str(x.shape[1])](x)


def swap_activations(
    net: nn.Module, seen: DryRun, sharing: str, new_act: Callable[[str, int], nn.Module]
) -> dict[str, int]:
    """Replace every activation module of `net` by `new_act(dotted name, channels)`; {class name: count}
    of what was replaced (network order). A module used on several widths with channel sharing gets one
    activation per width, named ``<name>@<width>``."""
    replaced: dict[str, int] = {}
    targets = [(n, m) for n, m in net.named_modules() if n and is_activation(m)]
    for name, module in targets:
        counts = _channel_counts(net, name, seen, sharing)
        if len(counts) == 1:
            new = new_act(name, counts[0])
        else:
            new = ByChannels({c: new_act(f"{name}@{c}", c) for c in counts})
        net.set_submodule(name, new)
        cls = type(module).__name__
        replaced[cls] = replaced.get(cls, 0) + 1
    return replaced


# --- what cannot be swapped -------------------------------------------------------------------------


def _call_name(target: Any) -> str:
    mod = getattr(target, "__module__", None) or ""
    prefix = "F" if mod.startswith("torch.nn.functional") else "torch"
    return f"{prefix}.{getattr(target, '__name__', target)}"


class _Tracer(torch.fx.Tracer):
    """Activation modules (timm's included) stay single call_module nodes: they are swapped, not calls."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return is_activation(m) or super().is_leaf_module(m, qualname)


def unswappable(net: nn.Module) -> tuple[list[str], str]:
    """Activation calls in `net` that are not modules (so not swapped), as "F.relu in features" lines, and
    how they were found ("torch.fx" or "source scan")."""
    try:
        graph = _Tracer().trace(net)
    except Exception:  # noqa: BLE001 - any tracing failure (control flow, unsupported ops): scan instead
        return _scan_sources(net), "source scan"
    found = []
    for node in graph.nodes:
        if node.op == "call_function" and node.target in FUNCTIONS:
            call = _call_name(node.target)
        elif node.op == "call_method" and node.target in METHODS:
            call = f"Tensor.{node.target}"
        else:
            continue
        stack = list(node.meta.get("nn_module_stack") or {})
        where = _readable_path(stack[-1]) if stack else ""
        found.append(f"{call} in {where or type(net).__name__ + ' (top level)'}")
    return found, "torch.fx"


def _readable_path(key: str) -> str:
    """torch.fx's nn_module_stack key of a module: its dotted path (some torch versions prefix L['self'])."""
    return re.sub(r"^L\['self'\]\.?", "", key)


def _scan_sources(net: nn.Module) -> list[str]:
    found = []
    for name, module in net.named_modules():
        cls = type(module)
        if is_activation(module) or cls.__module__.startswith("torch.nn"):
            continue
        for match in SOURCE_CALL.finditer(_source(cls)):
            fn, method = match.groups()
            call = f"Tensor.{method}" if method else f"F.{fn}"
            found.append(f"{call} in {name or cls.__name__ + ' (top level)'}")
    return found


_SOURCES: dict[type, str] = {}


def _source(cls: type) -> str:
    """The class's source without its comments (empty when Python cannot find it); cached per class."""
    if cls not in _SOURCES:
        try:
            text = inspect.getsource(cls)
        except (OSError, TypeError):
            text = ""
        _SOURCES[cls] = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    return _SOURCES[cls]
