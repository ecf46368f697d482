"""Issue 36: `train --resume RUN --set train.epochs=N` extends a run, a completed one too, into what a run
trained to N from the start is (exact resume, on CPU); what it may not change is refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from actbench import runs
from actbench.cli import app
from actbench.training import loop as T
from tests.e2e.battery37 import edit_config, interrupted_run, one_line_error, runner
from tests.factories import strip_times, tiny_config

ROBUST = ("robustness.enabled=true", "robustness.kinds=[gaussian]", "robustness.levels=[0.0,0.1]")


def _completed(root: Path, name: str, *extra: str) -> Path:
    run_dir = T.create_run(tiny_config(*extra), root, name)
    assert T.run_training(run_dir)["status"] == runs.COMPLETED
    return run_dir


def _extend(run_dir: Path, *sets: str, log: bool = False):  # noqa: ANN202 - a click Result
    args = [a for item in sets for a in ("--set", item)]
    more = ["--log-format", "text"] if log else ["--no-progress"]
    return runner.invoke(app, ["train", "--resume", str(run_dir), *args, *more])


def _files(run_dir: Path) -> dict[str, bytes]:
    """What a refused resume must leave as it was."""
    return {n: (run_dir / n).read_bytes() for n in (runs.CONFIG, runs.SUMMARY, runs.METRICS, runs.CKPT_LAST)}


@pytest.mark.parametrize("schedule", ["constant", "step"])
def test_extending_a_completed_run_equals_training_to_the_new_total(runs_dir: Path, schedule: str) -> None:
    """2 epochs, then extended to 3 = 3 epochs from the start: metrics, weights, best epoch, test results,
    predictions and robustness all redone at epoch 3 (step: the lr halves every epoch, still exact)."""
    extra = (f"optim.schedule={schedule}", "optim.step_epochs=1", "optim.gamma=0.5", *ROBUST)
    full = _completed(runs_dir, "full", "train.epochs=3", *extra)
    run_dir = _completed(runs_dir, "ext", "train.epochs=2", *extra)
    res = _extend(run_dir, "train.epochs=3")
    assert res.exit_code == 0, res.output
    got, want = runs.read_json(run_dir / runs.SUMMARY), runs.read_json(full / runs.SUMMARY)
    assert got["status"] == runs.COMPLETED and got["epochs_done"] == 3
    assert strip_times(runs.read_metrics(run_dir)[0]) == strip_times(runs.read_metrics(full)[0])
    assert got["last"] == want["last"] and got["last"]["epoch"] == 3
    assert got["best"] == want["best"]  # the best-validation epoch over all 3 epochs, its test results
    for name in (runs.CKPT_LAST, runs.CKPT_BEST):
        a, b = (runs.load_checkpoint(d / name, map_location="cpu") for d in (run_dir, full))
        assert a["epoch"] == b["epoch"] and a["best"] == b["best"]
        assert all(torch.equal(a["model"][k], b["model"][k]) for k in b["model"]), name
    pa, pb = runs.read_npz(run_dir / runs.PREDICTIONS), runs.read_npz(full / runs.PREDICTIONS)
    assert int(pa["last_epoch"]) == 3 and all(np.array_equal(pa[k], pb[k]) for k in pb)
    ra, rb = runs.read_json(run_dir / runs.ROBUSTNESS), runs.read_json(full / runs.ROBUSTNESS)
    assert ra["epoch"] == 3 and ra["results"] == rb["results"]
    assert (run_dir / runs.CONFIG).read_text() == (full / runs.CONFIG).read_text()
    assert got["config"]["train"]["epochs"] == 3  # the next resume compares with this start
    start = got["starts"][-1]
    assert start["after_epoch"] == 2 and start["extended"] == {"from": 2, "to": 3}
    assert start["config_changes"] == {"train.epochs": [2, 3]}
    assert [s.get("extended") for s in got["starts"]] == [None, {"from": 2, "to": 3}]


def test_extending_an_interrupted_run_with_a_speed_setting(runs_dir: Path) -> None:
    run_dir = interrupted_run(runs_dir)  # 3 epochs planned, 1 done
    one_line_error(_extend(run_dir, "train.epochs=1"), "the run has trained 1 epochs")
    res = _extend(run_dir, "train.epochs=4", "train.eval_batch_size=40")
    assert res.exit_code == 0, res.output
    summary = runs.read_json(run_dir / runs.SUMMARY)
    assert summary["status"] == runs.COMPLETED and summary["last"]["epoch"] == 4
    assert [r["epoch"] for r in runs.read_metrics(run_dir)[0]] == [1, 2, 3, 4]
    assert summary["starts"][-1]["extended"] == {"from": 3, "to": 4}
    assert summary["starts"][-1]["config_changes"]["train.eval_batch_size"] == [100, 40]
    assert "eval_batch_size: 40" in (run_dir / runs.CONFIG).read_text()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--set", "train.epochs=2"], "--set train.epochs=2: the run has trained 2 epochs"),
        (["--set", "train.epochs=1"], "--set train.epochs=1: the run has trained 2 epochs"),
        (["--set", "optim.lr=0.1"], "--set optim.lr=0.1: a resume may set only train.epochs"),
        (["--set", "train.epochs=3", "--set", "train.seed=4"], "--set train.seed=4: a resume may set"),
        (["--set", "robustness.enabled=true"], "--set robustness.enabled=true: a resume may set"),
        (["--set", "train.epoch=3"], "did you mean train.epochs"),
        (["--config", "quickstart"], "drop --config"),
        (["--set", "train.threads=1"], "run already completed"),
        ([], "--set train.epochs=N, N > 2"),
    ],
)
def test_extension_refusals_leave_the_run_as_it_was(runs_dir: Path, argv: list[str], needle: str) -> None:
    run_dir = _completed(runs_dir, "r")
    before = _files(run_dir)
    res = runner.invoke(app, ["train", "--resume", str(run_dir), *argv, "--no-progress"])
    one_line_error(res, needle)
    assert _files(run_dir) == before


def test_cosine_is_refused_once_its_epochs_depend_on_the_total(runs_dir: Path) -> None:
    """Cosine over 2 epochs, stretched over 3, gives epoch 2 another lr: refused (config.yaml would describe
    a schedule the run never had). Within its warm-up the lr does not depend on the total: extended."""
    run_dir = _completed(runs_dir, "cos", "optim.schedule=cosine")
    before = _files(run_dir)
    res = _extend(run_dir, "train.epochs=3")
    one_line_error(res, "train.epochs 2 -> 3 changes the learning rate of epochs already trained")
    assert "cosine schedule: epoch 2" in res.output and "--name NEW_NAME" in res.output
    assert _files(run_dir) == before
    edit_config(run_dir, train__epochs=3)  # the same rule for a config.yaml edited by hand
    one_line_error(_extend(run_dir), "changes the learning rate")
    warm = interrupted_run(runs_dir / "w", "optim.schedule=cosine", "optim.warmup_epochs=2")  # 1 of 3 done
    res = _extend(warm, "train.epochs=4")
    assert res.exit_code == 0, res.output
    assert runs.read_json(warm / runs.SUMMARY)["starts"][-1]["extended"] == {"from": 3, "to": 4}


def test_a_config_edited_by_hand_extends_too_and_stale_evaluations_are_named(runs_dir: Path) -> None:
    run_dir = _completed(runs_dir, "r")
    (run_dir / runs.CORRUPTIONS).write_text(json.dumps({"checkpoint": "last", "epoch": 2}))
    edit_config(run_dir, train__epochs=3)
    res = _extend(run_dir, log=True)
    assert res.exit_code == 0, res.output
    assert "corruptions.json holds results of epoch 2, the run's earlier end: redo them" in res.output
    summary = runs.read_json(run_dir / runs.SUMMARY)
    assert summary["status"] == runs.COMPLETED and summary["starts"][-1]["extended"] == {"from": 2, "to": 3}


def test_an_extension_that_cannot_start_keeps_the_completed_run(
    runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Building the session fails (a missing data set, say): the run stays completed with its results and
    its config.yaml, not `failed` (a run never settled would be)."""
    run_dir = _completed(runs_dir, "r")
    before = _files(run_dir)

    def broken(cfg):  # noqa: ANN001, ANN202
        raise FileNotFoundError(2, "No such file or directory", "/data/gone")

    monkeypatch.setattr(T, "make_session", broken)
    one_line_error(_extend(run_dir, "train.epochs=3"), "not extended, failed before its first new epoch")
    assert _files(run_dir) == before and runs.read_status(run_dir) == runs.COMPLETED


@pytest.mark.parametrize(
    ("exc", "shown"),
    [
        (
            RuntimeError("CUDA error: an illegal memory access"),
            "not extended, failed before its first new epoch",
        ),
        (T.NonFiniteLoss("loss became nan at epoch 3, batch 1"), "loss became nan at epoch 3"),
    ],
)
def test_an_extension_failing_in_its_first_new_epoch_keeps_the_completed_run(
    runs_dir: Path, monkeypatch: pytest.MonkeyPatch, exc: Exception, shown: str
) -> None:
    """The first new epoch raises: the run stays completed with its results, its config.yaml (2 epochs)
    and its metrics, not `failed` with its end gone and config.yaml saying 3 epochs."""
    run_dir = _completed(runs_dir, "r")
    before = _files(run_dir)

    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise exc

    monkeypatch.setattr(T, "train_epoch", broken)
    res = _extend(run_dir, "train.epochs=3")
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit), res.output
    last = res.output.strip().splitlines()[-1]  # after the run's `started` line
    assert last.startswith(f"error: {run_dir}: not extended") and shown in last, res.output
    assert _files(run_dir) == before and runs.read_status(run_dir) == runs.COMPLETED


def test_a_bug_in_an_extensions_first_epoch_keeps_its_traceback_and_the_run(
    runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = _completed(runs_dir, "r")
    before = _files(run_dir)

    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AttributeError("'Session' object has no attribute 'nett'")

    monkeypatch.setattr(T, "train_epoch", broken)
    res = _extend(run_dir, "train.epochs=3")
    assert isinstance(res.exception, AttributeError) and res.exit_code == 1, res.output
    assert _files(run_dir) == before and runs.read_status(run_dir) == runs.COMPLETED


def test_train_help_says_what_extending_means() -> None:
    out = " ".join(runner.invoke(app, ["train", "--help"], terminal_width=200).output.split())
    assert "--set train.epochs=N" in out and "extends a run, also a completed one" in out
    assert "a cosine schedule past its warm-up is refused" in out
