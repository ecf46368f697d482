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
