"""Run folders written before the package moved into subpackages keep working: a run interrupted by the
pre-layout actbench (commit cf7871c: a tiny exponential run, channel sharing, killed while writing its
epoch-2 checkpoint) resumes to completion, and its checkpoint evaluates."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from actbench import runs
from actbench.cli import app

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "pre-layout-run"
runner = CliRunner()


def test_a_pre_layout_run_resumes_and_evaluates(tmp_path: Path) -> None:
    run = shutil.copytree(FIXTURE, tmp_path / "pre-layout")
    assert runs.read_json(run / runs.SUMMARY)["epochs_done"] == 1
    res = runner.invoke(app, ["train", "--resume", str(run), "--no-progress", "--log-format", "text"])
    assert res.exit_code == 0, res.output
    summary = runs.read_json(run / runs.SUMMARY)
    assert summary["status"] == runs.COMPLETED and summary["epochs_done"] == 2
    assert len(summary["learned"]["conv1"]["a"]) == 4  # channel sharing: one a per channel
    res = runner.invoke(app, ["eval", str(run), "--noise", "gaussian", "--levels", "0,0.1"])
    assert res.exit_code == 0, res.output
