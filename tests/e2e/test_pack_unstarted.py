"""Issue 37, class 4 for `actbench train-pack` (what `sweep --pack` runs per pack): a failure before the
pack's first epoch leaves every member `failed` with its one-line reason, never `running`, as it leaves a
lone run (`training.lifecycle.failed_before_start`); the command says so in one line, no traceback, and
once the cause is gone the same command trains."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from actbench import runs
from actbench.cli import app
from actbench.training import loop as T
from tests.e2e.battery37 import one_line_error, runner
from tests.factories import TINY, make_folder, tiny_config

SMALL_NET = "image size 4 is too small for three 2x poolings (need >= 8)"  # a user error: its own words


def _members(root: Path, *extra: str) -> list[Path]:
    """Two prepared member folders (relu, elu), as the sweep prepares them: never trained, `running`."""
    cfgs = [tiny_config(f"activation.name={act}", "train.epochs=1", *extra) for act in ("relu", "elu")]
    return [T.create_run(cfg, root, cfg.activation.name) for cfg in cfgs]


def _train_pack(dirs: list[Path]):  # noqa: ANN202 - a click Result
    return runner.invoke(app, ["train-pack", *map(str, dirs), "--quiet"])


def _line(dirs: list[Path], reason: str) -> str:
    return f"train-pack {' '.join(map(str, dirs))}: failed before its first epoch: {reason}"


def _failed_with(dirs: list[Path], reason: str) -> None:
    for d in dirs:
        summary = runs.read_json(d / runs.SUMMARY)
        assert (summary["status"], summary["error"]) == (runs.FAILED, reason), summary
        assert not runs.is_locked(d)


def _completed(dirs: list[Path]) -> None:
    for d in dirs:
        assert runs.read_status(d) == runs.COMPLETED
        assert [r["epoch"] for r in runs.read_metrics(d)[0]] == [1]


def test_network_that_cannot_be_built_leaves_every_member_failed(tmp_path: Path) -> None:
    """A 4-pixel crop for a network that pools three times: it was a traceback, every member `running`."""
    dirs = _members(tmp_path, "augment.crop=resize", "augment.crop_size=4")
    for _ in range(2):  # the same command again: the same line (no stale lock, nothing left running)
        one_line_error(_train_pack(dirs), _line(dirs, SMALL_NET))
        _failed_with(dirs, SMALL_NET)


def test_unreadable_data_fails_every_member_and_the_same_command_trains_once_fixed(tmp_path: Path) -> None:
    root = tmp_path / "imgs"
    make_folder(root, {"cat": 3, "dog": 3})
    bad = root / "train" / "cat" / "001.png"
    image = bad.read_bytes()
    bad.unlink()
    bad.symlink_to(tmp_path / "gone.png")  # listed as an image, cannot be read
    dirs = _members(tmp_path / "runs", "data.name=folder", f"data.root={root}", "data.cache=false",
                    "data.val_size=2")  # fmt: skip
    res = _train_pack(dirs)
    reason = runs.read_json(dirs[0] / runs.SUMMARY)["error"]
    assert str(bad) in reason and "free space" not in reason, reason
    one_line_error(res, _line(dirs, reason))
    _failed_with(dirs, reason)
    bad.unlink()
    bad.write_bytes(image)
    res = _train_pack(dirs)
    assert res.exit_code == 0, res.output
    _completed(dirs)


@contextlib.contextmanager
def _read_only(folder: Path) -> Iterator[None]:
    """No new file can be made in `folder` (root ignores permissions: the immutable attribute instead)."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("root, and this filesystem has no immutable attribute: no folder can be made read-only")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_unwritable_member_folder_is_named_and_the_others_end_failed(tmp_path: Path) -> None:
    """It was `cannot write .../run.lock (...); free space` with every member left `running`. The
    read-only folder itself cannot be written: the line names it."""
    dirs = _members(tmp_path)
    with _read_only(dirs[1]):
        res = _train_pack(dirs)
        reason = f"{dirs[1]}: output location is not writable"
        one_line_error(res, _line(dirs, reason))
        _failed_with(dirs[:1], reason)
        assert runs.read_status(dirs[1]) == runs.RUNNING  # untouched: as prepared, never trained
    res = _train_pack(dirs)
    assert res.exit_code == 0, res.output
    _completed(dirs)


def test_sweep_pack_failing_before_its_first_epoch_leaves_its_members_failed(tmp_path: Path) -> None:
    """Through the sweep (one train-pack process per pack): the members said `interrupted` ("its pack's
    worker exited with code 1") and the sweep asked for a re-run that failed the same way."""
    sets = [a for item in (*TINY, "train.epochs=1", "augment.crop=resize", "augment.crop_size=4")
            for a in ("--set", item)]  # fmt: skip
    args = ["sweep", "--acts", "relu,elu", "--pack", "2", "--out", str(tmp_path), "--name", "sw", *sets]
    res = runner.invoke(app, args)
    assert res.exit_code == 1, res.output
    _failed_with([tmp_path / "sw" / name for name in ("relu-s0", "elu-s0")], SMALL_NET)


def test_a_bug_before_the_packs_first_epoch_keeps_its_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An AttributeError while the members are built is a bug: raised with its traceback, not one line;
    every member ends `failed` with it all the same."""
    from actbench.pack import train as PT

    dirs = _members(tmp_path)

    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AttributeError("'PackedCNN' object has no attribute 'headz'")

    monkeypatch.setattr(PT, "_members", broken)
    res = _train_pack(dirs)
    assert isinstance(res.exception, AttributeError) and res.exit_code == 1, res.output
    _failed_with(dirs, "AttributeError: 'PackedCNN' object has no attribute 'headz'")
