"""Custom activations, without editing actbench: "package.module:Name" and the entry-point group.

Anywhere an activation name is taken (``activation.name``, ``sweep --acts``, ``acts --names``) it may be

- ``package.module:Name``: an importable ``nn.Module`` class or a factory function returning a module;
- a name registered by an installed package in the ``actbench.activations`` entry-point group, e.g. in
  its pyproject.toml: ``[project.entry-points."actbench.activations"] snake = "my_acts:Snake"``.

The factory is called with keyword arguments, each only if its signature takes it (or ``**kwargs``):
``channels`` (output channels / features of the layer; dim 1 of the input), ``sharing`` ("layer" |
"channel"), ``init`` (only when the config sets one) and every ``activation.params`` entry. An object may
declare ``non_decreasing = True`` (class or function attribute); only then may a model run max-pooling
before it (``model.pool_first``), because pooling first is exact only for non-decreasing functions. It may
declare ``pack_by_channel = True``: dim 0 of each of its parameters is its sharing group (1 or C) and is
broadcast over dim 1 of the input, so `sweep --pack` packs it as it packs the built-ins; without the
declaration it is packed only if a probe batch gives the same outputs and gradients (actbench.pack.model).

Each custom activation is checked once per (name, sharing, init, params) when a config is validated, with
one line naming the failure: importable, builds, is an ``nn.Module``, keeps the shape and dtype of (N, C)
and (N, C, H, W) float32 inputs, is differentiable (a gradient reaches the input), finite on a probe.
Its learnable parameters are its own ``nn.Parameter``s: logged per epoch, reported and plotted like ``a``.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import warnings
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any

import torch
from torch import nn

from actbench.activations.spec import ACTIVATIONS, ActSpec
from actbench.activations.units import activation_parameters
from actbench.errors import UserError, exception_line

GROUP = "actbench.activations"  # the entry-point group an installed package registers names in
PROBE_CHANNELS = 4  # channels of the validation probe (more than 1, so channel sharing is exercised)


# What user code may do instead of returning: raise anything, or end the process (sys.exit in a module
# would otherwise end actbench without a word).
USER_FAULTS = (Exception, SystemExit)


def why(exc: BaseException) -> str:
    """One line on a failure in user code."""
    if isinstance(exc, SystemExit):
        return f"it called sys.exit({exc.code!r})"
    return exception_line(exc)


@functools.cache
def _entry_points() -> dict[str, metadata.EntryPoint]:
    """Entry points of GROUP by name; a name shadowing a built-in is skipped with a warning."""
    found: dict[str, metadata.EntryPoint] = {}
    for ep in metadata.entry_points(group=GROUP):
        if ep.name in ACTIVATIONS:
            warnings.warn(
                f"actbench: entry point {ep.name!r} ({ep.value}) shadows a built-in; ignored", stacklevel=2
            )
        else:
            found.setdefault(ep.name, ep)
    return found


def entry_point_names() -> list[str]:
    """Names registered by installed packages (sorted)."""
    return sorted(_entry_points())


def refresh() -> None:
    """Forget cached entry points, specs and checks (after installing a package in the same process)."""
    _entry_points.cache_clear()
    custom_spec.cache_clear()
    _CHECKED.clear()


def _import(target: str, name: str) -> Any:
    """ "pkg.module:Attr.sub" -> the object; one-line ValueError if it cannot be imported."""
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise UserError(f"activation {name!r}: expected package.module:Name, got {target!r}")
    try:
        obj: Any = importlib.import_module(module_name)
    except USER_FAULTS as exc:  # ImportError, or anything the user's module raises (or exits) on import
        raise UserError(f"activation {name!r}: cannot import {module_name!r} ({why(exc)})") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise UserError(f"activation {name!r}: module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise UserError(f"activation {name!r}: {target} is a {type(obj).__name__}, not a class or factory")
    return obj


def _signature(obj: Callable[..., Any]) -> tuple[set[str], bool]:
    """(keyword names the factory takes, whether it takes **kwargs); unknown signature -> ((), True)."""
    # no __init__ of its own: takes nothing (getattr: mypy refuses `obj.__init__` on a class object)
    if isinstance(obj, type) and getattr(obj, "__init__", None) is nn.Module.__init__:
        return set(), False
    try:
        params = inspect.signature(obj).parameters.values()
    except (TypeError, ValueError):
        return set(), True
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    names = {p.name for p in params if p.kind in kinds}
    return names, any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def _builder(name: str, obj: Callable[..., Any]) -> Callable[..., nn.Module]:
    accepted, var_kw = _signature(obj)
    takes = lambda key: var_kw or key in accepted  # noqa: E731

    def build(channels: int, sharing: str, init: float | None, fused: bool, **params: Any) -> nn.Module:
        if sharing == "channel" and not takes("sharing"):
            raise UserError(
                f"{name}: sharing 'channel' needs a factory that takes `sharing` (this one does not)"
            )
        if init is not None and not takes("init"):
            raise UserError(f"{name}: init must be null (the factory takes no `init`)")
        unknown = [k for k in params if not takes(k)]
        if unknown:
            allowed = ", ".join(sorted(accepted - {"channels", "sharing", "init"})) or "none"
            raise UserError(f"{name}: unknown param {unknown[0]!r} (allowed: {allowed})")
        kwargs: dict[str, Any] = {k: v for k, v in (("channels", channels), ("sharing", sharing)) if takes(k)}
        if init is not None:
            kwargs["init"] = init
        return obj(**kwargs, **params)

    return build


def _spec(name: str, target: str, origin: str) -> ActSpec:
    obj = _import(target, name)
    accepted, var_kw = _signature(obj)
    doc = (inspect.getdoc(obj) or "").strip().splitlines()
    return ActSpec(
        name,
        doc[0] if doc else "-",
        _builder(name, obj),
        supports_sharing=var_kw or "sharing" in accepted,
        ref=target,
        origin=origin,
        non_decreasing=getattr(obj, "non_decreasing", False) is True,
        packs_by_channel=getattr(obj, "pack_by_channel", False) is True,
        checked=False,
    )


@functools.cache
def custom_spec(name: str) -> ActSpec | None:
    """The spec of a "pkg.module:Name" or entry-point name; None if `name` is neither (ValueError on a
    broken one: not importable, no such attribute, not callable)."""
    if ":" in name:
        return _spec(name, name, "import")
    ep = _entry_points().get(name)
    if ep is None:
        return None
    dist = getattr(ep, "dist", None)
    origin = f"entry point ({dist.name} {dist.version})" if dist is not None else "entry point"
    return _spec(name, ep.value, origin)


def all_names() -> list[str]:
    """Built-ins, then entry-point names: what `actbench acts` lists."""
    return [*ACTIVATIONS, *entry_point_names()]


def learnable_names(spec: ActSpec) -> tuple[str, ...]:
    """Learnable parameter names: the registry's for built-ins; found by building a custom one (or "?")."""
    if spec.checked:
        return spec.params
    try:
        return tuple(activation_parameters(spec.builder(1, "layer", None, False)))
    except USER_FAULTS:  # a factory that needs params: `acts` still lists it
        return ("?",)


_CHECKED: set[str] = set()  # keys of combinations that passed check_activation (probe once per process)


def check_activation(
    name: str, sharing: str = "layer", init: float | None = None, params: Mapping[str, Any] | None = None
) -> None:
    """Build and probe a custom activation; raise UserError with one line on the first failure."""
    params = dict(params or {})
    key = repr((name, sharing, init, sorted(params.items())))
    if key in _CHECKED:
        return
    spec = custom_spec(name)
    if spec is None:
        raise UserError(f"unknown activation {name!r}")
    try:  # what make_activation does for a custom activation: its own factory judges init and params
        module = spec.builder(PROBE_CHANNELS, sharing, init, False, **params)
    except UserError:  # actbench's own refusals (_builder); a ValueError of the factory is wrapped below
        raise
    except USER_FAULTS as exc:
        raise UserError(f"activation {name!r}: does not build ({why(exc)})") from None
    if not isinstance(module, nn.Module):
        raise UserError(
            f"activation {name!r}: the factory returned a {type(module).__name__}, not a torch.nn.Module"
        )
    for shape in [(3, PROBE_CHANNELS, 5, 5), (3, PROBE_CHANNELS)]:
        _probe(name, module, shape)
    _CHECKED.add(key)


def _probe(name: str, module: nn.Module, shape: tuple[int, ...]) -> None:
    """Forward + backward on a fixed float32 input spanning [-4, 4]: shape, dtype, gradient, finiteness."""
    n = 1
    for s in shape:
        n *= s
    x = torch.linspace(-4, 4, n).reshape(shape).requires_grad_()
    where = f"activation {name!r} on a {tuple(shape)} float32 input"
    try:
        y = module(x)
    except USER_FAULTS as exc:
        raise UserError(f"{where}: forward fails ({why(exc)})") from None
    if not isinstance(y, torch.Tensor) or y.shape != x.shape or y.dtype != x.dtype:
        got = f"{tuple(y.shape)} {y.dtype}" if isinstance(y, torch.Tensor) else type(y).__name__
        raise UserError(f"{where}: must return the same shape and dtype, got {got}")
    if not torch.isfinite(y).all():
        raise UserError(f"{where}: output is not finite")
    if not y.requires_grad:
        raise UserError(f"{where}: not differentiable (the output has no gradient)")
    try:
        (grad,) = torch.autograd.grad(y.sum(), x, allow_unused=True)
    except USER_FAULTS as exc:
        raise UserError(f"{where}: backward fails ({why(exc)})") from None
    if grad is None:
        raise UserError(f"{where}: not differentiable (no gradient reaches the input)")
    if not torch.isfinite(grad).all():
        raise UserError(f"{where}: gradient is not finite")
