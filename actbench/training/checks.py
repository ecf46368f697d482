"""A sanity check on the first training step of every process: did the gradient reach the network?

Why: on one GPU stack (torch 2.11, CUDA graphs) the compiled step of the paper's units handed back no
gradient to anything below them, and 200-epoch runs trained only their classifier to 40% without a word
(issue 21's first GPU sweep). A run that cannot learn should stop at its first batch, not after hours.
Read between ``backward()`` and the optimizer step; costs one device sync per process start.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from actbench.models import params_without_gradient

SHOWN = 4  # parameter names listed in a message


class NoGradient(RuntimeError):
    """The first training step left parameters that must learn without a gradient: the run ends failed."""


def first_step(model: nn.Module, speed: dict[str, Any]) -> str | None:
    """Raise NoGradient when an activation parameter or the input layer got no gradient (the run cannot
    learn what it measures); return a warning naming other parameters without one (an unused head, say),
    or None."""
    act, other = params_without_gradient(model)
    if not act and not other:
        return None
    base = getattr(model, "_orig_mod", model)
    first = next((n for n, p in base.named_parameters() if p.requires_grad), None)
    names = act + other
    shown = ", ".join(names[:SHOWN]) + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")
    if act or first in other:
        how = f"compiled ({speed.get('compile_mode') or 'default'})" if speed.get("compile") else "eager"
        hint = "; train.compile=false trains it eagerly" if speed.get("compile") else ""
        raise NoGradient(f"no gradient reached {shown} at the first training step ({how} on "
                         f"{speed.get('device', '?')}): this run could not learn them{hint}")  # fmt: skip
    return f"no gradient reached {shown} at the first training step (left as initialised)"
