"""Issue 37, class 5: a run's own damaged files (predictions.npz, metrics.jsonl) are named where read; the
run is left out of what the file feeds, the rest of the report stands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from actbench import runs
from actbench.cli import app
from tests.e2e.battery37 import interrupted_run, runner
from tests.factories import write_run


def _with_predictions(root: Path, name: str, act: str, seed: int) -> Path:
    """A completed run (acc 0.5 over 100 test images) with the predictions.npz that matches it."""
    run_dir = write_run(root, name, act, seed, acc=0.5)
    labels = (np.arange(100) % 10).astype(np.int32)
    pred = np.where(np.arange(100) < 50, labels, (labels + 1) % 10).astype(np.int32)
    prob = np.eye(10, dtype=np.float16)[pred]
    np.savez_compressed(
        run_dir / runs.PREDICTIONS, labels=labels, last_pred=pred, last_prob=prob, last_epoch=np.asarray(3)
    )
    return run_dir


def test_truncated_predictions_name_their_own_file(tmp_path: Path) -> None:
    from actbench.report.build import build_report

    for act in ("elu", "relu"):
        for seed in (0, 1):
            _with_predictions(tmp_path, f"{act}-s{seed}", act, seed)
    short = tmp_path / "elu-s0" / runs.PREDICTIONS
    arrays = runs.read_npz(short)
    np.savez_compressed(short, **{k: v[:60] if v.ndim else v for k, v in arrays.items()})  # cut short
    report = build_report([tmp_path], baseline="relu", tests="paired,ensemble,calibration")
    notes = [n for r in report.rows for n in r["paired"]["notes"]] + report.warnings
    assert any(str(short) in n and "left out" in n for n in notes), notes
    assert not any("relu-s" in n or "elu-s1" in n for n in notes), notes  # the healthy runs are not blamed
    elu = next(r for r in report.rows if r["group"] == "elu")
    assert elu["paired"]["n"] == 1 and elu["paired"]["ensemble_acc_pct"] == 50.0
    assert elu["paired"]["vs_baseline"]["baseline_n"] == 2
    assert elu["n"] == 2  # the seed-level comparison still has both runs


def test_malformed_metrics_line_is_named_and_skipped(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    import actbench

    run_dir = write_run(tmp_path, "relu-s0", "relu", 0)
    lines = (run_dir / runs.METRICS).read_text().splitlines()
    lines[1] = lines[1].replace('"val_acc": 0.4', '"val_acc": "high"')
    (run_dir / runs.METRICS).write_text("\n".join([*lines, '{"epoch": "4"}']) + "\n")
    curves = actbench.load_metrics(tmp_path)
    warned = curves.attrs["warnings"]
    assert any(f"{run_dir / runs.METRICS}:2" in w and "val_acc" in w for w in warned), warned
    assert any(f"{run_dir / runs.METRICS}:4" in w for w in warned), warned
    assert list(curves["epoch"]) == [1, 3] and curves["val_acc_pct"].dtype.kind == "f"


def test_resume_with_a_malformed_metrics_line_is_one_warning_not_a_traceback(runs_dir: Path) -> None:
    run_dir = interrupted_run(runs_dir)
    with open(run_dir / runs.METRICS, "a") as f:
        f.write('{"epoch": "2", "val_acc": 0.5}\n')
    res = runner.invoke(app, ["train", "--resume", str(run_dir), "--log-format", "text"])
    assert res.exit_code == 0 and res.exception is None, res.output
    assert f"{run_dir / runs.METRICS}:2: skipped a malformed record" in res.output
    records, warnings = runs.read_metrics(run_dir)
    assert [r["epoch"] for r in records] == [1, 2, 3] and not warnings
