"""Checkpoints written before the package moved into subpackages keep loading: the network's state-dict
keys and shapes, and the checkpoint's own keys, are those the pre-layout actbench (commit cf7871c) wrote
for a tiny exponential paper_cnn with channel sharing (recorded below from such a checkpoint). A run of that
config interrupted while writing its epoch-2 checkpoint then resumes to completion and evaluates."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
from typer.testing import CliRunner

from actbench import runs
from actbench.cli import app
from tests.factories import TINY

runner = CliRunner()
CONFIG = [*TINY, "activation.name=exponential", "activation.sharing=channel"]
# checkpoint-last.pt of that run, written by actbench at cf7871c
PRE_LAYOUT_CHECKPOINT_KEYS = ["best", "epoch", "model", "optimizer", "rng_cpu", "rng_cuda"]
PRE_LAYOUT_MODEL = {
    "features.0.weight": (4, 3, 5, 5), "features.0.bias": (4,), "features.2.a": (4,),
    "features.3.weight": (4, 4, 5, 5), "features.3.bias": (4,), "features.5.a": (4,),
    "features.6.weight": (4, 4, 5, 5), "features.6.bias": (4,), "features.8.a": (4,),
    "head.1.weight": (10, 64), "head.1.bias": (10,),
}  # fmt: skip


def test_checkpoints_keep_the_pre_layout_format_and_resume(tmp_path: Path) -> None:
    sets = [x for s in CONFIG for x in ("--set", s)]
    cmd = [sys.executable, "-m", "actbench", "train", *sets, "--out", str(tmp_path), "--name", "run"]
    env = {**os.environ, "ACTBENCH_FAULT": "checkpoint:2"}  # killed while writing epoch 2's checkpoint
    subprocess.run([*cmd, "--no-progress"], env=env, capture_output=True, timeout=600)
    run = tmp_path / "run"
    state = torch.load(run / runs.CKPT_LAST, weights_only=False)
    # the pre-layout keys, plus the config the weights were trained with (a resume checks it, issue 37)
    assert sorted(set(state) - {"config"}) == PRE_LAYOUT_CHECKPOINT_KEYS and state["epoch"] == 1
    assert state["config"]["activation"]["name"] == "exponential"
    assert {k: tuple(v.shape) for k, v in state["model"].items()} == PRE_LAYOUT_MODEL
    res = runner.invoke(app, ["train", "--resume", str(run), "--no-progress", "--log-format", "text"])
    assert res.exit_code == 0, res.output
    summary = runs.read_json(run / runs.SUMMARY)
    assert summary["status"] == runs.COMPLETED and summary["epochs_done"] == 2
    assert len(summary["learned"]["conv1"]["a"]) == 4  # channel sharing: one a per channel
    res = runner.invoke(app, ["eval", str(run), "--noise", "gaussian", "--levels", "0,0.1"])
    assert res.exit_code == 0, res.output
