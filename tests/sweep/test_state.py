"""A run's state as the sweep sees it, and what a whole sweep's states add up to."""

from __future__ import annotations

from actbench import runs
from actbench.sweep.state import BUSY, NOT_STARTED, PENDING, is_skipped, outcome, skipped


def test_skipped_states_are_named_one_way() -> None:
    assert skipped(runs.COMPLETED) == "skipped (completed)"
    assert is_skipped(skipped(runs.FAILED)) and not is_skipped(BUSY) and not is_skipped(PENDING)


def test_outcome_of_a_sweep() -> None:
    assert outcome([runs.COMPLETED, skipped(runs.COMPLETED)]) == runs.COMPLETED
    assert outcome([runs.COMPLETED, skipped(runs.FAILED)]) == runs.FAILED  # a failed run not retried
    assert outcome([runs.COMPLETED, runs.FAILED]) == runs.FAILED
    assert outcome([runs.FAILED, runs.INTERRUPTED]) == runs.INTERRUPTED  # re-run to continue wins
    assert outcome([runs.COMPLETED, NOT_STARTED]) == runs.INTERRUPTED
