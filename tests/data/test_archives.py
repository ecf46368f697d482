"""`data.name: folder` with data.root pointing at a .tar / .tar.gz / .tgz / .zip archive."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from actbench.config import DataConfig
from actbench.data import pipeline as D
from actbench.data import sources as SRC
from actbench.data.datasets import load_raw
from tests.factories import make_folder, shared_cifar10_jpeg

CLASSES = {"cat": 3, "dog": 2, "emu": 3}


def pack(folder: Path, archive: Path, top: str = "") -> Path:
    """Every file under `folder` into `archive` (format from its suffix), optionally under folder `top`."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    names = [str(Path(top) / p.relative_to(folder)) if top else str(p.relative_to(folder)) for p in files]
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive, "w") as zf:
            for p, name in zip(files, names, strict=True):
                zf.write(p, name)
    else:
        mode = "w:gz" if archive.name.endswith((".tar.gz", ".tgz")) else "w"
        with tarfile.open(archive, mode) as tar:
            for p, name in zip(reversed(files), reversed(names), strict=True):  # unsorted, as in the wild
                tar.add(p, name)
    return archive


def load(archive: Path, cache: Path | None = None) -> D.Splits:
    cfg = DataConfig(name="folder", root=str(archive), cache=cache is not None, val_size=0,
                     cache_dir=str(cache) if cache else None)  # fmt: skip
    return D.load_splits(cfg)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("imgs")
    make_folder(root, CLASSES)
    return root


@pytest.fixture(scope="module")
def reference(folder: Path) -> D.Splits:
    return D.load_splits(DataConfig(name="folder", root=str(folder), cache=False, val_size=0))


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz", ".tgz", ".zip"])
@pytest.mark.parametrize("top", ["", "cifar-like"])
def test_archive_equals_folder(
    tmp_path: Path, folder: Path, reference: D.Splits, suffix: str, top: str
) -> None:
    s = load(pack(folder, tmp_path / f"imgs{suffix}", top))
    assert s.classes == reference.classes == ["cat", "dog", "emu"]
    for key in ("train_x", "train_y", "test_x", "test_y"):
        assert torch.equal(getattr(s, key), getattr(reference, key)), key
    assert s.mean == reference.mean and s.std == reference.std


def test_archive_cache_and_invalidation(
    tmp_path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    archive = pack(folder, tmp_path / "imgs.tar.gz")
    first = load(archive, cache)
    assert [p.name.startswith("folder-imgs-") for p in cache.iterdir()] == [True]

    def no_read(*args):
        raise AssertionError("archive read although cached")

    monkeypatch.setattr(SRC, "read_members", no_read)
    assert torch.equal(load(archive, cache).train_x, first.train_x)
    monkeypatch.undo()
    # Other content under the same mtime: a content hash, not the file's metadata, keys the cache.
    stat, image = archive.stat(), folder / "train" / "dog" / "001.png"
    kept = image.read_bytes()
    Image.fromarray(np.full((32, 32, 3), 7, np.uint8)).save(image)
    try:
        pack(folder, archive)
    finally:
        image.write_bytes(kept)
    os.utime(archive, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    changed = load(archive, cache)
    assert len(list(cache.iterdir())) == 2
    assert changed.train_x.shape == first.train_x.shape and not torch.equal(changed.train_x, first.train_x)


def test_truncated_tar_gz_names_the_archive_and_leaves_no_cache(tmp_path: Path, folder: Path) -> None:
    archive = pack(folder, tmp_path / "imgs.tar.gz")
    data = archive.read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(data[: len(data) // 2])
    cache = tmp_path / "cache"
    with pytest.raises(SRC.DataError, match=r"^folder: .*cut\.tar\.gz: corrupt or truncated archive") as err:
        load(cut, cache)
    assert "\n" not in str(err.value)
    assert not cache.exists() or not any(cache.iterdir())


def test_truncated_member_is_named(tmp_path: Path, folder: Path) -> None:
    """A plain tar cut in the middle of a member's data: the error names that member."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for p in sorted(folder.rglob("*.png"))[:2]:
            tar.add(p, str(p.relative_to(folder)))
    data = raw.getvalue()
    second = sorted(folder.rglob("*.png"))[1]
    offset = data.index(second.read_bytes()[:64])  # the second member's data starts here
    (tmp_path / "cut.tar").write_bytes(data[: offset + 100])
    name = str(second.relative_to(folder))
    with pytest.raises(SRC.DataError, match=f"truncated archive at member {name}"):
        load(tmp_path / "cut.tar")


def test_corrupt_zip_member_is_named(tmp_path: Path, folder: Path) -> None:
    archive = pack(folder, tmp_path / "imgs.zip")
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("train/cat/000.png")
    data = bytearray(archive.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + 50] ^= 0xFF  # flip a byte of the stored (uncompressed) PNG data: CRC mismatch
    archive.write_bytes(bytes(data))
    with pytest.raises(SRC.DataError, match="corrupt member train/cat/000.png"):
        load(archive)
    (tmp_path / "junk.zip").write_bytes(b"PK not really a zip")
    with pytest.raises(SRC.DataError, match="junk.zip: corrupt or truncated archive"):
        load(tmp_path / "junk.zip")


def test_non_image_members(tmp_path: Path, folder: Path, reference: D.Splits) -> None:
    """Files without an image extension are skipped (as in a folder); a broken image is named."""
    archive = tmp_path / "imgs.tar"
    pack(folder, archive)
    with tarfile.open(archive, "a") as tar:
        for name, payload in (("README.txt", b"hello"), ("__MACOSX/train/cat/._000.png", b"\0\1")):
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    assert torch.equal(load(archive).train_x, reference.train_x)
    with tarfile.open(archive, "a") as tar:
        info = tarfile.TarInfo("train/cat/zzz.jpg")
        info.size = 9
        tar.addfile(info, io.BytesIO(b"not a jpg"))
    with pytest.raises(SRC.DataError, match=r"cannot decode .*imgs\.tar:train/cat/zzz\.jpg"):
        load(archive)


def test_archive_layout_errors(tmp_path: Path) -> None:
    archive = tmp_path / "flat.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        payload = b"x"
        info = tarfile.TarInfo("images/a.png")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    with pytest.raises(SRC.DataError, match="no train/<class>/<image> members"):
        load(archive)
    with pytest.raises(SRC.DataError, match=r"not a directory or an archive \(\.tar, \.tar\.gz"):
        load(tmp_path / "missing.tar.gz")


@pytest.mark.realdata
def test_real_cifar10_archive_matches_folder(tmp_path: Path) -> None:
    """The shared CIFAR-10 archive decodes to exactly the tensors of the shared folder (~30 s)."""
    folder = shared_cifar10_jpeg()
    archive = folder.with_name("cifar10-jpeg.tar.gz")
    if not archive.is_file() or not (folder / "train").is_dir():
        pytest.skip(f"real CIFAR-10 JPEG archive/folder not found at {archive}")
    a = load_raw(DataConfig(name="folder", root=str(archive), cache=False))
    f = load_raw(DataConfig(name="folder", root=str(folder), cache_dir=str(tmp_path / "f")))
    assert a[4] == f[4] and a[0].shape == (50000, 3, 32, 32)
    for x, y in zip(a[:4], f[:4], strict=True):
        assert torch.equal(x, y)
    assert np.array_equal(torch.bincount(a[3]).numpy(), [1000] * 10)


def test_tar_gz_with_a_failing_checksum_is_refused(tmp_path: Path, folder: Path) -> None:
    """The gzip trailer (CRC-32 of the whole stream) lies after the tar end marker: it is still checked,
    before anything is decoded or cached (issue 24)."""
    data = bytearray(pack(folder, tmp_path / "imgs.tar.gz").read_bytes())
    data[-8] ^= 0xFF  # the stored CRC-32: every member still decompresses, `gzip -t` says "crc error"
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(bytes(data))
    cache = tmp_path / "cache"
    with pytest.raises(SRC.DataError, match=r"bad\.tar\.gz: corrupt or truncated archive \(CRC check") as err:
        load(bad, cache)
    assert "\n" not in str(err.value) and "at member" not in str(err.value)
    assert not cache.exists() or not any(cache.iterdir())


@pytest.mark.parametrize("suffix", [".tar.gz", ".zip"])
def test_an_empty_class_folder_is_refused_as_in_a_folder(tmp_path: Path, folder: Path, suffix: str) -> None:
    """A folder with an empty class folder is refused ("no images in ..."); its archive was loaded with
    one class fewer, every later class's label shifted, without a word."""
    tree = tmp_path / "tree"
    shutil.copytree(folder, tree)
    for split in ("train", "test"):
        (tree / split / "aardvark").mkdir()  # sorts first: every other class's index would shift
    with pytest.raises(SRC.DataError, match="no images"):
        D.load_splits(DataConfig(name="folder", root=str(tree), cache=False, val_size=0))
    archive = tmp_path / f"t{suffix}"
    paths = sorted(tree.rglob("*"))  # folders too, as an archiver writes them
    if suffix == ".zip":
        with zipfile.ZipFile(archive, "w") as zf:
            for path in paths:
                zf.write(path, path.relative_to(tree))
    else:
        with tarfile.open(archive, "w:gz") as tar:
            for path in paths:
                tar.add(path, str(path.relative_to(tree)), recursive=False)
    with pytest.raises(SRC.DataError, match=r"no images \(.*\) in (train|test)/aardvark/"):
        load(archive)


@pytest.mark.parametrize("suffix", [".tar.gz", ".zip"])
@pytest.mark.parametrize("content", ["notes.txt", "nested/000.png"])
def test_a_class_without_images_is_refused_without_folder_members(
    tmp_path: Path, folder: Path, suffix: str, content: str
) -> None:
    """An archive written file by file (no folder members, as `pack` and many scripts write it) whose
    class folder holds no image at its top (only a non-image, or images one folder deeper): the folder is
    refused ("no images"); its archive was loaded with one class fewer, every later label shifted."""
    tree = tmp_path / "tree"
    shutil.copytree(folder, tree)
    for split in ("train", "test"):
        target = tree / split / "aardvark" / content  # sorts first: every other class's index would shift
        target.parent.mkdir(parents=True)
        shutil.copy(folder / split / "cat" / ("000.png" if split == "train" else "000.jpg"), target)
    with pytest.raises(SRC.DataError, match="no images"):
        D.load_splits(DataConfig(name="folder", root=str(tree), cache=False, val_size=0))
    with pytest.raises(SRC.DataError, match=r"no images \(.*\) in (train|test)/aardvark/"):
        load(pack(tree, tmp_path / f"t{suffix}"))


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_a_linked_image_in_a_tar_is_refused_not_skipped(tmp_path: Path, folder: Path, link: str) -> None:
    """tar stores a symlink, and the second name of a hard-linked file, as a link member: the folder
    reads the image through the link; its tar skipped it without a word (the class one image short, the
    tensors no longer the folder's). Now one DataError that names the member and how to write the tar."""
    tree = tmp_path / "tree"
    shutil.copytree(folder, tree)
    new = tree / "train" / "dog" / "009.png"
    new.symlink_to("000.png") if link == "symlink" else os.link(tree / "train" / "dog" / "000.png", new)
    assert len(D.load_splits(DataConfig(name="folder", root=str(tree), cache=False, val_size=0)).train_x) == 9
    archive = tmp_path / "t.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tree, "", recursive=True)  # links kept as links, as `tar czf` does
    with pytest.raises(SRC.DataError, match=r"t\.tar\.gz: member train/dog/009\.png is a link .*dereference"):
        load(archive)


@pytest.mark.parametrize("suffix", ["", ".tar", ".zip"])
def test_macos_appledouble_files_are_not_images(
    tmp_path: Path, folder: Path, reference: D.Splits, suffix: str
) -> None:
    """macOS writes `._NAME` beside each file on foreign disks and into archives made without
    COPYFILE_DISABLE; they carry the image's extension but hold metadata, not pixels. A folder, its
    archive and its fingerprint skip them alike (they failed to decode before)."""
    from actbench.data.fingerprint import folder_fingerprint

    before = folder_fingerprint(folder)  # cached per path: the copy below is fingerprinted afresh
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    (copy / "train" / "cat" / "._000.png").write_bytes(b"\0\5\26\7 AppleDouble")
    (copy / "test" / "dog" / "._x.jpg").write_bytes(b"\0\5\26\7")
    root = pack(copy, tmp_path / f"imgs{suffix}") if suffix else copy
    plain = DataConfig(name="folder", root=str(root), cache=False, val_size=0)
    got = load(root) if suffix else D.load_splits(plain)
    assert torch.equal(got.train_x, reference.train_x) and torch.equal(got.test_y, reference.test_y)
    assert folder_fingerprint(root) == before
