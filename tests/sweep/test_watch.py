"""Following a sweep: polled statuses become run events, once each; the tally and its ETA."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from actbench import runs
from actbench.sweep.state import RunStatus, State
from actbench.sweep.watch import SweepWatch, eta_s


def _record(epoch: int) -> dict[str, Any]:
    return {"epoch": epoch, "train_loss": 2.0, "train_acc": 0.1, "val_loss": 2.1, "val_acc": 0.2,
            "lr": 1e-3, "epoch_time_s": 1.0, "images_per_s": 100.0}  # fmt: skip


class _Clock:
    t = 100.0

    def __call__(self) -> float:
        return self.t


def test_polled_states_become_each_runs_events_once(tmp_path: Path) -> None:
    a = tmp_path / "a-s0"
    a.mkdir()
    clock = _Clock()
    watch = SweepWatch(tmp_path, clock)
    statuses = [
        RunStatus("a-s0", State.RUNNING, action="start", total=2, where="node n1"),
        RunStatus("b-s0", State.SKIPPED, runs.COMPLETED, "skip", 2, 2),
        RunStatus("c-s0", State.PENDING, total=2),
    ]
    seen = [(k, r) for k, r, _ in watch.poll(statuses)]
    assert seen == [("launch", "a-s0"), ("skip", "b-s0")]
    runs.append_metrics(a, _record(1))
    statuses[0].epochs, statuses[0].where = 1, "node n2"
    clock.t += 60
    events = watch.poll(statuses)
    assert [(k, r) for k, r, _ in events] == [("where", "a-s0"), ("epoch", "a-s0")]
    assert events[1][2]["epoch"] == 1 and events[1][2]["epochs"] == 2  # the record and the run's length
    assert watch.poll(statuses) == []  # nothing new, nothing said
    runs.append_metrics(a, _record(2))
    runs.write_json(a / runs.SUMMARY, {"status": "completed", "last": {"test_acc": 0.5, "test_loss": 1.0}})
    statuses[0].epochs, statuses[0].state = 2, State.COMPLETED
    statuses[2].state = State.NOT_STARTED
    events = watch.poll(statuses)
    assert [(k, r) for k, r, _ in events] == [("epoch", "a-s0"), ("end", "a-s0"), ("not_started", "c-s0")]
    assert events[1][2]["status"] == "completed"
    assert watch.poll(statuses) == []


def test_tally_counts_states_and_paces_the_eta_on_this_sweeps_epochs(tmp_path: Path) -> None:
    clock = _Clock()
    watch = SweepWatch(tmp_path, clock)
    statuses = [
        RunStatus("a", State.RUNNING, action="resume", epochs=4, total=10),  # 4 epochs from before
        RunStatus("b", State.SKIPPED, runs.FAILED, "skip", 3, 10),
        RunStatus("c", State.NOT_STARTED, total=10),
    ]
    first = watch.tally(statuses)
    assert first.eta_s is None and first.epochs_done == 7 and first.epochs == 30
    statuses[0].epochs = 6
    clock.t += 20
    t = watch.tally(statuses)
    assert t.counts == {"running": 1, "skipped": 1, "not started": 1}
    assert t.finished == {"skipped": 1} and t.runs_done == 1 and t.runs == 3
    assert t.elapsed_s == 20 and t.eta_s == pytest.approx(21 * 10.0)  # 2 epochs in 20 s, 21 left


def test_a_restarted_run_paces_the_eta_by_what_it_trains_again(tmp_path: Path) -> None:
    """--retry-failed starts a failed run over: its 6 old epochs drop to 0 and the 3 it then trains are
    this sweep's (counted once at the first poll, they made the pace 0, so the ETA stayed '?')."""
    clock = _Clock()
    watch = SweepWatch(tmp_path, clock)
    statuses = [RunStatus("a", State.RUNNING, action="restart", epochs=6, total=10)]
    assert watch.tally(statuses).eta_s is None
    statuses[0].epochs = 0  # the restart's first poll
    clock.t += 5
    watch.tally(statuses)
    statuses[0].epochs = 3
    clock.t += 25
    t = watch.tally(statuses)
    assert t.epochs_done == 3 and t.eta_s == pytest.approx(7 * 30 / 3)  # 3 epochs in 30 s, 7 left


def test_eta_needs_a_fresh_epoch() -> None:
    assert eta_s(0, 10, 5.0) is None and eta_s(2, 10, 5.0) == 25.0


def test_a_run_launched_again_after_its_pack_crashed_is_followed_again(tmp_path: Path) -> None:
    a = tmp_path / "a-s0"
    a.mkdir()
    watch = SweepWatch(tmp_path, _Clock())
    s = RunStatus("a-s0", State.RUNNING, action="start", total=2)
    assert [k for k, _, _ in watch.poll([s])] == ["launch"]
    runs.append_metrics(a, _record(1))
    runs.write_json(a / runs.SUMMARY, {"status": "interrupted", "epochs_done": 1, "error": "pack crashed"})
    s.state, s.epochs = State.INTERRUPTED, 1
    assert [k for k, _, _ in watch.poll([s])] == ["epoch", "end"]
    s.state, s.action = State.RUNNING, "resume"  # the sweep resumes it alone
    events = watch.poll([s])
    assert [k for k, _, _ in events] == ["launch"] and events[0][2]["epochs_done"] == 1
    runs.append_metrics(a, _record(2))
    runs.write_json(a / runs.SUMMARY, {"status": "completed", "last": {"test_acc": 0.5, "test_loss": 1.0}})
    s.state, s.epochs = State.COMPLETED, 2
    events = watch.poll([s])
    assert [(k, d.get("epoch")) for k, _, d in events] == [("epoch", 2), ("end", None)]


def test_a_runs_recorded_warnings_reach_the_sweep_once_before_the_epoch_they_precede(tmp_path: Path) -> None:
    a = tmp_path / "a-s0"
    a.mkdir()
    earlier = {"at": "2026-01-01T00:00:00+00:00", "message": "from an earlier process"}
    runs.write_json(a / runs.SUMMARY, {"status": "interrupted", "warnings": [earlier]})
    watch = SweepWatch(tmp_path, _Clock())
    s = RunStatus("a-s0", State.RUNNING, action="resume", epochs=0, total=2)
    assert [k for k, _, _ in watch.poll([s])] == ["launch"]  # the earlier warning was told back then
    new = {"at": "2026-01-02T00:00:00+00:00", "message": "no checkpoint yet; redoing 1 logged epoch(s)"}
    runs.write_json(a / runs.SUMMARY, {"status": "running", "warnings": [earlier, new]})
    runs.append_metrics(a, _record(1))
    s.epochs = 1
    events = watch.poll([s])
    assert [(k, d.get("message")) for k, _, d in events] == [("warning", new["message"]), ("epoch", None)]
    runs.append_metrics(a, _record(2))
    runs.write_json(a / runs.SUMMARY, {"status": "completed", "warnings": [earlier, new],
                                       "last": {"test_acc": 0.5, "test_loss": 1.0}})  # fmt: skip
    s.epochs, s.state = 2, State.COMPLETED
    assert [k for k, _, _ in watch.poll([s])] == ["epoch", "end"]  # told once


def test_epochs_a_run_redoes_after_losing_its_checkpoints_are_told_again(tmp_path: Path) -> None:
    a = tmp_path / "a-s0"
    a.mkdir()
    for epoch in (1, 2):
        runs.append_metrics(a, _record(epoch))
    watch = SweepWatch(tmp_path, _Clock())
    s = RunStatus("a-s0", State.RUNNING, action="resume", epochs=2, total=3)
    assert [k for k, _, _ in watch.poll([s])] == ["launch"]  # epochs 1-2 were told by an earlier sweep
    runs.truncate_metrics(a, 0)  # no checkpoint to resume from: the run starts over
    s.epochs = 0
    assert watch.poll([s]) == []
    runs.append_metrics(a, _record(1))
    s.epochs = 1
    assert [(k, d.get("epoch")) for k, _, d in watch.poll([s])] == [("epoch", 1)]


class _OneEpochLauncher:
    """A launcher with no processes: each run trains one more epoch (its last), then completes."""

    def __init__(self) -> None:
        self.polls: dict[Path, int] = {}

    def start(self, run_dir: Path, slot: int) -> Path:
        self.polls[run_dir] = 0
        return run_dir

    def poll(self, run_dir: Path) -> int | None:
        self.polls[run_dir] += 1
        if self.polls[run_dir] == 1:
            runs.append_metrics(run_dir, _record(2))
            return None
        runs.write_json(run_dir / runs.SUMMARY, {"status": runs.COMPLETED, "epochs_done": 2})
        return 0

    def start_pack(self, run_dirs: list[Path], slot: int) -> Any: ...
    def stop(self, run_dir: Path) -> None: ...
    def kill(self, run_dir: Path) -> None: ...


def test_epochs_of_runs_waiting_to_resume_count_as_done_before_this_sweep(tmp_path: Path) -> None:
    """Two interrupted runs, one epoch of two done each, one worker: the second one's earlier epoch is
    done before this sweep, not trained by it once its turn comes (that made the ETA's pace too fast)."""
    from actbench.sweep import local as SL
    from actbench.sweep import plan as S
    from actbench.sweep.state import prepare
    from tests.factories import tiny_config

    plan = S.plan_sweep(tiny_config("train.epochs=2"), ["relu", "elu"], [0], {}, tmp_path / "sw")
    for spec in plan.runs:
        run_dir = plan.sweep_dir / spec.name
        run_dir.mkdir(parents=True)
        prepare(spec, run_dir, retry_failed=False)
        runs.append_metrics(run_dir, _record(1))
        (run_dir / runs.CKPT_LAST).write_bytes(b"")  # resumes from it (the fake launcher never reads it)
        runs.settle_status(run_dir, runs.INTERRUPTED, "stopped")
    watch = SweepWatch(plan.sweep_dir, _Clock())
    tallies = []
    statuses = SL.execute(plan, 1, on_update=lambda ss: tallies.append(watch.tally(ss)), poll_s=0.0,
                          launcher=_OneEpochLauncher())  # fmt: skip
    assert [s.state for s in statuses] == ["completed", "completed"]
    assert tallies[0].epochs_done == 2 == watch.first_epochs  # both earlier epochs, from the first line
    assert tallies[-1].epochs_done == 4  # so this sweep trained 2 epochs, not 3
