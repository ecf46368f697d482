"""Datasets and the on-device augmentation pipeline (airbench style).

Images live as uint8 (N, 3, H, W) tensors, moved to the training device once (`Splits.to`). Each
image is cropped, flipped, colour-jittered and normalised there, vectorised over a group of batches
(no Python loop over images; one group of ~GROUP_IMAGES is then sliced into batches):

    uint8 (G, 3, H, W) --gather (crop + flip in one index)--> uint8 (G, 3, S, S)
                       --float, brightness, contrast, normalise (one per-image affine)--> float32 (G, 3, S, S)

Augmentation follows the classic TensorFlow CIFAR-10 tutorial the paper's pipeline matches: brightness
adds a delta in [0,1] units, contrast scales around each image's per-channel mean, and neither clamps
(TF did not clamp before `per_image_standardization`); pad-and-crop pads by reflection (airbench).

Datasets: `synthetic` (generated here, deterministic), `cifar10` / `cifar100` (torchvision), `folder`
(ImageFolder layout root/{train,test}/<class>/*, decoded once and cached as uint8 tensors). The
validation split is a stratified random subset of train (seeded by data.data_seed), or the test split
when data.val_size == 0.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from actbench.config import AugmentConfig, DataConfig

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")  # what torchvision.io.decode_image reads
CACHE_VERSION = 1  # bump when the cache layout changes
SYNTH_CHUNK = 2048  # synthetic images rendered per chunk (keeps intermediates in cache)
GROUP_IMAGES = 4096  # images augmented together, then sliced into batches (amortises GPU kernel launches)

Raw = tuple[Tensor, Tensor, Tensor, Tensor, list[str]]  # train_x, train_y, test_x, test_y, classes
Files = list[tuple[str, int, int]]  # (path, size in bytes, mtime_ns) per image
Stats = Sequence[float] | Tensor  # per-channel mean or std: Splits.mean/std, or a (1, 3, 1, 1) tensor


class DataError(ValueError):
    """A user problem with the data (missing files, bad sizes); its message is one readable line."""


@dataclass
class Splits:
    train_x: Tensor  # (N, 3, H, W) uint8, contiguous
    train_y: Tensor  # (N,) int64
    val_x: Tensor  # carved from train, or the test split itself when val_is_test
    val_y: Tensor
    test_x: Tensor
    test_y: Tensor
    num_classes: int
    classes: list[str]
    mean: tuple[float, float, float]  # per-channel mean of train_x in [0,1] units
    std: tuple[float, float, float]
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
    train_x, train_y, test_x, test_y, classes = _load_raw(data)
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


def _load_raw(data: DataConfig) -> Raw:
    fns = {"synthetic": synthetic, "cifar10": _load_cifar, "cifar100": _load_cifar, "folder": _load_folder}
    if data.name not in fns:
        raise DataError(f"data.name: unknown dataset {data.name!r} (allowed: {', '.join(fns)})")
    return fns[data.name](data)


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
    """Per-channel mean and std of uint8 (N, 3, H, W) images in [0,1] units, exact via 256-bin histograms."""
    hist = torch.stack([torch.bincount(x[:, c].reshape(-1), minlength=256) for c in range(3)])
    hist = hist.to("cpu", torch.float64)  # (3, 256) pixel counts per value
    v = torch.arange(256, dtype=torch.float64) / 255
    n = hist.sum(1)
    mean = hist @ v / n
    std = (hist @ (v * v) / n - mean * mean).clamp_min(0).sqrt()
    return tuple(mean.tolist()), tuple(std.tolist())


# --- synthetic ---------------------------------------------------------------------------------------

# Signed "inside-ness" (> 0 inside, in shape units) of each shape family at local coordinates (u, v).
_SHAPES = {
    "disk": lambda u, v: 1 - (u * u + v * v).sqrt(),
    "square": lambda u, v: 0.85 - torch.maximum(u.abs(), v.abs()),
    "ring": lambda u, v: 0.28 - ((u * u + v * v).sqrt() - 0.72).abs(),
    "cross": lambda u, v: torch.minimum(
        0.33 - torch.minimum(u.abs(), v.abs()), 1 - torch.maximum(u.abs(), v.abs())
    ),
    "diamond": lambda u, v: 1.1 - (u.abs() + v.abs()),
    "triangle": lambda u, v: torch.minimum(v + 0.6, 0.75 - v * 0.5 - u.abs() * 0.95),
}


def synthetic(data: DataConfig, size: int = 32) -> Raw:
    """Deterministic CIFAR-shaped task: each class is a shape family + colour + oriented texture.

    Nuisances per image: position, scale, rotation jitter, colour jitter, random background colour and
    gradient, pixel noise of std `data.noise`. The test set does not depend on train_size.
    """
    g = torch.Generator().manual_seed(data.data_seed)
    c = data.num_classes
    families = list(_SHAPES)
    params = {
        "family": torch.randperm(c, generator=g) % len(families),
        "colour": 0.15 + 0.7 * torch.rand(c, 3, generator=g),
        "angle": math.pi * torch.rand(c, generator=g),
        "freq": 0.6 + 1.4 * torch.rand(c, generator=g),  # texture cycles per shape unit
        "size": 0.4 + 0.3 * torch.rand(c, generator=g),  # shape radius as a fraction of half the image
    }
    train_seed, test_seed = torch.randint(2**62, (2,), generator=g).tolist()
    train = _synthetic_split(params, data.train_size, data.noise, size, train_seed)
    test = _synthetic_split(params, data.test_size, data.noise, size, test_seed)
    classes = [f"{families[int(f)]}{i}" for i, f in enumerate(params["family"])]
    return *train, *test, classes


def _synthetic_split(params: dict[str, Tensor], n: int, noise: float, size: int,
                     seed: int) -> tuple[Tensor, Tensor]:  # fmt: skip
    """Balanced labels, then images in chunks (bounded memory; chunk k uses its own seeded generator)."""
    g = torch.Generator().manual_seed(seed)
    c = len(params["family"])
    y = (torch.arange(n) % c)[torch.randperm(n, generator=g)]  # balanced labels, random order
    chunks = [torch.empty(0, 3, size, size, dtype=torch.uint8)]
    for i in range(0, n, SYNTH_CHUNK):
        p = {k: v[y[i : i + SYNTH_CHUNK]] for k, v in params.items()}
        g_chunk = torch.Generator().manual_seed(seed + 1 + i // SYNTH_CHUNK)
        chunks.append(_synthetic_images(p, noise, size, g_chunk))
    return torch.cat(chunks), y


def _synthetic_images(p: dict[str, Tensor], noise: float, size: int, g: torch.Generator) -> Tensor:
    """Render one image per row of the per-image class parameters `p` -> (n, 3, S, S) uint8."""
    n = len(p["family"])
    r = lambda *shape: torch.rand(*shape, generator=g)  # noqa: E731
    centre = (r(n, 2) - 0.5) * 0.7  # (n, 2) position jitter in [-1, 1] image coordinates
    scale = p["size"] * (0.75 + 0.5 * r(n))  # (n,)
    angle = p["angle"] + 0.5 * (r(n) - 0.5)  # shape and texture rotate together
    lin = torch.linspace(-1, 1, size)
    gy, gx = torch.meshgrid(lin, lin, indexing="ij")  # (S, S)
    dx, dy = gx - centre[:, 0, None, None], gy - centre[:, 1, None, None]  # (n, S, S)
    cos, sin, s = angle.cos()[:, None, None], angle.sin()[:, None, None], scale[:, None, None]
    u, v = (dx * cos + dy * sin) / s, (dy * cos - dx * sin) / s  # shape-local coordinates

    inside = torch.empty(n, size, size)
    for k, fn in enumerate(_SHAPES.values()):  # loop over shape families, not images
        m = p["family"] == k
        inside[m] = fn(u[m], v[m])
    mask = torch.sigmoid(inside * s * (size / 2))[:, None]  # (n, 1, S, S), ~1 pixel anti-aliasing

    phase = 2 * math.pi * r(n, 1, 1)
    texture = 1 + 0.35 * torch.sin(2 * math.pi * p["freq"][:, None, None] * u + phase)  # (n, S, S)
    fg = (p["colour"] + 0.08 * torch.randn(n, 3, generator=g)) * (0.8 + 0.4 * r(n, 1))  # (n, 3)
    fg = fg[:, :, None, None] * texture[:, None]
    tilt = (r(n, 2) - 0.5) * 0.5  # background gradient, per image
    bg = r(n, 3, 1, 1) + (tilt[:, 0, None, None] * gx + tilt[:, 1, None, None] * gy)[:, None]
    img = bg * (1 - mask) + fg * mask + noise * torch.randn(n, 3, size, size, generator=g)
    return (img.clamp(0, 1) * 255).round_().to(torch.uint8)


# --- CIFAR via torchvision ---------------------------------------------------------------------------


def _load_cifar(data: DataConfig) -> Raw:
    from torchvision import datasets  # local: keeps `import actbench.data` light

    cls = datasets.CIFAR10 if data.name == "cifar10" else datasets.CIFAR100
    folder = cls.base_folder  # cifar-10-batches-py | cifar-100-python
    root = Path(data.root).expanduser()
    hint = f"set data.download=true, or put {folder}/ under {root}"
    try:
        train, test = cls(str(root), train=True, download=data.download), cls(str(root), train=False)
    except Exception as exc:  # torchvision: RuntimeError when missing; URLError/OSError/... on download
        if not data.download:
            raise DataError(
                f"{data.name}: no dataset found (or corrupt) at {root / folder} ({hint})"
            ) from None
        why = _first_line(exc)
        msg = f"{data.name}: download to {root} failed ({why}); put {folder}/ under {root} by hand"
        raise DataError(msg) from None

    def tensors(ds) -> tuple[Tensor, Tensor]:
        x = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()  # (N, 32, 32, 3) -> (N, 3, 32, 32)
        return x, torch.tensor(ds.targets, dtype=torch.int64)

    return *tensors(train), *tensors(test), list(train.classes)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# --- ImageFolder layout, decoded once and cached -----------------------------------------------------


def _list_split(split_dir: Path, classes: list[str] | None) -> tuple[list[str], Files, list[int]]:
    """(classes, [(path, size, mtime_ns)], labels) in class-interleaved order (see `_load_folder`)."""
    if not split_dir.is_dir():
        raise DataError(f"folder: missing directory {split_dir} (expected <root>/{{train,test}}/<class>/*)")
    found = sorted(e.name for e in os.scandir(split_dir) if e.is_dir())
    if classes is not None and found != classes:
        diff = sorted(set(found) ^ set(classes))
        raise DataError(f"folder: class folders in {split_dir} differ from train/ (e.g. {diff[0]!r})")
    if not found:
        raise DataError(f"folder: no class sub-folders in {split_dir}")
    per_class = []
    for name in found:
        entries = [e for e in os.scandir(split_dir / name) if e.name.lower().endswith(IMAGE_EXTENSIONS)]
        entries.sort(key=lambda e: e.name)
        if not entries:
            raise DataError(f"folder: no images ({', '.join(IMAGE_EXTENSIONS)}) in {split_dir / name}")
        per_class.append([(e.path, e.stat().st_size, e.stat().st_mtime_ns) for e in entries])
    # Round-robin over classes so that limit_train/limit_test (first N) stay class-balanced.
    order = sorted((i, k) for k, files in enumerate(per_class) for i in range(len(files)))
    return found, [per_class[k][i] for i, k in order], [k for _, k in order]


def _decode(files: Files, threads: int = min(8, 2 * (os.cpu_count() or 1))) -> Tensor:
    """Read and decode image files with a few threads (decoding releases the GIL) -> (N, 3, H, W) uint8."""
    from torchvision.io import ImageReadMode, decode_image  # deprecated in 0.29 for torchcodec, still works

    def chunk(paths: list[str]) -> list[Tensor]:
        out = []
        for path in paths:
            try:
                raw = torch.frombuffer(bytearray(Path(path).read_bytes()), dtype=torch.uint8)
                out.append(decode_image(raw, mode=ImageReadMode.RGB))
            except (RuntimeError, OSError) as exc:
                raise DataError(f"folder: cannot decode {path} ({_first_line(exc)})") from None
        return out

    paths = [f[0] for f in files]
    with warnings.catch_warnings(), ThreadPoolExecutor(threads) as pool:
        warnings.filterwarnings("ignore", "The image decoding", DeprecationWarning)
        parts = pool.map(chunk, [paths[i : i + 512] for i in range(0, len(paths), 512)])
        images = [im for part in parts for im in part]
    shape = images[0].shape
    if shape[1] != shape[2]:
        raise DataError(f"folder: images must be square, {paths[0]} is {shape[2]}x{shape[1]}")
    for path, im in zip(paths, images, strict=True):
        if im.shape != shape:
            size = f"{im.shape[2]}x{im.shape[1]}, {paths[0]} is {shape[2]}x{shape[1]}"
            raise DataError(f"folder: all images must have the same size; {path} is {size}")
    return torch.stack(images)


def cache_dir(data: DataConfig) -> Path:
    if data.cache_dir is not None:
        return Path(data.cache_dir).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "actbench"


def _cache_key(root: Path, files: Files) -> str:
    h = hashlib.sha256(f"v{CACHE_VERSION}\0{root.resolve()}\0".encode())
    for path, size, mtime in files:
        h.update(f"{path}\0{size}\0{mtime}\n".encode())
    return h.hexdigest()[:20]


def _load_folder(data: DataConfig) -> Raw:
    """Decode root/{train,test}/<class>/* once; later loads read the cached uint8 tensors.

    Images are stored class-interleaved (i-th image of each class in turn), not ImageFolder's
    class-sorted order, so the first N images of a split cover all classes.
    """
    root = Path(data.root).expanduser()
    if not root.is_dir():
        raise DataError(f"folder: data.root {root} is not a directory")
    classes, train_files, train_y = _list_split(root / "train", None)
    _, test_files, test_y = _list_split(root / "test", classes)
    path = cache_dir(data) / f"folder-{root.resolve().name}-{_cache_key(root, train_files + test_files)}.pt"
    if data.cache and path.is_file():
        try:
            c = torch.load(path, weights_only=True)
            return c["train_x"], c["train_y"], c["test_x"], c["test_y"], list(c["classes"])
        except Exception as exc:  # a truncated/corrupt cache is rebuilt, never fatal
            warnings.warn(f"ignoring unreadable cache {path}: {exc}", stacklevel=2)
    train_x, test_x = _decode(train_files), _decode(test_files)
    if test_x.shape[1:] != train_x.shape[1:]:
        shapes = f"{tuple(test_x.shape[1:])}, train {tuple(train_x.shape[1:])}"
        raise DataError(f"folder: test images are {shapes}")
    train_yt, test_yt = torch.tensor(train_y), torch.tensor(test_y)
    if data.cache:
        payload = dict(train_x=train_x, train_y=train_yt, test_x=test_x, test_y=test_yt, classes=classes)
        _write_cache(path, payload)
    return train_x, train_yt, test_x, test_yt, classes


def _write_cache(path: Path, payload: dict) -> None:
    """Atomic write (tmp file + os.replace); a failure only costs the next load a re-decode."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        warnings.warn(f"could not write data cache {path}: {exc}", stacklevel=2)


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
    """Float images already in [0,1] units (e.g. corrupted by actbench.noise) -> `aug.normalize`d."""
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
    if aug.normalize == "per_image":  # tf.image.per_image_standardization
        n = out[0].numel()
        m = out.mean((1, 2, 3), keepdim=True)
        s = out.std((1, 2, 3), keepdim=True, correction=0).clamp_min(1 / math.sqrt(n))
        out = (out - m) / s
    return out


def stat_tensor(values: Sequence[float] | Tensor, device: torch.device) -> Tensor:
    """Per-channel stats as a float32 (1, 3, 1, 1) tensor on `device` (no copy when it already is one)."""
    return torch.as_tensor(values, dtype=torch.float32, device=device).view(1, 3, 1, 1)


def crop_flip(xb: Tensor, aug: AugmentConfig, generator: torch.Generator) -> Tensor:
    """Random crop ("pad": reflect-pad then crop back; "resize": crop_size) and flip as one gather."""
    b, c, h, w = xb.shape
    dev = xb.device
    if aug.crop == "pad":
        if aug.padding >= min(h, w):
            raise ValueError(f"augment.padding {aug.padding} must be smaller than the image size {h}x{w}")
        oh, ow, lo, hi = h, w, -aug.padding, aug.padding  # offsets into the virtually padded image
    elif aug.crop == "resize":
        if aug.crop_size > min(h, w):
            raise ValueError(f"augment.crop_size {aug.crop_size} exceeds the image size {h}x{w}")
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
