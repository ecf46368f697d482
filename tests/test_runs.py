"""The run folder's shared pieces: evaluation files merged one way, .npz files read one way, a run
that never started leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from actbench import runs


def _result(seed: int, **results: list[dict]) -> dict:
    return {"checkpoint": "last", "epoch": 3, "seed": seed, "split": "test", "results": results}


def test_merge_results_keeps_old_entries_of_the_same_measurement() -> None:
    same = ("checkpoint", "epoch", "seed", "split")
    old = _result(
        0, gaussian=[{"level": 0.1, "acc": 0.5}, {"level": "bad"}], uniform=[{"level": 0.1, "acc": 0.6}]
    )
    new = _result(0, gaussian=[{"level": 0.1, "acc": 0.55}, {"level": 0.0, "acc": 0.9}])
    merged = runs.merge_results(old, new, same, "level", float)
    assert merged["results"]["gaussian"] == [{"level": 0.0, "acc": 0.9}, {"level": 0.1, "acc": 0.55}]
    assert merged["results"]["uniform"] == [{"level": 0.1, "acc": 0.6}]  # kept; the damaged entry dropped
    assert runs.merge_results(old, _result(1, gaussian=[]), same, "level", float) is not old  # another seed
    assert runs.merge_results(old, _result(1, gaussian=[]), same, "level", float)["results"] == {
        "gaussian": []
    }


def test_save_merged_replaces_an_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "robustness.json"
    path.write_text("{not json")
    new = _result(0, gaussian=[{"level": 0.1, "acc": 0.5}])
    assert runs.save_merged(path, new, ("seed",), "level", float) == new
    assert runs.read_json(path) == new


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
