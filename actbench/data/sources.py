"""Dataset sources: where the raw uint8 images and labels of a `data.name` come from.

`synthetic` (generated here, deterministic), `cifar10` / `cifar100` (torchvision), `folder` (ImageFolder
layout root/{train,test}/<class>/*, as a directory or inside a .tar/.tar.gz/.tgz/.zip archive, decoded once
and cached as uint8 tensors). Each returns the train and test images as uint8 (N, 3, H, W) tensors with int64
labels and the class names; splitting off the validation set, statistics and augmentation happen in
`actbench.data.pipeline`.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any

import torch
from torch import Tensor

from actbench.config import DataConfig
from actbench.data.archives import (
    ARCHIVE_SUFFIXES,
    IMAGE_EXTENSIONS,
    ArchiveError,
    content_key,
    is_archive,
    is_image_name,
    read_members,
)
from actbench.errors import UserError

CACHE_VERSION = 1  # bump when the cache layout changes
SYNTH_CHUNK = 2048  # synthetic images rendered per chunk (keeps intermediates in cache)

Raw = tuple[Tensor, Tensor, Tensor, Tensor, list[str]]  # train_x, train_y, test_x, test_y, classes
Files = list[tuple[str, int, int]]  # (path, size in bytes, mtime_ns) per image


class DataError(UserError):
    """A user problem with the data (missing files, bad sizes); its message is one readable line."""


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


def load_cifar(data: DataConfig) -> Raw:
    from torchvision import datasets  # local: keeps `import actbench.data.pipeline` light

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
    """(classes, [(path, size, mtime_ns)], labels) in class-interleaved order (see `load_folder`)."""
    if not split_dir.is_dir():
        raise DataError(f"folder: missing directory {split_dir} (expected <root>/{{train,test}}/<class>/*)")
    found = sorted(e.name for e in _listing(split_dir) if e.is_dir())
    if classes is not None and found != classes:
        diff = sorted(set(found) ^ set(classes))
        raise DataError(f"folder: class folders in {split_dir} differ from train/ (e.g. {diff[0]!r})")
    if not found:
        raise DataError(f"folder: no class sub-folders in {split_dir}")
    per_class = []
    for name in found:
        entries = [e for e in _listing(split_dir / name) if is_image_name(e.name)]
        entries.sort(key=lambda e: e.name)
        if not entries:
            raise DataError(f"folder: no images ({', '.join(IMAGE_EXTENSIONS)}) in {split_dir / name}")
        per_class.append([_file_entry(e) for e in entries])
    files, labels = interleave(per_class)
    return found, files, labels


def _listing(folder: Path) -> list[os.DirEntry]:
    """A folder's entries; one that cannot be listed (no read permission) is one DataError."""
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except OSError as exc:
        raise DataError(f"folder: cannot list {folder}: {exc.strerror or _first_line(exc)}") from None


def _file_entry(e: os.DirEntry) -> tuple[str, int, int]:
    """(path, size, mtime_ns); an image that cannot be read (a dangling link) is one DataError."""
    try:
        st = e.stat()
    except OSError as exc:
        raise DataError(f"folder: cannot read {e.path} ({exc.strerror or _first_line(exc)})") from None
    return e.path, st.st_size, st.st_mtime_ns


def interleave(per_class: list[list[Any]]) -> tuple[list[Any], list[int]]:
    """Round-robin over classes (i-th item of each class in turn), so that limit_train/limit_test (the
    first N images) stay class-balanced -> (items, class index of each)."""
    order = sorted((i, k) for k, items in enumerate(per_class) for i in range(len(items)))
    return [per_class[k][i] for i, k in order], [k for _, k in order]


def _decode(
    names: list[str], read: Callable[[int], bytes], threads: int = min(8, 2 * (os.cpu_count() or 1))
) -> Tensor:
    """Decode image i from the bytes `read(i)` (named names[i] in errors) with a few threads (decoding
    releases the GIL) -> (N, 3, H, W) uint8."""
    from torchvision.io import ImageReadMode, decode_image  # deprecated in 0.29 for torchcodec, still works

    def chunk(indices: range) -> list[Tensor]:
        out = []
        for i in indices:
            try:
                raw = torch.frombuffer(bytearray(read(i)), dtype=torch.uint8)
                out.append(decode_image(raw, mode=ImageReadMode.RGB))
            except (RuntimeError, OSError, ValueError) as exc:
                raise DataError(f"folder: cannot decode {names[i]} ({_first_line(exc)})") from None
        return out

    n = len(names)
    with warnings.catch_warnings(), ThreadPoolExecutor(threads) as pool:
        warnings.filterwarnings("ignore", "The image decoding", DeprecationWarning)
        parts = pool.map(chunk, [range(i, min(i + 512, n)) for i in range(0, n, 512)])
        images = [im for part in parts for im in part]
    shape = images[0].shape
    if shape[1] != shape[2]:
        raise DataError(f"folder: images must be square, {names[0]} is {shape[2]}x{shape[1]}")
    for name, im in zip(names, images, strict=True):
        if im.shape != shape:
            size = f"{im.shape[2]}x{im.shape[1]}, {names[0]} is {shape[2]}x{shape[1]}"
            raise DataError(f"folder: all images must have the same size; {name} is {size}")
    return torch.stack(images)


def _decode_files(files: Files) -> Tensor:
    paths = [f[0] for f in files]
    return _decode(paths, lambda i: Path(paths[i]).read_bytes())


def cache_dir(data: DataConfig) -> Path:
    if data.cache_dir is not None:
        return Path(data.cache_dir).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "actbench"


def _cache_key(root: Path, files: Files) -> str:
    h = hashlib.sha256(f"v{CACHE_VERSION}\0{root.resolve()}\0".encode())
    for path, size, mtime in files:
        h.update(f"{path}\0{size}\0{mtime}\n".encode())
    return h.hexdigest()[:20]


def load_folder(data: DataConfig) -> Raw:
    """Decode root/{train,test}/<class>/* (a folder or an archive) once; later loads read the cache.

    Images are stored class-interleaved (i-th image of each class in turn), not ImageFolder's
    class-sorted order, so the first N images of a split cover all classes.
    """
    root = Path(data.root).expanduser()
    if is_archive(root):
        return _load_archive(data, root)
    if not root.is_dir():
        allowed = ", ".join(ARCHIVE_SUFFIXES)
        raise DataError(f"folder: data.root {root} is not a directory or an archive ({allowed})")
    classes, train_files, train_y = _list_split(root / "train", None)
    _, test_files, test_y = _list_split(root / "test", classes)
    path = cache_dir(data) / f"folder-{root.resolve().name}-{_cache_key(root, train_files + test_files)}.pt"
    cached = _read_cache(path) if data.cache else None
    if cached is not None:
        return cached
    train_x, test_x = _decode_files(train_files), _decode_files(test_files)
    return _finish_folder(data, path, train_x, torch.tensor(train_y), test_x, torch.tensor(test_y), classes)


def _load_archive(data: DataConfig, archive: Path) -> Raw:
    """The folder layout inside a .tar/.tar.gz/.tgz/.zip, keyed in the cache by the archive's content hash.

    Same order as a folder (classes sorted, files sorted by name within a class, then interleaved), so an
    archive of a folder yields the same tensors as the folder itself.
    """
    key = hashlib.sha256(f"v{CACHE_VERSION}\0archive\0{content_key(archive)}".encode()).hexdigest()[:20]
    stem = archive.name[: -len(next(s for s in ARCHIVE_SUFFIXES if archive.name.lower().endswith(s)))]
    path = cache_dir(data) / f"folder-{stem}-{key}.pt"
    cached = _read_cache(path) if data.cache else None
    if cached is not None:
        return cached
    try:
        members = read_members(archive, IMAGE_EXTENSIONS)
    except ArchiveError as exc:
        raise DataError(f"folder: {exc}") from None
    classes = sorted(members["train"])
    if sorted(members["test"]) != classes:
        diff = sorted(set(members["test"]) ^ set(classes))
        raise DataError(f"folder: class folders of test/ in {archive} differ from train/ (e.g. {diff[0]!r})")
    decoded: list[tuple[Tensor, Tensor]] = []
    for split in ("train", "test"):
        per_class = [sorted(members[split][c], key=lambda m: PurePosixPath(m[0]).name) for c in classes]
        items, labels = interleave(per_class)
        names = [f"{archive}:{name}" for name, _ in items]

        def read(i: int, items: list[Any] = items) -> bytes:
            return items[i][1]

        decoded.append((_decode(names, read), torch.tensor(labels)))
    (train_x, train_y), (test_x, test_y) = decoded
    return _finish_folder(data, path, train_x, train_y, test_x, test_y, classes)


def _read_cache(path: Path) -> Raw | None:
    """The cached tensors, or None when absent or unreadable (a corrupt cache is rebuilt, never fatal)."""
    if not path.is_file():
        return None
    try:
        c = torch.load(path, weights_only=True)
        return c["train_x"], c["train_y"], c["test_x"], c["test_y"], list(c["classes"])
    except Exception as exc:
        warnings.warn(f"ignoring unreadable cache {path}: {exc}", stacklevel=3)
        return None


def _finish_folder(
    data: DataConfig, path: Path, train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor,
    classes: list[str],
) -> Raw:  # fmt: skip
    """Check that both splits have one image shape, then write the cache (only complete, checked data)."""
    if test_x.shape[1:] != train_x.shape[1:]:
        shapes = f"{tuple(test_x.shape[1:])}, train {tuple(train_x.shape[1:])}"
        raise DataError(f"folder: test images are {shapes}")
    if data.cache:
        payload = dict(train_x=train_x, train_y=train_y, test_x=test_x, test_y=test_y, classes=classes)
        _write_cache(path, payload)
    return train_x, train_y, test_x, test_y, classes


def _write_cache(path: Path, payload: dict) -> None:
    """Atomic write (tmp file + os.replace); a failure only costs the next load a re-decode. torch.save
    reports a full disk as RuntimeError (its zip writer), not OSError; an interrupt still propagates.
    Either way the partial tmp file is removed."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if not isinstance(exc, (OSError, RuntimeError)):
            raise
        warnings.warn(f"could not write data cache {path}: {_first_line(exc)}", stacklevel=2)
