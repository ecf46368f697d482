"""Data: synthetic/cifar/folder loading, splits and the on-device augmentation pipeline."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from actbench.config import AugmentConfig, DataConfig
from actbench.data import pipeline as D
from actbench.data import sources as SRC
from tests.factories import make_folder, shared_cifar10_jpeg

SMALL = DataConfig(train_size=600, test_size=200, val_size=100)
PLAIN = AugmentConfig(
    enabled=True,
    crop="none",
    flip=False,
    brightness=0.0,
    contrast_low=1.0,
    contrast_high=1.0,
    normalize="none",
)  # every random part off; turn one back on per test


def aug(**kw) -> AugmentConfig:
    return dataclasses.replace(PLAIN, **kw)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def collect(batches) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = zip(*batches, strict=True)
    return torch.cat(xs), torch.cat(ys)


@pytest.fixture(scope="module")
def small() -> D.Splits:
    return D.load_splits(SMALL)


# --- synthetic ---------------------------------------------------------------------------------------


def test_synthetic_shapes_and_balance(small: D.Splits) -> None:
    assert small.train_x.shape == (500, 3, 32, 32) and small.train_x.dtype == torch.uint8
    assert small.train_x.is_contiguous() and small.train_y.dtype == torch.int64
    assert small.val_x.shape == (100, 3, 32, 32) and small.test_x.shape == (200, 3, 32, 32)
    assert small.num_classes == len(small.classes) == 10 and not small.val_is_test
    counts = torch.bincount(torch.cat([small.train_y, small.val_y]), minlength=10)
    assert counts.tolist() == [60] * 10
    assert int(small.train_x.min()) == 0 and int(small.train_x.max()) == 255  # uses the full range


def test_synthetic_is_deterministic_and_seeded() -> None:
    a, b = SRC.synthetic(SMALL), SRC.synthetic(SMALL)
    for ta, tb in zip(a[:4], b[:4], strict=True):
        assert torch.equal(ta, tb)
    other = SRC.synthetic(dataclasses.replace(SMALL, data_seed=1))
    assert not torch.equal(a[0], other[0])
    bigger = SRC.synthetic(dataclasses.replace(SMALL, train_size=700))
    assert torch.equal(a[2], bigger[2]) and torch.equal(a[3], bigger[3])  # test set independent of train_size
    noisy = SRC.synthetic(dataclasses.replace(SMALL, noise=0.5))
    assert noisy[0].float().std() > a[0].float().std()


def test_synthetic_100_classes() -> None:
    x, y, tx, ty, classes = SRC.synthetic(DataConfig(num_classes=100, train_size=5000, test_size=1000))
    assert x.shape == (5000, 3, 32, 32) and len(classes) == 100 == len(set(classes))
    assert torch.bincount(y, minlength=100).tolist() == [50] * 100
    assert set(ty.tolist()) == set(range(100))
    # Classes differ in their mean image (colour/shape structure), not just in the label.
    means = torch.stack([x[y == c].float().mean(0) for c in range(100)]).flatten(1)
    assert torch.cdist(means, means).add(torch.eye(100) * 1e9).min() > 1.0


def test_synthetic_is_learnable_but_not_trivial() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(
        1
    )  # tiny convs: one thread is as fast and robust to a busy machine (fixture restores)
    s = D.load_splits(DataConfig(train_size=2000, test_size=500, val_size=0, noise=0.2))
    a = AugmentConfig(enabled=False)
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10),
    )  # fmt: skip
    opt = torch.optim.Adam(model.parameters(), 3e-3)

    def accuracy() -> float:
        with torch.no_grad():
            hits = sum(
                int((model(x).argmax(1) == y).sum())
                for x, y in D.eval_batches(s.test_x, s.test_y, 500, a, s.mean, s.std)
            )
        return hits / len(s.test_y)

    first = None
    for epoch in range(4):
        for x, y in D.train_batches(s.train_x, s.train_y, 64, a, s.mean, s.std, gen(epoch)):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
        first = accuracy() if first is None else first
    final = accuracy()
    assert 0.25 < final < 0.95, (first, final)  # chance is 0.10
    assert final > first + 0.05, (first, final)  # still improving after the first epoch


# --- splits ------------------------------------------------------------------------------------------


def test_val_split_is_stratified_disjoint_and_seeded(small: D.Splits) -> None:
    assert torch.bincount(small.val_y, minlength=10).tolist() == [10] * 10
    full_x = SRC.synthetic(SMALL)[0]
    rows = {bytes(img.numpy()) for img in full_x}
    train, val = {bytes(i.numpy()) for i in small.train_x}, {bytes(i.numpy()) for i in small.val_x}
    assert not train & val and train | val == rows
    again = D.load_splits(SMALL)
    assert torch.equal(again.val_x, small.val_x)
    # Another data_seed is another synthetic dataset; the carve itself is tested on fixed labels:
    y = torch.arange(1000) % 7
    tr1, va1 = D._stratified_split(y, 100, 7, seed=0)
    tr2, va2 = D._stratified_split(y, 100, 7, seed=1)
    assert len(va1) == 100 and len(tr1) == 900 and not torch.equal(va1, va2)
    assert torch.bincount(y[va1]).tolist() == [15, 15, 14, 14, 14, 14, 14]  # largest remainders


def test_val_size_zero_uses_test_and_limits() -> None:
    s = D.load_splits(dataclasses.replace(SMALL, val_size=0, limit_train=300, limit_test=50))
    assert s.val_is_test and s.val_x is s.test_x and len(s.train_x) == 300 and len(s.test_x) == 50
    full = SRC.synthetic(SMALL)
    assert torch.equal(s.train_x, full[0][:300]) and torch.equal(s.test_y, full[3][:50])
    moved = s.to("cpu")
    assert moved.val_x is moved.test_x and moved.train_x.device.type == "cpu"


def test_val_size_too_large_names_the_key() -> None:
    with pytest.raises(SRC.DataError, match=r"^data\.val_size: 300 must be smaller .*\(300 images\)"):
        D.load_splits(dataclasses.replace(SMALL, val_size=300, limit_train=300))


def test_channel_stats_match_float_computation(small: D.Splits) -> None:
    xf = small.train_x.double() / 255
    assert np.allclose(small.mean, xf.mean((0, 2, 3)).tolist(), atol=1e-9)
    assert np.allclose(small.std, xf.std((0, 2, 3), correction=0).tolist(), atol=1e-9)


# --- cifar (no network here: only the error paths) --------------------------------------------------


@pytest.mark.parametrize(
    "name,folder", [("cifar10", "cifar-10-batches-py"), ("cifar100", "cifar-100-python")]
)
def test_cifar_missing_data_is_one_readable_line(tmp_path: Path, name: str, folder: str) -> None:
    with pytest.raises(SRC.DataError) as err:
        D.load_splits(DataConfig(name=name, root=str(tmp_path)))
    msg = str(err.value)
    assert "\n" not in msg and str(tmp_path / folder) in msg and "data.download=true" in msg
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_cifar_download_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib.error

    from torchvision import datasets

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(datasets.CIFAR10, "__init__", offline)
    with pytest.raises(SRC.DataError, match="download to .* failed .*name resolution.*cifar-10-batches-py"):
        D.load_splits(DataConfig(name="cifar10", root=str(tmp_path), download=True))


def test_cifar_arrays_become_nchw(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from torchvision import datasets

    def fake(self, root, train=True, download=False):
        n = 20 if train else 10
        self.data = np.arange(n * 32 * 32 * 3, dtype=np.int64).reshape(n, 32, 32, 3).astype(np.uint8)
        self.targets, self.classes = [i % 10 for i in range(n)], [f"c{i}" for i in range(10)]

    monkeypatch.setattr(datasets.CIFAR10, "__init__", fake)
    s = D.load_splits(DataConfig(name="cifar10", root=str(tmp_path), val_size=0))
    assert s.train_x.shape == (20, 3, 32, 32) and s.train_x.is_contiguous() and s.num_classes == 10
    assert int(s.train_x[0, 1, 0, 0]) == 1 and int(s.train_x[0, 0, 0, 1]) == 3  # HWC -> CHW


# --- folder ------------------------------------------------------------------------------------------


def test_folder_loads_caches_and_invalidates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, cache = tmp_path / "imgs", tmp_path / "cache"
    arrays = make_folder(root, {"cat": 3, "dog": 2, "emu": 3})
    cfg = DataConfig(name="folder", root=str(root), cache_dir=str(cache), val_size=0)
    s = D.load_splits(cfg)
    assert s.classes == ["cat", "dog", "emu"] and s.num_classes == 3
    assert s.train_x.shape == (8, 3, 32, 32) and s.test_x.shape == (6, 3, 32, 32)
    assert s.train_y.tolist() == [0, 1, 2, 0, 1, 2, 0, 2]  # class-interleaved: first N stay balanced
    assert torch.equal(s.train_x[1], torch.from_numpy(arrays["train/dog/000"]).permute(2, 0, 1))
    files = list(cache.iterdir())
    assert len(files) == 1 and files[0].suffix == ".pt"

    def no_decode(*args):
        raise AssertionError("decoded although cached")

    monkeypatch.setattr(SRC, "_decode", no_decode)
    again = D.load_splits(cfg)
    assert torch.equal(again.train_x, s.train_x) and again.classes == s.classes
    monkeypatch.undo()
    Image.fromarray(arrays["train/cat/000"]).save(root / "train" / "dog" / "new.png")  # folder changed
    changed = D.load_splits(cfg)
    assert len(changed.train_x) == 9 and len(list(cache.iterdir())) == 2


def test_folder_cache_dir_default_and_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "imgs"
    make_folder(root, {"a": 1, "b": 1})
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    D.load_splits(DataConfig(name="folder", root=str(root), val_size=0))
    assert len(list((tmp_path / "xdg" / "actbench").glob("folder-imgs-*.pt"))) == 1
    D.load_splits(
        DataConfig(name="folder", root=str(root), val_size=0, cache=False, cache_dir=str(tmp_path / "c"))
    )
    assert not (tmp_path / "c").exists()


def test_folder_errors(tmp_path: Path) -> None:
    root = tmp_path / "imgs"
    cfg = DataConfig(name="folder", root=str(root), cache=False, val_size=0)
    with pytest.raises(SRC.DataError, match="not a directory"):
        D.load_splits(cfg)
    make_folder(root, {"a": 2, "b": 2})
    for f in (root / "test").rglob("*"):
        if f.is_file():
            f.unlink()
    with pytest.raises(SRC.DataError, match=f"no images .* in {root / 'test'}"):
        D.load_splits(cfg)
    for d in sorted((root / "test").iterdir()):
        d.rmdir()
    (root / "test").rmdir()
    with pytest.raises(SRC.DataError, match=f"missing directory {root / 'test'}"):
        D.load_splits(cfg)
    make_folder(root, {"a": 2, "b": 2})
    Image.fromarray(np.zeros((28, 28, 3), np.uint8)).save(root / "train" / "b" / "odd.png")
    with pytest.raises(SRC.DataError, match="same size; .*odd.png is 28x28"):
        D.load_splits(cfg)
    (root / "train" / "b" / "odd.png").write_bytes(b"not a png")
    with pytest.raises(SRC.DataError, match="cannot decode .*odd.png"):
        D.load_splits(cfg)


@pytest.mark.realdata
def test_real_cifar10_jpeg_folder(tmp_path: Path) -> None:
    root = shared_cifar10_jpeg()
    if not (root / "train").is_dir():
        pytest.skip(f"real CIFAR-10 JPEG folder not found at {root} (set ACTBENCH_CIFAR10_JPEG)")
    cfg = DataConfig(name="folder", root=str(root), cache_dir=str(tmp_path), val_size=0)
    t0 = time.perf_counter()
    s = D.load_splits(cfg)
    t1 = time.perf_counter()
    cached = D.load_splits(cfg)
    t2 = time.perf_counter()
    print(f"cifar10-jpeg: first load (decode) {t1 - t0:.1f} s, cached load {t2 - t1:.1f} s")
    assert s.train_x.shape == (50000, 3, 32, 32) and s.test_x.shape == (10000, 3, 32, 32)
    assert s.classes[:2] == ["airplane", "automobile"] and s.num_classes == 10
    assert torch.bincount(s.train_y).tolist() == [5000] * 10
    assert np.allclose(s.mean, (0.4913, 0.4821, 0.4465), atol=5e-4)
    assert np.allclose(s.std, (0.2452, 0.2428, 0.2606), atol=5e-4)
    assert torch.equal(cached.train_x, s.train_x) and torch.equal(cached.test_y, s.test_y)


# --- batches and augmentation ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def batch(small: D.Splits) -> torch.Tensor:
    return small.train_x[:64]  # (64, 3, 32, 32) uint8


@pytest.mark.parametrize("group", [4096, 200, 1])  # images augmented together (GROUP_IMAGES)
def test_num_batches_and_partial_last_batch(
    small: D.Splits, group: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(D, "GROUP_IMAGES", group)
    assert D.num_batches(500, 100) == 5 and D.num_batches(501, 100) == 6 and D.num_batches(1, 100) == 1
    batches = list(
        D.train_batches(small.train_x, small.train_y, 96, AugmentConfig(), small.mean, small.std, gen())
    )
    assert [len(y) for _, y in batches] == [96] * 5 + [20] and all(x.is_contiguous() for x, _ in batches)
    y = torch.cat([y for _, y in batches])
    assert sorted(y.tolist()) == sorted(small.train_y.tolist())  # a permutation: every image once
    again = collect(
        D.train_batches(small.train_x, small.train_y, 96, AugmentConfig(), small.mean, small.std, gen())
    )
    assert torch.equal(again[0], torch.cat([x for x, _ in batches]))


@pytest.mark.parametrize("crop,size", [("pad", 32), ("resize", 24), ("none", 32)])
@pytest.mark.parametrize("normalize", ["dataset", "per_image", "none"])
def test_output_shapes_dtypes_and_determinism(small: D.Splits, crop: str, size: int, normalize: str) -> None:
    a = AugmentConfig(crop=crop, normalize=normalize)
    assert D.output_size(a) == size

    def run(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        return collect(
            D.train_batches(small.train_x, small.train_y, 128, a, small.mean, small.std, gen(seed))
        )

    (x1, y1), (x2, y2), (x3, _) = run(0), run(0), run(1)
    assert x1.shape == (500, 3, size, size) and x1.dtype == torch.float32 and y1.dtype == torch.int64
    assert torch.equal(x1, x2) and torch.equal(y1, y2) and not torch.equal(x1, x3)
    ex, _ = collect(D.eval_batches(small.val_x, small.val_y, 64, a, small.mean, small.std))
    assert ex.shape == (100, 3, size, size)
    assert torch.equal(ex, collect(D.eval_batches(small.val_x, small.val_y, 64, a, small.mean, small.std))[0])


def test_disabled_augmentation_equals_eval_path(small: D.Splits) -> None:
    for crop in ("pad", "resize"):
        a = AugmentConfig(enabled=False, crop=crop)
        ids = torch.arange(len(small.train_x))  # labels = indices, to undo the shuffle
        x, i = collect(D.train_batches(small.train_x, ids, 100, a, small.mean, small.std, gen()))
        ex, _ = collect(D.eval_batches(small.train_x, ids, 100, a, small.mean, small.std))
        assert not torch.equal(i, ids) and torch.equal(x[i.argsort()], ex)


def window_offset(out: torch.Tensor, src: torch.Tensor) -> tuple[int, int]:
    """(top, left) of the window of `src` (C, H, W) equal to `out` (C, h, w); fails when there is none."""
    h, w = out.shape[1:]
    for top in range(src.shape[1] - h + 1):
        for left in range(src.shape[2] - w + 1):
            if torch.equal(out, src[:, top : top + h, left : left + w]):
                return top, left
    raise AssertionError("output is not a window of the source image")


def as_uint8(x: torch.Tensor) -> torch.Tensor:
    return (x * 255).round().byte()  # undo normalize="none" ([0,1] units)


def test_pad_crop_is_a_reflect_padded_window(batch: torch.Tensor) -> None:
    out = as_uint8(D.augment(batch, aug(crop="pad", padding=4), (0, 0, 0), (1, 1, 1), gen()))
    padded = F.pad(batch, (4, 4, 4, 4), mode="reflect")
    offsets = {window_offset(o, p) for o, p in zip(out, padded, strict=True)}
    assert len(offsets) > 10  # offsets vary per image


def test_resize_crop_and_centre_crop(batch: torch.Tensor) -> None:
    a = aug(crop="resize", crop_size=24)
    out = as_uint8(D.augment(batch, a, (0, 0, 0), (1, 1, 1), gen()))
    assert out.shape == (64, 3, 24, 24)
    assert len({window_offset(o, x) for o, x in zip(out, batch, strict=True)}) > 10
    centre = as_uint8(D.eval_transform(batch, a, (0, 0, 0), (1, 1, 1)))
    assert torch.equal(centre, batch[:, :, 4:28, 4:28])


def test_flip_mirrors_about_half(batch: torch.Tensor) -> None:
    out = as_uint8(D.augment(batch, aug(flip=True), (0, 0, 0), (1, 1, 1), gen()))
    same = torch.tensor([torch.equal(o, x) for o, x in zip(out, batch, strict=True)])
    mirrored = torch.tensor([torch.equal(o, x.flip(-1)) for o, x in zip(out, batch, strict=True)])
    assert bool((same | mirrored).all()) and 15 < int(mirrored.sum()) < 49


def test_brightness_and_contrast_follow_tf(batch: torch.Tensor) -> None:
    a = aug(brightness=0.25, contrast_low=0.2, contrast_high=1.8)
    out = D.augment(batch, a, (0, 0, 0), (1, 1, 1), gen()).double()
    x = batch.double() / 255
    m, om = x.mean((2, 3), keepdim=True), out.mean((2, 3), keepdim=True)
    delta = (om - m).flatten(1)  # (B, 3): one brightness delta per image, same for every channel
    assert torch.allclose(delta, delta[:, :1].expand_as(delta), atol=1e-5)
    assert delta.abs().max() <= 0.25 and delta.std() > 0.05
    factor = ((out - om) * (x - m)).sum((1, 2, 3)) / ((x - m) ** 2).sum((1, 2, 3))  # least squares
    assert torch.allclose(out - om, factor.view(-1, 1, 1, 1) * (x - m), atol=1e-5)
    assert 0.2 <= factor.min() and factor.max() <= 1.8 and factor.std() > 0.2
    assert out.max() > 1 or out.min() < 0  # no clamping, like TF


def test_dataset_normalisation_is_standard_over_train(small: D.Splits) -> None:
    a = AugmentConfig()
    x, _ = collect(D.eval_batches(small.train_x, small.train_y, 128, a, small.mean, small.std))
    assert torch.allclose(x.mean((0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(x.std((0, 2, 3)), torch.ones(3), atol=1e-3)


def test_per_image_standardization(batch: torch.Tensor) -> None:
    out = D.augment(batch, AugmentConfig(normalize="per_image"), (0, 0, 0), (1, 1, 1), gen())
    assert torch.allclose(out.mean((1, 2, 3)), torch.zeros(len(out)), atol=1e-5)
    assert torch.allclose(out.std((1, 2, 3), correction=0), torch.ones(len(out)), atol=1e-4)
    flat = torch.full((1, 3, 32, 32), 7, dtype=torch.uint8)  # zero variance: TF's 1/sqrt(N) floor, no NaN
    out = D.eval_transform(flat, AugmentConfig(normalize="per_image"), (0,) * 3, (1,) * 3)
    assert torch.allclose(out, torch.zeros(1, 3, 32, 32), atol=1e-5)


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_a_failed_cache_write_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: type[BaseException]
) -> None:
    """torch.save on a full disk raises RuntimeError (PyTorchStreamWriter), not OSError: the load goes on
    with a warning, as documented; an interrupted write (Ctrl-C) still propagates. Neither leaves a
    half-written temp file in the cache folder."""
    root, cache = tmp_path / "imgs", tmp_path / "cache"
    make_folder(root, {"a": 1, "b": 1})

    def full_disk(obj, f) -> None:
        Path(f).write_bytes(b"PK\3\4 half a cache")
        raise error("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")

    monkeypatch.setattr(SRC.torch, "save", full_disk)
    cfg = DataConfig(name="folder", root=str(root), cache_dir=str(cache), val_size=0)
    if error is RuntimeError:
        with pytest.warns(UserWarning, match="could not write data cache"):
            assert D.load_splits(cfg).train_x.shape == (2, 3, 32, 32)
    else:
        with pytest.raises(error):
            D.load_splits(cfg)
    assert list(cache.iterdir()) == []


def test_a_dangling_image_link_is_one_data_error(tmp_path: Path) -> None:
    """An image name whose file is gone (a symlink into a moved folder) is one DataError that names it,
    not a FileNotFoundError traceback from listing the folder."""
    root = tmp_path / "imgs"
    make_folder(root, {"a": 1, "b": 1})
    (root / "train" / "b" / "001.png").symlink_to(tmp_path / "moved" / "001.png")
    with pytest.raises(SRC.DataError, match=r"^folder: cannot read .*train/b/001\.png \(") as err:
        D.load_splits(DataConfig(name="folder", root=str(root), cache=False, val_size=0))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("where", ["train", "train/b"])
def test_a_folder_that_cannot_be_listed_is_one_data_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """A split or class folder without read permission (another user's data) is one DataError naming the
    folder, not a PermissionError traceback (os.scandir is made to refuse it: the tests run as root,
    which chmod cannot stop)."""
    import os

    root = tmp_path / "imgs"
    make_folder(root, {"a": 1, "b": 1})
    refused, scandir = root / where, os.scandir

    def guarded(path: object = ".") -> object:
        if Path(str(path)) == refused:
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)  # type: ignore[call-overload]

    monkeypatch.setattr(SRC.os, "scandir", guarded)
    with pytest.raises(SRC.DataError, match=rf"^folder: cannot list .*{where}: Permission denied") as err:
        D.load_splits(DataConfig(name="folder", root=str(root), cache=False, val_size=0))
    assert "\n" not in str(err.value)
