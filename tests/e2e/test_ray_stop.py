"""Issue 37, class 7 on Ray: the sweep driver never exits while a run it started is alive. After a second
Ctrl-C it waits the grace period it names (the sweep loop shared with the local launcher), then has Ray
kill the task's worker, and with it the run's process.

The cluster test is skipped when Ray is not installed, as tests/sweep/test_ray.py (whose pattern it
follows: a real cluster on this machine, the driver run as a user runs it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from actbench import runs
from actbench.sweep import local as SL
from actbench.sweep import node as N
from actbench.sweep import plan as S
from actbench.sweep import ray as L
from tests.e2e.battery37 import sets
from tests.factories import REPO, tiny_config

NOTE = (
    "stopping: waiting up to {grace} s for 1 run process(es) to save and end, then killing them "
    "(Ctrl-C again: kill now)"
)


class _HungRay:
    """Just enough of `ray` for RayLauncher: the task never ends (its run ignores the stop) until
    ray.cancel(force=True) kills its worker; ray.get then raises as Ray does for a killed worker."""

    class exceptions:  # noqa: N801 - mirrors ray.exceptions
        RayError = type("RayError", (Exception,), {})
        WorkerCrashedError = type("WorkerCrashedError", (RayError,), {})
        TaskCancelledError = type("TaskCancelledError", (RayError,), {})
        RayTaskError = type("RayTaskError", (RayError,), {})

    def __init__(self) -> None:
        self.cancels: list[bool] = []  # force flag of each ray.cancel

    def remote(self, *args: Any) -> Any:
        return self if len(args) == 1 and callable(args[0]) else "ref"

    def options(self, **kw: Any) -> _HungRay:
        return self

    def wait(self, refs: list[Any], timeout: float = 0) -> tuple[list[Any], list[Any]]:
        return (refs, []) if True in self.cancels else ([], refs)

    def get(self, ref: Any) -> int:
        raise self.exceptions.WorkerCrashedError("the worker died")

    def cancel(self, ref: Any, force: bool = False) -> None:
        self.cancels.append(force)


def test_ray_run_ignoring_the_stop_is_killed_after_the_named_grace_period(tmp_path: Path) -> None:
    """RayLauncher had no `kill`: the sweep loop skipped it, and the driver waited on the hung run forever."""
    fake = _HungRay()
    launcher = L.RayLauncher(fake, L.RayOptions())
    plan = S.plan_sweep(tiny_config(), ["relu", "elu"], [0], {}, tmp_path / "sw")
    notes, calls = [], iter(range(2_000))  # 2,000 polls of 10 ms: far past the 0.3 s grace period

    def requests() -> int:  # Ctrl-C, then again: 0, 1, 2, 2, ...
        n = next(calls, None)
        assert n is not None, "the driver never killed the run that ignored the stop"
        return min(n, 2)

    statuses = SL.execute(
        plan, 1, should_stop=requests, poll_s=0.01, launcher=launcher, on_note=notes.append, grace_s=0.3
    )
    assert notes == [NOTE.format(grace="0.3")]
    assert fake.cancels[-1] is True  # the kill: Ray ends the task's worker process
    assert {s.name: s.state for s in statuses} == {"relu-s0": "interrupted", "elu-s0": "not started"}
    run_dir = plan.sweep_dir / "relu-s0"
    summary = runs.read_json(run_dir / runs.SUMMARY)
    assert summary["error"] == "killed 0.3 s after a second stop request; re-run the sweep to resume"
    ends = [r for r in N.read_attempts(run_dir) if r["event"] == "end"]
    assert [(r["outcome"], r["returncode"]) for r in ends] == [("killed after a second stop request", -9)]


# --- the same on a real cluster -----------------------------------------------------------------------


@pytest.fixture
def cluster() -> Iterator[Any]:
    pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    node = {"num_cpus": 1, "object_store_memory": 80 * 1024**2, "include_dashboard": False}
    c = Cluster(initialize_head=True, head_node_args=node)
    try:
        c.wait_for_nodes()
        yield c
    finally:
        c.shutdown()


def _alive(pid: int) -> bool:
    """Not a zombie either (a killed worker's orphan may wait for a reaper here)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def test_second_ctrl_c_kills_a_hung_ray_run_before_the_driver_exits(cluster: Any, tmp_path: Path) -> None:
    """A run stuck where a forwarded SIGINT cannot reach it (stopped with SIGSTOP: a hung process): the
    driver names the grace period, stays, and on the next Ctrl-C (kill now, the same path as the end of
    the grace period) has Ray kill the task; it exits only once the run's process is gone."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    out, run_dir = tmp_path / "out", tmp_path / "out" / "sw" / "relu-s0"
    options = sets("train.epochs=500", "data.train_size=100", "data.val_size=20", "data.test_size=20")
    cmd = [sys.executable, "-m", "actbench", "sweep", "--acts", "relu", "--out", str(out), "--name", "sw"]
    cmd += ["--launcher", "ray", "--address", cluster.address, "--log-format", "text", *options]
    out.mkdir()
    log_path = out / "driver.log"
    with open(log_path, "wb") as log:
        driver = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    pid = None
    try:
        t0 = time.monotonic()
        while not ((run_dir / runs.CKPT_LAST).exists() and runs.is_locked(run_dir)):  # trains on Ray
            assert driver.poll() is None and time.monotonic() - t0 < 180, log_path.read_text()
            time.sleep(0.2)
        pid = int((run_dir / runs.LOCK).read_text().split()[0])
        os.kill(pid, signal.SIGSTOP)
        driver.send_signal(signal.SIGINT)
        time.sleep(1.0)
        driver.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        while NOTE.format(grace="30") not in log_path.read_text():
            assert driver.poll() is None and time.monotonic() - t0 < 60, log_path.read_text()
            time.sleep(0.2)
        time.sleep(2.0)
        assert driver.poll() is None and _alive(pid)  # the driver stays while its run lives
        driver.send_signal(signal.SIGINT)  # kill now
        assert driver.wait(timeout=120) == 130, log_path.read_text()
        assert not _alive(pid) and not runs.is_locked(run_dir), log_path.read_text()
        summary = runs.read_json(run_dir / runs.SUMMARY)
        assert summary["status"] == runs.INTERRUPTED, summary
        assert summary["error"].startswith("killed 30 s after a second stop request"), summary
        assert runs.load_checkpoint(run_dir / runs.CKPT_LAST)["epoch"] >= 1  # the next sweep resumes it
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
        if pid is not None and _alive(pid):  # the run a failed driver left behind: end it by its id
            os.kill(pid, signal.SIGKILL)
