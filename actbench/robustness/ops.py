"""Image operations the CIFAR-10-C corruptions are built from, in torch, on batches (N, C, H, W).

Each reproduces the library call of Hendrycks & Dietterich's generator (make_cifar_c.py) it replaces:

    gaussian_filter   skimage.filters.gaussian / scipy.ndimage.gaussian_filter (modes nearest, reflect)
    filter2d          cv2.filter2D with its default border (BORDER_REFLECT_101)
    bilinear_sample   scipy.ndimage.map_coordinates(order=1) and cv2.warpAffine (INTER_LINEAR)
    clipped_zoom      the generator's clipped_zoom (scipy.ndimage.zoom, order=1, then a centre crop)
    pil_box_resize    PIL.Image.resize(..., Image.BOX) on uint8 images, in PIL's fixed-point arithmetic
    motion_blur       ImageMagick's MotionBlurImage (called through Wand in the generator)

Border modes name how indices outside [0, n) map back into the image:
    nearest      a a a | a b c d | d d d   (edge repeated; scipy "nearest", cv2 BORDER_REPLICATE)
    reflect      b a a | a b c d | d d c   (half-sample symmetric; scipy "reflect")
    reflect101   c b a | a b c d | c b a   (whole-sample symmetric; scipy "mirror", cv2 BORDER_REFLECT_101)
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import Tensor

from actbench.errors import UserError

BORDERS = ("nearest", "reflect", "reflect101")


def border_index(i: Tensor, n: int, mode: str) -> Tensor:
    """Integer indices (any range) -> indices in [0, n) under border `mode` (see the module docstring)."""
    if mode == "nearest" or n == 1:
        return i.clamp(0, n - 1)
    if mode == "reflect":
        i = i.remainder(2 * n)
        return torch.where(i >= n, 2 * n - 1 - i, i)
    if mode == "reflect101":
        i = i.remainder(2 * n - 2)
        return torch.where(i >= n, 2 * n - 2 - i, i)
    raise UserError(f"border mode {mode!r} is not allowed (allowed: {', '.join(BORDERS)})")


def _pad(x: Tensor, top: int, bottom: int, left: int, right: int, mode: str) -> Tensor:
    """Pad the last two dims of x by gathering border indices (any pad width, unlike F.pad)."""
    h, w = x.shape[-2:]
    rows = border_index(torch.arange(-top, h + bottom, device=x.device), h, mode)
    cols = border_index(torch.arange(-left, w + right, device=x.device), w, mode)
    return x.index_select(-2, rows).index_select(-1, cols)


@functools.cache
def gaussian_kernel1d(sigma: float, truncate: float) -> tuple[float, ...]:
    """scipy.ndimage's 1-D Gaussian weights: radius int(truncate * sigma + 0.5), normalised to sum 1."""
    radius = int(truncate * sigma + 0.5)
    w = [math.exp(-0.5 * (i / sigma) ** 2) for i in range(-radius, radius + 1)]
    total = math.fsum(w)
    return tuple(v / total for v in w)


def separable(x: Tensor, kernel: Tensor, mode: str) -> Tensor:
    """Correlate every (H, W) plane of x (N, C, H, W) with the 1-D `kernel` along H, then along W."""
    n, c, h, w = x.shape
    r = (len(kernel) - 1) // 2
    planes = x.reshape(n * c, 1, h, w)
    k = kernel.to(x.dtype).to(x.device)
    planes = F.conv2d(_pad(planes, r, r, 0, 0, mode), k.view(1, 1, -1, 1))
    planes = F.conv2d(_pad(planes, 0, 0, r, r, mode), k.view(1, 1, 1, -1))
    return planes.reshape(n, c, h, w)


def gaussian_filter(x: Tensor, sigma: float, mode: str = "nearest", truncate: float = 4.0) -> Tensor:
    """Per-plane Gaussian blur of x (N, C, H, W) like scipy.ndimage.gaussian_filter (sigma in pixels;
    skimage.filters.gaussian calls it with mode nearest, truncate 4 by default). sigma 0: unchanged."""
    if sigma <= 1e-15:  # scipy skips such axes
        return x
    return separable(
        x, torch.tensor(gaussian_kernel1d(float(sigma), float(truncate)), dtype=torch.float64), mode
    )


def filter2d(x: Tensor, kernel: Tensor, mode: str = "reflect101") -> Tensor:
    """Correlate every plane of x (N, C, H, W) with a 2-D odd-sized kernel, centred (cv2.filter2D)."""
    n, c, h, w = x.shape
    kh, kw = kernel.shape
    planes = _pad(x.reshape(n * c, 1, h, w), kh // 2, kh // 2, kw // 2, kw // 2, mode)
    return F.conv2d(planes, kernel.to(x).view(1, 1, kh, kw)).reshape(n, c, h, w)


def bilinear_sample(x: Tensor, rows: Tensor, cols: Tensor, mode: str) -> Tensor:
    """x (N, C, H, W) sampled at real coordinates rows/cols (N, H', W') (pixel units, 0 = first pixel
    centre) by bilinear interpolation of the image extended by border `mode` -> (N, C, H', W')."""
    n, c, h, w = x.shape
    r0, c0 = rows.floor(), cols.floor()
    fr, fc = (rows - r0).unsqueeze(1), (cols - c0).unsqueeze(1)
    r0, c0 = r0.long(), c0.long()
    flat = x.reshape(n, c, h * w)

    def at(ri: Tensor, ci: Tensor) -> Tensor:
        idx = border_index(ri, h, mode) * w + border_index(ci, w, mode)  # (N, H', W')
        return flat.gather(2, idx.reshape(n, 1, -1).expand(n, c, -1)).reshape(n, c, *rows.shape[1:])

    top = at(r0, c0) * (1 - fc) + at(r0, c0 + 1) * fc
    bottom = at(r0 + 1, c0) * (1 - fc) + at(r0 + 1, c0 + 1) * fc
    return top * (1 - fr) + bottom * fr


def clipped_zoom(x: Tensor, factor: float) -> Tensor:
    """Zoom into the centre of x (N, C, H, H) by `factor` >= 1 and keep the central H x H, like the
    generator's clipped_zoom: crop ceil(H / factor), scipy.ndimage.zoom it (order 1: bilinear with the
    corners aligned, to round(ch * factor) pixels, the size scipy picks), trim the excess evenly."""
    h = x.shape[-1]
    ch = math.ceil(h / factor)
    top = (h - ch) // 2
    crop = x[..., top : top + ch, top : top + ch]
    size = int(round(ch * factor))  # scipy.ndimage.zoom's output shape (Python round)
    if size == ch:  # scipy then maps input to output 1:1
        zoomed = crop
    else:
        zoomed = F.interpolate(crop, size=(size, size), mode="bilinear", align_corners=True)
    trim = (size - h) // 2
    return zoomed[..., trim : trim + h, trim : trim + h]


# --- PIL's BOX resize ---------------------------------------------------------------------------------

_PIL_PRECISION_BITS = 32 - 8 - 2  # Resample.c: fixed-point fraction bits for 8-bit images


@functools.cache
def pil_box_weights(in_size: int, out_size: int) -> Tensor:
    """PIL's fixed-point BOX resampling weights (out_size, in_size), int64 (Resample.c precompute_coeffs
    with box_filter, then normalize_coeffs_8bpc)."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = 0.5 * filterscale
    weights = torch.zeros(out_size, in_size, dtype=torch.int64)
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size)
        raw = [
            1.0 if -0.5 < (x + xmin - center + 0.5) / filterscale <= 0.5 else 0.0 for x in range(xmax - xmin)
        ]
        total = sum(raw)
        for x, v in enumerate(raw):
            k = v / total if total else 0.0
            weights[xx, xmin + x] = int(0.5 + k * (1 << _PIL_PRECISION_BITS))
    return weights


def _pil_pass(x: Tensor, weights: Tensor) -> Tensor:
    """One PIL resampling pass along the last dim of int64 x: rounded fixed-point sum, clipped to uint8."""
    acc = x @ weights.T.to(x.device) + (1 << (_PIL_PRECISION_BITS - 1))
    return (acc >> _PIL_PRECISION_BITS).clamp(0, 255)


def pil_box_resize(x: Tensor, height: int, width: int) -> Tensor:
    """uint8 (N, C, H, W) -> uint8 (N, C, height, width) exactly as PIL's resize with Image.BOX
    (horizontal pass, 8-bit intermediate, vertical pass; a pass whose size is unchanged is skipped)."""
    h, w = x.shape[-2:]
    out = x.long()
    if width != w:
        out = _pil_pass(out, pil_box_weights(w, width))
    if height != h:
        out = _pil_pass(out.transpose(-1, -2), pil_box_weights(h, height)).transpose(-1, -2)
    return out.to(torch.uint8)


# --- ImageMagick motion blur --------------------------------------------------------------------------


@functools.cache
def motion_kernel(radius: float, sigma: float) -> tuple[float, ...]:
    """ImageMagick MotionBlurImage weights: width 2 * ceil(radius) + 1 (GetOptimalKernelWidth1D), a
    one-sided Gaussian exp(-i^2 / (2 sigma^2)) over i = 0..width-1, normalised."""
    width = int(2 * math.ceil(radius) + 1)
    w = [math.exp(-(i * i) / (2 * sigma * sigma)) for i in range(width)]
    total = math.fsum(w)
    return tuple(v / total for v in w)


def motion_offsets(width: int, angle: Tensor) -> tuple[Tensor, Tensor]:
    """Per-image pixel offsets (N, width) of the motion-blur taps for angles in degrees (ImageMagick:
    offset.x = ceil(i cos(angle) - 0.5), offset.y = ceil(i sin(angle) - 0.5)); rows, cols."""
    rad = torch.deg2rad(angle.double())
    i = torch.arange(width, dtype=torch.float64, device=angle.device)
    px, py = width * torch.sin(rad), width * torch.cos(rad)
    hyp = torch.hypot(px, py)
    cols = torch.ceil(i * (py / hyp)[:, None] - 0.5).long()
    rows = torch.ceil(i * (px / hyp)[:, None] - 0.5).long()
    return rows, cols


def motion_blur(x: Tensor, radius: float, sigma: float, angle: Tensor) -> Tensor:
    """Blur each image of x (N, C, H, W) along its own angle (N,) in degrees: output(y, x) =
    sum_i k_i * input(y + offset_i.y, x + offset_i.x), outside pixels repeating the edge (ImageMagick's
    default virtual-pixel method)."""
    kernel = motion_kernel(float(radius), float(sigma))
    n, c, h, w = x.shape
    rows, cols = motion_offsets(len(kernel), angle)
    base_r = torch.arange(h, device=x.device).view(1, h, 1)
    base_c = torch.arange(w, device=x.device).view(1, 1, w)
    flat = x.reshape(n, c, h * w)
    out = torch.zeros_like(x)
    for i, k in enumerate(kernel):
        r = (base_r + rows[:, i].view(n, 1, 1)).clamp(0, h - 1)
        cc = (base_c + cols[:, i].view(n, 1, 1)).clamp(0, w - 1)
        idx = (r * w + cc).reshape(n, 1, h * w).expand(n, c, h * w)
        out += k * flat.gather(2, idx).view(n, c, h, w)
    return out
