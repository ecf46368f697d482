"""`training.state.RunState`: one run folder in the process training it, the same object for a lone run
and each member of a pack (`pack.train.Member` is one), so both leave the same files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from actbench import runs
from actbench.pack import train as P
from actbench.session import make_session
from actbench.training import loop as T
from actbench.training.state import RunState, read_summary
from tests.factories import tiny_config


def _record(epoch: int, val_acc: float) -> dict[str, Any]:
    """A metrics.jsonl record as `lifecycle.epoch_record` writes it (no training needed)."""
    return {
        "epoch": epoch,
        "train_loss": 1.0,
        "train_acc": 0.5,
        "val_loss": 1.0 - val_acc,
        "val_acc": val_acc,
        "lr": 0.1,
        "epoch_time_s": epoch + 0.5,
        "images_per_s": 100.0,
        "act": {},
    }


def _epochs(run_dir: Path) -> list[int]:
    records, warnings = runs.read_metrics(run_dir)
    assert not warnings
    return [r["epoch"] for r in records]


def test_run_state_logs_checkpoints_and_restores_its_place(runs_dir: Path, monkeypatch) -> None:
    cfg = tiny_config("train.epochs=4", "run.checkpoint_every=2")
    run_dir = T.create_run(cfg, runs_dir, "r")
    events: list[str] = []
    hooks = T.Hooks(on_event=lambda kind, data: events.append(kind))
    run = RunState(run_dir, make_session(cfg), hooks, read_summary(run_dir, hooks))
    run.restore()  # nothing to load: a fresh start
    assert (run.start, run.epoch, run.best, run.times) == (0, 0, {}, [])
    run.mark_running()
    for epoch, acc in ((1, 0.4), (2, 0.3), (3, 0.5)):
        run.log_epoch(_record(epoch, acc))
    best3 = {"epoch": 3, "val_acc": 0.5, "val_loss": 0.5}
    assert (run.epoch, run.best, run.times) == (3, best3, [1.5, 2.5, 3.5])
    on_disk = runs.read_json(run_dir / runs.SUMMARY)
    assert (on_disk["status"], on_disk["epochs_done"], on_disk["epoch_times"]) == ("running", 3, run.times)
    assert runs.load_checkpoint(run_dir / runs.CKPT_LAST)["epoch"] == 2  # run.checkpoint_every
    assert runs.load_checkpoint(run_dir / runs.CKPT_BEST)["best"] == best3

    def disk_full(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    # crash safety: the record lands before its checkpoint; a failed checkpoint leaves the state as it was
    monkeypatch.setattr(runs, "save_checkpoint", disk_full)
    with pytest.raises(OSError):
        run.log_epoch(_record(4, 0.9))
    monkeypatch.undo()
    assert _epochs(run_dir) == [1, 2, 3, 4]
    assert (run.epoch, run.best, run.times) == (3, best3, [1.5, 2.5, 3.5])
    assert run.finish(runs.INTERRUPTED, "disk full") is run.summary
    assert run.status == runs.INTERRUPTED == runs.read_json(run_dir / runs.SUMMARY)["status"]
    assert events == ["epoch", "epoch", "epoch", "end"]

    # the next process: its place from the newest checkpoint, checkpoint-best of epoch 3 (checkpoint-last
    # holds epoch 2: run.checkpoint_every), which becomes checkpoint-last too; the records past it dropped
    again = RunState(run_dir, make_session(cfg), T.Hooks(), read_summary(run_dir, T.Hooks()))
    again.restore()
    assert (again.start, again.epoch, again.times) == (3, 3, [1.5, 2.5, 3.5])
    assert again.best == best3 == runs.load_checkpoint(run_dir / runs.CKPT_LAST)["best"]
    again.mark_running()
    assert _epochs(run_dir) == [1, 2, 3]
    summary = runs.read_json(run_dir / runs.SUMMARY)
    assert (summary["status"], summary["resumed_from"], len(summary["starts"])) == ("running", 3, 2)


def test_a_lone_run_and_a_pack_member_leave_the_same_keys(runs_dir: Path) -> None:
    """Both go through RunState: summary.json, env.json, the start entries and metrics.jsonl have the same
    keys; a pack member only adds what names the pack (`pack_epoch_times`, `packed_with`)."""
    cfgs = [tiny_config("activation.name=prelu", f"train.seed={seed}") for seed in (0, 1)]
    lone = T.create_run(cfgs[0], runs_dir / "alone", "s0")
    assert T.run_training(lone)["status"] == runs.COMPLETED
    packed = [T.create_run(c, runs_dir / "packed", f"s{c.train.seed}") for c in cfgs]
    assert [s["status"] for s in P.run_pack(packed)] == [runs.COMPLETED] * 2
    a, p = lone, packed[0]
    assert sorted(f.name for f in a.iterdir()) == sorted(f.name for f in p.iterdir())
    sa, sp = (runs.read_json(d / runs.SUMMARY) for d in (a, p))
    assert set(sp) == set(sa) | {runs.PACK_EPOCH_TIMES}
    assert [set(e) for e in sa["starts"]] == [set(e) for e in sp["starts"]]
    assert (set(sa["last"]), set(sa["best"])) == (set(sp["last"]), set(sp["best"]))
    assert [(s["epochs_done"], len(s["epoch_times"])) for s in (sa, sp)] == [(2, 2)] * 2
    assert sa["resumed_from"] is None is sp["resumed_from"]  # a fresh start, lone or packed (a pack said 0)
    ea, ep = (runs.read_json(d / runs.ENV) for d in (a, p))
    assert set(ep) == set(ea) | {"packed_with"}
    (ra, _), (rp, _) = runs.read_metrics(a), runs.read_metrics(p)
    assert [set(r) for r in ra] == [set(r) for r in rp] and [r["epoch"] for r in rp] == [1, 2]
    assert [set(r["act"]) for r in ra] == [set(r["act"]) for r in rp] == [{"conv1", "conv2", "conv3"}] * 2


def test_a_runs_warnings_are_told_and_kept_in_its_summary(runs_dir: Path) -> None:
    from actbench.training.state import MAX_WARNINGS

    cfg = tiny_config("train.epochs=2")
    run_dir = T.create_run(cfg, runs_dir, "w")
    told: list[str] = []
    hooks = T.Hooks(on_event=lambda kind, data: told.append(data["message"]) if kind == "warning" else None)
    run = RunState(run_dir, make_session(cfg), hooks, read_summary(run_dir, hooks))
    run.hooks.on_event("warning", {"message": "checkpoint-last.pt corrupt; moved aside"})
    run.hooks.on_event("warning", {"message": "checkpoint-last.pt corrupt; moved aside"})  # said again
    run.mark_running()
    assert told == ["checkpoint-last.pt corrupt; moved aside"] * 2  # the caller hears every one
    kept = runs.read_json(run_dir / runs.SUMMARY)["warnings"]
    assert [w["message"] for w in kept] == ["checkpoint-last.pt corrupt; moved aside"]  # kept once
    for i in range(2 * MAX_WARNINGS):
        run.record_warning(f"w{i}")
    assert len(run.summary["warnings"]) == MAX_WARNINGS  # bounded however often a start warns
