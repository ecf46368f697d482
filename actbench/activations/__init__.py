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

from actbench.activations.functional import RATIONAL_A_MIN, exponential, rational
from actbench.activations.registry import (
    commutes_with_max_pool,
    get_spec,
    has_fused_path,
    make_activation,
    validate_activation,
)
from actbench.activations.spec import ACTIVATIONS, SHARING, ActSpec
from actbench.activations.units import Exponential, PReLU, Rational, activation_parameters

__all__ = [
    "ACTIVATIONS",
    "RATIONAL_A_MIN",
    "SHARING",
    "ActSpec",
    "Exponential",
    "PReLU",
    "Rational",
    "activation_parameters",
    "commutes_with_max_pool",
    "exponential",
    "get_spec",
    "has_fused_path",
    "make_activation",
    "rational",
    "validate_activation",
]
