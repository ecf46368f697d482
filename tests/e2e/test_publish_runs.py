"""benchmarks/publish_runs.py: what a results page keeps of finished runs (small files, manifests, slim
predictions), never checkpoints or probabilities."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from actbench import runs

REPO = Path(__file__).resolve().parents[2]


def test_publish_copies_small_files_and_slim_predictions(tmp_path: Path) -> None:
    run = tmp_path / "suite" / "task" / "relu-s0"
    run.mkdir(parents=True)
    (run.parent / "sweep.yaml").write_text("runs: []\n")
    for name in (runs.CONFIG, runs.METRICS, runs.ROBUSTNESS):
        (run / name).write_text("{}\n")
    (run / runs.SUMMARY).write_text('{"status": "completed"}\n')
    for name, status in (("elu-s0", "running"), ("prelu-s0", "failed")):  # running: left out unless --all
        (run.parent / name).mkdir()
        (run.parent / name / runs.CONFIG).write_text("{}\n")
        (run.parent / name / runs.SUMMARY).write_text(f'{{"status": "{status}"}}\n')
    (run / runs.CKPT_LAST).write_bytes(b"weights")
    labels = np.arange(4, dtype=np.int32)
    np.savez(
        run / runs.PREDICTIONS, labels=labels, last_pred=labels, last_prob=np.ones((4, 10)), last_epoch=3
    )
    dest = tmp_path / "docs"
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "publish_runs.py"), str(tmp_path / "suite"), str(dest)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "left out suite/task/elu-s0 (running)" in out.stdout and "published 2 runs" in out.stdout
    assert not (dest / "task" / "elu-s0").exists() and (dest / "task" / "prelu-s0" / runs.SUMMARY).is_file()
    copied = dest / "task" / "relu-s0"
    assert sorted(p.name for p in copied.iterdir()) == sorted(
        [runs.CONFIG, runs.SUMMARY, runs.METRICS, runs.ROBUSTNESS, runs.PREDICTIONS]
    )
    assert (dest / "task" / "sweep.yaml").is_file()
    assert "last_prob" not in runs.read_npz(copied / runs.PREDICTIONS)
    script = str(REPO / "benchmarks" / "publish_runs.py")
    everything = subprocess.run(
        [sys.executable, script, str(tmp_path / "suite"), str(dest), "--all"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert everything.returncode == 0 and (dest / "task" / "elu-s0" / runs.SUMMARY).is_file()


def test_publish_records_the_data_fingerprint_of_runs_that_predate_it(tmp_path: Path) -> None:
    """A folder-data run without env.json `data_fingerprint` gets the one of its data.root in its published
    env.json (marked as added when published); one whose data is not here is left as it was."""
    from actbench.config import dump_yaml
    from actbench.data.fingerprint import folder_fingerprint
    from tests.factories import make_folder, tiny_config

    root = tmp_path / "imgs"
    make_folder(root, {"cat": 2, "dog": 2})
    for name, data_root in (("relu-s0", root), ("elu-s0", tmp_path / "gone")):
        run = tmp_path / "sweep" / name
        run.mkdir(parents=True)
        (run / runs.CONFIG).write_text(dump_yaml(tiny_config("data.name=folder", f"data.root={data_root}")))
        (run / runs.SUMMARY).write_text('{"status": "completed"}\n')
        (run / runs.ENV).write_text('{"torch": "2.14.1"}\n')
    dest = tmp_path / "docs"
    script = str(REPO / "benchmarks" / "publish_runs.py")
    out = subprocess.run([sys.executable, script, str(tmp_path / "sweep"), str(dest)], capture_output=True,
                         text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert runs.read_json(dest / "relu-s0" / runs.ENV) == {
        "torch": "2.14.1", "data_fingerprint": folder_fingerprint(root), "data_fingerprint_source": "publish"
    }  # fmt: skip
    assert runs.read_json(dest / "elu-s0" / runs.ENV) == {"torch": "2.14.1"}
    assert f"no fingerprint for {dest / 'elu-s0'}" in out.stdout
    assert runs.read_json(tmp_path / "sweep" / "relu-s0" / runs.ENV) == {
        "torch": "2.14.1"
    }  # source untouched
