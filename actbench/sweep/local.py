"""Running a sweep's plan on this machine: one child process per run (or per pack) in N worker slots, and
the loop every launcher shares (claims, prepare, start, reap, stop) so skip/resume/retry mean the same
locally and on Ray (`actbench.sweep.ray`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from actbench import runs
from actbench.sweep.plan import Plan, RunSpec
from actbench.sweep.state import (
    LOG,
    Claim,
    RunStatus,
    State,
    epochs_done,
    note_in_log,
    pack_crashed,
    prepare,
    record_crash,
    run_state,
    skips,
    status_state,
    try_claim,
)

# --- starting a run's process -----------------------------------------------------------------------


def worker_env(slot: int, workers: int, gpus: int, cpu_count: int, threads: int = 0) -> dict[str, str]:
    """Environment of the process in worker `slot`: one GPU per worker (round robin), CPU threads split
    unless the run sets `train.threads` (`threads`)."""
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(threads or max(1, cpu_count // workers))
    if gpus > 0:
        env["CUDA_VISIBLE_DEVICES"] = gpu_of(slot, gpus)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_threads(run_dir: Path) -> int:
    """`train.threads` of a prepared run folder (0: not set, the worker's share of the CPUs applies)."""
    try:
        raw = yaml.safe_load((run_dir / runs.CONFIG).read_text(encoding="utf-8"))
        return int(raw["train"].get("threads") or 0)
    except (OSError, yaml.YAMLError, TypeError, KeyError, ValueError, AttributeError):
        return 0


def gpu_of(slot: int, gpus: int) -> str:
    """CUDA_VISIBLE_DEVICES of worker `slot`: round robin over ACTBENCH_GPU_LIST, else 0..gpus-1."""
    return os.environ.get("ACTBENCH_GPU_LIST", ",".join(map(str, range(gpus)))).split(",")[slot % gpus]


def launch(
    run_dir: Path,
    env: dict[str, str],
    preexec_fn: Callable[[], Any] | None = None,
    members: list[Path] | None = None,
) -> subprocess.Popen[bytes]:
    log = open(run_dir / LOG, "ab")  # noqa: SIM115 - owned by the child process
    cmd = [sys.executable, "-m", "actbench", "train", "--resume", str(run_dir), "--no-progress"]
    if members:  # a pack: one process trains them all (its own output goes to the first one's log)
        cmd = [sys.executable, "-m", "actbench", "train-pack", *map(str, members), "--quiet"]
    # A new session: a terminal Ctrl-C reaches only the sweep process, which forwards exactly one SIGINT.
    return subprocess.Popen(
        cmd,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
        preexec_fn=preexec_fn,
    )


def count_gpus() -> int:
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return 0
    try:
        import torch

        return torch.cuda.device_count()
    except Exception:  # noqa: BLE001 - no usable CUDA means CPU workers
        return 0


# --- launchers --------------------------------------------------------------------------------------


class Launcher(Protocol):
    """Starts and watches the process of one prepared, claimed run; the sweep loop around it (claims,
    prepare, reaping, stop) is shared, so every launcher has the same skip/resume/retry semantics."""

    def start(self, run_dir: Path, slot: int) -> Any: ...

    def start_pack(self, run_dirs: list[Path], slot: int) -> Any: ...  # one process for a whole pack

    def poll(self, handle: Any) -> int | None: ...  # exit code once the run's process ended, else None

    def stop(self, handle: Any) -> None: ...  # ask the run to save and end `interrupted`

    def kill(self, handle: Any) -> None: ...  # end it now: it did not stop within the grace period


@dataclass
class LocalLauncher:
    """Each run in a child process of this machine (`workers` slots: GPUs round robin, threads split)."""

    workers: int
    gpus: int = field(default_factory=count_gpus)
    cpus: int = field(default_factory=lambda: os.cpu_count() or 1)
    threads: dict[int, int] = field(default_factory=dict)  # process id -> the run's train.threads

    def start(self, run_dir: Path, slot: int) -> subprocess.Popen[bytes]:
        return self.start_pack([run_dir], slot)

    def start_pack(self, run_dirs: list[Path], slot: int) -> subprocess.Popen[bytes]:
        threads = run_threads(run_dirs[0])  # equal within a pack (pack.model.pack_key)
        env = worker_env(slot, self.workers, self.gpus, self.cpus, threads)
        handle = launch(run_dirs[0], env, members=run_dirs if len(run_dirs) > 1 else None)
        self.threads[handle.pid] = threads
        return handle

    def poll(self, handle: subprocess.Popen[bytes]) -> int | None:
        return handle.poll()

    def stop(self, handle: subprocess.Popen[bytes]) -> None:
        handle.send_signal(2)  # SIGINT: the run saves and marks itself interrupted

    def kill(self, handle: subprocess.Popen[bytes]) -> None:
        """The process did not stop within the grace period: end it now (its last checkpoint stands)."""
        if handle.poll() is None:
            handle.kill()

    def where(self, handle: subprocess.Popen[bytes], slot: int) -> str:
        """Where the run trains, for progress logs: `worker 2/4, GPU 1` or `worker 1/2, cpu, 1 thread`."""
        threads = self.threads.get(getattr(handle, "pid", -1)) or max(1, self.cpus // self.workers)
        cpu = f"cpu, {threads} thread{'s' if threads > 1 else ''}"
        device = f"GPU {gpu_of(slot, self.gpus)}" if self.gpus > 0 else cpu
        return f"worker {slot + 1}/{self.workers}, {device}"


# --- execution --------------------------------------------------------------------------------------

# After a second stop request (Ctrl-C): how long the driver waits for its runs to save and end before it
# kills them. The driver never exits while a process it started is alive.
KILL_GRACE_S = 30.0


def stop_requests() -> Callable[[], int]:
    """The number of SIGINT/SIGTERM received so far, for a sweep driver. Unlike a lone run's
    `training.loop.stop_on_signals`, a second Ctrl-C never raises here: the driver must stay to stop (and
    if need be kill) the runs it started, whose processes are in their own sessions and never see it."""
    import signal
    import threading

    state = {"n": 0}
    if threading.current_thread() is not threading.main_thread():  # only the main thread gets signals
        return lambda: state["n"]

    def handler(signum: int, frame: Any) -> None:
        state["n"] += 1

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return lambda: state["n"]


@dataclass
class _Active:
    handle: Any  # the launcher's handle of the process (one run, or one pack of runs)
    claims: list[Claim]
    slot: int


def execute(
    plan: Plan,
    workers: int = 1,
    retry_failed: bool = False,
    on_update: Callable[[list[RunStatus]], None] | None = None,
    should_stop: Callable[[], bool | int] = lambda: False,
    poll_s: float = 0.5,
    launcher: Launcher | None = None,
    on_note: Callable[[str], None] | None = None,
    grace_s: float = KILL_GRACE_S,
) -> list[RunStatus]:
    """Run every planned run, up to `workers` processes at a time (local by default); each process
    trains one run, or one pack of `plan.packs` (actbench.pack.train).

    `should_stop`: true (or the number of stop requests, `stop_requests`) once a stop was asked for: every
    active run is asked to save and end `interrupted`, none is started. A second request starts `grace_s`
    of waiting (said through `on_note`), after which (or at a third request) the runs still alive are
    killed and left `interrupted`; this returns only once every process it started has ended."""
    from actbench.pack.plan import units

    statuses = {r.name: RunStatus(r.name, total=r.config.train.epochs) for r in plan.runs}
    unfinished = (_unfinished(plan, unit, statuses, retry_failed) for unit in units(plan.runs, plan.packs))
    pending = [unit for unit in unfinished if unit]
    if on_update and not pending:  # every run finished before: the skips are all there is to tell
        on_update(list(statuses.values()))
    active: dict[str, _Active] = {}
    free = list(range(workers))
    launcher = launcher or LocalLauncher(workers)
    stopping, deadline, killed = False, None, set()
    note = on_note or (lambda text: None)
    while pending or active:
        requests = int(should_stop())
        if requests and not stopping:
            stopping = True
            for a in active.values():
                launcher.stop(a.handle)  # each run saves and marks itself interrupted
        if requests >= 2 and deadline is None and active:
            deadline = time.monotonic() + grace_s
            note(
                f"stopping: waiting up to {grace_s:g} s for {len(active)} run process(es) to save and end, "
                "then killing them (Ctrl-C again: kill now)"
            )
        if deadline is not None and (requests >= 3 or time.monotonic() >= deadline):
            for key, a in active.items():
                if key not in killed:  # every launcher kills (Protocol): never wait on a hung run forever
                    killed.add(key)
                    launcher.kill(a.handle)
        busy = []  # claimed by another sweep process, or locked by another process: wait, then see
        while pending and free and not stopping:
            unit = pending.pop(0)
            _start(plan, unit, statuses, free, active, retry_failed, launcher)
            waiting = [spec for spec in unit if statuses[spec.name].state == State.BUSY]
            if waiting:
                busy.append(waiting)
        pending += busy
        where = getattr(launcher, "where", None)
        for key, a in list(active.items()):
            for c in a.claims:
                statuses[c.run_dir.name].epochs = epochs_done(c.run_dir)
                statuses[c.run_dir.name].where = where(a.handle, a.slot) if where else ""
            returncode = launcher.poll(a.handle)
            if returncode is not None:
                for c in a.claims:
                    if key in killed:  # stopped by the user, not a fault of the run: it resumes
                        why = f"killed {grace_s:g} s after a second stop request; re-run the sweep to resume"
                        runs.settle_status(c.run_dir, runs.INTERRUPTED, why)
                    elif stopping and returncode != 0:  # the stop came before it could save (starting up)
                        why = f"stopped by the sweep (exit code {returncode}); re-run the sweep to resume"
                        runs.settle_status(c.run_dir, runs.INTERRUPTED, why)
                    _reap(c, statuses[c.run_dir.name], returncode, packed=len(a.claims) > 1)
                free.append(a.slot)
                del active[key]
                if len(a.claims) > 1 and not stopping:
                    pending[:0] = _alone_after_crash(plan, [c.run_dir for c in a.claims])
        if stopping:
            for spec in (spec for unit in pending for spec in unit):
                statuses[spec.name].state = State.NOT_STARTED
            pending = []
        if on_update:
            on_update(list(statuses.values()))
        if active or busy:
            time.sleep(poll_s)
    return list(statuses.values())


def _unfinished(
    plan: Plan, unit: list[RunSpec], statuses: dict[str, RunStatus], retry_failed: bool
) -> list[RunSpec]:
    """The unit's runs that may need training. Those a sweep leaves alone (`prepare` would skip them) are
    marked skipped before any run starts, so the first tally counts them done with their epochs, not
    pending behind the runs that train; `_start` decides again, claim held, for the others. A run left
    to resume from a checkpoint waits with the epochs it has: done before this sweep, not counted as
    trained by it (the ETA's pace) when its turn comes."""
    left = []
    for spec in unit:
        run_dir, status = plan.sweep_dir / spec.name, statuses[spec.name]
        claim = try_claim(run_dir) if (run_dir / runs.CONFIG).exists() else None  # a new run never skips
        if claim is not None and skips(state := run_state(run_dir), retry_failed):
            status.state, status.reason, status.action = State.SKIPPED, str(state), "skip"
            status.epochs = epochs_done(run_dir)
        else:
            resumes = any((run_dir / n).exists() for n in runs.CKPT_FILES.values())  # else from scratch
            status.epochs = epochs_done(run_dir) if resumes else 0
            left.append(spec)
        if claim is not None:
            claim.release()
    return left


def _start(
    plan: Plan,
    unit: list[RunSpec],
    statuses: dict[str, RunStatus],
    free: list[int],
    active: dict[str, _Active],
    retry_failed: bool,
    launcher: Launcher,
) -> None:
    """Claim and prepare the unit's runs; start one process for those that need training."""
    claims = []
    for spec in unit:
        run_dir, status = plan.sweep_dir / spec.name, statuses[spec.name]
        claim = try_claim(run_dir)
        if claim is None:
            status.state = State.BUSY  # another sweep process claimed it (shown as such while we wait)
            continue
        action = prepare(spec, run_dir, retry_failed)
        if action == "wait":  # another process trains it: wait as for a run another sweep claimed
            status.state = State.BUSY
            claim.release()
            continue
        status.action = action
        if action == "skip":
            status.state, status.reason = State.SKIPPED, str(run_state(run_dir))
            status.epochs = epochs_done(run_dir)
            claim.release()
            continue
        claims.append(claim)
    if not claims:
        return
    slot = free.pop(0)
    dirs = [c.run_dir for c in claims]
    handle = launcher.start(dirs[0], slot) if len(dirs) == 1 else launcher.start_pack(dirs, slot)
    active[dirs[0].name] = _Active(handle, claims, slot)
    for d in dirs:
        statuses[d.name].state = State.RUNNING


def _reap(claim: Claim, status: RunStatus, returncode: int, packed: bool = False) -> None:
    if returncode != 0:
        record_crash(claim.run_dir, returncode, packed)
    status.state = status_state(runs.read_status(claim.run_dir) or runs.FAILED)
    claim.release()


def _alone_after_crash(plan: Plan, run_dirs: list[Path]) -> list[list[RunSpec]]:
    """Units of one run for the members a pack crash left interrupted: each resumes on its own, so only
    a run that also fails alone ends `failed`."""
    specs = {r.name: r for r in plan.runs}
    crashed = [d for d in run_dirs if d.name in specs and pack_crashed(d)]
    for d in crashed:
        note_in_log(d, "its pack crashed (see above); resuming it alone from its checkpoint")
    return [[specs[d.name]] for d in crashed]
