"""Activation functions: the paper's Rational and Exponential units, the usual baselines, one registry.

Paper: T. Enomoto, K. Kakuda, S. Miura, "Construction of New Activation Functions in Neural Network"
(restated in English in ``../shared/paper/paper.md``). The closed forms, the pole guard and the
gradients are documented in `functional`; `units` holds the learnable modules (PReLU, Rational,
Exponential), `learnable` PAU and Swish-beta, `spec` the built-in table, `registry` the one factory
(`make_activation`) and `plugins` activations defined outside actbench. The names below are re-exported
so `from actbench.activations import make_activation` (what plug-ins and examples use) keeps working.
"""

from actbench.activations.functional import RATIONAL_A_MIN, exponential, rational, saturation_level
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
    "saturation_level",
    "validate_activation",
]
