"""Activations: paper eqs. 5-10 (Rational, Exponential), baselines, sharing scopes, registry, `acts` CLI."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from actbench import activations as A
from actbench.activations import functional as FN
from actbench.cli import app
from tests.factories import REPO

NAMES = list(A.ACTIVATIONS)
LEARNABLE = [n for n, s in A.ACTIVATIONS.items() if s.params]
PAPER = ["rational", "exponential"]
F64 = torch.float64


def _k(name: str, a: torch.Tensor) -> torch.Tensor:
    return a.exp() if name == "exponential" else a


def _func(name: str):
    return A.exponential if name == "exponential" else A.rational


def _reference(name: str, v: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Plain-autograd paper formula (eqs. 5, 6), made NaN-safe with the clamp trick; a: (1,) or (C,)."""
    a = a if a.numel() == 1 else a.view(-1, *([1] * (v.dim() - 2)))
    k, u = _k(name, a), v.clamp(max=0)
    return torch.where(v >= 0, v, k * u / (k - u))


def _closed_forms(name: str, v: torch.Tensor, a: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(∂h/∂v, ∂h/∂a) of eqs. 7, 8 (and the Rational analogues in paper.md), elementwise, layer-shared a."""
    neg = v < 0
    if name == "exponential":
        e = math.exp(a)
        dv, da = (e / (e - v)) ** 2, -e * v**2 / (e - v) ** 2
    else:
        dv, da = (a / (a - v)) ** 2, -(v**2) / (a - v) ** 2
    return torch.where(neg, dv, torch.ones_like(v)), torch.where(neg, da, torch.zeros_like(v))


# --- exact gradients ---------------------------------------------------------------------------------

# Near 0 from both sides, exactly 0, moderate, large negative (saturation) and large positive values.
EDGE = [-1e6, -50.0, -3.0, -0.7, -1e-7, 0.0, 1e-7, 0.4, 2.0, 1e6]


@pytest.mark.parametrize("name", PAPER)
@pytest.mark.parametrize("sharing", ["layer", "channel"])
def test_gradcheck_float64(name: str, sharing: str) -> None:
    v = torch.tensor(EDGE, dtype=F64).view(5, 2)  # (N, C) = (5, 2): a fully-connected layer
    v4 = torch.linspace(-4, 3, 2 * 2 * 3 * 3, dtype=F64).view(2, 2, 3, 3)  # (N, C, H, W)
    a = torch.tensor([0.7] if sharing == "layer" else [0.7, 1.9], dtype=F64)
    if name == "exponential":
        a = a - 1.0  # exercise a < 0 too (e^a < 1)
    fn = _func(name)
    for x in (v, v4):
        assert torch.autograd.gradcheck(fn, (x.clone().requires_grad_(), a.clone().requires_grad_()))


@pytest.mark.parametrize("name", PAPER)
@pytest.mark.parametrize("sharing", ["layer", "channel"])
def test_matches_plain_autograd_reference(name: str, sharing: str) -> None:
    torch.manual_seed(0)
    v = (torch.randn(6, 3, 4, 5, dtype=F64) * 3).requires_grad_()
    a = (torch.rand(3 if sharing == "channel" else 1, dtype=F64) + 0.2).requires_grad_()
    g = torch.randn_like(v)
    ours = _func(name)(v, a)
    gv, ga = torch.autograd.grad(ours, (v, a), g)
    ref = _reference(name, v, a)
    rv, ra = torch.autograd.grad(ref, (v, a), g)
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(gv, rv)
    torch.testing.assert_close(ga, ra)  # eqs. 9, 10: sum over every unit sharing a


@pytest.mark.parametrize("name", PAPER)
def test_matches_closed_forms(name: str) -> None:
    v = torch.tensor(EDGE, dtype=F64).requires_grad_()
    a = torch.tensor([0.3], dtype=F64, requires_grad=True)
    h = _func(name)(v, a)
    dv, da = _closed_forms(name, v.detach(), 0.3)
    k = _k(name, a.detach())
    expected = torch.where(v < 0, k * v / (k - v), v).detach()
    torch.testing.assert_close(h.detach(), expected)
    # Per-element derivatives from unit upstream gradients on one element at a time.
    jac_v, jac_a = [], []
    for i in range(len(EDGE)):
        gi, gai = torch.autograd.grad(h[i], (v, a), retain_graph=True)
        jac_v.append(gi[i])
        jac_a.append(gai[0])
    torch.testing.assert_close(torch.stack(jac_v), dv)
    torch.testing.assert_close(torch.stack(jac_a), da)


def test_channel_sharing_sums_per_channel() -> None:
    """(N, C) and (N, C, H, W): channel c's gradient equals that of a layer-shared a on channel c alone."""
    torch.manual_seed(1)
    for shape in [(7, 3), (4, 3, 5, 6)]:
        v = torch.randn(shape, dtype=F64) * 2
        a = torch.tensor([0.2, -0.5, 1.3], dtype=F64, requires_grad=True)
        (grad,) = torch.autograd.grad(A.exponential(v, a).sum(), a)
        for c in range(3):
            ac = a.detach()[c : c + 1].clone().requires_grad_()
            (gc,) = torch.autograd.grad(A.exponential(v[:, c], ac).sum(), ac)
            torch.testing.assert_close(grad[c : c + 1], gc)


# --- limits and saturation (paper section 3) -------------------------------------------------------


def test_limits() -> None:
    v = torch.linspace(-10, 10, 2001, dtype=F64)
    relu = v.clamp(min=0)
    torch.testing.assert_close(A.exponential(v, torch.tensor([-30.0], dtype=F64)), relu, atol=1e-12, rtol=0)
    torch.testing.assert_close(A.exponential(v, torch.tensor([30.0], dtype=F64)), v, atol=1e-9, rtol=0)
    # Rational -> ReLU as a -> 0+ (floored at a_min, itself made tiny here); |h| < a on v < 0.
    h = A.rational(v, torch.tensor([1e-9], dtype=F64), a_min=1e-12)
    torch.testing.assert_close(h, relu, atol=1e-9, rtol=0)
    big = torch.tensor([-1e12], dtype=F64)
    for a in (-2.11, 0.0, 1.5):  # negative saturation at -e^a (Exponential) and -a (Rational)
        at = torch.tensor([a], dtype=F64)
        torch.testing.assert_close(A.exponential(big, at), -at.exp(), rtol=1e-9, atol=0)
        if a > 0:
            torch.testing.assert_close(A.rational(big, at), -at, rtol=1e-9, atol=0)


# --- numerical safety --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PAPER)
def test_no_nan_or_inf_leaks(name: str) -> None:
    # v = a (Rational's pole on the unused side), huge magnitudes, extreme a (e^100 overflows float32).
    v = torch.tensor([1.0, 0.0, -0.0, 1e30, -1e30, 3e38, -3e38, -1e-30], requires_grad=True)
    for a_val in (1.0, 100.0, -100.0) if name == "exponential" else (1.0, 1e30, 1e-3):
        a = torch.tensor([a_val], requires_grad=True)
        h = _func(name)(v, a)
        gv, ga = torch.autograd.grad(h.sum(), (v, a))
        assert torch.isfinite(h).all() and torch.isfinite(gv).all() and torch.isfinite(ga).all(), a_val
        assert h[0] == 1.0 and gv[0] == 1.0  # positive side is exactly the identity


@pytest.mark.parametrize("name", PAPER)
def test_nan_input_propagates(name: str) -> None:
    v = torch.tensor([-1.0, float("nan"), 2.0], requires_grad=True)
    a = torch.tensor([0.5], requires_grad=True)
    h = _func(name)(v, a)
    (gv,) = torch.autograd.grad(h.sum(), v)
    assert h.isnan().tolist() == [False, True, False]
    assert gv.isnan().tolist() == [False, True, False]


def test_rational_pole_guard() -> None:
    """a pushed below 0 (by hand and by optimizer steps): outputs and grads stay finite."""
    torch.manual_seed(0)
    m = A.make_activation("rational", 4, sharing="channel", init=0.05)
    x = torch.randn(8, 4, 5, 5) * 3
    opt = torch.optim.SGD(m.parameters(), lr=10.0)
    for _ in range(5):  # ∂h/∂a <= 0, so maximising the output drives a down through 0
        opt.zero_grad()
        (-m(x).sum()).backward()
        opt.step()
    assert (m.a < 0).all()
    with torch.no_grad():
        m.a[0] = -0.5
        m.a[1] = 0.0
    xs = torch.cat([x, -m.a.detach().abs().view(1, 4, 1, 1).expand(1, 4, 5, 5)])  # includes v = |a|, v = -|a|
    xs.requires_grad_()
    h = m(xs)
    gx, ga = torch.autograd.grad(h.sum(), (xs, m.a))
    assert torch.isfinite(h).all() and torch.isfinite(gx).all() and torch.isfinite(ga).all()
    # Effective a is the floor a_min: same values as a rational unit that starts there.
    floor = A.rational(xs.detach(), torch.full((4,), A.RATIONAL_A_MIN))
    torch.testing.assert_close(h.detach(), floor)
    assert (ga != 0).all()  # gradient passes the floor straight through, so a can come back up


# --- registry, factory, every activation ------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_shape_and_dtype_preserved(name: str, dtype: torch.dtype) -> None:
    for sharing in ("layer", "channel"):
        m = A.make_activation(name, 3, sharing=sharing)
        for shape in [(4, 3, 5, 5), (6, 3)]:
            x = torch.randn(shape, dtype=dtype, requires_grad=True)
            y = m(x)
            (gx,) = torch.autograd.grad(y.float().sum(), x)
            assert y.shape == x.shape and y.dtype == dtype and gx.dtype == dtype
            assert torch.isfinite(y).all() and torch.isfinite(gx).all()
        for p in A.activation_parameters(m).values():
            assert p.dtype == torch.float32  # a stays float32 whatever the input dtype


@pytest.mark.parametrize("name", LEARNABLE)
@pytest.mark.parametrize("sharing", ["layer", "channel"])
def test_every_learnable_parameter_gets_a_gradient(name: str, sharing: str) -> None:
    torch.manual_seed(0)
    m = A.make_activation(name, 4, sharing=sharing)
    params, spec = A.activation_parameters(m), A.ACTIVATIONS[name]
    assert set(params) == set(spec.params)
    for p in params.values():  # dim 0 is the sharing group (the layout learned_parameters reads)
        assert p.shape[0] == (4 if sharing == "channel" else 1) and p.dtype == torch.float32
        if spec.init is not None:
            assert p.tolist() == [spec.init] * p.numel()
    grads = torch.autograd.grad(
        (m(torch.randn(8, 4, 3, 3)) * torch.randn(8, 4, 3, 3)).sum(), list(params.values())
    )
    assert all((g != 0).all() for g in grads)


def test_parameter_free_activations_are_torch_modules() -> None:
    for name in set(NAMES) - set(LEARNABLE):
        m = A.make_activation(name, 16, sharing="channel")  # sharing accepted and ignored
        assert A.activation_parameters(m) == {} and not list(m.parameters())
        assert type(m).__module__.startswith("torch.nn")
    assert A.make_activation("elu", 1, alpha=0.5).alpha == 0.5


def test_bf16_autocast_keeps_a_float32() -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 4, 3)
    for name in LEARNABLE:
        act = A.make_activation(name, 4, sharing="channel")
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = act(conv(torch.randn(2, 3, 6, 6)))
        assert y.dtype == torch.bfloat16
        y.float().sum().backward()
        for p in act.parameters():
            assert p.dtype == p.grad.dtype == torch.float32 and torch.isfinite(p.grad).all()


def test_factory_errors() -> None:
    with pytest.raises(ValueError) as exc:
        A.make_activation("swishy", 4)
    assert all(name in str(exc.value) for name in NAMES)
    cases = [
        (dict(name="elu", alpha_x=1.0), "alpha_x.*allowed: alpha"),
        (dict(name="relu", slope=1.0), "slope.*allowed: none"),
        (dict(name="rational", sharing="kernel"), "layer, channel"),
        (dict(name="relu", init=0.5), "no learnable parameter"),
        (dict(name="rational", init=0.0), "pole"),
        (dict(name="rational", init=-1.0), "pole"),
        (dict(name="rational", a_min=0.0), "a_min"),
        (dict(name="gelu", approximate="fast"), "none, tanh"),
        (dict(name="elu", alpha="big"), "finite number"),
        (dict(name="prelu", init=float("inf")), "finite number"),
    ]
    for kwargs, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            A.validate_activation(
                kwargs.pop("name"), kwargs.pop("sharing", "layer"), kwargs.pop("init", None), kwargs
            )
    with pytest.raises(ValueError, match="channel-shared a has 3 values"):
        A.make_activation("exponential", 3, sharing="channel")(torch.randn(2, 5))
    A.validate_activation("exponential", "channel", -2.0, {})
    A.validate_activation("elu", "layer", None, {"alpha": 2})


# --- fast path -------------------------------------------------------------------------------------


def test_fused_equals_eager() -> None:
    """The one torch.compile test (a few seconds to compile on CPU)."""
    torch.manual_seed(0)
    x = torch.randn(4, 3, 6, 6) * 3
    g = torch.randn_like(x)
    for name in PAPER:
        for sharing in ("layer", "channel"):
            eager = A.make_activation(name, 3, sharing=sharing, init=0.4)
            fused = A.make_activation(name, 3, sharing=sharing, init=0.4, fused=True)
            out = []
            for m in (eager, fused):
                xi = x.clone().requires_grad_()
                y = m(xi)
                out.append((y, *torch.autograd.grad(y, (xi, m.a), g)))
            for e, f in zip(*out, strict=True):
                torch.testing.assert_close(f, e, rtol=1e-5, atol=1e-5)
    # the compiled kernels ran: no silent fallback to eager (then this would compare eager with eager)
    assert not FN._COMPILE_FAILED and {"forward", "backward"} <= set(FN._COMPILED)


def test_compiled_units_use_plain_math_with_the_functions_gradients(monkeypatch: pytest.MonkeyPatch) -> None:
    """Traced by torch.compile the units are plain tensor math (FN._traced), not the autograd Function:
    traced, the Function passed back no gradient on torch 2.11 + CUDA (benchmarks/grad_check.py on an H200).
    Same outputs and gradients as the eager Function, also where the clamps hold (Rational's a below its
    floor, Exponential's a past the exponent limit: the gradient passes straight through)."""
    traced: list[str] = []
    real = FN._traced
    monkeypatch.setattr(FN, "_traced", lambda v, a, e, m: (traced.append("x"), real(v, a, e, m))[1])
    torch.manual_seed(0)
    x = torch.randn(4, 3, 5, 5) * 3
    g = torch.randn_like(x)
    for name, init in (("rational", 0.4), ("rational", -0.5), ("exponential", -0.7), ("exponential", 60.0)):
        for sharing in ("layer", "channel"):
            m = A.make_activation(name, 3, sharing=sharing)
            with torch.no_grad():
                m.a.fill_(init)  # past the clamps too (a config refuses a Rational init <= 0)
            out = []
            for fn in (m, torch.compile(m, backend="aot_eager", fullgraph=True)):  # dynamo + AOTAutograd
                torch._dynamo.reset()
                xi = x.clone().requires_grad_()
                y = fn(xi)
                out.append((y, *torch.autograd.grad(y, (xi, m.a), g)))
            case = f"{name} a={init} {sharing}"
            for e, c in zip(*out, strict=True):
                torch.testing.assert_close(c, e, rtol=1e-5, atol=1e-5, msg=lambda m, k=case: f"{k}: {m}")
            assert out[0][2].abs().sum() > 0, (name, init)  # a gradient that could have been lost
    assert len(traced) == 8  # one trace per unit: the compiled calls took the plain math


def test_compiled_clamps_are_exact_far_past_the_bound() -> None:
    """The traced unit's straight-through clamp gives the bound exactly however far `a` lies past it:
    written a + (clamp(a) − a).detach() it rounded in float32 (Rational at a = −40000: k = 0, output NaN)."""
    v = torch.tensor([-2.0, -0.5, 0.0, 1.5])
    for a0 in (-1.0, -50.0, -40000.0):
        a = torch.tensor(a0, requires_grad=True)
        k = FN._straight_k(a, False, A.RATIONAL_A_MIN, torch.float32)
        assert k.item() == torch.tensor(A.RATIONAL_A_MIN).item(), a0
        y = FN._traced(v, a, False, A.RATIONAL_A_MIN)
        assert torch.isfinite(y).all()
        (grad,) = torch.autograd.grad(y.sum(), a)
        assert grad.item() != 0  # the gradient still passes straight through to a
    a = torch.tensor(1e6, requires_grad=True)  # Exponential far past its exponent limit
    lim = FN._exponent_limit(torch.float32)
    assert FN._straight_k(a, True, 0.0, torch.float32).item() == torch.tensor(lim).exp().item()
    for a0 in (0.4, 3.3):  # within the bounds: a itself (e^a), bit for bit
        a = torch.tensor(a0)
        assert FN._straight_k(a, False, A.RATIONAL_A_MIN, torch.float32).item() == a.item()
        assert FN._straight_k(-a, True, 0.0, torch.float32).item() == (-a).exp().item()


def test_fused_falls_back_to_eager_when_compile_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_compile(fn, **kwargs):
        def run(*args):
            raise RuntimeError("no C++ compiler")

        return run

    monkeypatch.setattr(FN, "_COMPILED", {})
    monkeypatch.setattr(FN, "_COMPILE_FAILED", [])
    monkeypatch.setattr(torch, "compile", broken_compile)
    x = torch.randn(3, 2, 4, 4, requires_grad=True)
    fused = A.make_activation("exponential", 2, sharing="channel", fused=True)
    with pytest.warns(RuntimeWarning, match="no C.. compiler"):
        y = fused(x)
    y.sum().backward()  # backward now goes straight to eager, no second warning
    eager = A.make_activation("exponential", 2, sharing="channel")
    torch.testing.assert_close(y, eager(x))


# --- CLI and benchmark -----------------------------------------------------------------------------


def test_acts_table_lists_every_activation() -> None:
    result = CliRunner().invoke(app, ["acts"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name, spec in A.ACTIVATIONS.items():
        assert name in result.output and spec.formula in result.output


def test_acts_plot_writes_png(tmp_path: Path) -> None:
    out = tmp_path / "fig" / "acts.png"
    args = ["acts", "--plot", str(out), "--a", "-3,-1,0,1,3", "--names", "rational,exponential,relu"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--a", "1,x,3"], "--a: cannot parse '1,x,3'"),
        (["--names", "relu,nope"], "unknown activation 'nope'"),
    ],
)
def test_acts_bad_arguments(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["acts", "--plot", str(tmp_path / "p.png"), *args])
    assert result.exit_code != 0
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "p.png").exists()


def test_benchmark_quick_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = REPO / "benchmarks" / "bench_activations.py"
    spec = importlib.util.spec_from_file_location("bench_activations", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "bench.json"
    assert bench.main(["--quick", "--names", "relu,prelu,exponential", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["results"]
    assert {(r["name"], r["sharing"], r["mode"]) for r in rows} >= {
        ("relu", "-", "eager"),
        ("exponential", "channel", "eager"),
    }
    assert all(r["ms"] > 0 and r["saved_x_input"] <= 1.01 for r in rows if r["mode"] == "eager")
    assert "exponential" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "a"), [("rational", 0.3), ("rational", -0.2), ("exponential", -1.5), ("exponential", 0.7)]
)
def test_saturation_level_is_the_units_limit(name: str, a: float) -> None:
    """saturation_level(a) = k with the unit -> -k as v -> -inf, checked on the unit itself (float64)."""
    unit = A.make_activation(name, 1, init=max(a, 1e-3) if name == "rational" else a).double()
    if name == "rational":
        with torch.no_grad():
            unit.a.fill_(a)  # below a_min: the pole guard's floor is the effective value
    far = unit(torch.tensor([[-1e9]], dtype=torch.float64)).item()
    assert far == pytest.approx(-A.saturation_level(name, a), rel=1e-6)
    assert A.saturation_level("prelu", a) is None


def test_acts_plot_sets_swish_betas_own_parameter(tmp_path: Path) -> None:
    """swish_beta's one learnable parameter is β, not `a`: --a sets β (and a report's init curve uses it)."""
    from actbench.activations.curves import activation_curve

    v = torch.linspace(-3, 3, 7, dtype=F64)
    torch.testing.assert_close(activation_curve("swish_beta", v, 2.0), v * torch.sigmoid(2.0 * v))
    out = tmp_path / "swish.png"
    result = CliRunner().invoke(app, ["acts", "--plot", str(out), "--a", "0.5,2", "--names", "swish_beta"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
