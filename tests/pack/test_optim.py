"""One optimizer step for a pack (actbench.pack.optim): exactly the members' own steps, state shared."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from actbench.pack.optim import MergedOptimizer

# (optimizer class, per-member constructor settings): members differ in lr and weight decay.
CASES = [
    (torch.optim.Adam, [{"lr": 1e-2}, {"lr": 1e-2}, {"lr": 3e-2, "weight_decay": 1e-3}]),
    (torch.optim.AdamW, [{"lr": 1e-2, "weight_decay": 0.1}, {"lr": 2e-2, "weight_decay": 0.1}]),
    (torch.optim.SGD, [{"lr": 0.1, "momentum": 0.9}, {"lr": 0.05, "momentum": 0.9}]),
]


def _member(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3))


def _optimizer(cls: type, model: nn.Module, settings: dict) -> torch.optim.Optimizer:
    head, rest = list(model[2].parameters()), list(model[0].parameters())
    # two groups, as session.build_optimizer makes (activation parameters without weight decay)
    return cls([{"params": rest}, {"params": head, "weight_decay": 0.0}], **settings)


def _loss(model: nn.Module, step: int, k: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(100 * step + k)
    x, y = torch.randn(8, 6, generator=g), torch.randint(0, 3, (8,), generator=g)
    return nn.functional.cross_entropy(model(x), y)


def _train(models, opts, steps: int, merged: bool, start: int = 0) -> None:
    step_all = MergedOptimizer(opts) if merged else None
    for t in range(start, start + steps):
        losses = [_loss(m, t, k) for k, m in enumerate(models)]
        if step_all:
            step_all.zero_grad()
            sum(losses).backward()
            step_all.step()
        else:
            for o, loss in zip(opts, losses, strict=True):
                o.zero_grad()
                loss.backward()
                o.step()


def _same_state(a: torch.optim.Optimizer, b: torch.optim.Optimizer) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    assert sa["state"].keys() == sb["state"].keys() and sa["state"]
    for i in sa["state"]:
        for key, value in sa["state"][i].items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(sb["state"][i][key])), (i, key)


@pytest.mark.parametrize(("cls", "settings"), CASES, ids=[c[0].__name__ for c in CASES])
def test_merged_step_is_the_members_steps_exactly(cls: type, settings: list[dict]) -> None:
    alone = [_member(k) for k in range(len(settings))]
    packed = copy.deepcopy(alone)
    opts_alone = [_optimizer(cls, m, s) for m, s in zip(alone, settings, strict=True)]
    opts_packed = [_optimizer(cls, m, s) for m, s in zip(packed, settings, strict=True)]
    _train(alone, opts_alone, 4, merged=False)
    _train(packed, opts_packed, 4, merged=True)
    for a, b in zip(alone, packed, strict=True):
        for p, q in zip(a.parameters(), b.parameters(), strict=True):
            assert torch.equal(p, q)  # bitwise: the same kernels on the same tensors
    for oa, ob in zip(opts_alone, opts_packed, strict=True):
        _same_state(oa, ob)  # each member's own optimizer holds the state the merged steps made


def test_equal_settings_share_one_group_and_different_ones_do_not() -> None:
    cls, settings = CASES[0]
    opts = [_optimizer(cls, _member(k), s) for k, s in enumerate(settings)]
    # members 0 and 1 are equal; member 2 differs in lr and weight decay; head groups have decay 0
    groups = {(g["lr"], g["weight_decay"]) for g in MergedOptimizer(opts).opt.param_groups}
    assert groups == {(1e-2, 0.0), (3e-2, 1e-3), (3e-2, 0.0)}


def test_restored_member_state_continues_exactly() -> None:
    """A member resumed from its optimizer's state_dict, then stepped merged, equals uninterrupted."""
    cls, settings = CASES[0]
    ref = [_member(k) for k in range(3)]
    opts_ref = [_optimizer(cls, m, s) for m, s in zip(ref, settings, strict=True)]
    _train(ref, opts_ref, 6, merged=False)

    first = [_member(k) for k in range(3)]
    opts_first = [_optimizer(cls, m, s) for m, s in zip(first, settings, strict=True)]
    _train(first, opts_first, 3, merged=True)
    pairs = zip(first, opts_first, strict=True)
    saved = [(copy.deepcopy(m.state_dict()), copy.deepcopy(o.state_dict())) for m, o in pairs]
    resumed = [_member(99) for _ in range(3)]
    opts_resumed = [_optimizer(cls, m, s) for m, s in zip(resumed, settings, strict=True)]
    for m, o, (ms, os_) in zip(resumed, opts_resumed, saved, strict=True):
        m.load_state_dict(ms)
        o.load_state_dict(os_)
    _train(resumed, opts_resumed, 3, merged=True, start=3)
    for a, b in zip(ref, resumed, strict=True):
        for p, q in zip(a.parameters(), b.parameters(), strict=True):
            assert torch.equal(p, q)


def test_members_with_different_optimizers_are_refused() -> None:
    a, b = _member(0), _member(1)
    with pytest.raises(ValueError, match="different optimizers"):
        MergedOptimizer([torch.optim.Adam(a.parameters()), torch.optim.SGD(b.parameters(), lr=0.1)])
