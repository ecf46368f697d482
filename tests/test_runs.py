"""The run folder's shared pieces: .npz files read one way, a run that never started leaves nothing
behind."""

from __future__ import annotations

import json
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


def test_a_run_starting_while_another_process_probes_its_lock_is_not_refused(tmp_path: Path) -> None:
    # is_locked (a sweep's run_state, `sweep --dry-run`, predictions) holds run.lock for an instant; a run
    # taking its lock in that instant was refused as "in use by another process"
    import fcntl
    import threading

    probe = open(tmp_path / runs.LOCK, "a+")  # noqa: SIM115 - another process's probe, released below
    fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
    threading.Timer(0.05, probe.close).start()
    with runs.run_lock(tmp_path):
        assert runs.is_locked(tmp_path)
    assert not runs.is_locked(tmp_path)


def test_a_lock_held_by_a_run_still_refuses_a_second_one(tmp_path: Path) -> None:
    with runs.run_lock(tmp_path), pytest.raises(runs.RunError, match="in use by another process"):
        with runs.run_lock(tmp_path):
            pass


def test_two_probes_at_once_do_not_see_each_other_as_a_run(tmp_path: Path) -> None:
    # a probe shares the lock: two processes probing one idle run (a sweep's run_state while `sweep
    # --dry-run` lists it) read it locked, and the sweep skipped it as trained elsewhere
    import fcntl

    (tmp_path / runs.LOCK).touch()
    with open(tmp_path / runs.LOCK) as other:
        fcntl.flock(other, fcntl.LOCK_SH | fcntl.LOCK_NB)  # the other probe, as is_locked takes it
        assert not runs.is_locked(tmp_path)


def _strict(text: str) -> object:
    """json.loads as jq or a browser reads JSON: NaN and Infinity are not JSON."""

    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_run_files_are_strict_json_with_non_finite_numbers_as_null(tmp_path: Path) -> None:
    # a diverged run's summary.json (learned NaN) and metrics.jsonl (a NaN val_loss) held NaN/Infinity
    nan, inf = float("nan"), float("inf")
    runs.write_json(tmp_path / runs.SUMMARY, {"learned": {"conv1": {"a": [nan, 0.5]}}, "x": -inf, "n": 3})
    assert _strict((tmp_path / runs.SUMMARY).read_text()) == {
        "learned": {"conv1": {"a": [None, 0.5]}},
        "x": None,
        "n": 3,
    }
    runs.append_metrics(tmp_path, {"epoch": 1, "val_loss": nan, "act": {"conv1": {"a": inf}}})
    line = (tmp_path / runs.METRICS).read_text().splitlines()[0]
    assert _strict(line) == {"epoch": 1, "val_loss": None, "act": {"conv1": {"a": None}}}
    assert runs.read_metrics(tmp_path) == (
        [{"epoch": 1, "val_loss": None, "act": {"conv1": {"a": None}}}],
        [],
    )
