"""Sweep launchers beyond the local one: each run of a sweep as a Ray task on a cluster.

The sweep loop (`local.execute`) stays the same for every launcher: this driver claims each run
(claim.lock), prepares its folder (`state.prepare`) and reaps it, so skip/resume/retry semantics are
shared and a sweep started with one launcher can be finished with another. Only starting and watching
the run's process differs: a Ray task on some node runs the same `python -m actbench train --resume
RUN_DIR` as the local launcher, so a retry resumes from the last checkpoint by itself.

What runs on the node (the task, the attempts log it writes, STOP) is `actbench.sweep.node`.

Ray is an optional dependency (`pip install "actbench[ray]"`): it is imported only here, lazily.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actbench import runs
from actbench.config import ConfigError
from actbench.errors import not_allowed
from actbench.sweep import local, state
from actbench.sweep.node import STOP, append_attempt, attempt_started, read_attempts, read_token, run_task

LAUNCHERS = ("local", "ray")
PROBE_TIMEOUT_S = 120.0  # a busy node may need a while to start a worker for the shared-folder check
NodeProbe = Callable[[Path, str], list[tuple[str, str | None]]]  # (node, problem or None) per alive node


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None  # None: RAY_ADDRESS, a cluster running on this machine, or a new local one
    cpus_per_run: int = 1
    gpus_per_run: float = 0.0
    max_retries: int = 2  # resubmissions of a run whose worker or node was lost


def ray_options(
    kind: str,
    address: str | None,
    cpus_per_run: int | None,
    gpus_per_run: float | None,
    max_retries: int | None,
) -> RayOptions | None:
    """Check --launcher and the Ray-only options; None means the local launcher."""
    if kind not in LAUNCHERS:
        raise not_allowed("--launcher", kind, LAUNCHERS, cls=ConfigError)
    given: dict[str, Any] = {
        k: v
        for k, v in dict(
            address=address, cpus_per_run=cpus_per_run, gpus_per_run=gpus_per_run, max_retries=max_retries
        ).items()
        if v is not None
    }
    if kind == "local":
        if given:
            raise ConfigError(f"--{next(iter(given)).replace('_', '-')} applies only with --launcher ray")
        return None
    return RayOptions(**given)


@contextlib.contextmanager
def open_launcher(
    sweep_dir: Path, workers: int | None, options: RayOptions | None
) -> Iterator[tuple[local.Launcher, int]]:
    """The launcher (local when `options` is None) and how many runs it keeps in flight; Ray is shut
    down afterwards."""
    if options is None:
        yield local.LocalLauncher(workers or 1), workers or 1
        return
    ray = import_ray()
    connect(ray, options.address)
    try:
        check_shared_fs(sweep_dir, ray_probe(ray))
        slots = workers or capacity([n for n in ray.nodes() if n["Alive"]], options)
        yield RayLauncher(ray, options), slots
    finally:
        ray.shutdown()


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise runs.RunError(
            '--launcher ray needs Ray here and on every node: pip install "actbench[ray]"'
        ) from None
    return ray


def connect(ray: Any, address: str | None) -> None:
    check_reachable(address)
    # The driver's display owns the terminal: no task output or INFO lines from Ray on it.
    try:
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = address or "RAY_ADDRESS / a new local cluster"
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise runs.RunError(f"--address {where}: cannot connect to a Ray cluster ({reason})") from None


def check_reachable(address: str | None, timeout_s: float = 10.0) -> None:
    """A HOST:PORT nobody listens on would make ray.init retry for minutes: fail at once instead."""
    if not address or address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except (OSError, ValueError) as exc:
        raise runs.RunError(
            f"--address {address}: no Ray head answers there ({exc}); start one with "
            "`ray start --head --port=6379`, or pass --address auto on a node of the cluster"
        ) from None


def capacity(nodes: list[dict[str, Any]], options: RayOptions) -> int:
    """Runs the alive nodes can hold at once; a run no node can hold is refused (Ray would wait forever)."""
    total = 0
    for node in nodes:
        res = node.get("Resources", {})
        fits = int(res.get("CPU", 0) // options.cpus_per_run)
        if options.gpus_per_run:
            fits = min(fits, int(res.get("GPU", 0) // options.gpus_per_run))
        total += fits
    if total == 0:
        raise runs.RunError(
            f"no node of the Ray cluster has {options.cpus_per_run} CPUs and {options.gpus_per_run:g} GPUs "
            "for one run (lower --cpus-per-run / --gpus-per-run, or add nodes)"
        )
    return total


# --- shared filesystem check ------------------------------------------------------------------------


def check_shared_fs(sweep_dir: Path, probe: NodeProbe) -> None:
    """Every node must see the sweep folder at the same path: write a token there, let each node read it."""
    folder = sweep_dir.resolve()
    runs.check_writable(folder)
    token = uuid.uuid4().hex
    path = folder / f".shared-check-{token}"
    runs.atomic_write_text(path, token)
    try:
        for node, problem in probe(path, token):
            if problem:
                raise runs.RunError(
                    f"--out {folder} is not shared with node {node}: it {problem}; put --out on a filesystem "
                    "every node mounts at the same path (NFS, Lustre, ...)"
                )
    finally:
        path.unlink(missing_ok=True)


def ray_probe(ray: Any) -> NodeProbe:
    """Run `read_token` once on every alive node (pinned there, no CPU reserved)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    def probe(path: Path, token: str) -> list[tuple[str, str | None]]:
        nodes = [n for n in ray.nodes() if n["Alive"]]
        task = ray.remote(read_token)
        refs = [
            task.options(
                num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)
            ).remote(str(path), token)
            for n in nodes
        ]
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=PROBE_TIMEOUT_S)
        late = f"did not answer within {PROBE_TIMEOUT_S:.0f}s"
        return [(node_label(n), ray.get(r) if r in ready else late) for n, r in zip(nodes, refs, strict=True)]

    return probe


def node_label(node: dict[str, Any]) -> str:
    return f"{node.get('NodeManagerAddress', '?')} ({node['NodeID'][:12]})"


# --- the driver side --------------------------------------------------------------------------------


@dataclass
class RayRun:
    """The launcher's handle of one run: its current attempt's task and the retries left."""

    run_dir: Path
    attempt: int
    retries_left: int
    ref: Any = None
    stopping: bool = False
    killed: bool = False  # ended by `kill` after the grace period of a second stop request
    members: list[Path] | None = None  # a pack (run_dir is its first member), trained by one task

    @property
    def dirs(self) -> list[Path]:
        return self.members or [self.run_dir]


class RayLauncher:
    """Each run as one Ray task with --cpus-per-run/--gpus-per-run; a lost worker or node is resubmitted
    (Ray schedules it on a live node) up to --max-retries times, resuming from the last checkpoint."""

    def __init__(self, ray: Any, options: RayOptions):
        self.ray, self.options = ray, options
        # Ray's own retries stay off: each resubmission is counted and logged in the run folder here.
        self.task = ray.remote(run_task).options(
            num_cpus=options.cpus_per_run, num_gpus=options.gpus_per_run, max_retries=0
        )

    def start(self, run_dir: Path, slot: int) -> RayRun:
        run_dir = run_dir.resolve()  # the nodes' working folders differ from the driver's
        (run_dir / STOP).unlink(missing_ok=True)
        last = max((int(r.get("attempt", 0)) for r in read_attempts(run_dir)), default=0)
        run = RayRun(run_dir, last, self.options.max_retries)
        self._submit(run)
        return run

    def where(self, run: RayRun, slot: int) -> str:
        """Where the run trains, for the driver's log: `node HOST (IP), attempt N` once its task has
        started on a node (attempts.jsonl), `queued on Ray, attempt N` before."""
        start = [
            r
            for r in read_attempts(run.run_dir)
            if r.get("attempt") == run.attempt and r.get("event") == "start"
        ]
        if not start:
            return f"queued on Ray, attempt {run.attempt}"
        return f"node {start[-1].get('host')} ({start[-1].get('node_ip')}), attempt {run.attempt}"

    def start_pack(self, run_dirs: list[Path], slot: int) -> RayRun:
        """A pack is one task (with the resources of one run): one process trains all its members."""
        dirs = [d.resolve() for d in run_dirs]
        (dirs[0] / STOP).unlink(missing_ok=True)
        last = max((int(r.get("attempt", 0)) for d in dirs for r in read_attempts(d)), default=0)
        run = RayRun(dirs[0], last, self.options.max_retries, members=dirs)
        self._submit(run)
        return run

    def _submit(self, run: RayRun) -> None:
        run.attempt += 1
        pack = [[str(d) for d in run.members]] if run.members else []
        run.ref = self.task.remote(str(run.run_dir), run.attempt, max(1, self.options.cpus_per_run), *pack)

    def stop(self, run: RayRun) -> None:
        run.stopping = True
        runs.atomic_write_text(run.run_dir / STOP, runs.now() + "\n")  # the task forwards SIGINT
        if not attempt_started(run.run_dir, run.attempt):
            self.ray.cancel(run.ref)  # still queued: it never starts

    def kill(self, run: RayRun) -> None:
        """The run did not end within the grace period after a second stop request (a hung process, a
        task stuck forwarding the stop): Ray kills the task's worker process, and the run's process dies
        with it (PR_SET_PDEATHSIG, `node.child_setup`). Its last checkpoint stands; `poll` still waits
        until run.lock is free, so the driver never exits while that process lives."""
        run.killed = True
        self.ray.cancel(run.ref, force=True)

    def poll(self, run: RayRun) -> int | None:
        if not self.ray.wait([run.ref], timeout=0)[0]:
            return None
        kind, code, detail = self._outcome(run)
        if kind == "lost" and not run.stopping and run.retries_left > 0:
            self._record(run, f"{detail}, retrying", None)
            run.retries_left -= 1
            self._submit(run)
            return None
        if run.stopping:
            if any(runs.is_locked(d) for d in run.dirs):  # the run is still saving (or dying)
                return None
            if run.killed and kind != "exit":  # as a killed local process: the sweep loop says why
                detail, code = "killed after a second stop request", -signal.SIGKILL
            else:
                code = max(settle_stopped(d) for d in run.dirs)
        elif kind != "exit":
            for d in run.dirs:
                state.note_in_log(d, f"{detail} on attempt {run.attempt}; no retries left")
            code = 1  # the sweep loop marks the run failed with that line
        self._record(run, detail, code)
        (run.run_dir / STOP).unlink(missing_ok=True)
        return code

    def _outcome(self, run: RayRun) -> tuple[str, int | None, str]:
        """(exit | cancelled | error | lost, exit code, what happened) of a finished task."""
        errors = self.ray.exceptions
        try:
            code = int(self.ray.get(run.ref))
            return "exit", code, f"exit code {code}"
        except errors.TaskCancelledError:
            return "cancelled", None, "cancelled before it started"
        except errors.RayTaskError as exc:  # the task itself raised: a bug or an unreadable folder
            return "error", None, f"task error: {str(exc).strip().splitlines()[-1][:300]}"
        except errors.RayError as exc:  # the worker process or its whole node is gone
            return "lost", None, f"worker lost ({type(exc).__name__})"

    def _record(self, run: RayRun, outcome: str, code: int | None) -> None:
        record = {"attempt": run.attempt, "event": "end", "outcome": outcome, "returncode": code}
        for d in run.dirs:
            append_attempt(d, {**record, "time": runs.now()})


def settle_stopped(run_dir: Path) -> int:
    """After Ctrl-C, a run that did not get to train (still queued, or its process never started) is
    `interrupted`, like the ones that were stopped while training: re-running the sweep continues it."""
    status = runs.settle_status(run_dir, runs.INTERRUPTED, "stopped before it trained")
    return {runs.COMPLETED: 0, runs.INTERRUPTED: 130}.get(status, 1)
