"""The state of one run folder of a sweep, as the sweep process sees it: claims, what to do with the run
(skip, start, resume, restart), and what a worker that died without a word leaves behind.
"""

from __future__ import annotations

import fcntl
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import IO, TYPE_CHECKING

from actbench import runs
from actbench.config import dump_yaml

if TYPE_CHECKING:  # annotation only: reading a run's state stays light (no torch) for the CLI
    from actbench.sweep.plan import RunSpec

CLAIM, LOG = "claim.lock", "train.log"


class State(str, Enum):
    """A run's state as a sweep shows it: the run's own status (`runs.STATUSES`) or a sweep's own. A str
    (`State.COMPLETED == runs.COMPLETED`), so a run's status compares as it is read from summary.json."""

    NEW = "new"  # no run folder yet (run_state)
    LOCKED = "locked"  # a live process holds the run's lock (run_state)
    PENDING = "pending"  # waiting for a worker slot
    BUSY = "busy"  # another process holds it (a sweep its claim, `train` its lock): this one waits for it
    NOT_STARTED = "not started"  # never launched: the sweep was stopped first
    SKIPPED = "skipped"  # left alone (RunStatus.reason: the state it was found in)
    RUNNING = runs.RUNNING
    COMPLETED = runs.COMPLETED
    FAILED = runs.FAILED
    INTERRUPTED = runs.INTERRUPTED

    def __str__(self) -> str:  # Python 3.10's str-Enum prints "State.NEW"; the value is what is shown
        return self.value


def status_state(status: str | None) -> State:
    """A run status read from summary.json as a State; none, or one this version does not know: running
    (a run without a final status is still running, or was killed: `record_crash` settles it)."""
    try:
        return State(status) if status in runs.STATUSES else State.RUNNING
    except ValueError:
        return State.RUNNING


@dataclass
class RunStatus:
    """One run of a sweep as the sweep process sees it, updated at every poll."""

    name: str
    state: State = State.PENDING
    reason: str = ""  # SKIPPED: the state the run was found in (completed, failed, locked)
    action: str = ""  # start | resume | restart | skip
    epochs: int = 0
    total: int = 0
    where: str = ""  # worker / node running it, from the launcher's optional `where` (progress logs)

    @property
    def label(self) -> str:
        """The state as shown: "running", "skipped (completed)"."""
        return f"{self.state} ({self.reason})" if self.reason else str(self.state)


def outcome(statuses: list[RunStatus]) -> str:
    """A whole sweep: interrupted (a run was interrupted or never launched: re-run to continue), failed
    (a run ended otherwise than completed, also a failed one skipped), else completed."""
    states = [s.state for s in statuses]
    if any(s in (State.INTERRUPTED, State.NOT_STARTED) for s in states):
        return runs.INTERRUPTED
    if any(s.state != State.COMPLETED and (s.state, s.reason) != (State.SKIPPED, runs.COMPLETED)
           for s in statuses):  # fmt: skip
        return runs.FAILED
    return runs.COMPLETED


def run_state(run_dir: Path) -> State:
    """new | completed | failed | interrupted | running (stale, or live in another process) | locked."""
    if not (run_dir / runs.CONFIG).exists():
        return State.NEW
    if runs.is_locked(run_dir):
        return State.LOCKED
    return status_state(runs.read_status(run_dir))


@dataclass
class Claim:
    """Holds `claim.lock` of one run for as long as this sweep process owns it."""

    run_dir: Path
    handle: IO[str] = field(repr=False)

    def release(self) -> None:
        self.handle.close()


def try_claim(run_dir: Path) -> Claim | None:
    run_dir.mkdir(parents=True, exist_ok=True)
    handle = open(run_dir / CLAIM, "a+")  # noqa: SIM115 - kept open while the claim is held
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return Claim(run_dir, handle)


def skips(state: State, retry_failed: bool) -> bool:
    """A run found in `state` is left alone: it completed, or it failed (unless failed runs are retried).
    One that another process trains (locked) is not: the sweep waits for it (`prepare`: "wait")."""
    return state == State.COMPLETED or (state == State.FAILED and not retry_failed)


def prepare(spec: RunSpec, run_dir: Path, retry_failed: bool) -> str:
    """Decide what to do with one run (call with its claim held): skip | wait | start | resume | restart.
    wait: a live process outside this sweep holds the run's lock (`train --resume RUN`): decide again once
    it has ended, from what it left."""
    state = run_state(run_dir)
    if skips(state, retry_failed):
        return "skip"
    if state == State.LOCKED:
        return "wait"
    if state == State.FAILED and any((run_dir / n).exists() for n in runs.CKPT_FILES.values()):
        # its checkpoints are good work: continue from the last one. Its old end is over: a worker that
        # dies before writing a status must be recorded (`record_crash`), not hide behind the old failure
        summary = runs.read_json(run_dir / runs.SUMMARY)
        runs.write_json(run_dir / runs.SUMMARY, {**summary, "status": runs.RUNNING, "error": None})
        return "resume"
    if state in (State.NEW, State.FAILED):  # failed before its first checkpoint: from scratch
        for child in run_dir.iterdir():
            if child.name not in (CLAIM,) and child.is_file():
                child.unlink()
        runs.atomic_write_text(run_dir / runs.CONFIG, dump_yaml(spec.config))
        runs.write_json(run_dir / runs.SUMMARY, runs.new_summary())
        return "start" if state == State.NEW else "restart"
    return "resume"


def record_crash(run_dir: Path, returncode: int, packed: bool = False) -> None:
    """A worker that died without writing its own final status (killed, segfault) is marked failed; a
    pack's member `interrupted`: the death of a process that trains several runs is not this run's fault,
    and its checkpoints are good (the next sweep resumes it)."""
    if runs.read_status(run_dir) in runs.FINAL:
        return
    tail = ""
    if (run_dir / LOG).exists():
        lines = (run_dir / LOG).read_text(encoding="utf-8", errors="replace").strip().splitlines()
        tail = lines[-1][:300] if lines else ""
    if packed:
        why = f"its pack's worker exited with code {returncode} ({tail}); re-run the sweep to resume it"
        runs.settle_status(run_dir, runs.INTERRUPTED, why)
    else:
        runs.settle_status(run_dir, runs.FAILED, f"worker exited with code {returncode}: {tail}")


def pack_crashed(run_dir: Path) -> bool:
    """Left `interrupted` by an exception in its pack (pack.train), to be resumed alone."""
    try:
        summary = runs.read_json(run_dir / runs.SUMMARY)
    except runs.RunError:
        return False
    return summary.get("status") == runs.INTERRUPTED and bool(summary.get(runs.PACK_CRASH))


def note_in_log(run_dir: Path, line: str) -> None:
    """A line from the sweep itself in the run's train.log."""
    with open(run_dir / LOG, "a", encoding="utf-8") as f:
        f.write(f"actbench sweep: {line}\n")


def epochs_done(run_dir: Path) -> int:
    records, _ = runs.read_metrics(run_dir)
    return len({r["epoch"] for r in records})
