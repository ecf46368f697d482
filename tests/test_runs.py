"""The run folder's shared pieces: .npz files read one way, a run that never started leaves nothing
behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from actbench import runs


def test_read_npz_errors_name_the_file(tmp_path: Path) -> None:
    good = tmp_path / "p.npz"
    np.savez(good, labels=np.arange(3))
    assert runs.read_npz(good)["labels"].tolist() == [0, 1, 2]
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(runs.RunError, match=r"bad\.npz: unreadable"):
        runs.read_npz(tmp_path / "bad.npz")
    with pytest.raises(runs.RunError, match=r"gone\.npz: missing"):
        runs.read_npz(tmp_path / "gone.npz")


def test_discard_unstarted_keeps_runs_that_trained(tmp_path: Path) -> None:
    started, never = tmp_path / "a", tmp_path / "b"
    for d in (started, never):
        d.mkdir()
        (d / runs.CONFIG).write_text("{}")
    (started / runs.METRICS).write_text("{}\n")
    runs.discard_unstarted(started)
    runs.discard_unstarted(never)
    runs.discard_unstarted(None)
    assert started.exists() and not never.exists()


def test_write_problem_advises_free_space_only_for_a_failed_write() -> None:
    import errno

    full = runs.write_problem(OSError(errno.ENOSPC, "No space left on device", "/r/checkpoint-last.pt"))
    assert full == (
        "cannot write /r/checkpoint-last.pt (No space left on device); free space, then resume from the last "
        "checkpoint"
    )
    gone = runs.write_problem(FileNotFoundError(errno.ENOENT, "No such file or directory", "/data/x.png"))
    assert "free space" not in gone and gone.startswith("FileNotFoundError on /data/x.png (No such file")
