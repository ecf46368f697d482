"""The Triton kernels of Rational/Exponential (activations.triton_kernels), run on the CPU in Triton's
interpreter (TRITON_INTERPRET=1): the same values and gradients as the float64 reference of
test_activations, in every layout the models hand them (NCHW, channels-last, (N, F)); skipped where triton
is not installed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from actbench import activations as A
from actbench.activations import functional as FN
from actbench.activations import triton_kernels as TK
from tests.activations.test_activations import EDGE, PAPER, _reference
from tests.factories import REPO

pytestmark = pytest.mark.skipif(not TK.installed(), reason="triton is not installed")
F64 = torch.float64
# Triton decides interpret-or-compile when a function is decorated, its own library's too (tl.sum is a
# jit'd function): the interpreter works only in a process where TRITON_INTERPRET=1 was set before triton
# was first imported (torch.compile imports it). So those tests run in a fresh process of their own.
INTERPRETED_PROCESS = TK.interpreting()


def test_interpreter_in_a_fresh_process() -> None:
    """Runs this file's interpreter cases (the kernels on CPU tensors) in a process started with
    TRITON_INTERPRET=1."""
    if INTERPRETED_PROCESS:
        pytest.skip("this is that process")
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__, "-k", "interpret"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and " failed" not in proc.stdout


@pytest.fixture(params=["interpret", "cuda"])
def interpret(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The kernels on CPU tensors in Triton's interpreter, or compiled on a GPU (skipped without one).
    Returns the list of kernel calls made (so a test sees the path was taken); `DEV` is the device."""
    global DEV
    if request.param == "cuda":
        if not torch.cuda.is_available():
            pytest.skip("no CUDA device")
        monkeypatch.delenv("TRITON_INTERPRET", raising=False)
        DEV = torch.device("cuda")
    else:
        if not INTERPRETED_PROCESS:
            pytest.skip("interpreter tests run in a fresh process (test_interpreter_in_a_fresh_process)")
        try:
            TK._kernels(True)
        except Exception as exc:  # noqa: BLE001 - an interpreter this triton lacks: skip, do not fail
            pytest.skip(f"triton interpreter unavailable: {exc}")
        DEV = torch.device("cpu")
    calls: list[str] = []
    fwd, bwd = TK.forward, TK.backward
    monkeypatch.setattr(TK, "forward", lambda *a: (calls.append("forward"), fwd(*a))[1])
    monkeypatch.setattr(TK, "backward", lambda *a: (calls.append("backward"), bwd(*a))[1])
    return calls


DEV = torch.device("cpu")  # set by the `interpret` fixture


def _run(name: str, v: torch.Tensor, a: torch.Tensor, g: torch.Tensor, fused: bool) -> list[torch.Tensor]:
    """Output and gradients (v, a) of the unit, on the CPU (the fused path: on DEV, results moved back)."""
    dev = DEV if fused else torch.device("cpu")
    v, a = (t.detach().to(dev, copy=True).requires_grad_() for t in (v, a))
    fn = A.exponential if name == "exponential" else A.rational
    y = fn(v, a, fused=fused)
    return [t.cpu() for t in (y, *torch.autograd.grad(y, (v, a), g.to(dev)))]


CASES = [  # (shape, channel sharing, channels-last)
    ((6, 3, 4, 5), False, False),
    ((6, 3, 4, 5), True, False),
    ((5, 3), True, False),
    ((4, 5, 3, 3), True, True),
    ((4, 5, 3, 3), False, True),
    ((3, 2, 40, 40), True, False),  # inner = 1600 > one block: two partial sums per row
]


@pytest.mark.parametrize("name", PAPER)
@pytest.mark.parametrize(
    "case", CASES, ids=lambda c: f"{c[0]}-{'ch' if c[1] else 'layer'}{'-cl' if c[2] else ''}"
)
def test_triton_matches_float64_reference(name: str, case: tuple, interpret: list[str]) -> None:
    shape, channel, channels_last = case
    torch.manual_seed(0)
    v = torch.randn(shape, dtype=F64) * 3
    a = torch.rand(shape[1] if channel else 1, dtype=F64) + 0.2 - (1.0 if name == "exponential" else 0.0)
    g = torch.randn(shape, dtype=F64)
    want = _run(name, v, a, g, fused=False)  # the float64 Function equals the plain-autograd reference
    torch.testing.assert_close(want[0], _reference(name, v, a))
    v32, g32 = v.float(), g.float()
    if channels_last:
        v32, g32 = (t.to(DEV).contiguous(memory_format=torch.channels_last) for t in (v32, g32))
        y = A.rational(v32, a.float().to(DEV), fused=True)
        assert y.is_contiguous(memory_format=torch.channels_last)
        interpret.clear()
    got = _run(name, v32, a.float(), g32, fused=True)
    assert interpret == ["forward", "backward"]
    for x, ref in zip(got, want, strict=True):
        assert x.dtype == torch.float32
        torch.testing.assert_close(x.double(), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", PAPER)
def test_triton_edges_and_nan(name: str, interpret: list[str]) -> None:
    v = torch.tensor([*EDGE, float("nan")], dtype=F64).view(1, -1)
    a = torch.tensor([0.3], dtype=F64)
    g = torch.ones_like(v)
    want = _run(name, v[:, :-1], a, g[:, :-1], fused=False)
    got = _run(name, v.float(), a.float(), g.float(), fused=True)
    assert got[0][0, -1].isnan() and got[1][0, -1].isnan() and got[2].isnan().all()  # NaN propagates
    got = _run(name, v[:, :-1].float(), a.float(), g[:, :-1].float(), fused=True)
    for x, ref in zip(got, want, strict=True):
        torch.testing.assert_close(x.double(), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_triton_half_inputs_accumulate_in_float32(dtype: torch.dtype, interpret: list[str]) -> None:
    """bf16/fp16 in and out, float32 inside: ∂E/∂a over 20k units is as close to float64 (on the same rounded
    input) as float32 arithmetic allows, where summing in the input dtype would be off by percents."""
    torch.manual_seed(1)
    v = (torch.randn(8, 4, 25, 25) * 2).to(dtype)
    g = torch.randn(8, 4, 25, 25).to(dtype)
    a = torch.tensor([0.5, 1.0, 1.5, 2.0])
    for name in PAPER:
        y, gv, ga = _run(name, v, a, g, fused=True)
        assert y.dtype == gv.dtype == dtype and ga.dtype == torch.float32
        ry, rgv, rga = _run(name, v.double(), a.double(), g.double(), fused=False)
        torch.testing.assert_close(y.double(), ry, rtol=1e-2, atol=1e-2)
        torch.testing.assert_close(gv.double(), rgv, rtol=1e-2, atol=1e-2)
        torch.testing.assert_close(ga.double(), rga, rtol=1e-5, atol=1e-5)


def test_triton_only_with_fused_and_on_a_device_it_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Off the interpreter a CPU tensor never takes the Triton path; float64 never does."""
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    assert not TK.available(torch.zeros(2))
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert TK.available(torch.zeros(2)) and not TK.available(torch.zeros(2, dtype=F64))
    monkeypatch.setattr(FN, "USE_TRITON", False)
    assert not FN._use_triton(torch.zeros(2))


def test_compiled_fused_units_still_pass_gradients_to_a(interpret: list[str]) -> None:
    """A compiled model with fused units calls the Triton kernels as a custom op with registered autograd
    (FN._build_triton_op), not the autograd Function: its gradient reaches `a` and equals the eager
    kernels' (the fault of issue 21 was a compiled step without one)."""
    torch.manual_seed(0)
    x = torch.randn(4, 3, 5, 5, device=DEV) * 3
    g = torch.randn_like(x)
    for name in PAPER:
        m = A.make_activation(name, 3, sharing="channel", init=0.4, fused=True).to(DEV)
        assert FN._TRITON_OP  # built by the module, outside the trace
        out = []
        for fn in (m, torch.compile(m, backend="aot_eager", fullgraph=True)):
            torch._dynamo.reset()
            xi = x.clone().requires_grad_()
            y = fn(xi)
            out.append((y, *torch.autograd.grad(y, (xi, m.a), g)))
        for e, c in zip(*out, strict=True):
            torch.testing.assert_close(c, e, rtol=1e-5, atol=1e-5)
        assert out[1][2].abs().min() > 0
    assert interpret.count("forward") == interpret.count("backward") == 4  # eager and compiled: the kernels


def test_kernels_compile_for_a_hopper_gpu_without_one() -> None:
    """What the interpreter cannot show: Triton compiles every kernel to a GPU binary (sm_90: H100/H200),
    fp32 (and bf16 for one), on the CPU with the ptxas triton ships (skipped where that is unavailable)."""
    try:
        from triton.backends.compiler import GPUTarget
        from triton.compiler import ASTSource
        from triton.compiler import compile as tcompile
    except ImportError as exc:
        pytest.skip(f"triton compiler API unavailable: {exc}")
    fwd, rows, tile = TK._kernels(False)
    ptr = {"k_ptr": "*fp32", "part_ptr": "*fp32"}
    for dt in ("fp32", "bf16"):
        io = {"g_ptr": f"*{dt}", "v_ptr": f"*{dt}", "gv_ptr": f"*{dt}", "y_ptr": f"*{dt}"}
        sigs = [
            (fwd, ["v_ptr", "k_ptr", "y_ptr", "n", "C", "inner"], {"BLOCK": 1024}),
            (
                rows,
                ["g_ptr", "v_ptr", "k_ptr", "gv_ptr", "part_ptr", "C", "inner", "nblk"],
                {"NEED_K": True, "BLOCK": 256},
            ),
            (
                tile,
                ["g_ptr", "v_ptr", "k_ptr", "gv_ptr", "part_ptr", "R", "C"],
                {"NEED_K": True, "TR": 64, "TC": 32},
            ),
        ]
        for fn, args, consts in (
            sigs if dt == "fp32" else sigs[1:2]
        ):  # bf16: the kernel that converts both ways
            sig = {a: io.get(a) or ptr.get(a) or "i32" for a in args} | dict.fromkeys(consts, "constexpr")
            try:
                k = tcompile(
                    ASTSource(fn=fn, signature=sig, constexprs=consts), target=GPUTarget("cuda", 90, 32)
                )
            except (RuntimeError, FileNotFoundError) as exc:  # no ptxas / CUDA backend in this install
                pytest.skip(f"no CUDA backend for triton here: {str(exc)[:200]}")
            assert k.asm.get("cubin"), fn
