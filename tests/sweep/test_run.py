"""A sweep run from Python (`actbench.sweep.run.run_plan`): what `actbench sweep` does, without printing,
and nothing left behind in the calling process."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from actbench import runs
from actbench.sweep import local as SL
from actbench.sweep import plan as S
from actbench.sweep.run import run_plan
from tests.factories import tiny_config


def test_run_plan_gives_back_the_signal_handlers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While the sweep runs, Ctrl-C asks its runs to stop; once run_plan returns, Ctrl-C (and SIGTERM) are
    the caller's again: a notebook or a script that goes on after the sweep can still be interrupted."""
    monkeypatch.setattr(SL, "execute", lambda plan, *args, **kwargs: [])
    plan = S.plan_sweep(tiny_config(), ["relu"], [0], {}, tmp_path / "sw")

    def own(signum: int, frame: object) -> None: ...

    before = signal.signal(signal.SIGINT, own), signal.signal(signal.SIGTERM, own)
    try:
        run_plan(plan)
        assert signal.getsignal(signal.SIGINT) is own and signal.getsignal(signal.SIGTERM) is own
    finally:
        signal.signal(signal.SIGINT, before[0])
        signal.signal(signal.SIGTERM, before[1])


def test_run_plan_refuses_a_folder_holding_another_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As `actbench sweep` does (sweep.yaml): a folder of another sweep's runs is refused before anything
    starts, rather than its completed runs skipped as if they were this sweep's results."""
    started: list[object] = []
    monkeypatch.setattr(SL, "execute", lambda plan, *args, **kwargs: started.append(plan) or [])
    first = S.plan_sweep(tiny_config(), ["relu"], [0], {}, tmp_path / "sw")
    run_plan(first)
    assert (tmp_path / "sw" / S.MANIFEST).is_file()  # what the command writes, a suite report reads
    other = S.plan_sweep(tiny_config("optim.lr=0.01"), ["relu"], [0], {}, tmp_path / "sw")
    with pytest.raises(runs.RunError, match="holds a sweep with a different base config"):
        run_plan(other)
    assert started == [first]


def test_run_plan_runs_from_a_thread_other_than_the_main_one(tmp_path: Path) -> None:
    """Signal handlers can only be set in the main thread: from another (a notebook's background job) the
    sweep runs without them (the caller steers it) instead of failing in signal.signal."""
    import threading

    plan = S.plan_sweep(tiny_config("train.epochs=1"), ["relu"], [0], {}, tmp_path / "sw")
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(run_plan(plan)))
    thread.start()
    thread.join(timeout=120)
    assert len(result) == 1 and [str(s.state) for s in result[0]] == ["completed"], result  # type: ignore[union-attr]


def test_run_plan_refuses_tensorboard_runs_without_tensorboard_before_any_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As `actbench sweep --tensorboard` does: one line with the install command, nothing written, rather
    than every run's process failing on its own."""
    import importlib.util

    from actbench.errors import UserError

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a)
    )
    plan = S.plan_sweep(tiny_config("run.tensorboard=true"), ["relu"], [0], {}, tmp_path / "sw")
    with pytest.raises(
        UserError, match=r"tensorboard: not installed; install it with: pip install 'actbench\[tensorboard\]'"
    ):
        run_plan(plan)
    assert not (tmp_path / "sw").exists()


def test_run_plan_refuses_fewer_than_one_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`workers` from Python (the command's --workers has min 1): a negative count left no worker slot and
    the sweep loop spun forever without starting a run; refused, one line naming it, nothing written."""
    from actbench.errors import UserError

    started: list[object] = []
    monkeypatch.setattr(SL, "execute", lambda plan, *args, **kwargs: started.append(args) or [])
    plan = S.plan_sweep(tiny_config(), ["relu"], [0], {}, tmp_path / "sw")
    for workers in (-1, 0):
        with pytest.raises(UserError, match=f"^workers: {workers} "):
            run_plan(plan, workers)
    assert started == [] and not (tmp_path / "sw").exists()
