"""The first-step gradient check (training.checks): a run whose step reaches no part of the network that
must learn ends `failed` at its first batch, alone or packed; an unused parameter only warns."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from actbench import runs
from actbench.activations import functional as FN
from actbench.models import build_model, params_without_gradient
from actbench.pack import train as P
from actbench.training import loop as T
from actbench.training.checks import NoGradient, first_step
from tests.factories import tiny_config

SPEED = {"device": "cuda", "compile": True, "compile_mode": "reduce-overhead"}


def _stepped(act: str = "exponential") -> torch.nn.Module:
    cfg = tiny_config(f"activation.name={act}")
    model = build_model(cfg.model, cfg.activation, 10, 32)
    F.cross_entropy(model(torch.randn(4, 3, 32, 32)), torch.tensor([0, 1, 2, 3])).backward()
    return model


def test_first_step_accepts_a_full_gradient_and_names_what_is_missing() -> None:
    model = _stepped()
    assert params_without_gradient(model) == ([], []) and first_step(model, SPEED) is None
    a = dict(model.named_parameters())
    act_name = next(n for n in a if n.endswith(".a"))
    a[act_name].grad = None  # the activation's own parameter: what the run measures
    with pytest.raises(NoGradient, match=rf"{act_name}.*compiled \(reduce-overhead\) on cuda.*compile=false"):
        first_step(model, SPEED)
    model = _stepped()
    first = next(iter(a))
    dict(model.named_parameters())[first].grad.zero_()  # nothing reached the input layer
    with pytest.raises(NoGradient, match=first):
        first_step(model, {"device": "cpu", "compile": False})
    model = _stepped("relu")
    last = list(dict(model.named_parameters()))[-1]
    dict(model.named_parameters())[last].grad = None  # an unused head, say: a warning, the run goes on
    assert last in first_step(model, SPEED) and params_without_gradient(model) == ([], [last])


def _no_gradient(monkeypatch: pytest.MonkeyPatch) -> None:
    """The units pass nothing back, as the compiled step did on torch 2.11 + CUDA graphs."""

    def apply(v, a, exponential, a_min, fused):
        a = FN._broadcast_a(v, a)
        return FN._NegRationalFn.apply(v.detach(), a.detach(), exponential, a_min, fused)

    monkeypatch.setattr(FN, "_apply", apply)


def _runs(root: Path, acts: list[str]) -> list[Path]:
    return [T.create_run(tiny_config(f"activation.name={a}"), root, f"{a}-s0") for a in acts]


def test_a_run_without_gradient_fails_at_its_first_step(runs_dir: Path, monkeypatch) -> None:
    _no_gradient(monkeypatch)
    d = _runs(runs_dir, ["exponential"])[0]
    summary = T.run_training(d)
    assert summary["status"] == runs.FAILED and summary["epochs_done"] == 0
    assert "no gradient reached" in summary["error"] and "eager on cpu" in summary["error"]
    monkeypatch.undo()  # the same run with gradients trains
    assert T.run_training(_runs(runs_dir / "ok", ["exponential"])[0])["status"] == runs.COMPLETED


def test_a_pack_member_without_gradient_fails_and_the_others_train(runs_dir: Path, monkeypatch) -> None:
    _no_gradient(monkeypatch)  # only the paper's units are broken: relu trains on in the pack
    summaries = P.run_pack(_runs(runs_dir, ["relu", "rational", "exponential"]))
    assert [s["status"] for s in summaries] == [runs.COMPLETED, runs.FAILED, runs.FAILED]
    assert all("no gradient reached" in s["error"] for s in summaries[1:])
