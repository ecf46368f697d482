"""Dataset splits and the on-device augmentation pipeline (airbench style).

Images live as uint8 (N, C, H, W) tensors, moved to the training device once (`Splits.to`). Each
image is cropped, flipped, colour-jittered and normalised there, vectorised over a group of batches
(no Python loop over images; one group of ~GROUP_IMAGES is then sliced into batches):

    uint8 (G, 3, H, W) --gather (crop + flip in one index)--> uint8 (G, 3, S, S)
                       --float, brightness, contrast, normalise (one per-image affine)--> float32 (G, 3, S, S)

Augmentation follows the classic TensorFlow CIFAR-10 tutorial the paper's pipeline matches: brightness
adds a delta in [0,1] units, contrast scales around each image's per-channel mean, and neither clamps
(TF did not clamp before `per_image_standardization`); pad-and-crop pads by reflection (airbench).

The images come from `actbench.data.sources` (synthetic, cifar10/cifar100, folder). The validation split is
a stratified random subset of train (seeded by data.data_seed), or the test split when data.val_size == 0.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from actbench.config import AugmentConfig, DataConfig
from actbench.data.datasets import load_raw
from actbench.data.sources import DataError
from actbench.errors import UserError

GROUP_IMAGES = 4096  # images augmented together, then sliced into batches (amortises GPU kernel launches)

Stats = Sequence[float] | Tensor  # per-channel mean or std: Splits.mean/std, or a (1, C, 1, 1) tensor


@dataclass
class Splits:
    train_x: Tensor  # (N, C, H, W) uint8, contiguous
    train_y: Tensor  # (N,) int64
    val_x: Tensor  # carved from train, or the test split itself when val_is_test
    val_y: Tensor
    test_x: Tensor
    test_y: Tensor
    num_classes: int
    classes: list[str]
    mean: tuple[float, ...]  # per-channel mean of train_x in [0,1] units (3 values, or 1 for grey images)
    std: tuple[float, ...]
    val_is_test: bool

    def to(self, device: torch.device | str) -> Splits:
        """Move the uint8 tensors to `device` once; batches are then built there."""
        moved = {k: getattr(self, k).to(device) for k in ("train_x", "train_y", "test_x", "test_y")}
        if self.val_is_test:
            moved |= {"val_x": moved["test_x"], "val_y": moved["test_y"]}
        else:
            moved |= {"val_x": self.val_x.to(device), "val_y": self.val_y.to(device)}
        return dataclasses.replace(self, **moved)


# --- loading -----------------------------------------------------------------------------------------


def load_splits(data: DataConfig) -> Splits:
    """Load `data.name`, apply limit_train/limit_test, carve the validation split, compute stats."""
    train_x, train_y, test_x, test_y, classes = load_raw(data)
    if data.limit_train > 0:  # clone: don't keep the whole dataset alive behind a view
        train_x, train_y = train_x[: data.limit_train].clone(), train_y[: data.limit_train].clone()
    if data.limit_test > 0:
        test_x, test_y = test_x[: data.limit_test].clone(), test_y[: data.limit_test].clone()
    n = len(train_x)
    if data.val_size >= n:
        raise DataError(f"data.val_size: {data.val_size} must be smaller than the training set ({n} images)")
    if data.val_size > 0:
        train_idx, val_idx = _stratified_split(train_y, data.val_size, len(classes), data.data_seed)
        val_x, val_y = train_x[val_idx].contiguous(), train_y[val_idx]
        train_x, train_y = train_x[train_idx].contiguous(), train_y[train_idx]
    else:
        val_x, val_y = test_x, test_y
    mean, std, val_is_test = *channel_stats(train_x), data.val_size == 0
    splits = train_x, train_y, val_x, val_y, test_x, test_y
    return Splits(*splits, len(classes), classes, mean, std, val_is_test)


def _stratified_split(y: Tensor, val_size: int, num_classes: int, seed: int) -> tuple[Tensor, Tensor]:
    """(train_idx, val_idx), both sorted; each class gives val images in proportion to its size."""
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(y), generator=g)
    order = perm[torch.argsort(y[perm], stable=True)]  # grouped by class, random within each class
    counts = torch.bincount(y, minlength=num_classes)
    exact = counts.double() * val_size / len(y)
    quota = exact.floor().long()
    extra = val_size - int(quota.sum())  # largest remainders get one more
    quota[torch.argsort(exact - quota, descending=True, stable=True)[:extra]] += 1
    start = torch.cumsum(counts, 0) - counts
    rank = torch.arange(len(y)) - start.repeat_interleave(counts)  # position within its class in `order`
    is_val = rank < quota.repeat_interleave(counts)
    return order[~is_val].sort().values, order[is_val].sort().values


def channel_stats(x: Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 (N, C, H, W) images in [0,1] units, exact via 256-bin histograms."""
    hist = torch.stack([torch.bincount(x[:, c].reshape(-1), minlength=256) for c in range(x.shape[1])])
    hist = hist.to("cpu", torch.float64)  # (C, 256) pixel counts per value
    v = torch.arange(256, dtype=torch.float64) / 255
    n = hist.sum(1)
    mean = hist @ v / n
    std = (hist @ (v * v) / n - mean * mean).clamp_min(0).sqrt()
    return tuple(mean.tolist()), tuple(std.tolist())


# --- batches and augmentation ------------------------------------------------------------------------


def num_batches(n: int, batch_size: int) -> int:
    return -(-n // batch_size)  # the last partial batch is kept


def output_size(aug: AugmentConfig, image_size: int = 32) -> int:
    """Spatial size the model sees: crop_size in "resize" mode (train and eval), else the image size."""
    return aug.crop_size if aug.crop == "resize" else image_size


def train_batches(x: Tensor, y: Tensor, batch_size: int, aug: AugmentConfig, mean: Stats, std: Stats,
                  generator: torch.Generator) -> Iterator[tuple[Tensor, Tensor]]:  # fmt: skip
    """Shuffled, augmented, normalised float32 (B, 3, S, S) batches + labels, all on x's device.

    Each image is augmented independently; a group of batches (~GROUP_IMAGES images) is prepared with one
    set of kernel launches and then sliced: on GPUs per-batch kernels this small are launch-bound.
    """
    mean, std = stat_tensor(mean, x.device), stat_tensor(std, x.device)  # once: H2D copies sync on CUDA
    perm = torch.randperm(len(x), generator=generator, device=x.device)
    group = batch_size * max(1, GROUP_IMAGES // batch_size)
    for i in range(0, len(x), group):
        idx = perm[i : i + group]
        xb = x[idx]  # (G, 3, H, W) uint8
        xg = augment(xb, aug, mean, std, generator) if aug.enabled else eval_transform(xb, aug, mean, std)
        yg = y[idx]
        for j in range(0, len(idx), batch_size):
            yield xg[j : j + batch_size], yg[j : j + batch_size]


def eval_batches(x: Tensor, y: Tensor, batch_size: int, aug: AugmentConfig, mean: Stats,
                 std: Stats) -> Iterator[tuple[Tensor, Tensor]]:  # fmt: skip
    """In-order, un-augmented batches (centre crop in "resize" mode), same normalisation as training."""
    mean, std = stat_tensor(mean, x.device), stat_tensor(std, x.device)
    for i in range(0, len(x), batch_size):
        yield eval_transform(x[i : i + batch_size], aug, mean, std), y[i : i + batch_size]


def eval_transform(xb: Tensor, aug: AugmentConfig, mean: Stats, std: Stats) -> Tensor:
    xb = eval_crop(xb, aug)
    ones = torch.ones(len(xb), 1, 1, 1, device=xb.device)
    return _normalise(xb, ones / 255, ones * 0, aug, mean, std)


def eval_crop(xb: Tensor, aug: AugmentConfig) -> Tensor:
    """Centre crop to crop_size in "resize" mode (TF resize_image_with_crop_or_pad), else unchanged."""
    if aug.crop == "resize":
        s = aug.crop_size
        top, left = (xb.shape[2] - s) // 2, (xb.shape[3] - s) // 2
        xb = xb[:, :, top : top + s, left : left + s]
    return xb


def normalise_unit(xb: Tensor, aug: AugmentConfig, mean: Stats, std: Stats) -> Tensor:
    """Float images already in [0,1] units (e.g. corrupted by robustness.noise) -> `aug.normalize`d."""
    ones = torch.ones(len(xb), 1, 1, 1, device=xb.device)
    return _normalise(xb, ones, ones * 0, aug, mean, std)


def augment(xb: Tensor, aug: AugmentConfig, mean: Stats, std: Stats, generator: torch.Generator) -> Tensor:
    """uint8 (B, 3, H, W) -> crop, flip, brightness, contrast, normalise -> float32 (B, 3, S, S)."""
    xb = crop_flip(xb, aug, generator)
    b, dev = len(xb), xb.device
    scale = torch.full((b, 1, 1, 1), 1 / 255, device=dev)  # uint8 -> [0,1]
    shift = torch.zeros(b, 1, 1, 1, device=dev)
    if aug.brightness > 0:  # tf.image.random_brightness: x + delta, delta ~ U[-b, b]
        shift = shift + (2 * torch.rand(b, 1, 1, 1, generator=generator, device=dev) - 1) * aug.brightness
    if (aug.contrast_low, aug.contrast_high) != (1.0, 1.0):  # tf.image.random_contrast: around channel mean
        f = torch.rand(b, 1, 1, 1, generator=generator, device=dev)
        f = aug.contrast_low + (aug.contrast_high - aug.contrast_low) * f
        m = xb.sum((2, 3), keepdim=True, dtype=torch.float32) / (255 * xb.shape[2] * xb.shape[3])
        scale, shift = scale * f, shift + m * (1 - f)  # (x - m) f + m, brightness commutes with it
    return _normalise(xb, scale, shift, aug, mean, std)


def _normalise(xb: Tensor, scale: Tensor, shift: Tensor, aug: AugmentConfig, mean: Stats,
               std: Stats) -> Tensor:  # fmt: skip
    """Apply the per-image affine (scale, shift: (B, 1|3, 1, 1), [0,1] units) then `aug.normalize`."""
    if aug.normalize == "dataset":  # fold the channel normalisation into the affine: one pass over pixels
        mu, sd = stat_tensor(mean, xb.device), stat_tensor(std, xb.device)
        scale, shift = scale / sd, (shift - mu) / sd
    out = torch.addcmul(shift, xb.float(), scale)  # (B, 3, S, S) float32
    if aug.normalize == "per_image":  # tf.image.per_image_standardization, but the 1/sqrt(n) std floor is
        # applied in [0,1] units, not to the TF tutorial's [0,255] values (255x higher; docs/data.md)
        n = out[0].numel()
        m = out.mean((1, 2, 3), keepdim=True)
        s = out.std((1, 2, 3), keepdim=True, correction=0).clamp_min(1 / math.sqrt(n))
        out = (out - m) / s
    return out


def stat_tensor(values: Sequence[float] | Tensor, device: torch.device) -> Tensor:
    """Per-channel stats as a float32 (1, C, 1, 1) tensor on `device` (no copy when it already is one)."""
    return torch.as_tensor(values, dtype=torch.float32, device=device).view(1, -1, 1, 1)


def crop_flip(xb: Tensor, aug: AugmentConfig, generator: torch.Generator) -> Tensor:
    """Random crop ("pad": reflect-pad then crop back; "resize": crop_size) and flip as one gather."""
    b, c, h, w = xb.shape
    dev = xb.device
    if aug.crop == "pad":
        if aug.padding >= min(h, w):
            raise UserError(f"augment.padding {aug.padding} must be smaller than the image size {h}x{w}")
        oh, ow, lo, hi = h, w, -aug.padding, aug.padding  # offsets into the virtually padded image
    elif aug.crop == "resize":
        if aug.crop_size > min(h, w):
            raise UserError(f"augment.crop_size {aug.crop_size} exceeds the image size {h}x{w}")
        oh = ow = aug.crop_size
        lo, hi = 0, min(h, w) - aug.crop_size
    else:
        oh, ow, lo, hi = h, w, 0, 0
    off = torch.randint(lo, hi + 1, (b, 2), generator=generator, device=dev)  # (B, 2) top, left
    rows = off[:, :1] + torch.arange(oh, device=dev)  # (B, oh) source rows, maybe outside [0, h)
    cols = off[:, 1:] + torch.arange(ow, device=dev)  # (B, ow)
    if aug.flip:
        flip = torch.rand(b, 1, generator=generator, device=dev) < 0.5
        cols = torch.where(flip, cols.flip(1), cols)
    rows, cols = _reflect(rows, h), _reflect(cols, w)
    index = (rows[:, :, None] * w + cols[:, None, :]).view(b, 1, oh * ow).expand(b, c, oh * ow)
    return torch.gather(xb.reshape(b, c, h * w), 2, index).view(b, c, oh, ow)


def _reflect(i: Tensor, n: int) -> Tensor:
    """Mirror indices into [0, n) without repeating the edge (like F.pad mode="reflect"; needs |pad| < n)."""
    i = i.abs()
    return torch.where(i >= n, 2 * (n - 1) - i, i)
