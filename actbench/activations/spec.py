"""What a registered activation is (``ActSpec``) and the built-in ones (``ACTIVATIONS``): torch's own
modules as baselines, the paper's units, PAU and Swish-beta."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from actbench.activations.functional import RATIONAL_A_MIN
from actbench.activations.learnable import PAU, SwishBeta
from actbench.activations.units import Exponential, Learnable, PReLU, Rational

SHARING = ("layer", "channel")  # the scopes of a learnable parameter: one per layer, one per channel

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
    fusable: bool = False  # has fused kernels (Triton / torch.compile) that `fused` switches on
    packs_by_channel: bool = False  # declared by a custom activation: packs without a probe (pack.model)


def _builtin(name: str, formula: str, cls: type[nn.Module], **defaults: Any) -> ActSpec:
    """A parameter-free torch module (channels/sharing/init/fused do not apply)."""

    def build(channels: int, sharing: str, init: float | None, fused: bool, **kw: Any) -> nn.Module:
        return cls(**kw)

    return ActSpec(name, formula, build, defaults=defaults, ref=f"torch.nn.{cls.__name__}")


def _unit(
    name: str, formula: str, cls: Callable[..., Learnable], init: float, ref: str, **defaults: Any
) -> ActSpec:
    """A learnable unit class with parameter ``a``; Rational/Exponential also take ``fused``."""
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
