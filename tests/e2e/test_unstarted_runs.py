"""Issue 37, class 4: a failure before the first epoch leaves the folder `failed` (or removes it), never
`running`, with one line; the same command then works."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from actbench import runs
from actbench.cli import app
from actbench.training import loop as T
from tests.e2e.battery37 import one_line_error, runner, sets
from tests.factories import make_folder, tiny_config


def _broken(monkeypatch: pytest.MonkeyPatch, target: str, exc: Exception) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise exc

    monkeypatch.setattr(target, boom)


@pytest.mark.parametrize(
    "target",
    ["actbench.session.build_model", "actbench.session.load_splits", "actbench.training.loop.train_epoch"],
)
def test_failure_before_first_epoch_is_one_line_and_the_command_works_again(
    runs_dir: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    args = ["train", "--out", str(runs_dir), "--name", "r", "--no-progress", *sets("train.epochs=1")]
    with monkeypatch.context() as m:
        _broken(m, target, ValueError("input size 32 too small\nsecond line"))
        res = runner.invoke(app, args)
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit), res.output
    errors = [line for line in res.output.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: {runs_dir / 'r'}: failed before its first epoch: ValueError: input size 32 too small"
    ]
    assert "Traceback" not in res.output and not (runs_dir / "r").exists()  # nothing in it: removed
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert runs.read_status(runs_dir / "r") == runs.COMPLETED


@pytest.mark.parametrize("target", ["actbench.session.build_model", "actbench.training.loop.train_epoch"])
def test_resumed_run_failing_before_its_first_epoch_is_failed_not_running(
    runs_dir: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    """What a sweep's worker does (train --resume on a prepared folder): the folder says why."""
    run_dir = T.create_run(tiny_config("train.epochs=1"), runs_dir, "r")
    _broken(monkeypatch, target, RuntimeError("channel-shared unit sees 4 and 8 channels"))
    with pytest.raises(runs.RunError, match="failed before its first epoch: RuntimeError: channel-shared"):
        T.run_training(run_dir, resume=True)
    summary = runs.read_json(run_dir / runs.SUMMARY)
    assert summary["status"] == runs.FAILED
    assert summary["error"] == "RuntimeError: channel-shared unit sees 4 and 8 channels"


@pytest.mark.parametrize("target", ["actbench.session.build_model", "actbench.training.loop.train_epoch"])
def test_a_bug_before_the_first_epoch_keeps_its_traceback(
    runs_dir: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    """A bug in actbench (here an AttributeError) is never reduced to a one-line user error: it propagates
    with its traceback; the run is settled `failed` all the same (a fresh `train` folder removed)."""
    args = ["train", "--out", str(runs_dir), "--name", "r", "--no-progress", *sets("train.epochs=1")]
    _broken(monkeypatch, target, AttributeError("'Session' object has no attribute 'nett'"))
    res = runner.invoke(app, args)
    assert isinstance(res.exception, AttributeError) and res.exit_code == 1, res.output
    assert not any(line.startswith("error:") for line in res.output.splitlines())
    assert not (runs_dir / "r").exists()
    run_dir = T.create_run(tiny_config("train.epochs=1"), runs_dir, "s")  # as a sweep's worker resumes it
    with pytest.raises(AttributeError, match="nett"):
        T.run_training(run_dir, resume=True)
    summary = runs.read_json(run_dir / runs.SUMMARY)
    assert (summary["status"], summary["error"]) == (
        runs.FAILED,
        "AttributeError: 'Session' object has no attribute 'nett'",
    )


def test_unreadable_image_names_the_data_not_disk_space(tmp_path: Path) -> None:
    root = tmp_path / "imgs"
    make_folder(root, {"cat": 3, "dog": 3})
    bad = root / "train" / "cat" / "001.png"
    bad.unlink()
    bad.symlink_to(tmp_path / "gone.png")  # listed as an image, cannot be read
    out = tmp_path / "runs"
    data = ["data.name=folder", f"data.root={root}", "data.cache=false", "data.val_size=2"]
    args = ["train", "--out", str(out), "--name", "r", "--no-progress", *sets("train.epochs=1", *data)]
    res = runner.invoke(app, args)
    one_line_error(res, str(bad))
    assert "free space" not in res.output and not (out / "r").exists()
