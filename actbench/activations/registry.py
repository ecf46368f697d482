"""One factory for every activation: ``make_activation`` builds a registered name (built-in, entry point or
importable ``package.module:Name``), ``get_spec`` looks it up with an error that lists the valid names,
``validate_activation`` checks a combination of name, sharing, init and params in one line."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from actbench.activations import plugins
from actbench.activations.spec import ACTIVATIONS, SHARING, ActSpec
from actbench.errors import UserError

# Non-decreasing activations commute with max-pooling, forward and backward: max(f(x)) = f(max(x)), and the
# pool routes the gradient (also that of a shared `a`, eqs. 9-10) only to the arg-max, which such an f does
# not move. The model may then pool first and run the activation on 4x fewer values. PReLU is left out: its
# learned slope can turn negative. Rational is non-decreasing because its effective a is floored at a_min.
_NON_DECREASING = {"relu", "selu", "tanh", "softplus", "rational", "exponential", "elu", "leaky_relu"}


def commutes_with_max_pool(name: str, params: Mapping[str, Any] | None = None) -> bool:
    """True when pool(f(x)) == f(pool(x)) exactly (up to float ties) for max-pooling."""
    spec = ACTIVATIONS.get(name) or _custom_spec(name, quiet=True)
    if spec is None or not (name in _NON_DECREASING or spec.non_decreasing):
        return False
    p = {**spec.defaults, **(params or {})}
    # Softplus turns linear above threshold/β, dropping there by log(1 + e^-threshold)/β: below float32's
    # resolution at torch's default threshold 20, a visible decrease at a low one (pooling first not exact)
    return p.get("alpha", 0.0) >= 0 and p.get("negative_slope", 0.0) >= 0 and p.get("threshold", 20.0) >= 20.0


# Extra value rules for fixed params (name -> (check, requirement)); types come from the defaults.
_PARAM_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "approximate": (lambda x: x in ("none", "tanh"), "one of none, tanh"),
    "beta": (lambda x: x > 0, "> 0"),
    "a_min": (lambda x: x > 0, "> 0"),
}


def has_fused_path(name: str) -> bool:
    """Whether `activation.fused` changes anything for `name` (elsewhere it is accepted and ignored)."""
    spec = ACTIVATIONS.get(name)
    return spec is not None and spec.fusable


def _check_params(spec: ActSpec, params: Mapping[str, Any]) -> None:
    for key, value in params.items():
        if key not in spec.defaults:
            allowed = ", ".join(spec.defaults) or "none"
            raise UserError(f"{spec.name}: unknown param {key!r} (allowed: {allowed})")
        if isinstance(spec.defaults[key], float):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise UserError(f"{spec.name}: param {key!r} must be a finite number, got {value!r}")
        rule = _PARAM_RULES.get(key)
        if rule is not None and not rule[0](value):
            raise UserError(f"{spec.name}: param {key!r} must be {rule[1]}, got {value!r}")


def _check_init(spec: ActSpec, init: float) -> None:
    if not spec.params:
        raise UserError(f"{spec.name} has no learnable parameter, so init must be null (got {init!r})")
    if spec.init is None:
        raise UserError(f"{spec.name}: init must be null (its coefficients start as published: {spec.ref})")
    if isinstance(init, bool) or not isinstance(init, (int, float)) or not math.isfinite(init):
        raise UserError(f"{spec.name}: init must be a finite number, got {init!r}")
    if spec.name == "rational" and init <= 0:
        raise UserError(f"rational: init a = {init} <= 0 starts at its pole (v = a); use a > 0 (paper: 1.0)")


def make_activation(
    name: str,
    channels: int,
    sharing: str = "layer",
    init: float | None = None,
    fused: bool = False,
    **params: Any,
) -> nn.Module:
    """Build the activation ``name`` for a layer with ``channels`` output channels (or features).

    ``sharing``: "layer" (one ``a`` per layer) or "channel" (one per output channel, dim 1 of the input);
    accepted and ignored for activations without a learnable parameter, so a config can set it for all.
    ``init``: initial ``a`` (None: the paper's default); must be None for parameter-free activations.
    ``fused``: use the fused kernels (rational/exponential only; ignored elsewhere, where the activation is
    already a single torch kernel): Triton's on a CUDA tensor when triton is installed, else torch.compile'd.
    ``params``: fixed constructor params, e.g. ELU ``alpha``.
    """
    spec = get_spec(name)
    if sharing not in SHARING:
        raise UserError(f"{name}: sharing must be one of {', '.join(SHARING)}, got {sharing!r}")
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        raise UserError(f"{name}: channels must be a positive int, got {channels!r}")
    if not spec.checked:  # a custom activation: its own factory judges init and params
        return spec.builder(channels, sharing, init, fused, **params)
    _check_params(spec, params)
    if init is not None:
        _check_init(spec, init)
    kwargs = {**spec.defaults, **params}
    init = spec.init if init is None else float(init)
    return spec.builder(channels, sharing, init, fused, **kwargs)


def _custom_spec(name: str, quiet: bool = False) -> ActSpec | None:
    """A "pkg.module:Name" or entry-point activation (see `plugins`); None if `name` is neither."""
    try:
        return plugins.custom_spec(name)
    except ValueError:
        if quiet:
            return None
        raise


def get_spec(name: str) -> ActSpec:
    """The registered activation ``name``: built-in, an entry point, or an importable "pkg.module:Name"."""
    spec = ACTIVATIONS.get(name) or _custom_spec(name)
    if spec is None:
        valid = ", ".join([*ACTIVATIONS, *plugins.entry_point_names()])
        raise UserError(f"unknown activation {name!r} (valid: {valid}, or importable package.module:Name)")
    return spec


def validate_activation(
    name: str, sharing: str = "layer", init: float | None = None, params: Mapping[str, Any] | None = None
) -> None:
    """Raise a one-line ValueError naming the bad value and the allowed ones if the combination is invalid.

    A custom activation is also built and probed once (actbench.activations.plugins.check_activation)."""
    if get_spec(name).checked:
        make_activation(name, 1, sharing, init, **dict(params or {}))
    else:
        if sharing not in SHARING:
            raise UserError(f"{name}: sharing must be one of {', '.join(SHARING)}, got {sharing!r}")
        plugins.check_activation(name, sharing, init, params)
