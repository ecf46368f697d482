"""The state of one run folder of a sweep, as the sweep process sees it: claims, what to do with the run
(skip, start, resume, restart), and what a worker that died without a word leaves behind.
"""

from __future__ import annotations

import fcntl
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from actbench import runs
from actbench.config import dump_yaml

if TYPE_CHECKING:  # annotation only: reading a run's state stays light (no torch) for the CLI
    from actbench.sweep.plan import RunSpec

CLAIM, LOG = "claim.lock", "train.log"

# A run's state as the sweep shows it: the run's own status (runs.STATUSES) or one of these.
NEW, LOCKED = "new", "locked"  # run_state: no run folder yet / a live process holds the run's lock
PENDING, BUSY, NOT_STARTED = "pending", "busy", "not started"  # waiting / claimed elsewhere / never launched


def skipped(state: str) -> str:
    """What the sweep shows for a run it skips: "skipped (completed)", "skipped (failed)"."""
    return f"skipped ({state})"


def is_skipped(state: str) -> bool:
    return state.startswith("skipped (")


def state_kind(state: str) -> str:
    """What a state counts as in a sweep's tallies: "skipped" for any skipped run, else the state itself
    ("not started" stays whole: its first word alone would read "not")."""
    return "skipped" if is_skipped(state) else state


def outcome(states: list[str]) -> str:
    """A whole sweep: interrupted (a run was interrupted or never launched: re-run to continue), failed
    (a run ended otherwise than completed), else completed."""
    if any(s in (runs.INTERRUPTED, NOT_STARTED) for s in states):
        return runs.INTERRUPTED
    if any(s not in (runs.COMPLETED, skipped(runs.COMPLETED)) for s in states):
        return runs.FAILED
    return runs.COMPLETED


def run_state(run_dir: Path) -> str:
    """new | completed | failed | interrupted | running (stale, or live in another process) | locked."""
    if not (run_dir / runs.CONFIG).exists():
        return NEW
    if runs.is_locked(run_dir):
        return LOCKED
    return runs.read_status(run_dir) or runs.RUNNING


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


def prepare(spec: RunSpec, run_dir: Path, retry_failed: bool) -> str:
    """Decide what to do with one run (call with its claim held): skip | start | resume | restart."""
    state = run_state(run_dir)
    if state in (runs.COMPLETED, LOCKED) or (state == runs.FAILED and not retry_failed):
        return "skip"
    if state == runs.FAILED and any((run_dir / n).exists() for n in runs.CKPT_FILES.values()):
        return "resume"  # its checkpoints are good work: continue from the last one
    if state == NEW or state == runs.FAILED:  # failed before its first checkpoint: from scratch
        for child in run_dir.iterdir():
            if child.name not in (CLAIM,) and child.is_file():
                child.unlink()
        runs.atomic_write_text(run_dir / runs.CONFIG, dump_yaml(spec.config))
        runs.write_json(run_dir / runs.SUMMARY, runs.new_summary())
        return "start" if state == NEW else "restart"
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
