"""Which checkpoint a resume goes on from (`state.load_newest`): the newest readable one, and never a run
whose final evaluation then meets a corrupt checkpoint-best."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from actbench import runs
from actbench.training import loop as T
from tests.factories import strip_times, tiny_config


class Killed(BaseException):
    """Stands for SIGKILL: nothing in actbench catches it, the run stays `running`."""


def _results(run_dir: Path) -> tuple[list[dict], dict[str, Any], dict[str, Any]]:
    records, warnings = runs.read_metrics(run_dir)
    assert not warnings
    summary = runs.read_json(run_dir / runs.SUMMARY)
    return strip_times(records), summary["last"], summary["best"]


def _same_weights(a: Path, b: Path, name: str) -> bool:
    wa, wb = (runs.load_checkpoint(d / name)["model"] for d in (a, b))
    return all(torch.equal(wa[k], wb[k]) for k in wb)


def test_kill_between_best_and_last_writes_resumes_from_the_newest(runs_dir: Path, monkeypatch) -> None:
    """Epoch 3 validates best: checkpoint-best of epoch 3 is written, then the process dies before
    checkpoint-last of epoch 3. The resume goes on from epoch 3 (the newest checkpoint, as the run-folder
    guide says) instead of redoing it from checkpoint-last of epoch 2: a redo that does not repeat itself
    (a GPU; here a lower validation accuracy stands for it) left summary.json's `best` naming epoch 1 with
    the test results of checkpoint-best, the abandoned epoch 3's weights."""
    cfg = tiny_config("train.epochs=3")
    ref = T.create_run(cfg, runs_dir, "ref")
    assert T.run_training(ref)["best"]["epoch"] == 3  # epochs 1-2 validate alike, epoch 3 better
    run_dir = T.create_run(cfg, runs_dir, "killed")
    save = runs.save_checkpoint

    def save_then_die(path: Path, state: dict[str, Any]) -> None:
        save(path, state)
        if path.name == runs.CKPT_BEST and state["epoch"] == 3:
            raise Killed

    monkeypatch.setattr(runs, "save_checkpoint", save_then_die)
    with pytest.raises(Killed):
        T.run_training(run_dir)
    monkeypatch.setattr(runs, "save_checkpoint", save)
    assert runs.load_checkpoint(run_dir / runs.CKPT_LAST)["epoch"] == 2
    record = T.epoch_record

    def unrepeatable(s, epoch, *args) -> dict[str, Any]:
        return {**record(s, epoch, *args), **({"val_acc": 0.0} if epoch == 3 else {})}

    monkeypatch.setattr(T, "epoch_record", unrepeatable)
    summary = T.run_training(run_dir, resume=True)
    assert summary["status"] == "completed" and summary["resumed_from"] == 3
    assert runs.load_checkpoint(run_dir / runs.CKPT_BEST)["epoch"] == summary["best"]["epoch"] == 3
    assert _results(run_dir) == _results(ref)
    assert _same_weights(run_dir, ref, runs.CKPT_LAST) and _same_weights(run_dir, ref, runs.CKPT_BEST)


def test_corrupt_best_checkpoint_is_moved_aside_and_rewritten(runs_dir: Path) -> None:
    """checkpoint-last good, checkpoint-best corrupt: the resume trained to the end and then failed in the
    final evaluation on checkpoint-best (and every later resume again). It is moved aside as the guide
    says, and rewritten from checkpoint-last, which holds the same epoch: the run ends as the reference."""
    cfg = tiny_config("train.epochs=2")
    ref = T.create_run(cfg, runs_dir, "ref")
    assert T.run_training(ref)["best"]["epoch"] == 1  # epoch 2 validates no better
    run_dir = T.create_run(cfg, runs_dir, "c")
    stop = T.Hooks(should_stop=lambda: len(runs.read_metrics(run_dir)[0]) >= 1)
    assert T.run_training(run_dir, hooks=stop)["status"] == "interrupted"
    (run_dir / runs.CKPT_BEST).write_bytes(b"not a checkpoint at all")
    warnings: list[str] = []
    hooks = T.Hooks(on_event=lambda k, d: warnings.append(d["message"]) if k == "warning" else None)
    summary = T.run_training(run_dir, resume=True, hooks=hooks)
    assert summary["status"] == "completed", summary["error"]
    assert any("corrupt or unreadable checkpoint" in w for w in warnings)
    assert list(run_dir.glob("checkpoint-best.pt.corrupt-*"))  # kept aside, not overwritten
    assert _results(run_dir) == _results(ref)
    assert _same_weights(run_dir, ref, runs.CKPT_BEST)
