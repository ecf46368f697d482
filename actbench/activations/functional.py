"""The closed forms of the paper's Rational and Exponential units: value, gradients, pole guard, fused paths.

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
from collections.abc import Callable
from typing import Any

import torch
from torch.autograd.function import once_differentiable

from actbench.activations import triton_kernels

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


# `fused` on a tensor Triton can take (CUDA, or the interpreter; float32/16, bfloat16): the hand-written
# kernels of `triton_kernels` (one pass forward, one pass backward with the reduction of ∂E/∂a). Elsewhere
# (the CPU): the torch.compile'd closed forms below. False: the compiled forms everywhere (for benchmarks).
USE_TRITON = True


def _use_triton(v: torch.Tensor) -> bool:
    return USE_TRITON and triton_kernels.available(v)


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


def _exponent_limit(dtype: torch.dtype) -> float:
    """Largest |a| for which e^a and e^a − v stay finite in ``dtype``: 44.4 for float32/bfloat16, 5.5 for
    float16."""
    return 0.5 * math.log(torch.finfo(dtype).max)


def _effective_k(a: torch.Tensor, exponential: bool, a_min: float, dtype: torch.dtype) -> torch.Tensor:
    """k = e^a (exponent clamped so k and k − v stay finite in ``dtype``) or k = max(a, a_min)."""
    if exponential:
        lim = _exponent_limit(dtype)
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
        if fused and _use_triton(v):  # k and the arithmetic in float32, the output in v's dtype
            ctx.triton = True
            return triton_kernels.forward(v.detach(), _effective_k(a.detach(), exponential, a_min, v.dtype))
        ctx.triton = False
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
        grad_v: torch.Tensor | None
        grad_k: torch.Tensor | None
        if ctx.triton:  # ∂E/∂v and the per-group sums of g·r² in one pass (float32)
            grad_v, grad_k = triton_kernels.backward(g, v, k, need_a)
            grad_v = grad_v if need_v else None
        else:
            bwd = _fused("backward", _backward_eager, _backward_math) if ctx.fused else _backward_eager
            grad_v, grad_k = bwd(g, v, k.to(v.dtype), channel, need_v, need_a)
        grad_a = None
        if grad_k is not None:  # ∂h/∂k = −r²; chain rule dk/da = k for Exponential, 1 for Rational
            grad_k = grad_k.reshape(a.shape)
            grad_a = (-grad_k * k.to(grad_k.dtype) if ctx.exponential else -grad_k).to(a.dtype)
        return grad_v, grad_a, None, None, None


def _traced(v: torch.Tensor, a: torch.Tensor, exponential: bool, a_min: float) -> torch.Tensor:
    """The unit as plain differentiable tensor math, for a model that torch.compile traces.

    Why not the autograd Function there: traced by torch 2.11's dynamo on CUDA (H200, compile with CUDA
    graphs, every paper_cnn run of issue 21's GPU sweep) its backward handed back no gradient at all,
    neither to ``a`` (it stayed exactly at its initial value for 200 epochs) nor to the layers below, so
    only the classifier trained (40% test accuracy); most likely dynamo read ``ctx.needs_input_grad`` as
    False, the pattern of pytorch/pytorch#159299 (not pinned down; torch 2.14 on CPU traces it correctly,
    benchmarks/results/h200-grad-check.log shows the GPU case). Under compile AOTAutograd derives the same
    closed forms from this expression (∂h/∂v = s², ∂h/∂k = −r²) and fuses them; the clamps pass the
    gradient straight through (``x + (clamp(x) − x).detach()``), as the Function's backward does.
    Written as max(v, 0) + u·k/(k − u), not v·k/(k − u): then every v >= 0 gives ∂h/∂k = 0 exactly
    (u = 0 multiplies it), where the quotient rule would subtract two terms of size 1/k (float32 noise of
    ~1e-7/k each, summed over every positive unit: 6e-4 relative in a's gradient at Rational's floor).
    """
    k = _straight_k(a, exponential, a_min, v.dtype).to(v.dtype)
    u = v.clamp(max=0)
    return (v - u) + u * (k / (k - u))


def _straight_k(a: torch.Tensor, exponential: bool, a_min: float, dtype: torch.dtype) -> torch.Tensor:
    """k = e^a or max(a, a_min) with the clamps passing the gradient straight through (see _traced)."""
    # clamp(a) + (a − a.detach()): the clamped value exactly (the second term is 0) with a's gradient.
    # Not a + (clamp(a) − a).detach(): that rounds in float32 where |a| >> the bound (Rational at a = −1 gave
    # k = 1.0000467e-3 for 1e-3, at a = −40000 k = 0 and h = NaN); the same where a is within the bounds.
    straight = a - a.detach()
    if exponential:
        lim = _exponent_limit(dtype)
        return (a.detach().clamp(-lim, lim) + straight).exp()
    return a.detach().clamp(min=a_min) + straight


_TRITON_OP: list[Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = []  # built by prepare_fused


def prepare_fused() -> None:
    """Build the custom op that compiled fused units call (see _build_triton_op) where the Triton kernels
    can run (triton installed; CUDA, or the interpreter). Called by the unit modules built with fused=True,
    outside any trace: torch.compile cannot trace the op's definition (or the triton import) itself."""
    if (
        not _TRITON_OP
        and triton_kernels.installed()
        and (torch.cuda.is_available() or triton_kernels.interpreting())
    ):
        _TRITON_OP.append(_build_triton_op())


def _build_triton_op() -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """h(v; k) as a torch.library custom op with its autograd (the Triton kernels of `triton_kernels`), for a
    compiled model with `fused` on a GPU: torch.compile sees custom ops with registered autograd through
    AOTAutograd as ordinary (opaque) ops, not the autograd Function whose trace lost every gradient (see
    _traced). k: float32 (1,) or (C,)."""
    from torch.library import custom_op

    @custom_op("actbench::neg_rational", mutates_args=())
    def unit(v: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        return triton_kernels.forward(v, k)

    @custom_op("actbench::neg_rational_backward", mutates_args=())
    def unit_backward(g: torch.Tensor, v: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        grad_v, sums = triton_kernels.backward(g, v, k, True)
        assert sums is not None  # need_k=True
        return grad_v, sums

    @unit.register_fake
    def _(v: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        return triton_kernels.empty_outputs(None, v, k)

    @unit_backward.register_fake
    def _(g: torch.Tensor, v: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return triton_kernels.empty_outputs(g, v, k), torch.empty(
            k.numel(), device=k.device, dtype=torch.float32
        )

    def setup_context(ctx: Any, inputs: tuple[torch.Tensor, torch.Tensor], output: torch.Tensor) -> None:
        ctx.save_for_backward(*inputs)

    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v, k = ctx.saved_tensors
        grad_v, sums = unit_backward(g, v, k)
        return grad_v, -sums.reshape(k.shape).to(k.dtype)  # ∂h/∂k = −r²

    unit.register_autograd(backward, setup_context=setup_context)
    return unit


def _apply(v: torch.Tensor, a: torch.Tensor, exponential: bool, a_min: float, fused: bool) -> torch.Tensor:
    a = _broadcast_a(v, a)
    if torch.compiler.is_compiling():  # see _traced: the Function is for eager (and its fused kernels)
        # fused on a GPU: the Triton kernels as a custom op (float32 k of shape (1,) or (C,))
        if fused and _TRITON_OP and _use_triton(v):
            return _TRITON_OP[0](v, _straight_k(a, exponential, a_min, v.dtype).reshape(-1))
        return _traced(v, a, exponential, a_min)
    return _NegRationalFn.apply(v, a, exponential, a_min, fused)


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
    return _apply(v, a, False, a_min, fused)


def saturation_level(name: str, a: float, a_min: float = RATIONAL_A_MIN) -> float | None:
    """The negative saturation level k of a learned ``a`` (the unit tends to −k as v → −∞): Rational
    k = max(a, a_min), the pole guard's effective value; Exponential k = e^a; None for other units. At the
    paper's initial values (a = 1, a = 0) both are k = 1: the same function."""
    if name == "rational":
        return max(a, a_min)
    if name == "exponential":
        return math.exp(min(a, 700.0))  # float64 overflows past e^709
    return None


def exponential(v: torch.Tensor, a: torch.Tensor, fused: bool = False) -> torch.Tensor:
    """Exponential unit (paper eq. 6): v for v >= 0, e^a·v/(e^a − v) for v < 0.

    ReLU as a → −∞, identity as a → +∞; saturates at −e^a as v → −∞. ``a`` as in :func:`rational`.
    """
    return _apply(v, a, True, 0.0, fused)
