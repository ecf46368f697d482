"""Launcher logic that needs no cluster: option checks, the shared-folder refusal, retry bookkeeping.

The real multi-node runs are in test_ray.py (skipped when Ray is not installed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from actbench import runs
from actbench.config import ConfigError
from actbench.sweep import local as SL
from actbench.sweep import node as N
from actbench.sweep import plan as S
from actbench.sweep import ray as L
from actbench.sweep import state as SST
from tests.factories import tiny_config


def test_launcher_options_are_checked() -> None:
    assert L.ray_options("local", None, None, None, None) is None
    assert L.ray_options("ray", "auto", 2, None, 0) == L.RayOptions("auto", 2, 0.0, 0)
    with pytest.raises(ConfigError, match="--launcher: 'slurm' is not allowed"):
        L.ray_options("slurm", None, None, None, None)
    with pytest.raises(ConfigError, match="--gpus-per-run applies only with --launcher ray"):
        L.ray_options("local", None, None, 1, None)


def test_shared_fs_check_refuses_a_node_that_cannot_see_out(tmp_path: Path) -> None:
    def probe(path: Path, token: str) -> list[tuple[str, str | None]]:
        here = N.read_token(str(path), token)  # this machine sees it...
        elsewhere = N.read_token(str(tmp_path / "not-mounted" / path.name), token, wait_s=0)  # ...node B not
        return [("10.0.0.1 (aaaa)", here), ("10.0.0.2 (bbbb)", elsewhere)]

    with pytest.raises(runs.RunError) as exc:
        L.check_shared_fs(tmp_path / "sw", probe)
    msg = str(exc.value)
    assert f"--out {tmp_path / 'sw'} is not shared with node 10.0.0.2 (bbbb)" in msg
    assert "has no folder" in msg and "\n" not in msg
    assert not list((tmp_path / "sw").glob(".shared-check-*"))  # the token never stays behind


def test_shared_fs_check_passes_and_spots_another_filesystem(tmp_path: Path) -> None:
    L.check_shared_fs(tmp_path / "sw", lambda path, token: [("n1", N.read_token(str(path), token))])
    assert not list((tmp_path / "sw").glob(".shared-check-*"))
    (tmp_path / "tok").write_text("someone else's")
    assert "sees a different" in (N.read_token(str(tmp_path / "tok"), "mine", wait_s=0) or "")


def test_capacity_refuses_runs_no_node_can_hold() -> None:
    nodes = [{"Resources": {"CPU": 4.0}}, {"Resources": {"CPU": 8.0, "GPU": 2.0}}]
    assert L.capacity(nodes, L.RayOptions(cpus_per_run=2)) == 2 + 4
    assert L.capacity(nodes, L.RayOptions(cpus_per_run=1, gpus_per_run=1)) == 2
    with pytest.raises(runs.RunError, match="no node of the Ray cluster has 16 CPUs"):
        L.capacity(nodes, L.RayOptions(cpus_per_run=16))


class _Lost(Exception):
    """Stands in for ray.exceptions.NodeDiedError."""


class _FakeRay:
    """Just enough of `ray` for RayLauncher: every task 'loses its worker' at once."""

    class exceptions:  # noqa: N801 - mirrors ray.exceptions
        RayError = Exception
        TaskCancelledError = type("TaskCancelledError", (Exception,), {})
        RayTaskError = type("RayTaskError", (Exception,), {})

    def __init__(self) -> None:
        self.submitted: list[tuple[Any, ...]] = []

    def remote(self, *args: Any) -> Any:
        if len(args) == 1 and callable(args[0]):  # ray.remote(run_task)
            return self
        self.submitted.append(args)  # task.remote(run_dir, attempt, threads)
        return len(self.submitted)

    def options(self, **kw: Any) -> _FakeRay:
        return self

    def wait(self, refs: list[Any], timeout: float = 0) -> tuple[list[Any], list[Any]]:
        return refs, []

    def get(self, ref: Any) -> int:
        raise _Lost("node died")

    def cancel(self, ref: Any) -> None:
        pass


def test_lost_workers_are_retried_a_bounded_number_of_times(tmp_path: Path) -> None:
    fake = _FakeRay()
    launcher = L.RayLauncher(fake, L.RayOptions(cpus_per_run=2, max_retries=2))
    plan = S.plan_sweep(tiny_config(), ["relu"], [0], {}, tmp_path / "sw")
    [status] = SL.execute(plan, workers=1, poll_s=0.01, launcher=launcher)
    run_dir = plan.sweep_dir / "relu-s0"
    assert [a for _, a, _ in fake.submitted] == [1, 2, 3]  # first try + 2 retries
    assert {t for _, _, t in fake.submitted} == {2}  # threads follow --cpus-per-run
    ends = [r for r in N.read_attempts(run_dir) if r["event"] == "end"]
    assert [r["outcome"] for r in ends] == ["worker lost (_Lost), retrying"] * 2 + ["worker lost (_Lost)"]
    assert status.state == "failed" == runs.read_status(run_dir)
    assert "no retries left" in runs.read_json(run_dir / runs.SUMMARY)["error"]


def test_run_stopped_before_it_trained_is_interrupted_not_failed(tmp_path: Path) -> None:
    plan = S.plan_sweep(tiny_config(), ["relu"], [0], {}, tmp_path / "sw")
    run_dir = plan.sweep_dir / "relu-s0"
    run_dir.mkdir(parents=True)
    assert SST.prepare(plan.runs[0], run_dir, retry_failed=False) == "start"
    assert L.settle_stopped(run_dir) == 130
    assert runs.read_status(run_dir) == "interrupted"
    assert SST.prepare(plan.runs[0], run_dir, retry_failed=False) == "resume"  # the next sweep continues it


def test_ray_driver_log_names_the_node_of_each_attempt(tmp_path: Path) -> None:
    launcher = L.RayLauncher(_FakeRay(), L.RayOptions())
    (tmp_path / "relu-s0").mkdir()
    run = launcher.start(tmp_path / "relu-s0", 0)
    assert launcher.where(run, 0) == "queued on Ray, attempt 1"
    N.append_attempt(run.run_dir, {"attempt": 1, "event": "start", "host": "gpu07", "node_ip": "10.0.0.7"})
    assert launcher.where(run, 0) == "node gpu07 (10.0.0.7), attempt 1"


def test_a_pack_is_one_ray_task_with_every_member_recorded(tmp_path: Path) -> None:
    fake = _FakeRay()
    launcher = L.RayLauncher(fake, L.RayOptions(max_retries=1))
    plan = S.plan_sweep(tiny_config(), ["relu", "elu"], [0], {}, tmp_path / "sw")
    plan.packs = [["relu-s0", "elu-s0"]]
    statuses = SL.execute(plan, workers=1, poll_s=0.01, launcher=launcher)
    dirs = [str((plan.sweep_dir / n).resolve()) for n in ("relu-s0", "elu-s0")]
    assert fake.submitted == [(dirs[0], 1, 1, dirs), (dirs[0], 2, 1, dirs)]
    for status, d in zip(statuses, dirs, strict=True):
        ends = [r["outcome"] for r in N.read_attempts(Path(d)) if r["event"] == "end"]
        assert ends == ["worker lost (_Lost), retrying", "worker lost (_Lost)"]
        # a pack's lost worker is no member's fault: resumable, not failed (issue 24)
        assert status.state == "interrupted" == runs.read_status(Path(d))


class _Recording:
    """A launcher that records what it starts and ends each run `completed` at once (no training)."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def start(self, run_dir: Path, slot: int) -> Path:
        self.started.append(run_dir.name)
        runs.settle_status(run_dir, runs.COMPLETED, "")
        return run_dir

    def start_pack(self, run_dirs: list[Path], slot: int) -> Path:
        raise AssertionError("no packs here")

    def poll(self, handle: Any) -> int | None:
        return 0

    def stop(self, handle: Any) -> None: ...

    def kill(self, handle: Any) -> None: ...


def test_a_run_another_process_trains_is_waited_for_not_failed(tmp_path: Path) -> None:
    """A run whose lock a live process holds (`train --resume RUN` in another terminal) was skipped as
    "locked" and the whole sweep ended failed (exit 1) though the run was fine; now the sweep waits for it,
    as for a run another sweep process claimed, then sees what it left (here: completed, not trained
    again)."""
    import threading

    plan = S.plan_sweep(tiny_config(), ["relu", "elu"], [0], {}, tmp_path / "sw")
    held = plan.sweep_dir / "relu-s0"
    held.mkdir(parents=True)
    assert SST.prepare(plan.runs[0], held, retry_failed=False) == "start"  # its config.yaml, as a run has
    locked, release = threading.Event(), threading.Event()

    def outside_process() -> None:
        with runs.run_lock(held):
            locked.set()
            release.wait(5)
            runs.settle_status(held, runs.COMPLETED, "")

    t = threading.Thread(target=outside_process)
    t.start()
    locked.wait(5)
    assert SST.run_state(held) is SST.State.LOCKED
    threading.Timer(0.3, release.set).start()
    launcher = _Recording()
    statuses = SL.execute(plan, workers=1, poll_s=0.01, launcher=launcher)  # type: ignore[arg-type]
    t.join()
    assert launcher.started == ["elu-s0"]  # the held run was never started a second time
    assert {s.name: s.label for s in statuses} == {"relu-s0": "skipped (completed)", "elu-s0": "completed"}
    assert SST.outcome(statuses) == runs.COMPLETED
