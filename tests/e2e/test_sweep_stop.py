"""Issue 37, class 7: the sweep driver never exits while a worker it started is alive."""

from __future__ import annotations

from pathlib import Path

from actbench import runs
from tests.e2e.battery37 import sets
from tests.factories import REPO, tiny_config


def test_two_quick_ctrl_c_stop_the_worker_before_the_driver_exits(tmp_path: Path) -> None:
    """The second SIGINT 50 ms after the first (before the driver's loop saw the first) used to end the
    driver at once while its worker, in its own session, trained on to `completed` holding the lock."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    options = sets("train.epochs=500", "data.train_size=100", "data.val_size=20", "data.test_size=20")
    cmd = [
        sys.executable,
        "-m",
        "actbench",
        "sweep",
        "--acts",
        "relu",
        "--out",
        str(tmp_path),
        "--name",
        "sw",
    ]
    driver = subprocess.Popen(
        [*cmd, "--log-format", "text", *options],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    run_dir = tmp_path / "sw" / "relu-s0"
    try:
        t0 = time.monotonic()
        while not (runs.read_metrics(run_dir)[0] and runs.is_locked(run_dir)):  # the worker trains
            assert driver.poll() is None and time.monotonic() - t0 < 120, driver.stdout.read().decode()
            time.sleep(0.2)
        driver.send_signal(signal.SIGINT)
        time.sleep(0.05)
        driver.send_signal(signal.SIGINT)
        out, _ = driver.communicate(timeout=120)
        alive = runs.is_locked(run_dir)  # held by the worker's process while it lives
        assert not alive, out.decode()
        assert driver.returncode == 130, out.decode()
        assert runs.read_status(run_dir) == runs.INTERRUPTED, out.decode()
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
        if runs.is_locked(run_dir):  # the orphaned worker of a driver that left it: end it by its id
            pid = int((run_dir / runs.LOCK).read_text().split()[0])
            os.kill(pid, signal.SIGKILL)


class _Stubborn:
    """A launcher whose run ignores stop requests until killed."""

    def __init__(self) -> None:
        self.stopped, self.killed = 0, False

    def start(self, run_dir: Path, slot: int) -> Path:
        return run_dir

    def start_pack(self, run_dirs: list[Path], slot: int) -> Path:
        return run_dirs[0]

    def poll(self, handle: Path) -> int | None:
        return -9 if self.killed else None

    def stop(self, handle: Path) -> None:
        self.stopped += 1

    def kill(self, handle: Path) -> None:
        self.killed = True


def test_second_stop_kills_after_the_named_grace_period(tmp_path: Path) -> None:
    from actbench.sweep import local as SL
    from actbench.sweep import plan as S

    plan = S.plan_sweep(tiny_config(), ["relu", "elu"], [0], {}, tmp_path / "sw")
    launcher, notes, requests = _Stubborn(), [], iter([0, 1, 1, *[2] * 10_000])
    statuses = SL.execute(
        plan, 1, should_stop=lambda: next(requests), poll_s=0.01, launcher=launcher,
        on_note=notes.append, grace_s=0.3,
    )  # fmt: skip
    assert launcher.stopped == 1 and launcher.killed
    assert notes == [
        "stopping: waiting up to 0.3 s for 1 run process(es) to save and end, then killing them "
        "(Ctrl-C again: kill now)"
    ]
    assert {s.name: s.state for s in statuses} == {"relu-s0": "interrupted", "elu-s0": "not started"}
    assert (
        "killed 0.3 s after a second stop"
        in runs.read_json(plan.sweep_dir / "relu-s0" / runs.SUMMARY)["error"]
    )


class _Starting:
    """A launcher whose run is still starting (importing torch, no stop handler yet) when the stop comes:
    Python's own SIGINT handling ends it with code 130 before it has written a status."""

    def __init__(self) -> None:
        self.stopped = False

    def start(self, run_dir: Path, slot: int) -> Path:
        return run_dir

    def start_pack(self, run_dirs: list[Path], slot: int) -> Path:
        return run_dirs[0]

    def poll(self, handle: Path) -> int | None:
        return 130 if self.stopped else None

    def stop(self, handle: Path) -> None:
        self.stopped = True

    def kill(self, handle: Path) -> None:
        raise AssertionError("a run that ended on the first stop is not killed")


def test_a_run_stopped_while_starting_is_interrupted_not_failed(tmp_path: Path) -> None:
    """Ctrl-C 0.3 s after a worker was launched ended that run `failed` ("worker exited with code 130"),
    so re-running the sweep skipped it (failed runs only with --retry-failed) and the sweep said failed.
    A run the sweep itself stopped is `interrupted`: the next sweep resumes it."""
    from actbench.sweep import local as SL
    from actbench.sweep import plan as S
    from actbench.sweep import state as SST

    plan = S.plan_sweep(tiny_config(), ["relu"], [0], {}, tmp_path / "sw")
    requests = iter([0, 1, *[1] * 10_000])
    statuses = SL.execute(plan, 1, should_stop=lambda: next(requests), poll_s=0.01, launcher=_Starting())
    run_dir = plan.sweep_dir / "relu-s0"
    assert [s.state for s in statuses] == ["interrupted"]
    assert runs.read_status(run_dir) == runs.INTERRUPTED and SST.outcome(statuses) == runs.INTERRUPTED
    assert SST.prepare(plan.runs[0], run_dir, retry_failed=False) == "resume"
