"""`actbench train-pack` as a user runs it: member lines on the console with the member's name in front
(it crashed with a TypeError without --quiet), and trackers attached per member through the hooks."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from typer.testing import CliRunner

from actbench import runs
from actbench.cli import app
from actbench.training import loop as T
from tests.factories import tiny_config

runner = CliRunner()


def _members(root: Path, *extra: str) -> list[Path]:
    return [
        T.create_run(tiny_config(f"train.seed={s}", "train.epochs=1", *extra), root, f"relu-s{s}")
        for s in (0, 1)
    ]


def test_train_pack_without_quiet_prints_each_members_lines(tmp_path: Path) -> None:
    dirs = _members(tmp_path)
    res = runner.invoke(app, ["train-pack", *map(str, dirs)])
    assert res.exit_code == 0, res.output
    assert "pack of 2: relu-s0, relu-s1" in res.output
    for d in dirs:
        assert f"{d.name}: epoch 1/1: train loss" in res.output and f"{d.name}: completed" in res.output
        assert runs.read_status(d) == runs.COMPLETED
        # and into the member's own log, as a lone run's log has it (timestamp, name)
        assert f"Z {d.name} epoch 1/1: train loss" in (d / "train.log").read_text()


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="tensorboard extra not installed")
def test_packed_runs_write_tensorboard_event_files(tmp_path: Path) -> None:
    dirs = _members(tmp_path, "run.tensorboard=true")
    res = runner.invoke(app, ["train-pack", *map(str, dirs), "--quiet"])
    assert res.exit_code == 0, res.output
    for d in dirs:
        assert list((d / "tensorboard").glob("events.out.tfevents.*")), f"{d.name}: no event file"
