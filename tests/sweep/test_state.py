"""A run's state as the sweep sees it, and what a whole sweep's states add up to."""

from __future__ import annotations

from pathlib import Path

from actbench import runs
from actbench.sweep.state import RunStatus, State, outcome, run_state, status_state


def _sweep(*states: State | tuple[State, str]) -> list[RunStatus]:
    return [
        RunStatus(f"r{i}", *(s if isinstance(s, tuple) else (s,)))  # type: ignore[arg-type]
        for i, s in enumerate(states)
    ]


def test_a_state_and_its_reason_are_kept_apart_and_shown_together() -> None:
    s = RunStatus("r", State.SKIPPED, runs.COMPLETED)
    assert s.state == State.SKIPPED and s.reason == "completed" and s.label == "skipped (completed)"
    assert RunStatus("r", State.NOT_STARTED).label == "not started"  # never cut to its first word
    assert State.COMPLETED == runs.COMPLETED and str(State.NOT_STARTED) == "not started"


def test_a_status_read_from_disk_becomes_a_state() -> None:
    assert status_state(runs.FAILED) is State.FAILED
    assert status_state(None) is State.RUNNING and status_state("garbled") is State.RUNNING


def test_run_state_of_a_folder(tmp_path: Path) -> None:
    assert run_state(tmp_path / "none") is State.NEW
    (tmp_path / runs.CONFIG).write_text("{}\n")
    runs.write_json(tmp_path / runs.SUMMARY, {"status": runs.INTERRUPTED})
    assert run_state(tmp_path) is State.INTERRUPTED


def test_outcome_of_a_sweep() -> None:
    done, skipped_done = State.COMPLETED, (State.SKIPPED, runs.COMPLETED)
    assert outcome(_sweep(done, skipped_done)) == runs.COMPLETED
    assert outcome(_sweep(done, (State.SKIPPED, runs.FAILED))) == runs.FAILED  # a failed run not retried
    assert outcome(_sweep(done, State.FAILED)) == runs.FAILED
    assert outcome(_sweep(State.FAILED, State.INTERRUPTED)) == runs.INTERRUPTED  # re-run to continue wins
    assert outcome(_sweep(done, State.NOT_STARTED)) == runs.INTERRUPTED


def test_a_retried_run_that_dies_in_start_up_shows_the_new_failure(tmp_path: Path) -> None:
    """`--retry-failed` resumes a failed run from its checkpoint; if that worker died before writing a
    status (killed, an import error), the run kept its old `failed` and old error: record_crash leaves a
    final status alone, and the sweep reported last week's error for today's crash."""
    from actbench.sweep.plan import plan_sweep
    from actbench.sweep.state import prepare, record_crash
    from tests.factories import tiny_config

    plan = plan_sweep(tiny_config(), ["relu"], [0], {}, tmp_path / "sw")
    run_dir = plan.sweep_dir / "relu-s0"
    run_dir.mkdir(parents=True)
    assert prepare(plan.runs[0], run_dir, retry_failed=False) == "start"
    (run_dir / runs.CKPT_FILES["last"]).write_bytes(b"a checkpoint")  # good work: a retry resumes it
    runs.settle_status(run_dir, runs.FAILED, "loss became non-finite at epoch 3")
    assert prepare(plan.runs[0], run_dir, retry_failed=False) == "skip"
    assert prepare(plan.runs[0], run_dir, retry_failed=True) == "resume"
    record_crash(run_dir, -9)
    summary = runs.read_json(run_dir / runs.SUMMARY)
    assert summary["status"] == runs.FAILED and summary["error"].startswith("worker exited with code -9")
