"""What runs on a cluster node for a Ray sweep (`actbench.sweep.ray` is the driver side): the Ray task
that trains one run (or one pack) in a child process as the local launcher does, the attempts log it
writes, and the shared-folder probe.

    <run>/attempts.jsonl   one line per attempt start (node id/ip, host, pid, time, written on the node)
                           and per outcome (written by the driver: exit code, or the worker/node lost)
    <run>/STOP             asks the task to forward one SIGINT to its run (Ctrl-C on the driver)

Ray itself is imported only inside `node_info` (the task runs in a Ray worker, where it is loaded).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actbench import runs
from actbench.sweep import local

ATTEMPTS, STOP = "attempts.jsonl", "STOP"
# A retry waits this long for run.lock of a lost attempt: on NFS the lock of a dead client is released
# only when its lease expires (about 90 s); locally the lost process is already gone.
LOCK_WAIT_S = 180.0


def read_token(path: str, token: str, wait_s: float = 5.0) -> str | None:
    """Runs on each node: None when the token is readable there and the folder writable, else the problem."""
    p = Path(path)
    deadline = time.monotonic() + wait_s
    while not p.is_file() and time.monotonic() < deadline:  # NFS may show a brand-new file a moment late
        time.sleep(0.5)
    if not p.parent.is_dir():
        return f"has no folder {p.parent}"
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        return f"cannot read {p} ({exc.strerror})"
    if text != token:
        return f"sees a different {p.name} (another filesystem at the same path)"
    if not os.access(p.parent, os.W_OK | os.X_OK):
        return f"cannot write to {p.parent}"
    return None


# --- attempts log -----------------------------------------------------------------------------------


def append_attempt(run_dir: Path, record: dict[str, Any]) -> None:
    runs.append_jsonl(run_dir / ATTEMPTS, record)


def read_attempts(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / ATTEMPTS
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            out.append(json.loads(line))
    return [r for r in out if isinstance(r, dict)]


def attempt_started(run_dir: Path, attempt: int) -> bool:
    return any(r.get("attempt") == attempt and r.get("event") == "start" for r in read_attempts(run_dir))


# --- the Ray task (runs on a cluster node) ----------------------------------------------------------


def run_task(run_dir: str, attempt: int, threads: int, members: list[str] | None = None) -> int:
    """Train one run (or, with `members`, one pack whose first member is `run_dir`) in a child process on
    this node, as the local launcher does; returns its exit code."""
    path, child = Path(run_dir), None
    dirs = [Path(m) for m in members] if members else [path]
    try:
        for d in dirs:
            append_attempt(d, {"attempt": attempt, "event": "start", **node_info(), "time": runs.now()})
        for d in dirs:
            wait_unlocked(d, LOCK_WAIT_S)
        if (path / STOP).exists():
            return 130
        if all(runs.read_status(d) == runs.COMPLETED for d in dirs):  # finished by a lost attempt's process
            return 0
        child = local.launch(
            path, child_env(threads), preexec_fn=child_setup(), members=dirs if members else None
        )
        while child.poll() is None:
            if (path / STOP).exists():
                return interrupt(child)
            time.sleep(0.5)
        return child.returncode
    except KeyboardInterrupt:  # ray.cancel(): stop like a Ctrl-C
        return 130 if child is None else interrupt(child)


def node_info() -> dict[str, Any]:
    import ray

    ctx = ray.get_runtime_context()
    ip = ray.util.get_node_ip_address()
    return {"node_id": ctx.get_node_id(), "node_ip": ip, "host": platform.node(), "pid": os.getpid()}


def wait_unlocked(run_dir: Path, timeout_s: float) -> None:
    """A retry must not race a process of the lost attempt that still holds run.lock."""
    deadline = time.monotonic() + timeout_s
    while runs.is_locked(run_dir) and time.monotonic() < deadline:
        time.sleep(1.0)


def child_env(threads: int) -> dict[str, str]:
    # Ray has already set CUDA_VISIBLE_DEVICES for the task's GPUs; threads follow --cpus-per-run.
    return {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}


def child_setup() -> Callable[[], None]:
    """What the forked child does before exec. Ray's worker thread blocks SIGINT and a child would inherit
    that mask (a forwarded Ctrl-C would never arrive): unblock it. And the run's process must not outlive
    its Ray worker (it would race the retry): Linux PDEATHSIG, which follows the forking thread; Ray runs
    a task on its worker's main thread."""
    prctl = None
    if sys.platform.startswith("linux"):
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before fork: nothing to load in the child

    def setup() -> None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, (signal.SIGINT, signal.SIGTERM))
        if prctl is not None:
            prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG

    return setup


def interrupt(child: subprocess.Popen[bytes]) -> int:
    """Forward exactly one SIGINT (a second one aborts the run without saving) and wait for the run."""
    if child.poll() is None and not getattr(child, "actbench_interrupted", False):
        child.actbench_interrupted = True  # type: ignore[attr-defined]
        child.send_signal(signal.SIGINT)
    return child.wait()
