"""ImageFolder layouts inside one archive file (.tar, .tar.gz/.tgz, .zip), read without unpacking to disk.

The archive holds `train/<class>/<image>` and `test/<class>/<image>`, either at its top or under one
top-level folder (`cifar10/train/...`). Members are read in one sequential pass (a gzip stream has no
random access) into memory as encoded bytes; decoding and caching happen in `data.sources`, exactly as
for a folder, so an archive and the folder it was made from give identical tensors.

Members whose names do not end in an image extension (README files, `__MACOSX/` resource forks, ...) are
skipped, as a folder's non-image files are; a tar's link member (symlink, hard link) with an image name is
refused, not skipped (a folder reads the image through the link). A truncated or corrupt archive raises
one `DataError` line that names the archive and, where known, the member; a compressed tar is read to the
end of its stream, so its checksum (gzip CRC-32, bz2/xz checks) is verified, and each zip member's CRC-32
as it is read.
"""

from __future__ import annotations

import hashlib
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from actbench.errors import UserError

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".zip")
SPLITS = ("train", "test")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")  # what torchvision.io.decode_image reads

Members = dict[str, dict[str, list[tuple[str, bytes]]]]  # split -> class -> [(member name, bytes)]


class ArchiveError(UserError):
    """The archive cannot be read; `actbench.data.sources` turns it into a one-line DataError."""


def is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def content_key(path: Path, chunk: int = 1 << 20) -> str:
    """sha256 of the archive's bytes: the cache key changes whenever the content does (not just mtime)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def read_members(path: Path, extensions: tuple[str, ...]) -> Members:
    """Image members of the archive grouped by split and class, in archive order (callers sort)."""
    folders: list[str] = []
    entries = list(image_entries(path, extensions, folders))
    prefix = top_folder([name for name, _ in entries])
    members: Members = {split: {} for split in SPLITS}
    for name, data in entries:
        parts = PurePosixPath(name).parts[len(prefix) :]
        if len(parts) == 3 and parts[0] in SPLITS:
            members[parts[0]].setdefault(parts[1], []).append((name, data))
    for split in SPLITS:
        if not members[split]:
            raise ArchiveError(f"{path}: no {split}/<class>/<image> members (expected train/ and test/)")
    # a class folder without images at its top is refused, as in a folder (not loaded with one class
    # fewer): folder members, and the folders of non-image members and of images nested deeper (an
    # archive written file by file has no folder members)
    folders += sorted({str(PurePosixPath(name).parent) for name, _ in entries})
    for name in (f for f in folders if not _junk(f)):
        parts = PurePosixPath(name).parts[len(prefix) :]
        if len(parts) >= 2 and parts[0] in SPLITS and parts[1] not in members[parts[0]]:
            where = "/".join(PurePosixPath(name).parts[: len(prefix) + 2])
            raise ArchiveError(f"{path}: no images ({', '.join(extensions)}) in {where}/")
    return members


def top_folder(names: list[str]) -> tuple[str, ...]:
    """() when train/ and test/ sit at the top, else (folder,) when they all sit under one folder."""
    firsts = {PurePosixPath(n).parts[0] for n in names}
    if firsts & set(SPLITS) or len(firsts) != 1:
        return ()
    return (firsts.pop(),)


def _junk(name: str) -> bool:
    """A file macOS adds, never part of the data set: resource forks under __MACOSX/ (its zip tool) and
    AppleDouble `._NAME` files beside each file (foreign disks, tar without COPYFILE_DISABLE), which keep
    the image's extension but hold metadata."""
    return "__MACOSX" in name or PurePosixPath(name).name.startswith("._")


def is_image_name(name: str, extensions: tuple[str, ...] = IMAGE_EXTENSIONS) -> bool:
    """Whether a file or member name is one of the data set's images: folder, archive and fingerprint
    readers all decide by this one rule."""
    return name.lower().endswith(extensions) and not _junk(name)


def image_entries(
    path: Path, extensions: tuple[str, ...], folders: list[str] | None = None
) -> Iterator[tuple[str, bytes]]:
    """(member name, bytes) of every regular member with an image extension, in one sequential pass; the
    names of the folder members (an archive may list empty ones) and the folders of the other regular
    members (non-images) are appended to `folders` if given."""
    wanted = lambda name: is_image_name(name, extensions)  # noqa: E731
    folders = folders if folders is not None else []
    if path.name.lower().endswith(".zip"):
        yield from _zip_entries(path, wanted, folders)
    else:
        yield from _tar_entries(path, wanted, folders)


def _tar_entries(path: Path, wanted, folders: list[str]) -> Iterator[tuple[str, bytes]]:
    member = None
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                if member.isdir():
                    folders.append(member.name)
                elif member.isfile() and not wanted(member.name):
                    folders.append(str(PurePosixPath(member.name).parent))
                if (member.issym() or member.islnk()) and wanted(member.name):
                    # a folder reads the image through the link; resolving it here would need random
                    # access to the (compressed) stream, so such an archive is refused, not loaded short
                    raise ArchiveError(
                        f"{path}: member {member.name} is a link to {member.linkname} (write the archive "
                        "with the files themselves: tar --dereference --hard-dereference)"
                    )
                if member.isfile() and wanted(member.name):
                    f = tar.extractfile(member)
                    data = f.read() if f is not None else b""
                    if len(data) != member.size:
                        raise EOFError(f"member is {len(data)} of {member.size} bytes")
                    yield member.name, data
            member = None
            _read_to_end(tar)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        where = f" at member {member.name}" if member is not None else ""
        raise ArchiveError(f"{path}: corrupt or truncated archive{where} ({_why(exc)})") from None


def _read_to_end(tar: tarfile.TarFile) -> None:
    """Iteration stops at the tar end marker, before the gzip/bz2/xz trailer: read the stream to its end so
    its checksum is verified (gzip.BadGzipFile, an OSError, on a mismatch) before anything is decoded."""
    while tar.fileobj.read(1 << 20):
        pass


def _zip_entries(path: Path, wanted, folders: list[str]) -> Iterator[tuple[str, bytes]]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveError(f"{path}: corrupt or truncated archive ({_why(exc)})") from None
    with zf:
        for info in zf.infolist():
            if info.is_dir():
                folders.append(info.filename)
            elif not wanted(info.filename):
                folders.append(str(PurePosixPath(info.filename).parent))
            if info.is_dir() or not wanted(info.filename):
                continue
            try:
                yield info.filename, zf.read(info)  # checks the member's CRC-32
            except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
                msg = f"{path}: corrupt member {info.filename} ({_why(exc)})"
                raise ArchiveError(msg) from None


def _why(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
