"""The CIFAR-10-C common corruptions (Hendrycks & Dietterich, ICLR 2019), in torch, on image batches.

Parameters are those of the authors' CIFAR generator, github.com/hendrycks/robustness,
ImageNet-C/create_c/make_cifar_c.py (commit 8190fe3), severities 1..5:

    corruption         parameter (per severity 1, 2, 3, 4, 5)
    gaussian_noise     std c            0.04, 0.06, 0.08, 0.09, 0.10
    shot_noise         photons c        500, 250, 100, 75, 50            Poisson(x c) / c
    impulse_noise      amount c         0.01, 0.02, 0.03, 0.05, 0.07     salt & pepper per value
    defocus_blur       (radius, alias)  (0.3,0.4) (0.4,0.5) (0.5,0.6) (1,0.2) (1.5,0.1)
    glass_blur         (sigma, delta, iterations)  (0.05,1,1) (0.25,1,1) (0.4,1,1) (0.25,1,2) (0.4,1,2)
    motion_blur        (radius, sigma)  (6,1) (6,1.5) (6,2) (8,2) (9,2.5), angle ~ U(-45, 45) degrees
    zoom_blur          zooms 1, 1.01, ... up to   1.06, 1.11, 1.15, 1.20, 1.25 (np.arange(1, s, 0.01)
                                                  with s = 1.06, 1.11, 1.16, 1.21, 1.26)
    brightness         V + c in HSV     0.05, 0.1, 0.15, 0.2, 0.3
    contrast           factor c         0.75, 0.5, 0.4, 0.3, 0.15
    elastic_transform  32 x (alpha, sigma, affine)  (0,0,.08) (.05,.2,.07) (.08,.06,.06) (.1,.04,.05)
                                                    (.1,.03,.03)
    pixelate           factor c         0.95, 0.9, 0.85, 0.75, 0.65      BOX down to int(32 c), back up
    jpeg_compression   quality c        80, 65, 58, 50, 40
    speckle_noise      std c            0.06, 0.1, 0.12, 0.16, 0.2       x + x N(0, c^2)
    gaussian_blur      sigma c          0.4, 0.6, 0.7, 0.8, 1
    saturate           (scale, shift)   (0.3,0) (0.1,0) (1.5,0) (2,0.1) (2.5,0.2)   S c0 + c1 in HSV

Not implemented in memory (evaluate them from the published .npy files with --corrupted-root): snow
(Wand motion blur of a zoomed noise layer; feasible, not done yet), frost (needs the generator's six frost
photographs, not redistributed here), fog (diamond-square plasma fractal; feasible, not done yet) and
spatter (OpenCV Canny edges, distance transform and histogram equalisation).

Input: uint8 (N, 3, H, W) images, or float ones in [0, 1]. Output: uint8 (N, 3, H, W), quantised as the
generator stored CIFAR-10-C (np.uint8 of clip(x, 0, 1) * 255, which truncates; JPEG, pixelate and motion
blur come out of PIL/ImageMagick already as rounded 8-bit values). One torch.Generator drives all the
randomness of a call; `corrupt` draws in a fixed order, so a result depends only on the generator's state.

Deliberate differences from the generator (besides torch vs numpy random streams):
- motion_blur reimplements ImageMagick's MotionBlurImage kernel (one-sided Gaussian along the angle, edge
  pixels repeated) instead of calling Wand on a PNG.
- glass_blur copies pixel (h+dy, w+dx) into (h, w) sequentially: that is what the generator's "swap"
  `x[h, w], x[h', w'] = x[h', w'], x[h, w]` does on numpy views. Offsets come from randint(-1, 1), i.e.
  {-1, 0}, as in the generator. It is a sequential loop over pixels (vectorised over images): the slowest.
- jpeg_compression uses torchvision.io.encode_jpeg/decode_jpeg (libjpeg-turbo, 4:2:0) instead of PIL;
  decoded pixels can differ from PIL's by a level or so.
- elastic_transform samples the affine warp on cv2's 1/32-pixel grid but with float bilinear weights.
- impulse_noise follows skimage.util.random_noise(mode="s&p"): each value (pixel and channel) is hit with
  probability c and set to 0 or 1 with equal odds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from actbench.errors import UserError, not_allowed
from actbench.robustness import ops as ops

SEVERITIES = (1, 2, 3, 4, 5)
# The 15 corruptions of the benchmark (its mCE averages these), in the paper's order, and the 4 extra ones
# the generator also writes ("held-out" corruptions). Names are the .npy file names of CIFAR-10-C.
BENCHMARK = (
    "gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
    "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate",
    "jpeg_compression",
)  # fmt: skip
EXTRA = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
PUBLISHED = BENCHMARK + EXTRA

Fn = Callable[[Tensor, int, torch.Generator], Tensor]


@dataclass(frozen=True)
class Corruption:
    name: str
    fn: Fn  # (float (N, 3, H, W) in [0,1], severity 1..5, generator) -> float (any range) or uint8
    params: tuple[object, ...]  # the generator's parameter per severity 1..5


def _rand(x: Tensor, g: torch.Generator, *shape: int) -> Tensor:
    return torch.rand(shape or x.shape, generator=g, device=x.device)


def _randn(x: Tensor, g: torch.Generator) -> Tensor:
    return torch.randn(x.shape, generator=g, device=x.device)


def _to_u8(x: Tensor) -> Tensor:
    """[0,1] float -> uint8 by rounding (8-bit writers: PIL, ImageMagick PNG)."""
    return (x.clamp(0, 1) * 255).round().to(torch.uint8)


# --- noise ------------------------------------------------------------------------------------------


def gaussian_noise(x: Tensor, severity: int, g: torch.Generator) -> Tensor:
    """x + N(0, c^2) per value; c = 0.04, 0.06, 0.08, 0.09, 0.10."""
    return x + GAUSSIAN_NOISE[severity - 1] * _randn(x, g)


def shot_noise(x: Tensor, severity: int, g: torch.Generator) -> Tensor:
    """Poisson(x c) / c per value; c = 500, 250, 100, 75, 50."""
    c = SHOT_NOISE[severity - 1]
    return torch.poisson(x * c, generator=g) / c


def impulse_noise(x: Tensor, severity: int, g: torch.Generator) -> Tensor:
    """Each value with probability c set to 0 or 1 (50/50); c = 0.01, 0.02, 0.03, 0.05, 0.07."""
    hit = _rand(x, g) < IMPULSE_NOISE[severity - 1]
    salt = (_rand(x, g) < 0.5).to(x.dtype)
    return torch.where(hit, salt, x)


def speckle_noise(x: Tensor, severity: int, g: torch.Generator) -> Tensor:
    """x + x N(0, c^2) per value; c = 0.06, 0.1, 0.12, 0.16, 0.2."""
    return x + x * SPECKLE_NOISE[severity - 1] * _randn(x, g)


# --- blur ---------------------------------------------------------------------------------------------


def gaussian_blur(x: Tensor, severity: int, g: torch.Generator) -> Tensor:
    """skimage gaussian (mode nearest, truncate 4) per channel; sigma = 0.4, 0.6, 0.7, 0.8, 1."""
    return ops.gaussian_filter(x, GAUSSIAN_BLUR[severity - 1])


def disk_kernel(radius: float, alias_blur: float) -> Tensor:
    """The generator's disk(): a normalised aliased disk on a 17 x 17 grid (radius <= 8), smoothed by
    cv2.GaussianBlur with a 3 x 3 kernel of std alias_blur; returned cropped to its non-zero support."""
    if radius > 8:
        raise ValueError("disk_kernel: radius > 8 is not used by the CIFAR parameters")
    coords = torch.arange(-8, 9, dtype=torch.float64)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    disk = ((xx**2 + yy**2) <= radius**2).double()
    disk /= disk.sum()
    g1 = torch.exp(-(torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64) ** 2) / (2 * alias_blur**2))
    g1 /= g1.sum()  # cv2.getGaussianKernel(3, alias_blur)
    kernel = ops.separable(disk.view(1, 1, 17, 17), g1, "reflect101")[0, 0]
    nz = kernel.abs().sum(0).nonzero()
    r = 8 - int(nz.min())  # symmetric: crop the all-zero border rings
    return kernel[8 - r : 9 + r, 8 - r : 9 + r]


def defocus_blur(x: Tensor, severity: int, g: torch.Generator) -> Tensor:
    """cv2.filter2D with disk_kernel(radius, alias); (radius, alias) per severity in DEFOCUS_BLUR."""
    return ops.filter2d(x, disk_kernel(*DEFOCUS_BLUR[severity - 1]), "reflect101")


def glass_offsets(n: int, h: int, w: int, severity: int, g: torch.Generator, device: torch.device) -> Tensor:
    """The (dx, dy) offsets of glass_blur's pixel loop: (iterations, steps, N, 2), randint(-d, d)."""
    _, d, iterations = GLASS_BLUR[severity - 1]
    steps = len(range(h - d, d, -1)) * len(range(w - d, d, -1))
    return torch.randint(-d, d, (iterations, steps, n, 2), generator=g, device=device)


def glass_shuffle(x: Tensor, offsets: Tensor, delta: int) -> Tensor:
    """The generator's loop: for h = H-d..d+1, w = W-d..d+1 (descending), x[h, w] = x[h + dy, w + dx]."""
    n, c, h, w = x.shape
    flat = x.permute(0, 2, 3, 1).reshape(n, h * w, c).clone()
    rows = torch.arange(n, device=x.device)
    positions = [(hh, ww) for hh in range(h - delta, delta, -1) for ww in range(w - delta, delta, -1)]
    for it in range(offsets.shape[0]):
        for step, (hh, ww) in enumerate(positions):
            dx, dy = offsets[it, step, :, 0], offsets[it, step, :, 1]
            flat[:, hh * w + ww] = flat[rows, (hh + dy) * w + (ww + dx)]
    return flat.reshape(n, h, w, c).permute(0, 3, 1, 2)


def glass_blur(x: Tensor, severity: int, g: torch.Generator) -> Tensor:
    """Gaussian blur (sigma), truncate to uint8, local pixel shuffle (glass_shuffle), Gaussian blur."""
    sigma, delta, _ = GLASS_BLUR[severity - 1]
    u8 = (ops.gaussian_filter(x, sigma) * 255).floor()  # np.uint8 truncation, values in [0, 255]
    n, _, h, w = x.shape
    u8 = glass_shuffle(u8, glass_offsets(n, h, w, severity, g, x.device), delta)
    return ops.gaussian_filter(u8 / 255, sigma)


def motion_blur(x: Tensor, severity: int, g: torch.Generator) -> Tensor:
    """ImageMagick motion blur (radius, sigma) at a per-image angle ~ U(-45, 45) degrees, 8-bit output."""
    radius, sigma = MOTION_BLUR[severity - 1]
    angle = _rand(x, g, len(x)) * 90 - 45
    return _to_u8(ops.motion_blur(_to_u8(x).float() / 255, radius, sigma, angle))


def zoom_factors(severity: int) -> list[float]:
    """np.arange(1, stop, 0.01) for the severity's stop, bit for bit: numpy fills start + i * delta with
    delta = (start + step) - start = 0.010000000000000009, which decides scipy's rounding of the zoomed
    size (26 x 1.2500000000000002 -> 33 pixels, not 32)."""
    stop, delta = ZOOM_BLUR[severity - 1], (1 + 0.01) - 1
    return [1 + i * delta for i in range(math.ceil((stop - 1) / 0.01))]


def zoom_blur(x: Tensor, severity: int, g: torch.Generator) -> Tensor:
    """Mean of the image and its clipped zooms by each factor in zoom_factors(severity)."""
    factors = zoom_factors(severity)
    out = torch.zeros_like(x)
    for f in factors:
        out += ops.clipped_zoom(x, f)
    return (x + out) / (len(factors) + 1)


# --- weather-free digital and colour -----------------------------------------------------------------


def contrast(x: Tensor, severity: int, g: torch.Generator) -> Tensor:
    """(x - m) c + m, m the per-image channel mean; c = 0.75, 0.5, 0.4, 0.3, 0.15."""
    m = x.mean((2, 3), keepdim=True)
    return (x - m) * CONTRAST[severity - 1] + m


def brightness(x: Tensor, severity: int, g: torch.Generator) -> Tensor:
    """HSV value V + c, clipped to 1 (skimage rgb2hsv / hsv2rgb): each channel keeps its hue and
    saturation, so ch' = V' - (V - ch) V' / V (black pixels become grey V'); c = 0.05 .. 0.3."""
    v = x.amax(1, keepdim=True)
    v_new = (v + BRIGHTNESS[severity - 1]).clamp(0, 1)
    ratio = torch.where(v > 0, v_new / v.clamp_min(1e-12), torch.zeros_like(v))
    return v_new - (v - x) * ratio


def saturate(x: Tensor, severity: int, g: torch.Generator) -> Tensor:
    """HSV saturation S c0 + c1, clipped to [0, 1] (skimage rgb2hsv / hsv2rgb): ch' = V - V S' w with
    w = (V - ch) / (V - min) per channel; grey pixels have hue 0 there, i.e. w = (0, 1, 1) for (R, G, B)."""
    scale, shift = SATURATE[severity - 1]
    v, lo = x.amax(1, keepdim=True), x.amin(1, keepdim=True)
    delta = v - lo
    s = torch.where(delta > 0, delta / v.clamp_min(1e-12), torch.zeros_like(v))
    s_new = (s * scale + shift).clamp(0, 1)
    grey_w = torch.tensor([0.0, 1.0, 1.0], device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    w = torch.where(delta > 0, (v - x) / delta.clamp_min(1e-12), grey_w)
    return v - v * s_new * w


def jpeg_compression(x: Tensor, severity: int, g: torch.Generator) -> Tensor:
    """JPEG encode at quality c (80, 65, 58, 50, 40) and decode, with torchvision.io (libjpeg-turbo)."""
    import warnings

    from torchvision.io import decode_jpeg, encode_jpeg

    u8 = _to_u8(x).cpu()
    with warnings.catch_warnings():  # torchvision 0.29 announces a move of image I/O to torchcodec
        warnings.simplefilter("ignore", DeprecationWarning)
        encoded = encode_jpeg(list(u8), quality=JPEG_COMPRESSION[severity - 1])
        return torch.stack(decode_jpeg(encoded)).to(x.device)


def pixelate(x: Tensor, severity: int, g: torch.Generator) -> Tensor:
    """PIL BOX resize to int(size c) and back; c = 0.95, 0.9, 0.85, 0.75, 0.65."""
    c = PIXELATE[severity - 1]
    h, w = x.shape[-2:]
    small = ops.pil_box_resize(_to_u8(x), int(h * c), int(w * c))
    return ops.pil_box_resize(small, h, w)


def affine_source_grid(pts2: Tensor, pts1: Tensor, h: int, w: int) -> tuple[Tensor, Tensor]:
    """Source rows/cols (N, H, W) that cv2.warpAffine(M = getAffineTransform(pts1, pts2)) reads for each
    output pixel: the inverse map pts2 -> pts1 applied to the output grid, on cv2's 1/32-pixel grid.
    pts (N, 3, 2) as (x, y)."""
    n = len(pts2)
    ones = torch.ones(n, 3, 1, dtype=torch.float64, device=pts2.device)
    inv = torch.linalg.solve(torch.cat([pts2.double(), ones], 2), pts1.double())  # (N, 3, 2): [x y 1] @ inv
    yy, xx = torch.meshgrid(
        torch.arange(h, dtype=torch.float64, device=pts2.device),
        torch.arange(w, dtype=torch.float64, device=pts2.device),
        indexing="ij",
    )
    grid = torch.stack([xx, yy, torch.ones_like(xx)], -1).reshape(1, h * w, 3)
    src = (grid @ inv).reshape(n, h, w, 2)
    src = torch.round(src * 32) / 32  # cv2 INTER_BITS = 5
    return src[..., 1].float(), src[..., 0].float()


def elastic_transform(x: Tensor, severity: int, g: torch.Generator) -> Tensor:
    """Random affine warp (corners of a square jittered by U(-c2, c2), border reflect101), then a
    displacement field U(-1, 1) smoothed by a Gaussian (sigma c1, reflect, truncate 3) times c0, sampled
    bilinearly (scipy map_coordinates order 1, mode reflect). c = 32 x ELASTIC[severity - 1]."""
    alpha, sigma, jitter = (32 * v for v in ELASTIC[severity - 1])
    n, _, h, w = x.shape
    center = torch.tensor([w // 2, h // 2], dtype=torch.float32)  # np.float32(shape_size) // 2
    size = min(h, w) // 3
    pts1 = torch.stack([center + size, torch.stack([center[0] + size, center[1] - size]), center - size])
    pts1 = pts1.to(x.device).expand(n, 3, 2)
    pts2 = pts1 + (_rand(x, g, n, 3, 2) * 2 - 1) * jitter
    rows, cols = affine_source_grid(pts2, pts1, h, w)
    warped = ops.bilinear_sample(x, rows, cols, "reflect101")
    field = (_rand(x, g, n, 2, h, w) * 2 - 1).double()  # dx, dy
    field = ops.gaussian_filter(field, sigma, "reflect", truncate=3.0) * alpha
    yy = torch.arange(h, device=x.device).view(1, h, 1)
    xx = torch.arange(w, device=x.device).view(1, 1, w)
    return ops.bilinear_sample(warped, (yy + field[:, 1]).float(), (xx + field[:, 0]).float(), "reflect")


# --- parameters (make_cifar_c.py) and registry ----------------------------------------------------------

GAUSSIAN_NOISE = (0.04, 0.06, 0.08, 0.09, 0.10)
SHOT_NOISE = (500, 250, 100, 75, 50)
IMPULSE_NOISE = (0.01, 0.02, 0.03, 0.05, 0.07)
SPECKLE_NOISE = (0.06, 0.1, 0.12, 0.16, 0.2)
GAUSSIAN_BLUR = (0.4, 0.6, 0.7, 0.8, 1.0)
GLASS_BLUR = ((0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2))
DEFOCUS_BLUR = ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1))
MOTION_BLUR = ((6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5))
ZOOM_BLUR = (1.06, 1.11, 1.16, 1.21, 1.26)  # np.arange stops
CONTRAST = (0.75, 0.5, 0.4, 0.3, 0.15)
BRIGHTNESS = (0.05, 0.1, 0.15, 0.2, 0.3)
SATURATE = ((0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2))
JPEG_COMPRESSION = (80, 65, 58, 50, 40)
PIXELATE = (0.95, 0.9, 0.85, 0.75, 0.65)
ELASTIC = ((0, 0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06), (0.1, 0.04, 0.05), (0.1, 0.03, 0.03))

CORRUPTIONS: dict[str, Corruption] = {
    c.name: c
    for c in (
        Corruption("gaussian_noise", gaussian_noise, GAUSSIAN_NOISE),
        Corruption("shot_noise", shot_noise, SHOT_NOISE),
        Corruption("impulse_noise", impulse_noise, IMPULSE_NOISE),
        Corruption("defocus_blur", defocus_blur, DEFOCUS_BLUR),
        Corruption("glass_blur", glass_blur, GLASS_BLUR),
        Corruption("motion_blur", motion_blur, MOTION_BLUR),
        Corruption("zoom_blur", zoom_blur, ZOOM_BLUR),
        Corruption("brightness", brightness, BRIGHTNESS),
        Corruption("contrast", contrast, CONTRAST),
        Corruption("elastic_transform", elastic_transform, ELASTIC),
        Corruption("pixelate", pixelate, PIXELATE),
        Corruption("jpeg_compression", jpeg_compression, JPEG_COMPRESSION),
        Corruption("speckle_noise", speckle_noise, SPECKLE_NOISE),
        Corruption("gaussian_blur", gaussian_blur, GAUSSIAN_BLUR),
        Corruption("saturate", saturate, SATURATE),
    )
}
MISSING = tuple(n for n in PUBLISHED if n not in CORRUPTIONS)  # only from the published .npy files


def corrupt(x: Tensor, name: str, severity: int, generator: torch.Generator) -> Tensor:
    """uint8 (N, 3, H, W) images (or float in [0,1]) -> uint8 (N, 3, H, W) with corruption `name` at
    `severity` (1..5), quantised like the published files (np.uint8 of clip(x, 0, 1) * 255)."""
    if name not in CORRUPTIONS:
        raise not_allowed("corruption", name, CORRUPTIONS)
    if severity not in SEVERITIES:
        raise UserError(f"severity {severity!r} is not allowed (allowed: 1, 2, 3, 4, 5)")
    img = x.float() / 255 if x.dtype == torch.uint8 else x.float()
    out = CORRUPTIONS[name].fn(img, severity, generator)
    if out.dtype == torch.uint8:
        return out
    return (out.float().clamp(0, 1) * 255).floor().to(torch.uint8)
