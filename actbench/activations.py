"""Activation functions: the paper's Rational and Exponential units, the usual baselines, one registry.

Paper: T. Enomoto, K. Kakuda, S. Miura, "Construction of New Activation Functions in Neural Network"
(restated in English in ``../shared/paper/paper.md``). Its two proposals (eqs. 5 and 6) share one form,

    h(v) = v                  for v >= 0
    h(v) = k·v / (k − v)      for v < 0,     k = a (Rational)  or  k = e^a (Exponential),

with ``a`` learned by backprop and shared by a whole layer or by each output channel (eqs. 9, 10).
Both are computed as ``h(v) = v · k / (k − u)`` with ``u = min(v, 0)``: for v >= 0 the factor is
k / k = 1 exactly, so no mask or ``torch.where`` is needed and the unused branch can never divide by zero
(``k − u >= k > 0``). Backward uses the closed forms (eqs. 7, 8) in the same variables,

    ∂h/∂v = s²,   ∂h/∂k = −r²,   s = k / (k − u) ∈ (0, 1],   r = u / (k − u) ∈ (−1, 0],

which are bounded for every finite input (no overflow for v = −1e30), 1 and 0 for v >= 0, and NaN only
where the input is NaN. A −inf input gives NaN (the limit −k is not special-cased).

Rational's pole: the pole v = a lies on the unused positive side while a > 0. The module therefore
uses an effective ``k = max(a, a_min)`` (``a_min`` = 1e-3 by default, a config param) so a step that
pushes ``a`` to <= 0 cannot put the pole on v < 0. The gradient reaches ``a`` straight through the
floor (as if unclamped), so ``a`` can climb back when the loss wants it to; the logged ``a`` is the raw
parameter. Exponential clamps its exponent to ±½·ln(max float of the input dtype) (±44 in float32) so
e^a never overflows; the gradient passes through that clamp the same way.

Baselines are torch's own modules (https://pytorch.org/docs/stable/nn.html#non-linear-activations-
weighted-sum-nonlinearity); PReLU uses ``torch.nn.functional.prelu`` with its weight named ``a``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from actbench.learnable import PAU, SwishBeta

__all__ = [
    "ACTIVATIONS",
    "SHARING",
    "ActSpec",
    "Exponential",
    "PReLU",
    "Rational",
    "activation_parameters",
    "exponential",
    "get_spec",
    "has_fused_path",
    "make_activation",
    "rational",
    "validate_activation",
]

SHARING = ("layer", "channel")
RATIONAL_A_MIN = 1e-3  # default floor of Rational's effective a (the pole guard)


# --- closed-form math, shared by the eager and the compiled (fused) paths --------------------------


def _forward_eager(v: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """h = v · k / (k − min(v, 0)); one fresh buffer, updated in place (4 passes, no other temporaries)."""
    out = torch.clamp(v, max=0)  # u; NaN stays NaN
    torch.sub(k, out, out=out)  # k − u >= k > 0
    torch.div(k, out, out=out)  # s ∈ (0, 1], exactly 1 where v >= 0
    return out.mul_(v)


def _backward_eager(
    g: torch.Tensor,
    v: torch.Tensor,
    k: torch.Tensor,
    channel: bool,
    need_v: bool,
    need_k: bool,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(g · s², Σ g · r²), summed per channel (dim 1) or over everything, accumulated in >= float32."""
    u = torch.clamp(v, max=0)
    d = torch.sub(k, u)  # k − u
    grad_k = None
    if need_k:
        u.div_(d).square_().mul_(g)  # g · r²
        grad_k = _reduce(u, channel, torch.promote_types(k.dtype, torch.float32))
    grad_v = torch.div(k, d, out=d).square_().mul_(g) if need_v else None
    return grad_v, grad_k


def _forward_math(v: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Same as ``_forward_eager`` as one expression, for torch.compile to fuse into a single loop."""
    return v * (k / (k - v.clamp(max=0)))


def _backward_math(
    g: torch.Tensor,
    v: torch.Tensor,
    k: torch.Tensor,
    channel: bool,
    need_v: bool,
    need_k: bool,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Same as ``_backward_eager`` without in-place ops, for torch.compile."""
    d = k - v.clamp(max=0)
    grad_v = g * (k / d) ** 2 if need_v else None
    grad_k = None
    if need_k:
        acc = torch.promote_types(k.dtype, torch.float32)
        grad_k = _reduce((g * (v.clamp(max=0) / d) ** 2).to(acc), channel, acc)
    return grad_v, grad_k


def _reduce(t: torch.Tensor, channel: bool, acc: torch.dtype) -> torch.Tensor:
    """Sum to (C,) (channel) or (1,) (layer). Channel: (N, C, H·W) -> (N, C) -> (C,), spatial dims first,
    which torch.compile turns into a ~2x faster CPU kernel than one sum over dims (0, 2, 3)."""
    if not channel:
        return t.sum(dtype=acc).reshape(1)
    if t.dim() > 2:
        t = t.flatten(2).sum(-1, dtype=acc)
    return t.sum(0, dtype=acc)


_COMPILED: dict[str, Callable[..., Any]] = {}  # "forward"/"backward" -> torch.compile wrapper (lazy)
_COMPILE_FAILED: list[str] = []  # set once when torch.compile is unusable here; then stay eager


def _fused(kind: str, eager: Callable[..., Any], math_fn: Callable[..., Any]) -> Callable[..., Any]:
    """torch.compile'd ``math_fn``, built on first use; falls back to ``eager`` (with a warning) if compiling
    fails. One wrapper per function: torch.compile's guards already key its cache on device, dtype, shape."""
    if _COMPILE_FAILED:
        return eager
    if kind not in _COMPILED:
        _COMPILED[kind] = torch.compile(math_fn, dynamic=None)
    compiled = _COMPILED[kind]

    def call(*args: Any) -> Any:
        try:
            return compiled(*args)
        except Exception as exc:  # no C++ compiler / triton, unsupported device, ...
            _COMPILE_FAILED.append(f"{type(exc).__name__}: {exc}")
            warnings.warn(
                f"actbench: fused activation unavailable ({_COMPILE_FAILED[0][:200]}); using eager",
                RuntimeWarning,
                stacklevel=3,
            )
            return eager(*args)

    return call


# --- autograd Function ------------------------------------------------------------------------------


def _effective_k(a: torch.Tensor, exponential: bool, a_min: float, dtype: torch.dtype) -> torch.Tensor:
    """k = e^a (exponent clamped so k and k − v stay finite in ``dtype``) or k = max(a, a_min)."""
    if exponential:
        lim = 0.5 * math.log(torch.finfo(dtype).max)  # 44.4 for float32/bfloat16, 5.5 for float16
        return a.clamp(-lim, lim).exp()
    return a.clamp(min=a_min)


class _NegRationalFn(torch.autograd.Function):
    """h(v) = v·k/(k − min(v, 0)), k = a or e^a (paper eqs. 5, 6) with the closed-form backward (eqs. 7, 8).

    ``a`` is (1,) for layer sharing or (C, 1, ..., 1) for channel sharing; its gradient is the sum over all
    units sharing it (eqs. 9, 10). Saves only the input and ``a``; everything else is recomputed.
    """

    @staticmethod
    def forward(ctx: Any, v: torch.Tensor, a: torch.Tensor, exponential: bool, a_min: float, fused: bool):
        ctx.save_for_backward(v, a)
        ctx.exponential, ctx.a_min, ctx.fused = exponential, a_min, fused
        k = _effective_k(a, exponential, a_min, v.dtype).to(v.dtype)  # compute in the input dtype
        fwd = _fused("forward", _forward_eager, _forward_math) if fused else _forward_eager
        return fwd(v.detach(), k)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, g: torch.Tensor):
        v, a = ctx.saved_tensors
        k = _effective_k(a, ctx.exponential, ctx.a_min, v.dtype)  # in a's dtype (float32)
        channel = a.numel() > 1  # layer sharing: a is (1,); channel: (C, 1, ..., 1)
        need_v, need_a = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        bwd = _fused("backward", _backward_eager, _backward_math) if ctx.fused else _backward_eager
        grad_v, grad_k = bwd(g, v, k.to(v.dtype), channel, need_v, need_a)
        grad_a = None
        if grad_k is not None:  # ∂h/∂k = −r²; chain rule dk/da = k for Exponential, 1 for Rational
            grad_k = grad_k.reshape(a.shape)
            grad_a = (-grad_k * k.to(grad_k.dtype) if ctx.exponential else -grad_k).to(a.dtype)
        return grad_v, grad_a, None, None, None


def _broadcast_a(v: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """(1,) stays as is (layer); (C,) becomes (C, 1, ..., 1) to broadcast over N and spatial dims."""
    if a.numel() == 1:
        return a.reshape(1)
    if v.dim() < 2 or v.shape[1] != a.numel():
        raise ValueError(f"channel-shared a has {a.numel()} values but the input is {tuple(v.shape)}")
    return a.view(-1, *([1] * (v.dim() - 2)))


def rational(
    v: torch.Tensor, a: torch.Tensor, a_min: float = RATIONAL_A_MIN, fused: bool = False
) -> torch.Tensor:
    """Rational unit (paper eq. 5): v for v >= 0, a·v/(a − v) for v < 0, with a floored at ``a_min``.

    ``a``: (1,) shared by the layer or (C,) per channel (dim 1 of ``v``). Saturates at −a as v → −∞.
    """
    return _NegRationalFn.apply(v, _broadcast_a(v, a), False, a_min, fused)


def exponential(v: torch.Tensor, a: torch.Tensor, fused: bool = False) -> torch.Tensor:
    """Exponential unit (paper eq. 6): v for v >= 0, e^a·v/(e^a − v) for v < 0.

    ReLU as a → −∞, identity as a → +∞; saturates at −e^a as v → −∞. ``a`` as in :func:`rational`.
    """
    return _NegRationalFn.apply(v, _broadcast_a(v, a), True, 0.0, fused)


# --- modules ----------------------------------------------------------------------------------------


class _Learnable(nn.Module):
    """Base of the learnable units: one float32 parameter ``a``, (1,) per layer or (C,) per channel."""

    def __init__(self, channels: int, sharing: str, init: float):
        super().__init__()
        self.sharing = sharing
        n = channels if sharing == "channel" else 1
        self.a = nn.Parameter(torch.full((n,), float(init), dtype=torch.float32))

    def extra_repr(self) -> str:
        return f"sharing={self.sharing}, num_a={self.a.numel()}"


class PReLU(_Learnable):
    """PReLU (He et al. 2015; paper eq. 1): v for v > 0, a·v otherwise. torch.nn.functional.prelu."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.prelu(x, self.a.to(x.dtype))  # F.prelu needs matching dtypes (bfloat16 inputs)


class Rational(_Learnable):
    """Rational unit of Enomoto, Kakuda & Miura (paper eq. 5); see :func:`rational`."""

    def __init__(
        self, channels: int, sharing: str, init: float, fused: bool = False, a_min: float = RATIONAL_A_MIN
    ):
        super().__init__(channels, sharing, init)
        self.fused, self.a_min = fused, float(a_min)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rational(x, self.a, self.a_min, self.fused)


class Exponential(_Learnable):
    """Exponential unit of Enomoto, Kakuda & Miura (paper eq. 6); see :func:`exponential`."""

    def __init__(self, channels: int, sharing: str, init: float, fused: bool = False):
        super().__init__(channels, sharing, init)
        self.fused = fused

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return exponential(x, self.a, self.fused)


# --- registry ---------------------------------------------------------------------------------------

Builder = Callable[..., nn.Module]  # (channels, sharing, init, fused, **params) -> module


@dataclass(frozen=True)
class ActSpec:
    """One registered activation: what ``actbench acts`` lists and ``make_activation`` builds."""

    name: str
    formula: str
    builder: Builder
    params: tuple[str, ...] = ()  # learnable parameter names (attributes of the module)
    init: float | None = None  # default initial value of the learnable parameter
    supports_sharing: bool = False  # layer/channel scope applies (learnable activations)
    defaults: Mapping[str, Any] = field(default_factory=dict)  # fixed constructor params, e.g. ELU alpha
    ref: str = ""  # where it comes from: the paper's equation or the torch module
    origin: str = "built-in"  # built-in | "import" (a "pkg.module:Name") | "entry point (<dist>)"
    non_decreasing: bool = False  # declared by a custom activation: max-pooling may then run first
    checked: bool = True  # built-ins check params/init here; a custom factory checks its own
    fusable: bool = False  # has a torch.compile'd kernel that `fused` switches on (rational, exponential)
    packs_by_channel: bool = False  # declared by a custom activation: packs without a probe (actbench.pack)


def _builtin(name: str, formula: str, cls: type[nn.Module], **defaults: Any) -> ActSpec:
    """A parameter-free torch module (channels/sharing/init/fused do not apply)."""

    def build(channels: int, sharing: str, init: float | None, fused: bool, **kw: Any) -> nn.Module:
        return cls(**kw)

    return ActSpec(name, formula, build, defaults=defaults, ref=f"torch.nn.{cls.__name__}")


def _unit(name: str, formula: str, cls: type[_Learnable], init: float, ref: str, **defaults: Any) -> ActSpec:
    """A learnable unit with parameter ``a``; Rational/Exponential also take ``fused``."""
    fusable = cls is not PReLU

    def build(channels: int, sharing: str, init: float, fused: bool, **kw: Any) -> nn.Module:
        return cls(channels, sharing, init, fused, **kw) if fusable else cls(channels, sharing, init, **kw)

    return ActSpec(name, formula, build, ("a",), init, True, defaults, ref, fusable=fusable)


_P = "Enomoto, Kakuda, Miura"  # the paper
ACTIVATIONS: dict[str, ActSpec] = {
    s.name: s
    for s in [
        _builtin("relu", "max(0, v)", nn.ReLU),
        _builtin("elu", "v (v>0); α(e^v − 1) (v<=0)", nn.ELU, alpha=1.0),
        _unit("prelu", "v (v>0); a·v (v<=0)", PReLU, 0.25, "He et al. 2015 (paper eq. 1); F.prelu"),
        _builtin("leaky_relu", "v (v>0); s·v (v<=0)", nn.LeakyReLU, negative_slope=0.01),
        _builtin("selu", "λ·(v (v>0); α(e^v − 1)), λ≈1.051, α≈1.673", nn.SELU),
        _builtin("gelu", "v·Φ(v)", nn.GELU, approximate="none"),
        _builtin("silu", "v·σ(v)  (swish)", nn.SiLU),
        _builtin("mish", "v·tanh(softplus(v))", nn.Mish),
        _builtin("softplus", "log(1 + e^(βv)) / β", nn.Softplus, beta=1.0, threshold=20.0),
        _builtin("tanh", "tanh(v)", nn.Tanh),
        _unit("rational", "v (v>=0); a·v/(a − v) (v<0)", Rational, 1.0, f"{_P}, eq. 5", a_min=RATIONAL_A_MIN),
        _unit("exponential", "v (v>=0); e^a·v/(e^a − v) (v<0)", Exponential, 0.0, f"{_P}, eq. 6"),
        ActSpec(
            "pau",
            "Σ p_j·v^j / (1 + Σ |q_k|·|v|^k)",
            lambda channels, sharing, init, fused: PAU(channels, sharing),
            ("p", "q"),
            None,
            True,
            ref="Molina et al. 2020, safe PAU (5, 4), leaky-ReLU init",
        ),
        ActSpec(
            "swish_beta",
            "v·σ(β·v)",
            lambda channels, sharing, init, fused: SwishBeta(channels, sharing, init),
            ("beta",),
            1.0,
            True,
            ref="Ramachandran et al. 2017, trainable β",
        ),
    ]
}

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
    return p.get("alpha", 0.0) >= 0 and p.get("negative_slope", 0.0) >= 0


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
            raise ValueError(f"{spec.name}: unknown param {key!r} (allowed: {allowed})")
        if isinstance(spec.defaults[key], float):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{spec.name}: param {key!r} must be a finite number, got {value!r}")
        rule = _PARAM_RULES.get(key)
        if rule is not None and not rule[0](value):
            raise ValueError(f"{spec.name}: param {key!r} must be {rule[1]}, got {value!r}")


def _check_init(spec: ActSpec, init: float) -> None:
    if not spec.params:
        raise ValueError(f"{spec.name} has no learnable parameter, so init must be null (got {init!r})")
    if spec.init is None:
        raise ValueError(f"{spec.name}: init must be null (its coefficients start as published: {spec.ref})")
    if isinstance(init, bool) or not isinstance(init, (int, float)) or not math.isfinite(init):
        raise ValueError(f"{spec.name}: init must be a finite number, got {init!r}")
    if spec.name == "rational" and init <= 0:
        raise ValueError(f"rational: init a = {init} <= 0 starts at its pole (v = a); use a > 0 (paper: 1.0)")


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
    ``fused``: use the torch.compile'd kernel (rational/exponential only; ignored elsewhere, where the
    activation is already a single torch kernel). ``params``: fixed constructor params, e.g. ELU ``alpha``.
    """
    spec = get_spec(name)
    if sharing not in SHARING:
        raise ValueError(f"{name}: sharing must be one of {', '.join(SHARING)}, got {sharing!r}")
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        raise ValueError(f"{name}: channels must be a positive int, got {channels!r}")
    if not spec.checked:  # a custom activation: its own factory judges init and params
        return spec.builder(channels, sharing, init, fused, **params)
    _check_params(spec, params)
    if init is not None:
        _check_init(spec, init)
    kwargs = {**spec.defaults, **params}
    init = spec.init if init is None else float(init)
    return spec.builder(channels, sharing, init, fused, **kwargs)


def _custom_spec(name: str, quiet: bool = False) -> ActSpec | None:
    """A "pkg.module:Name" or entry-point activation (actbench.plugins); None if `name` is neither."""
    from actbench.plugins import custom_spec  # local: plugins imports this module

    try:
        return custom_spec(name)
    except ValueError:
        if quiet:
            return None
        raise


def get_spec(name: str) -> ActSpec:
    """The registered activation ``name``: built-in, an entry point, or an importable "pkg.module:Name"."""
    spec = ACTIVATIONS.get(name) or _custom_spec(name)
    if spec is None:
        from actbench.plugins import entry_point_names

        valid = ", ".join([*ACTIVATIONS, *entry_point_names()])
        raise ValueError(f"unknown activation {name!r} (valid: {valid}, or importable package.module:Name)")
    return spec


def validate_activation(
    name: str, sharing: str = "layer", init: float | None = None, params: Mapping[str, Any] | None = None
) -> None:
    """Raise a one-line ValueError naming the bad value and the allowed ones if the combination is invalid.

    A custom activation is also built and probed once (actbench.plugins.check_activation)."""
    if get_spec(name).checked:
        make_activation(name, 1, sharing, init, **dict(params or {}))
    else:
        from actbench.plugins import check_activation

        check_activation(name, sharing, init, params)


def activation_parameters(module: nn.Module) -> dict[str, torch.Tensor]:
    """Learnable parameters of one activation module (any module: its own ``nn.Parameter``s, dotted names
    for submodules), e.g. {"a": Parameter of shape (1,) or (C,)}. Frozen ones (requires_grad False) are
    left out. Empty for parameter-free activations. These are the live parameters: detach before storing.
    """
    return {k: p for k, p in module.named_parameters() if p.requires_grad}
