"""Training: run folder contents, exact resume, divergence, best checkpoint, eval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from actbench import evaluation as E
from actbench import runs
from actbench.config import Config, dump_yaml
from actbench.training import loop as T
from tests.factories import strip_times, tiny_config


def _train(cfg: Config, out: Path, name: str) -> tuple[Path, dict]:
    run_dir = T.create_run(cfg, out, name)
    return run_dir, T.run_training(run_dir)


def test_run_folder_contents(runs_dir: Path) -> None:
    cfg = tiny_config("activation.name=exponential")
    run_dir, summary = _train(cfg, runs_dir, "r")
    assert summary["status"] == "completed"
    for f in (runs.CONFIG, runs.METRICS, runs.SUMMARY, runs.ENV, runs.CKPT_LAST, runs.CKPT_BEST):
        assert (run_dir / f).is_file(), f
    assert (run_dir / runs.CONFIG).read_text() == dump_yaml(cfg)
    records, warnings = runs.read_metrics(run_dir)
    assert [r["epoch"] for r in records] == [1, 2] and not warnings
    assert set(records[0]["act"]) == {"conv1", "conv2", "conv3"}
    assert isinstance(records[0]["act"]["conv1"]["a"], float)
    on_disk = json.loads((run_dir / runs.SUMMARY).read_text())
    assert on_disk["status"] == "completed" and 0 <= on_disk["last"]["test_acc"] <= 1
    assert on_disk["best"]["epoch"] in (1, 2) and "test_acc" in on_disk["best"]
    assert on_disk["best"]["selected_on_test"] is False
    assert on_disk["peak_memory"]["bytes"] > 0 and on_disk["timing"]["first_epoch_s"] > 0
    last_a = records[-1]["act"]["conv1"]["a"]
    assert on_disk["learned"]["conv1"]["a"] == [pytest.approx(last_a)]  # the last epoch's, not the best's
    env = json.loads((run_dir / runs.ENV).read_text())
    assert env["torch"] == torch.__version__


def test_channel_sharing_logs_mean_min_max(runs_dir: Path) -> None:
    _, summary = _train(
        tiny_config("activation.name=prelu", "activation.sharing=channel", "train.epochs=1"), runs_dir, "c"
    )
    rec = runs.read_metrics(runs_dir / "c")[0][0]
    a = rec["act"]["conv2"]["a"]
    assert a["min"] <= a["mean"] <= a["max"]
    assert len(summary["learned"]["conv2"]["a"]) == 4


def test_resume_is_exact(runs_dir: Path) -> None:
    full_dir, full = _train(tiny_config("train.epochs=3"), runs_dir, "full")
    # Same run stopped after epoch 1, then resumed to 3.
    part = T.create_run(tiny_config("train.epochs=3"), runs_dir, "part")
    stop_after_1 = T.Hooks(should_stop=lambda: bool(runs.read_metrics(part)[0]))
    # should_stop is polled per batch: once epoch 1 is logged, epoch 2 stops after its first batch.
    first = T.run_training(part, hooks=stop_after_1)
    assert first["status"] == "interrupted" and first["epochs_done"] == 1
    resumed = T.run_training(part, resume=True)
    assert resumed["status"] == "completed"
    assert strip_times(runs.read_metrics(part)[0]) == strip_times(runs.read_metrics(full_dir)[0])
    assert resumed["last"] == full["last"]
    # every process start is recorded (the cost of a run includes its restarts), with the epoch it began after
    assert [s["after_epoch"] for s in runs.read_json(part / runs.SUMMARY)["starts"]] == [0, 1]
    assert [s["after_epoch"] for s in runs.read_json(full_dir / runs.SUMMARY)["starts"]] == [0]


def test_existing_run_is_not_overwritten(runs_dir: Path) -> None:
    cfg = tiny_config("train.epochs=1")
    T.create_run(cfg, runs_dir, "x")
    with pytest.raises(runs.RunError, match="already exists"):
        T.create_run(cfg, runs_dir, "x")
    assert T.create_run(cfg, runs_dir, "x", force=True).is_dir()


def test_divergence_marks_run_failed(runs_dir: Path) -> None:
    cfg = tiny_config("optim.lr=1e30", "optim.name=sgd", "optim.momentum=0.0")
    run_dir, summary = _train(cfg, runs_dir, "boom")
    assert summary["status"] == "failed"
    assert "epoch 1, batch" in summary["error"]
    assert runs.read_status(run_dir) == "failed"


def test_resume_completed_run_refused(runs_dir: Path) -> None:
    run_dir, _ = _train(tiny_config("train.epochs=1"), runs_dir, "done")
    with pytest.raises(runs.RunError, match="already completed"):
        T.run_training(run_dir, resume=True)


def test_evaluate_run_matches_summary(runs_dir: Path) -> None:
    run_dir, summary = _train(tiny_config(), runs_dir, "e")
    last = E.evaluate_run(run_dir, "last", "test")
    assert last["acc"] == pytest.approx(summary["last"]["test_acc"])
    best = E.evaluate_run(run_dir, "best", "test")
    assert best["epoch"] == summary["best"]["epoch"]
    assert best["acc"] == pytest.approx(summary["best"]["test_acc"])


@pytest.mark.parametrize("schedule", ["constant", "cosine", "step"])
def test_lr_schedule(schedule: str) -> None:
    cfg = tiny_config(
        f"optim.schedule={schedule}", "train.epochs=10", "optim.step_epochs=5", "optim.warmup_epochs=2"
    )
    from actbench.training.schedule import lr_at

    lrs = [lr_at(cfg, e) for e in range(1, 11)]
    assert lrs[0] == pytest.approx(cfg.optim.lr / 2)  # warm-up
    assert lrs[1] == pytest.approx(cfg.optim.lr)
    assert all(lr > 0 for lr in lrs)
    if schedule != "constant":
        assert lrs[-1] < cfg.optim.lr
