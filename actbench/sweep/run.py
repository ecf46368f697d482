"""Run a planned sweep from Python: open the launcher (local processes, or Ray), execute the plan, and
say how it ended. `actbench sweep` and `actbench suite run` call this with a display; a notebook calls it
without one.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, nullcontext
from typing import Any, Protocol

from actbench import runs
from actbench.errors import UserError, require
from actbench.sweep import local as SL
from actbench.sweep.plan import Plan, write_manifest
from actbench.sweep.ray import RayOptions, open_launcher
from actbench.sweep.state import RunStatus, outcome

EXIT_CODES = {runs.COMPLETED: 0, runs.FAILED: 1, runs.INTERRUPTED: 130}  # a command's exit per outcome


class Watcher(Protocol):
    """What follows a sweep as it runs (a live table, log lines): a context told of every change
    (`update`) and of the final statuses once every process has ended (`final`)."""

    def __enter__(self) -> Any: ...
    def __exit__(self, *exc: Any) -> Any: ...
    def update(self, statuses: list[RunStatus]) -> None: ...
    def final(self, statuses: list[RunStatus]) -> None: ...


def run_plan(
    plan: Plan,
    workers: int | None = None,
    options: RayOptions | None = None,
    retry_failed: bool = False,
    watch: Callable[[int], Watcher] | None = None,
    on_note: Callable[[str], None] | None = None,
    notes: Sequence[str] = (),
) -> list[RunStatus]:
    """Execute every planned run, `workers` at a time (local processes; Ray with `options`), and return
    each run's final status. `watch(slots)` makes the watcher that follows the sweep; `on_note` gets the
    sweep's notes (why a run restarts, the grace period of a second Ctrl-C). Ctrl-C stops the sweep the
    way `actbench sweep` does: the runs are asked to save and end `interrupted`; once this returns, Ctrl-C
    and SIGTERM are the caller's again. Writes sweep.yaml first (`write_manifest`: a folder that holds
    another sweep is refused, RunError, before any run starts); `notes` (why runs train alone) go to
    `on_note` once the plan is accepted."""
    check_workers(workers)
    if plan.base.run.tensorboard:  # refused before any run starts, not by every run's process
        require("tensorboard", "tensorboard")
    write_manifest(plan)  # a suite writes it first too, to name its task in a refusal: the same file
    for text in notes:
        (on_note or (lambda text: None))(text)
    with ExitStack() as stack:
        stack.enter_context(_signals_kept())
        launcher, slots = stack.enter_context(open_launcher(plan.sweep_dir, workers, options))
        watcher = watch(slots) if watch else None
        with watcher if watcher is not None else nullcontext():
            statuses = SL.execute(
                plan,
                slots,
                retry_failed,
                watcher.update if watcher is not None else None,
                SL.stop_requests(),  # a second Ctrl-C never leaves a worker behind
                launcher=launcher,
                on_note=on_note,
            )
    if watcher is not None:
        watcher.final(statuses)
    return statuses


def check_workers(workers: int | None) -> None:
    """`workers` from Python as the command's --workers (min 1): fewer leaves no worker slot, and the
    sweep would wait forever for one. None: the launcher's default."""
    if workers is not None and workers < 1:
        raise UserError(f"workers: {workers} is not allowed (at least 1 run at a time; None: the default)")


@contextmanager
def _signals_kept() -> Iterator[None]:
    """The SIGINT/SIGTERM handlers as they were, put back afterwards (`stop_requests` replaces them)."""
    kept = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in kept.items():
            # None: not set from Python, nothing to put back; another thread set none (stop_requests)
            if handler is not None and threading.current_thread() is threading.main_thread():
                signal.signal(sig, handler)


def sweep_outcome(statuses: list[RunStatus]) -> str:
    """completed | failed | interrupted (a run interrupted or never started: re-run to continue)."""
    return outcome(statuses)
