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
