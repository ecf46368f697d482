"""CIFAR-10-C corruptions (robustness.corruptions, robustness.ops): every registered corruption's
output, severity order and determinism, and agreement with the published generator's formulas.

The reference versions below are numpy/scipy/PIL transcriptions of make_cifar_c.py (github.com/hendrycks/
robustness), with cv2 calls replaced by their scipy equivalents, fed the same random draws where needed.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from scipy import ndimage as ndi

from actbench.robustness import corruptions as C
from actbench.robustness import ops as ops

PIL = pytest.importorskip("PIL.Image")

# Published parameters for which distance from the clean image does not grow with severity: saturate
# first lowers saturation (x0.3, x0.1) then raises it; elastic_transform's affine jitter shrinks
# (2.6 -> 1.0 px) while its elastic field grows; glass_blur's stronger blur before the shuffle offsets it.
NON_MONOTONE = {"saturate", "elastic_transform", "glass_blur"}


def smooth_images(n: int = 8, seed: int = 3) -> torch.Tensor:
    """uint8 (n, 3, 32, 32) images with structure at a few pixels' scale (closer to photos than noise)."""
    g = torch.Generator().manual_seed(seed)
    x = (ops.gaussian_filter(torch.rand(n, 3, 32, 32, generator=g), 2.0, "reflect") - 0.5) * 4 + 0.5
    return (x.clamp(0, 1) * 255).round().to(torch.uint8)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def floats(n: int = 3, seed: int = 1) -> torch.Tensor:
    return smooth_images(n, seed).float() / 255


# --- every corruption ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(C.CORRUPTIONS))
def test_output_is_uint8_of_the_input_shape_and_changes_the_image(name: str) -> None:
    x = smooth_images(4)
    for inp in (x, x.float() / 255):
        out = C.corrupt(inp, name, 5, gen())
        assert out.dtype == torch.uint8 and out.shape == x.shape
        assert (out.float() - x.float()).abs().mean() > 0.5  # severity 5 visibly changes every kind


@pytest.mark.parametrize("name", [n for n in C.CORRUPTIONS if n not in NON_MONOTONE])
def test_distance_from_the_clean_image_grows_with_severity(name: str) -> None:
    x = smooth_images(8)
    dist = [(C.corrupt(x, name, s, gen()).float() - x.float()).abs().mean().item() for s in C.SEVERITIES]
    assert all(b >= a - 1e-6 for a, b in zip(dist, dist[1:], strict=False)), dist
    assert dist[-1] > dist[0], dist


def test_glass_blur_two_iterations_move_more_than_one() -> None:
    x = smooth_images(8)
    dist = [
        (C.corrupt(x, "glass_blur", s, gen()).float() - x.float()).abs().mean().item() for s in C.SEVERITIES
    ]
    assert min(dist[3:]) > max(dist[:3]), dist


@pytest.mark.parametrize("name", list(C.CORRUPTIONS))
def test_deterministic_given_the_generator(name: str) -> None:
    x = smooth_images(4)
    a, b = C.corrupt(x, name, 3, gen(5)), C.corrupt(x, name, 3, gen(5))
    assert torch.equal(a, b)


RANDOM = ("gaussian_noise", "shot_noise", "impulse_noise", "glass_blur", "motion_blur", "elastic_transform",
          "speckle_noise")  # fmt: skip


@pytest.mark.parametrize("name", RANDOM)
def test_random_corruptions_differ_between_seeds(name: str) -> None:
    x = smooth_images(4)
    assert not torch.equal(C.corrupt(x, name, 3, gen(5)), C.corrupt(x, name, 3, gen(6)))


def test_unknown_names_and_severities_are_rejected() -> None:
    x = smooth_images(1)
    with pytest.raises(ValueError, match="allowed: gaussian_noise"):
        C.corrupt(x, "snow", 1, gen())
    with pytest.raises(ValueError, match="severity 6"):
        C.corrupt(x, "contrast", 6, gen())


def test_registry_covers_the_published_names_except_the_documented_missing_ones() -> None:
    assert set(C.CORRUPTIONS) | set(C.MISSING) == set(C.PUBLISHED) and len(C.PUBLISHED) == 19
    assert set(C.MISSING) == {"snow", "frost", "fog", "spatter"}
    for c in C.CORRUPTIONS.values():
        assert len(c.params) == 5


# --- the published formulas ---------------------------------------------------------------------------


def np_rgb2hsv(a: np.ndarray) -> np.ndarray:
    """skimage.color.rgb2hsv on (H, W, 3) floats."""
    v, delta = a.max(-1), np.ptp(a, -1)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(delta == 0, 0.0, delta / v)
        h = np.zeros_like(v)
        for i, (a1, a2, off) in enumerate(((1, 2, 0.0), (2, 0, 2.0), (0, 1, 4.0))):
            idx = a[..., i] == v
            h[idx] = off + (a[idx, a1] - a[idx, a2]) / delta[idx]
    h = (h / 6.0) % 1.0
    h[delta == 0] = 0
    return np.stack([h, s, v], -1)


def np_hsv2rgb(hsv: np.ndarray) -> np.ndarray:
    """skimage.color.hsv2rgb."""
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    hi = np.floor(h * 6) % 6
    f = h * 6 - np.floor(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    table = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = np.zeros(hsv.shape)
    for i, (r, g, b) in enumerate(table):
        m = hi == i
        out[m] = np.stack([r[m], g[m], b[m]], -1)
    return out


def per_image(x: torch.Tensor, fn) -> np.ndarray:  # noqa: ANN001 - a numpy (H, W, 3) -> (H, W, 3) function
    return np.stack([fn(img.permute(1, 2, 0).double().numpy()).transpose(2, 0, 1) for img in x])


def test_brightness_and_saturate_match_the_hsv_round_trip() -> None:
    x = floats()
    x[0, :, :4, :4] = 0.5  # grey pixels: hue 0 in skimage, which saturate turns red
    x[1, :, :4, :4] = 0.0  # black
    for sev in C.SEVERITIES:
        c = C.BRIGHTNESS[sev - 1]

        def bright(a: np.ndarray, c: float = c) -> np.ndarray:
            hsv = np_rgb2hsv(a)
            hsv[..., 2] = np.clip(hsv[..., 2] + c, 0, 1)
            return np.clip(np_hsv2rgb(hsv), 0, 1)

        np.testing.assert_allclose(
            C.brightness(x, sev, gen()).clamp(0, 1).numpy(), per_image(x, bright), atol=1e-5
        )
        c0, c1 = C.SATURATE[sev - 1]

        def sat(a: np.ndarray, c0: float = c0, c1: float = c1) -> np.ndarray:
            hsv = np_rgb2hsv(a)
            hsv[..., 1] = np.clip(hsv[..., 1] * c0 + c1, 0, 1)
            return np.clip(np_hsv2rgb(hsv), 0, 1)

        np.testing.assert_allclose(
            C.saturate(x, sev, gen()).clamp(0, 1).numpy(), per_image(x, sat), atol=1e-5
        )


def test_contrast_matches_the_formula() -> None:
    x = floats()
    for sev, c in zip(C.SEVERITIES, C.CONTRAST, strict=True):
        ref = per_image(
            x, lambda a, c=c: np.clip((a - a.mean((0, 1), keepdims=True)) * c + a.mean((0, 1)), 0, 1)
        )
        np.testing.assert_allclose(C.contrast(x, sev, gen()).clamp(0, 1).numpy(), ref, atol=1e-6)


def test_gaussian_blur_matches_skimage_gaussian() -> None:
    x = floats()
    for sev, sigma in zip(C.SEVERITIES, C.GAUSSIAN_BLUR, strict=True):
        ref = ndi.gaussian_filter(x.double().numpy(), (0, 0, sigma, sigma), mode="nearest", truncate=4.0)
        np.testing.assert_allclose(C.gaussian_blur(x, sev, gen()).numpy(), ref, atol=1e-6)


def np_disk(radius: float, alias_blur: float) -> np.ndarray:
    """make_cifar_c.disk with cv2.GaussianBlur((3, 3), alias_blur) written out (separable, reflect101)."""
    grid = np.arange(-8, 9)
    xx, yy = np.meshgrid(grid, grid)
    disk = ((xx**2 + yy**2) <= radius**2).astype(np.float64)
    disk /= disk.sum()
    k = np.exp(-(np.array([-1.0, 0.0, 1.0]) ** 2) / (2 * alias_blur**2))
    k /= k.sum()
    return ndi.correlate(disk, np.outer(k, k), mode="mirror")


def test_defocus_blur_matches_filter2d_with_the_disk_kernel() -> None:
    x = floats()
    for sev, (radius, alias) in zip(C.SEVERITIES, C.DEFOCUS_BLUR, strict=True):
        kernel = np_disk(radius, alias)
        ref = np.stack([[ndi.correlate(p, kernel, mode="mirror") for p in img] for img in x.double().numpy()])
        np.testing.assert_allclose(C.defocus_blur(x, sev, gen()).numpy(), ref, atol=1e-6)


def np_clipped_zoom(img: np.ndarray, zoom_factor: float) -> np.ndarray:
    """make_cifar_c.clipped_zoom, verbatim apart from names."""
    h = img.shape[0]
    ch = int(np.ceil(h / zoom_factor))
    top = (h - ch) // 2
    img = ndi.zoom(img[top : top + ch, top : top + ch], (zoom_factor, zoom_factor, 1), order=1)
    trim_top = (img.shape[0] - h) // 2
    return img[trim_top : trim_top + h, trim_top : trim_top + h]


def test_zoom_blur_matches_the_published_clipped_zoom() -> None:
    x = floats(2)
    for sev, stop in zip(C.SEVERITIES, C.ZOOM_BLUR, strict=True):
        factors = np.arange(1, stop, 0.01)
        assert C.zoom_factors(sev) == list(factors)  # exactly: they decide scipy's output sizes

        def zoom(a: np.ndarray, factors: np.ndarray = factors) -> np.ndarray:
            a = a.astype(np.float32)
            return (a + sum(np_clipped_zoom(a, f) for f in factors)) / (len(factors) + 1)

        np.testing.assert_allclose(C.zoom_blur(x, sev, gen()).numpy(), per_image(x, zoom), atol=1e-5)


def test_glass_shuffle_repeats_the_published_loop_with_the_same_offsets() -> None:
    x = smooth_images(2)
    for sev in (1, 4):
        _, d, _ = C.GLASS_BLUR[sev - 1]
        offsets = C.glass_offsets(2, 32, 32, sev, gen(), torch.device("cpu"))
        assert offsets.min() == -d and offsets.max() == d - 1  # np.random.randint(-d, d): high excluded
        mine = C.glass_shuffle(x, offsets, d)
        for n in range(2):
            a = x[n].permute(1, 2, 0).numpy().copy()
            for it in range(offsets.shape[0]):
                step = 0
                for h in range(32 - d, d, -1):
                    for w in range(32 - d, d, -1):
                        dx, dy = (int(v) for v in offsets[it, step, n])
                        h_prime, w_prime = h + dy, w + dx
                        a[h, w], a[h_prime, w_prime] = a[h_prime, w_prime], a[h, w]  # the generator's line
                        step += 1
            np.testing.assert_array_equal(mine[n].permute(1, 2, 0).numpy(), a)


def test_elastic_transform_matches_the_published_steps_with_the_same_draws() -> None:
    x = floats(2)
    for sev in (2, 5):
        alpha, sigma, jitter = (32 * v for v in C.ELASTIC[sev - 1])
        g = gen(7)
        mine = C.elastic_transform(x, sev, g).numpy()
        g = gen(7)  # the same draws, in the function's order: affine jitter, then dx, dy fields
        jit = (torch.rand(2, 3, 2, generator=g) * 2 - 1).double().numpy() * jitter
        fields = (torch.rand(2, 2, 32, 32, generator=g) * 2 - 1).double().numpy()
        for n in range(2):
            image = x[n].permute(1, 2, 0).double().numpy()
            center, size = np.float32((32, 32)) // 2, 32 // 3
            pts1 = np.float32([center + size, [center[0] + size, center[1] - size], center - size])
            pts2 = pts1 + jit[n]
            # cv2.getAffineTransform(pts1, pts2) + warpAffine: dst(p) = src(A^-1 p), on a 1/32-pixel grid
            a = np.linalg.solve(np.c_[pts1, np.ones(3)], pts2).T  # 2 x 3, maps pts1 -> pts2
            inv = np.linalg.inv(np.r_[a, [[0, 0, 1]]])
            yy, xx = np.mgrid[0:32, 0:32]
            src = inv @ np.stack([xx.ravel(), yy.ravel(), np.ones(1024)])
            src = np.round(src * 32) / 32
            warped = np.stack([ndi.map_coordinates(image[..., c], [src[1], src[0]], order=1, mode="mirror")
                               .reshape(32, 32) for c in range(3)], -1)  # fmt: skip
            dx = ndi.gaussian_filter(fields[n, 0], sigma, mode="reflect", truncate=3) * alpha
            dy = ndi.gaussian_filter(fields[n, 1], sigma, mode="reflect", truncate=3) * alpha
            ref = np.stack([ndi.map_coordinates(warped[..., c], [yy + dy, xx + dx], order=1, mode="reflect")
                            for c in range(3)])  # fmt: skip
            np.testing.assert_allclose(mine[n], ref, atol=2e-4)


def test_pixelate_equals_pil_box_resizes_exactly() -> None:
    x = smooth_images(3)
    for sev, c in zip(C.SEVERITIES, C.PIXELATE, strict=True):
        s = int(32 * c)
        ref = [
            np.asarray(
                PIL.fromarray(img.permute(1, 2, 0).numpy()).resize((s, s), PIL.BOX).resize((32, 32), PIL.BOX)
            )
            for img in x
        ]
        np.testing.assert_array_equal(
            C.corrupt(x, "pixelate", sev, gen()).permute(0, 2, 3, 1).numpy(), np.stack(ref)
        )


def test_jpeg_compression_agrees_with_pil_jpeg() -> None:
    x = smooth_images(3)
    for sev, q in zip(C.SEVERITIES, C.JPEG_COMPRESSION, strict=True):
        ref = []
        for img in x:
            buf = io.BytesIO()
            PIL.fromarray(img.permute(1, 2, 0).numpy()).save(buf, "JPEG", quality=q)
            ref.append(np.asarray(PIL.open(buf)).astype(int))
        diff = np.abs(
            C.corrupt(x, "jpeg_compression", sev, gen()).permute(0, 2, 3, 1).numpy() - np.stack(ref)
        )
        assert diff.max() <= 2 and diff.mean() < 0.1  # both libjpeg(-turbo); decoders may round differently


def test_noise_strengths_match_the_parameters() -> None:
    x = torch.full((64, 3, 32, 32), 0.5)
    for sev in C.SEVERITIES:
        d = C.gaussian_noise(x, sev, gen()) - x
        assert d.std().item() == pytest.approx(C.GAUSSIAN_NOISE[sev - 1], rel=0.03)
        d = C.speckle_noise(x, sev, gen()) - x
        assert d.std().item() == pytest.approx(0.5 * C.SPECKLE_NOISE[sev - 1], rel=0.03)
        c = C.SHOT_NOISE[sev - 1]
        assert C.shot_noise(x, sev, gen()).var().item() == pytest.approx(0.5 / c, rel=0.05)  # Poisson(xc)/c
        hit = C.impulse_noise(x, sev, gen()) != 0.5
        assert hit.float().mean().item() == pytest.approx(C.IMPULSE_NOISE[sev - 1], rel=0.1)


def test_motion_blur_follows_imagemagick_kernel_and_offsets() -> None:
    k = ops.motion_kernel(6, 2)
    assert len(k) == 13 and math.isclose(sum(k), 1) and k[0] > k[1] > k[12]
    assert k[1] / k[0] == pytest.approx(math.exp(-1 / 8))
    rows, cols = ops.motion_offsets(13, torch.tensor([0.0, 90.0, 45.0]))
    assert rows[0].tolist() == [0] * 13 and cols[0].tolist() == list(range(13))  # 0 degrees: along x
    assert cols[1].tolist() == [0] * 13 and rows[1].tolist() == list(range(13))
    assert torch.equal(rows[2], cols[2]) and rows[2][-1] == 8  # ceil(12 cos 45 - 0.5)
    x = torch.zeros(1, 1, 5, 9)
    x[0, 0, 2, 4] = 1.0  # a dot smears along its row to the left (output(x) reads input(x + i))
    out = ops.motion_blur(x, 2, 1, torch.tensor([0.0]))
    assert out[0, 0, 2, :5].tolist() == pytest.approx(list(reversed(ops.motion_kernel(2, 1))))
    assert out[0, 0, [0, 1, 3, 4]].abs().sum() == 0
