"""data.fingerprint: one content id for an image-folder data set, wherever and however it is stored."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

from actbench.data.fingerprint import folder_fingerprint
from tests.factories import make_folder


def _tgz(folder: Path, out: Path) -> Path:
    with tarfile.open(out, "w:gz") as tar:
        tar.add(folder, arcname="top")  # one top folder, as the CIFAR-10 archive has
    return out


def test_a_folder_its_copy_and_its_archive_have_one_fingerprint(tmp_path: Path) -> None:
    make_folder(tmp_path / "a", {"cat": 2, "dog": 2})
    shutil.copytree(tmp_path / "a", tmp_path / "copy")
    fp = folder_fingerprint(tmp_path / "a")
    assert fp is not None and fp.startswith("sha256:") and len(fp) == 7 + 64
    assert folder_fingerprint(tmp_path / "copy") == fp
    assert folder_fingerprint(_tgz(tmp_path / "a", tmp_path / "a.tar.gz")) == fp


def test_other_content_or_no_data_is_told_apart(tmp_path: Path) -> None:
    make_folder(tmp_path / "a", {"cat": 2, "dog": 2})
    make_folder(tmp_path / "b", {"cat": 2, "dog": 2}, seed=1)  # same names, other pixels
    shutil.copytree(tmp_path / "a", tmp_path / "renamed")
    (tmp_path / "renamed/train/cat/000.png").rename(tmp_path / "renamed/train/cat/009.png")
    fps = {folder_fingerprint(tmp_path / n) for n in ("a", "b", "renamed")}
    assert len(fps) == 3
    assert folder_fingerprint(tmp_path / "missing") is None
    (tmp_path / "empty").mkdir()
    assert folder_fingerprint(tmp_path / "empty") is None


def test_a_run_on_folder_data_records_the_fingerprint(tmp_path: Path) -> None:
    import json

    from actbench.training.loop import create_run, run_training
    from tests.factories import tiny_config

    make_folder(tmp_path / "imgs", {"cat": 6, "dog": 6})
    cfg = tiny_config(
        "data.name=folder", f"data.root={tmp_path / 'imgs'}", "data.val_size=2", "data.cache=false",
        "train.epochs=1", "train.batch_size=4", "robustness.enabled=false",
    )  # fmt: skip
    run = create_run(cfg, tmp_path / "runs", "r")
    run_training(run)
    env = json.loads((run / "env.json").read_text())
    assert env["data_fingerprint"] == folder_fingerprint(tmp_path / "imgs")
