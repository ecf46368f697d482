"""Speed features give the same training results as the plain path (CPU, a few steps)."""

from __future__ import annotations

import pytest
import torch

from actbench import session as S
from actbench.activations import functional as FN
from actbench.training import loop as T
from tests.factories import tiny_config


def _one_epoch(*sets: str) -> tuple[dict[str, float], S.Session]:
    s = S.make_session(tiny_config("train.epochs=1", "activation.name=exponential", *sets))
    return T.train_epoch(s, 1, T.Hooks()), s


def _params(s: S.Session) -> torch.Tensor:
    return torch.cat([p.detach().float().flatten() for p in s.model.parameters()])


def test_channels_last_matches_contiguous() -> None:
    ref, s_ref = _one_epoch()
    got, s_got = _one_epoch("train.channels_last=true")
    assert got["train_loss"] == pytest.approx(ref["train_loss"], rel=1e-4)
    torch.testing.assert_close(_params(s_got), _params(s_ref), rtol=1e-3, atol=1e-4)


def test_bf16_autocast_close_and_a_stays_float32() -> None:
    ref, _ = _one_epoch()
    got, s = _one_epoch("train.amp=bf16")
    assert got["train_loss"] == pytest.approx(ref["train_loss"], rel=0.05)
    for act in s.model.activations().values():
        assert act.a.dtype == torch.float32 and act.a.grad is not None and act.a.grad.dtype == torch.float32


@pytest.mark.parametrize("act", ["rational", "exponential"])
def test_fused_activation_matches_eager_in_training(act: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FN, "_COMPILED", {})  # built afresh here, so the check below sees this test's use
    monkeypatch.setattr(FN, "_COMPILE_FAILED", [])
    ref, s_ref = _one_epoch(f"activation.name={act}")
    assert FN._COMPILED == {}  # the eager reference never touches the compiled kernels
    got, s_got = _one_epoch(f"activation.name={act}", "activation.fused=true")
    assert not FN._COMPILE_FAILED and {"forward", "backward"} <= set(FN._COMPILED), "compiled path not used"
    assert got["train_loss"] == pytest.approx(ref["train_loss"], rel=1e-4)
    torch.testing.assert_close(_params(s_got), _params(s_ref), rtol=1e-3, atol=1e-4)


def test_compiled_model_matches_eager() -> None:
    ref, s_ref = _one_epoch()
    got, s_got = _one_epoch("train.compile=true")
    assert got["train_loss"] == pytest.approx(ref["train_loss"], rel=1e-4)
    torch.testing.assert_close(_params(s_got), _params(s_ref), rtol=1e-3, atol=1e-4)


def test_auto_speed_settings_per_device() -> None:
    cfg = tiny_config("activation.fused=null")
    cpu = S.effective_speed(cfg, torch.device("cpu"))
    assert cpu == {
        "device": "cpu",
        "compile": False,
        "compile_mode": None,
        "fused": False,
        "pool_first": True,
    }
    gelu = S.effective_speed(
        tiny_config("activation.fused=null", "activation.name=gelu"), torch.device("cpu")
    )
    assert (gelu["pool_first"], gelu["fused"]) == (False, False)  # gelu has no fused path (issue 24)
    exp = S.effective_speed(
        tiny_config("activation.fused=null", "activation.name=exponential", "model.pool_first=false"),
        torch.device("cpu"),
    )
    assert (exp["pool_first"], exp["fused"]) == (False, True)
    cuda = S.effective_speed(cfg, torch.device("cuda"))  # resolution only: nothing runs on the GPU
    assert cuda == {
        "device": "cuda",
        "compile": True,
        "compile_mode": "reduce-overhead",
        "fused": False,
        "pool_first": True,
    }
    pinned = S.effective_speed(
        tiny_config("train.compile=false", "activation.fused=true", "activation.name=rational"),
        torch.device("cuda"),
    )
    assert (pinned["compile"], pinned["fused"]) == (False, True)
    relu = S.effective_speed(tiny_config("activation.fused=true"), torch.device("cpu"))
    assert relu["fused"] is False  # accepted and ignored: reported as what runs
