"""One optimizer step for a whole pack instead of one per member.

Each member keeps its ordinary optimizer: its checkpoints hold that optimizer's state_dict, which a
lone run (`train --resume`) loads unchanged. Stepping K optimizers costs K `step()` calls per training
step (on CUDA, K fused-kernel launches plus K times the Python overhead of a step), which at batch 100
is a large share of a packed step. `MergedOptimizer` steps one optimizer of the members' class whose
param groups join the members' groups with equal hyperparameters (lr, betas, weight decay, ...).

Why this is exact: Adam, AdamW and SGD update each parameter from its own gradient and its own state
only, and the merged groups carry the members' hyperparameters unchanged, so the merged step is the K
member steps (same kernels per tensor: the fused/foreach choice is copied from the members).
The per-parameter state is shared, not copied: the merged optimizer's `state[p]` is the very dict the
member's optimizer holds for `p`, so a member's `state_dict()` is always current.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from actbench.errors import UserError


def _hyperparameters(group: dict[str, Any]) -> str:
    """A group's settings without its parameters: groups with equal settings are merged."""
    return repr(sorted((k, v) for k, v in group.items() if k != "params"))


class MergedOptimizer:
    """Steps the members' optimizers (same class) as one; build it after their lr is set."""

    def __init__(self, opts: Sequence[torch.optim.Optimizer]):
        kinds = {type(o) for o in opts}
        if len(kinds) != 1:
            names = ", ".join(sorted(k.__name__ for k in kinds))
            raise UserError(f"pack: members use different optimizers ({names})")
        merged: dict[str, dict[str, Any]] = {}
        for opt in opts:
            for group in opt.param_groups:
                settings = {k: v for k, v in group.items() if k != "params"}
                merged.setdefault(_hyperparameters(group), {**settings, "params": []})["params"].extend(
                    group["params"]
                )
        cls = type(opts[0])
        accepted = inspect.signature(cls.__init__).parameters  # defaults may hold more (AdamW)
        kwargs = {k: v for k, v in opts[0].defaults.items() if k in accepted}
        self.opt = cls(list(merged.values()), **kwargs)
        for opt in opts:
            for p, state in opt.state.items():
                self.opt.state[p] = state
        # Parameters without state yet (before their first step): linked once the merged step made it.
        self._unlinked = [
            (o, p) for o in opts for g in o.param_groups for p in g["params"] if p not in o.state
        ]

    @property
    def groups(self) -> int:
        """How many param groups one step runs (1 or 2 per distinct member setting)."""
        return len(self.opt.param_groups)

    def zero_grad(self) -> None:
        self.opt.zero_grad(set_to_none=True)

    def step(self) -> None:
        self.opt.step()
        if self._unlinked:
            self._unlinked = [(o, p) for o, p in self._unlinked if not self._link(o, p)]

    def _link(self, opt: torch.optim.Optimizer, p: Tensor) -> bool:
        if p not in self.opt.state:
            return False
        opt.state[p] = self.opt.state[p]
        return True
