"""`actbench suite run --pack`: each task's sweep packs its runs as `sweep --pack` does (the suite
assigned a (packs, reasons) tuple as the packs before)."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from actbench.cli import app
from actbench.sweep.plan import MANIFEST
from tests.factories import TINY

runner = CliRunner()


def test_suite_run_packs_each_tasks_runs(tmp_path: Path) -> None:
    suite = {
        "name": "p",
        "tasks": [{"name": "cnn", "config": "quickstart", "set": [*TINY, "train.epochs=1"]}],
    }
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(suite))
    argv = ["suite", "run", str(tmp_path / "p.yaml"), "--acts", "relu,elu", "--seeds", "0"]
    res = runner.invoke(app, [*argv, "--pack", "2", "--out", str(tmp_path / "runs"), "--log-format", "text"])
    assert res.exit_code == 0, res.output
    manifest = yaml.safe_load((tmp_path / "runs" / "p" / "cnn" / MANIFEST).read_text())
    assert manifest["packs"] == [["relu-s0", "elu-s0"]]
