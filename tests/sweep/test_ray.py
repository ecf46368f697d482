"""`actbench sweep --launcher ray` on a real two-node Ray cluster (a head and one worker node on this
machine, one CPU each), driven as a user would: `python -m actbench sweep ... --address HEAD`.

Skipped when Ray is not installed (`pip install -e ".[dev,ray]"`, as .ci/run does). One cluster serves
the whole module; the node-loss test removes its worker node, so it runs last.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from actbench import runs
from actbench.cli import app
from actbench.sweep import node as N
from tests.factories import TINY

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402 - only once Ray is known to be there

NODE = {"num_cpus": 1, "object_store_memory": 80 * 1024**2}
# Health checks every second: a killed node is noticed in ~5 s instead of Ray's default ~30 s.
HEALTH = {
    "health_check_period_ms": 1000,
    "health_check_failure_threshold": 5,
    "health_check_timeout_ms": 1000,
}
RUNS = ("relu-s0", "exponential-s0")
runner = CliRunner()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    c = Cluster(
        initialize_head=True, head_node_args={**NODE, "include_dashboard": False, "_system_config": HEALTH}
    )
    try:
        c.add_node(**NODE)
        c.wait_for_nodes()
        yield c
    finally:
        c.shutdown()


@pytest.fixture
def drivers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Sweep driver processes of a test; one still alive when the test ends (a failure) is killed."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def _args(out: Path, *extra: str) -> list[str]:
    args = ["sweep", "--acts", "relu,exponential", "--seeds", "0", "--out", str(out), "--name", "sw"]
    for item in TINY:
        args += ["--set", item]
    return [*args, *extra]


def _start(drivers: list, cluster: Cluster, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    cmd = [
        sys.executable,
        "-m",
        "actbench",
        *_args(out, "--launcher", "ray", "--address", cluster.address, *extra),
    ]
    out.mkdir(parents=True, exist_ok=True)
    log = open(out / "driver.log", "wb")  # noqa: SIM115 - owned by the driver process
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    drivers.append(proc)
    return proc


def _finish(proc: subprocess.Popen[bytes], out: Path, timeout: float = 240) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"sweep driver timed out:\n{(out / 'driver.log').read_text(errors='replace')[-3000:]}")


def _wait_for(check: Callable[[], bool], proc: subprocess.Popen[bytes], out: Path, what: str) -> None:
    deadline = time.monotonic() + 120
    while not check():
        if proc.poll() is not None or time.monotonic() > deadline:
            log = (out / "driver.log").read_text(errors="replace")[-3000:]
            pytest.fail(f"never saw {what} (driver exit code {proc.poll()}):\n{log}")
        time.sleep(0.05)


def _epochs(run_dir: Path) -> list[int]:
    return [r["epoch"] for r in runs.read_metrics(run_dir)[0]]


def _log(out: Path) -> str:
    return (out / "driver.log").read_text(errors="replace")


def test_ray_sweep_matches_local_launcher(cluster: Cluster, tmp_path: Path, drivers: list) -> None:
    out = tmp_path / "ray"
    assert _finish(_start(drivers, cluster, out), out) == 0, _log(out)
    assert re.search(r"Z \S+ .*node \S+ \(\S+\), attempt 1", _log(out)), _log(out)  # which node runs what
    res = runner.invoke(app, _args(tmp_path / "local", "--workers", "2"))  # the local launcher, same seeds
    assert res.exit_code == 0, res.output
    nodes = set()
    for name in RUNS:
        ray_run, local_run = out / "sw" / name, tmp_path / "local" / "sw" / name
        assert runs.read_status(ray_run) == "completed"
        ray_recs, local_recs = runs.read_metrics(ray_run)[0], runs.read_metrics(local_run)[0]
        assert [r["epoch"] for r in ray_recs] == [r["epoch"] for r in local_recs] == [1, 2]
        for a, b in zip(ray_recs, local_recs, strict=True):
            for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
                assert a[key] == pytest.approx(b[key], rel=1e-6, abs=1e-9), (name, key)
        ray_sum, local_sum = (runs.read_json(d / runs.SUMMARY)["last"] for d in (ray_run, local_run))
        assert ray_sum["test_loss"] == pytest.approx(local_sum["test_loss"], rel=1e-6)
        attempts = N.read_attempts(ray_run)
        assert [(r["attempt"], r["event"]) for r in attempts] == [(1, "start"), (1, "end")]  # ran once
        assert attempts[1]["returncode"] == 0
        nodes.add(attempts[0]["node_id"])
    assert nodes == {n.node_id for n in cluster.list_all_nodes()}  # one run on each node
    # The folder is the source of truth: the local launcher finds nothing left to do in the Ray sweep.
    res = runner.invoke(app, _args(out))
    assert res.exit_code == 0 and res.output.count("skipped (completed)") == 2, res.output


def test_ctrl_c_interrupts_ray_runs_and_local_launcher_finishes(
    cluster: Cluster, tmp_path: Path, drivers: list
) -> None:
    out, epochs = tmp_path / "ray", 150
    proc = _start(drivers, cluster, out, "--set", f"train.epochs={epochs}")
    sweep_dir = out / "sw"
    _wait_for(lambda: all(_epochs(sweep_dir / n) for n in RUNS), proc, out, "both runs training")
    proc.send_signal(signal.SIGINT)
    assert _finish(proc, out) == 130, _log(out)
    states = {n: runs.read_status(sweep_dir / n) for n in RUNS}
    assert "interrupted" in states.values(), states
    for name in RUNS:
        run_dir = sweep_dir / name
        assert not runs.is_locked(run_dir) and not (run_dir / N.STOP).exists()
        if states[name] == "completed":  # a fast run may finish before the signal lands: then it is whole
            assert _epochs(run_dir) == list(range(1, epochs + 1))
        else:
            assert states[name] == "interrupted" and 1 <= len(_epochs(run_dir)) < epochs
    res = runner.invoke(app, _args(out, "--set", f"train.epochs={epochs}", "--workers", "2"))
    assert res.exit_code == 0, res.output
    for name in RUNS:
        assert runs.read_status(sweep_dir / name) == "completed"
        assert _epochs(sweep_dir / name) == list(range(1, epochs + 1))  # resumed: every epoch exactly once


def test_lost_worker_node_run_is_retried_from_checkpoint(
    cluster: Cluster, tmp_path: Path, drivers: list
) -> None:
    worker = next(iter(cluster.worker_nodes))
    out, epochs = tmp_path / "ray", 40
    proc = _start(drivers, cluster, out, "--set", f"train.epochs={epochs}", "--max-retries", "1")
    sweep_dir = out / "sw"

    def on_worker_and_training() -> bool:
        started = [
            n for n in RUNS for r in N.read_attempts(sweep_dir / n) if r.get("node_id") == worker.node_id
        ]
        return bool(started) and bool(_epochs(sweep_dir / started[0]))

    _wait_for(on_worker_and_training, proc, out, "a run training on the worker node")
    victim = next(
        n for n in RUNS for r in N.read_attempts(sweep_dir / n) if r.get("node_id") == worker.node_id
    )
    cluster.remove_node(worker, allow_graceful=False)  # the node dies with its worker and training process
    assert _finish(proc, out) == 0, _log(out)

    assert sorted(p.name for p in sweep_dir.iterdir() if p.is_dir()) == sorted(RUNS)
    for name in RUNS:
        assert runs.read_status(sweep_dir / name) == "completed"
        assert _epochs(sweep_dir / name) == list(range(1, epochs + 1))  # every epoch exactly once
    attempts = N.read_attempts(sweep_dir / victim)
    starts = [(r["attempt"], r["node_id"]) for r in attempts if r["event"] == "start"]
    assert starts == [(1, worker.node_id), (2, cluster.head_node.node_id)]  # retried on the other node
    ends = {r["attempt"]: r for r in attempts if r["event"] == "end"}
    assert ends[1]["outcome"].startswith("worker lost") and ends[2]["returncode"] == 0
    assert runs.read_json(sweep_dir / victim / runs.SUMMARY)["resumed_from"] >= 1  # from its checkpoint
