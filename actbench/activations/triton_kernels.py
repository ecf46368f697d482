"""Triton kernels for Rational / Exponential on a GPU: one pass forward, one pass backward.

The units' math is that of `functional` (h = v·k/(k − u), ∂h/∂v = s², ∂h/∂k = −r², u = min(v, 0)); here it
is computed in float32 whatever the input dtype (bfloat16/float16 inputs are read, converted, and written
back in their own dtype), and the backward computes ∂E/∂v and the partial sums of ∂E/∂k in the same pass
over the input, so a step reads v and g once and writes ∂E/∂v once, as ReLU's does:

    forward   y[i]  = v[i] · k[c] / (k[c] − min(v[i], 0))                     one read, one write
    backward  gv[i] = g[i] · s²,  part[p, c] += g[i] · r²  (fp32, per program) two reads, one write
              ∂E/∂k[c] = Σ_p part[p, c]                                        a few KB, one torch sum

``k`` holds 1 value (layer sharing) or C (channel sharing, dim 1 of the input). The tensor is seen as
(outer, C, inner) in memory order: NCHW contiguous is (N, C, H·W), channels-last or (N, F) is (N·H·W, C, 1),
layer sharing is (1, 1, numel). For inner > 1 each program sums BLOCK elements of one (outer, c) row; for
inner == 1 each program sums a tile of rows × channels. The partial sums are written, not atomically
added, so the result does not depend on the order programs run in (deterministic).

On the CPU the kernels run only in Triton's interpreter (``TRITON_INTERPRET=1``, how the tests check them);
`available(t)` says whether a tensor can take this path. The kernels are built (``triton.jit``) on first
use, since Triton decides between compiling and interpreting when a kernel is decorated.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from typing import Any

import torch

# Imported on first use (`_kernels`; 0.3-0.7 s): a CPU run never pays for it. The kernels' source refers to
# `tl` as a module global, which Triton resolves when it compiles them.
triton: Any = None
tl: Any = None

BLOCK = 1024  # elements per program (inner > 1)
TILE_R, TILE_C = 64, 32  # rows × channels per program (inner == 1)


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def available(v: torch.Tensor) -> bool:
    """Whether `v` can take the Triton path: triton imports, and v is on CUDA (or the interpreter is on)."""
    if v.dtype not in (torch.float32, torch.float16, torch.bfloat16):
        return False
    return (v.is_cuda or (interpreting() and v.device.type == "cpu")) and installed()


INSTALLED = importlib.util.find_spec("triton") is not None  # torch's CUDA wheels bring it, CPU-only ones not


def installed() -> bool:
    """Whether triton can be imported."""
    return INSTALLED


# --- kernels (plain functions, decorated by _kernels) -------------------------------------------------


def _fwd(v_ptr, k_ptr, y_ptr, n, C, inner, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    idx = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = idx < n
    c = (idx // inner) % C
    v = tl.load(v_ptr + idx, mask=mask, other=0.0).to(tl.float32)
    k = tl.load(k_ptr + c, mask=mask, other=1.0)
    u = tl.minimum(v, 0.0)
    y = v * (k / (k - u))
    y = tl.where(v != v, v, y)  # NaN stays NaN (minimum may drop it)
    tl.store(y_ptr + idx, y.to(y_ptr.dtype.element_ty), mask=mask)


def _bwd_rows(
    g_ptr, v_ptr, k_ptr, gv_ptr, part_ptr, C, inner, nblk, NEED_K: tl.constexpr, BLOCK: tl.constexpr
):
    row = tl.program_id(0)  # one (outer, c) row of `inner` elements
    blk = tl.program_id(1)
    c = row % C
    col = blk * BLOCK + tl.arange(0, BLOCK)
    mask = col < inner
    idx = row.to(tl.int64) * inner + col
    v = tl.load(v_ptr + idx, mask=mask, other=0.0).to(tl.float32)
    g = tl.load(g_ptr + idx, mask=mask, other=0.0).to(tl.float32)
    k = tl.load(k_ptr + c)
    u = tl.where(v < 0, v, 0.0)  # NaN compares false: u = 0, and the NaN reaches gv through v below
    d = k - u
    s = k / d
    gv = g * s * s
    gv = tl.where(v != v, v, gv)
    tl.store(gv_ptr + idx, gv.to(gv_ptr.dtype.element_ty), mask=mask)
    if NEED_K:
        r = u / d
        r = tl.where(v != v, v, r)
        tl.store(part_ptr + row.to(tl.int64) * nblk + blk, tl.sum(g * r * r, axis=0))


def _bwd_tile(
    g_ptr, v_ptr, k_ptr, gv_ptr, part_ptr, R, C, NEED_K: tl.constexpr, TR: tl.constexpr, TC: tl.constexpr
):
    pr = tl.program_id(0)  # a tile of TR rows × TC channels of an (R, C) tensor (channels last in memory)
    pc = tl.program_id(1)
    rows = pr.to(tl.int64) * TR + tl.arange(0, TR)
    cols = pc * TC + tl.arange(0, TC)
    cmask = cols < C
    mask = (rows[:, None] < R) & cmask[None, :]
    idx = rows[:, None] * C + cols[None, :]
    v = tl.load(v_ptr + idx, mask=mask, other=0.0).to(tl.float32)
    g = tl.load(g_ptr + idx, mask=mask, other=0.0).to(tl.float32)
    k = tl.load(k_ptr + cols, mask=cmask, other=1.0)[None, :]
    u = tl.where(v < 0, v, 0.0)
    d = k - u
    s = k / d
    gv = g * s * s
    gv = tl.where(v != v, v, gv)
    tl.store(gv_ptr + idx, gv.to(gv_ptr.dtype.element_ty), mask=mask)
    if NEED_K:
        r = u / d
        r = tl.where(v != v, v, r)
        tl.store(part_ptr + pr.to(tl.int64) * C + cols, tl.sum(g * r * r, axis=0), mask=cmask)


@functools.cache
def _kernels(interpret: bool) -> tuple[Any, Any, Any]:
    """(forward, backward rows, backward tile), jit'd or interpreted (keyed by the interpreter flag)."""
    global triton, tl
    import triton
    import triton.language as tl

    del interpret  # the cache key: triton.jit reads TRITON_INTERPRET itself
    return triton.jit(_fwd), triton.jit(_bwd_rows), triton.jit(_bwd_tile)


# --- layout -------------------------------------------------------------------------------------------


def _layout(v: torch.Tensor, channels: int) -> tuple[torch.Tensor, int, int, int]:
    """(v in a dense memory order, outer, C, inner) as described in the module doc."""
    if channels == 1:
        if not (v.is_contiguous() or v.is_contiguous(memory_format=torch.channels_last)):
            v = v.contiguous()
        return v, 1, 1, v.numel()
    if v.dim() == 4 and not v.is_contiguous() and v.is_contiguous(memory_format=torch.channels_last):
        return v, v.numel() // channels, channels, 1
    v = v.contiguous()
    inner = v[0, 0].numel() if v.dim() > 2 else 1
    return v, v.shape[0], channels, inner


def forward(v: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """h(v) for k of shape (1,) or (C,) (float32), in v's dtype and memory format."""
    kf = k.detach().reshape(-1).to(torch.float32).contiguous()
    v, _, c, inner = _layout(v, kf.numel())
    y = torch.empty_like(v)  # preserves the (dense) memory format
    n = v.numel()
    if n:
        kernel = _kernels(interpreting())[0]
        kernel[(triton.cdiv(n, BLOCK),)](v, kf, y, n, c, inner, BLOCK=BLOCK)
    return y


def _bwd_layout(
    g: torch.Tensor, v: torch.Tensor, channels: int
) -> tuple[torch.Tensor, torch.Tensor, int, int, int]:
    """(g, v, outer, C, inner) with g and v in the same dense memory order."""
    v, outer, c, inner = _layout(v, channels)
    if g.stride() != v.stride():
        g = g.contiguous(memory_format=torch.channels_last) if inner == 1 and v.dim() == 4 else g.contiguous()
        if g.stride() != v.stride():  # a layout the two cases above do not give: make both plain
            v, g = v.contiguous(), g.contiguous()
            v, outer, c, inner = _layout(v, channels)
    return g, v, outer, c, inner


def empty_outputs(g: torch.Tensor | None, v: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """An empty tensor shaped and strided as `forward` (g None) or `backward`'s ∂E/∂v returns it (for a fake
    implementation under torch.compile)."""
    if g is None:
        return torch.empty_like(_layout(v, k.numel())[0])
    return torch.empty_like(_bwd_layout(g, v, k.numel())[1])


def backward(
    g: torch.Tensor, v: torch.Tensor, k: torch.Tensor, need_k: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(∂E/∂v in v's dtype, Σ g·r² per sharing group as float32 of k's shape (1,)/(C,), or None)."""
    kf = k.detach().reshape(-1).to(torch.float32).contiguous()
    g, v, outer, c, inner = _bwd_layout(g, v, kf.numel())
    gv = torch.empty_like(v)
    _, rows_kernel, tile_kernel = _kernels(interpreting())
    if v.numel() == 0:
        return gv, (torch.zeros_like(kf) if need_k else None)
    if inner > 1:
        blk = min(BLOCK, triton.next_power_of_2(inner))
        nblk = triton.cdiv(inner, blk)
        part = torch.empty(outer * c, nblk, device=v.device, dtype=torch.float32)
        rows_kernel[(outer * c, nblk)](g, v, kf, gv, part, c, inner, nblk, NEED_K=need_k, BLOCK=blk)
        grad_k = part.view(outer, c, nblk).sum((0, 2)) if need_k else None
    else:
        tc = min(TILE_C, triton.next_power_of_2(c))
        grid = (triton.cdiv(outer, TILE_R), triton.cdiv(c, tc))
        part = torch.empty(grid[0], c, device=v.device, dtype=torch.float32)
        tile_kernel[grid](g, v, kf, gv, part, outer, c, NEED_K=need_k, TR=TILE_R, TC=tc)
        grad_k = part.sum(0) if need_k else None
    return gv, grad_k
