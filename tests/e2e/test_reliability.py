"""Reliability battery: hard kills, Ctrl-C, corrupted files, divergence, bad input, concurrency, read-only
output. Subprocess tests use the real `actbench` entry point (`python -m actbench`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from actbench import runs
from actbench.cli import app
from actbench.config import dump_yaml
from actbench.training import loop as T
from tests.factories import REPO, TINY, tiny_config

runner = CliRunner()
VOLATILE = ("epoch_time_s", "images_per_s")


def _cli(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.Popen[str]:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "actbench", *args],
        cwd=REPO,
        env=full_env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        **kw,
    )


def _config_file(tmp_path: Path, *extra: str) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(dump_yaml(tiny_config(*extra)))
    return path


def _metrics(run_dir: Path) -> list[dict]:
    records, warnings = runs.read_metrics(run_dir)
    assert not warnings
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in records]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted 3-epoch run every interrupted run must reproduce exactly."""
    out = tmp_path_factory.mktemp("ref")
    run_dir = T.create_run(tiny_config("train.epochs=3"), out, "ref")
    assert T.run_training(run_dir)["status"] == "completed"
    return run_dir


def _assert_same_as_reference(run_dir: Path, reference: Path) -> None:
    want_epochs = [r["epoch"] for r in _metrics(reference)]
    assert [r["epoch"] for r in _metrics(run_dir)] == want_epochs  # no duplicated or missing epochs
    assert _metrics(run_dir) == _metrics(reference)
    got, want = runs.read_json(run_dir / runs.SUMMARY), runs.read_json(reference / runs.SUMMARY)
    assert got["status"] == "completed" and got["last"] == want["last"] and got["best"] == want["best"]
    runs.load_checkpoint(run_dir / runs.CKPT_LAST)


# --- 1. hard kill ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault", ["batch:2:3", "after_metrics:2", "checkpoint:2", "checkpoint:1", "batch:1:1"]
)
def test_sigkill_then_resume_matches_uninterrupted(tmp_path: Path, reference: Path, fault: str) -> None:
    cfg = _config_file(tmp_path, "train.epochs=3")
    proc = _cli(
        "train",
        "--config",
        str(cfg),
        "--out",
        str(tmp_path),
        "--name",
        "k",
        "--no-progress",
        env={"ACTBENCH_FAULT": fault},
    )
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    run_dir = tmp_path / "k"
    assert runs.read_status(run_dir) == "running"  # died without a word, as a real kill would
    killed = runs.read_json(run_dir / runs.SUMMARY)
    resumed = _cli("train", "--resume", str(run_dir), "--no-progress")
    out, _ = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, out
    _assert_same_as_reference(run_dir, reference)
    assert not list(run_dir.glob(".*.tmp")) or fault.startswith("checkpoint")  # stale temp at most
    # the killed process's wall time up to its last logged epoch is kept, and the resumed one adds to it
    done = runs.read_json(run_dir / runs.SUMMARY)
    assert len(done["starts"]) == 2 and done["starts"][1]["wall_before_s"] == killed.get("wall_time_s", 0.0)
    if killed["epochs_done"]:  # at least one epoch was logged before the kill
        assert killed["wall_time_s"] > 0 and done["wall_time_s"] > killed["wall_time_s"]


# --- 2. Ctrl-C ------------------------------------------------------------------------------------


def _wait_for(predicate, timeout: float = 240.0) -> None:
    """Poll until `predicate()`; the timeout only bounds a hang (a full suite beside two background
    trainings at equal priority took over 60 s to log a tiny run's first epoch)."""
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_sigint_stops_at_safe_point_and_resumes(tmp_path: Path) -> None:
    # Long enough (40 short epochs) that the signal always lands mid-run.
    ref = T.create_run(tiny_config("train.epochs=40"), tmp_path / "ref", "ref")
    assert T.run_training(ref)["status"] == "completed"
    cfg = _config_file(tmp_path, "train.epochs=40")
    run_dir = tmp_path / "i"
    proc = _cli("train", "--config", str(cfg), "--out", str(tmp_path), "--name", "i", "--no-progress")
    _wait_for(lambda: bool(runs.read_metrics(run_dir)[0]))  # interrupt once epoch 1 is logged
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    summary = runs.read_json(run_dir / runs.SUMMARY)
    assert proc.returncode == 130, out
    assert summary["status"] == "interrupted" and "Traceback" not in out
    assert 1 <= summary["epochs_done"] < 40
    assert f"actbench train --resume {run_dir}" in out
    runs.load_checkpoint(run_dir / runs.CKPT_LAST)
    resumed = _cli("train", "--resume", str(run_dir), "--no-progress")
    assert resumed.wait(timeout=120) == 0
    _assert_same_as_reference(run_dir, ref)


def test_sigint_stops_a_sweep_cleanly(tmp_path: Path) -> None:
    args = ["sweep", "--acts", "relu,elu", "--workers", "2", "--out", str(tmp_path), "--name", "sw"]
    for item in (*TINY, "train.epochs=30"):
        args += ["--set", item]
    proc = _cli(*args)
    sweep_dir = tmp_path / "sw"
    _wait_for(lambda: all(runs.read_metrics(sweep_dir / n)[0] for n in ("relu-s0", "elu-s0")), 360)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert "re-run the same command" in out
    for name in ("relu-s0", "elu-s0"):
        assert runs.read_status(sweep_dir / name) == "interrupted"
        assert not runs.is_locked(sweep_dir / name)  # the worker process is gone
        runs.load_checkpoint(sweep_dir / name / runs.CKPT_LAST)


# --- 3. corrupted files ---------------------------------------------------------------------------


def _interrupted_run(tmp_path: Path, name: str = "c") -> Path:
    run_dir = T.create_run(tiny_config("train.epochs=3"), tmp_path, name)
    stop = T.Hooks(should_stop=lambda: len(runs.read_metrics(run_dir)[0]) >= 2)
    assert T.run_training(run_dir, hooks=stop)["status"] == "interrupted"
    return run_dir


def _resume_events(run_dir: Path) -> tuple[dict, list[str]]:
    warnings: list[str] = []
    hooks = T.Hooks(on_event=lambda k, d: warnings.append(d["message"]) if k == "warning" else None)
    return T.run_training(run_dir, resume=True, hooks=hooks), warnings


def test_garbage_last_checkpoint_falls_back_to_best(tmp_path: Path, reference: Path) -> None:
    run_dir = _interrupted_run(tmp_path)
    (run_dir / runs.CKPT_LAST).write_bytes(b"not a checkpoint at all")
    summary, warnings = _resume_events(run_dir)
    assert any("corrupt or unreadable checkpoint" in w for w in warnings)
    assert list(run_dir.glob("checkpoint-last.pt.corrupt-*"))  # kept aside, not overwritten
    _assert_same_as_reference(run_dir, reference)


def test_truncated_checkpoints_refuse_to_discard_logged_epochs(tmp_path: Path) -> None:
    run_dir = _interrupted_run(tmp_path)
    for name in (runs.CKPT_LAST, runs.CKPT_BEST):
        data = (run_dir / name).read_bytes()
        (run_dir / name).write_bytes(data[: len(data) // 2])
    before = (run_dir / runs.METRICS).read_text()
    res = runner.invoke(app, ["train", "--resume", str(run_dir), "--no-progress"])
    assert res.exit_code == 2 and "no readable checkpoint" in res.output and "--force" in res.output
    assert (run_dir / runs.METRICS).read_text() == before


def test_half_written_metrics_line_is_dropped_on_resume(tmp_path: Path, reference: Path) -> None:
    run_dir = _interrupted_run(tmp_path)
    with open(run_dir / runs.METRICS, "a") as f:
        f.write('{"epoch": 3, "train_lo')
    _, warnings = _resume_events(run_dir)
    assert any("corrupt line" in w for w in warnings)
    _assert_same_as_reference(run_dir, reference)


def test_unreadable_summary_is_reported_and_rebuilt(tmp_path: Path, reference: Path) -> None:
    run_dir = _interrupted_run(tmp_path)
    (run_dir / runs.SUMMARY).write_bytes(b"\x00\xff{{{")
    _, warnings = _resume_events(run_dir)
    assert any("summary.json" in w and "rebuilt" in w for w in warnings)
    _assert_same_as_reference(run_dir, reference)


def test_eval_of_corrupt_checkpoint_is_one_line(tmp_path: Path) -> None:
    run_dir = _interrupted_run(tmp_path)
    (run_dir / runs.CKPT_BEST).write_bytes(b"garbage")
    res = runner.invoke(app, ["eval", str(run_dir), "--checkpoint", "best"])
    assert res.exit_code == 2 and "corrupt or unreadable checkpoint" in res.output
    assert res.output.strip().count("\n") == 0


# --- 4. divergence --------------------------------------------------------------------------------


def test_diverged_seed_is_reported_failed_not_averaged(tmp_path: Path) -> None:
    for seed in (0, 1):
        T.run_training(T.create_run(tiny_config(f"train.seed={seed}"), tmp_path, f"ok{seed}"))
    bad = T.create_run(
        tiny_config("train.seed=2", "optim.name=sgd", "optim.lr=1e30", "optim.momentum=0"), tmp_path, "bad"
    )
    summary = T.run_training(bad)
    assert summary["status"] == "failed" and "epoch 1, batch" in summary["error"]
    # Pretend it was the same experiment (seed 2 of the group) that diverged.
    (bad / runs.CONFIG).write_text(dump_yaml(tiny_config("train.seed=2")))
    res = runner.invoke(app, ["report", str(tmp_path), "--format", "json"])
    assert res.exit_code == 0, res.output
    group = json.loads(res.output)["groups"][0]
    assert group["n"] == 2 and "failed" in json.dumps(group)


# --- 5. bad config battery ------------------------------------------------------------------------

BAD_SETS = [
    "train.epochs=-1",
    "train.epochs=0",
    "train.batch_size=0",
    "train.epochs=abc",
    "train.epochs=2.5",
    "train.epochs=99999999999999",
    "optim.lr=-1",
    "optim.lr=.inf",
    "nosection.x=1",
    "train.nokey=1",
    "activation.name=swishy",
    "data.name=imagenet",
    "activation.sharing=kernel",
    "activation.sharing=channel activation.name=relu",
    "activation.name=rational activation.init=0",
    "activation.name=rational activation.init=-1",
    "activation.name=elu activation.params.beta=2",
    "model.channels=[8,8]",
    "model.channels=[8,-8,8]",
    "train.device=tpu",
    "data.val_size=999999",
    "augment.crop=zoom",
    "train.epochs",
    "=3",
    "optim.betas=[0.9]",
    "model.dropout=1.5",
    "data.num_classes=1",
    "run.name=a/b",
]


@pytest.mark.parametrize("sets", BAD_SETS)
def test_bad_overrides_exit_with_one_line(tmp_path: Path, sets: str) -> None:
    args = ["train", "--out", str(tmp_path), "--no-progress"]
    for item in (*TINY, *sets.split(" ")):
        args += ["--set", item]
    _assert_one_line_error(runner.invoke(app, args), tmp_path)


BAD_FILES = {
    "syntax": (b"train:\n  epochs: 3\n bad_indent: 1\n", r"bad.yaml:\d+:\d+: YAML syntax error"),
    "tab": (b"train:\n\tepochs: 3\n", "YAML syntax error"),
    "empty": (b"", "file is empty"),
    "comment only": (b"# nothing here\n", "file is empty"),
    "non-utf8": (b"train:\n  epochs: \xff\xfe\n", "not UTF-8"),
    "list top": (b"- train\n", "top level must be a mapping"),
    "scalar section": (b"train: 5\n", "train: expected a mapping"),
    "unknown section": (b"trainer:\n  epochs: 3\n", "trainer: unknown section"),
    "unknown key": (b"train:\n  epoch: 3\n", "train.epoch: unknown key"),
    "huge": (b"train:\n  batch_size: 1e400\n", "train.batch_size"),
    "bool for int": (b"train:\n  epochs: yes\n", "train.epochs: expected int"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_config_files_exit_with_one_line(tmp_path: Path, case: str) -> None:
    content, needle = BAD_FILES[case]
    (tmp_path / "bad.yaml").write_bytes(content)
    out = tmp_path / "out"
    res = runner.invoke(app, ["train", "--config", str(tmp_path / "bad.yaml"), "--out", str(out)])
    _assert_one_line_error(res, out, needle)


@pytest.mark.parametrize("target", ["missing.yaml", "."])
def test_missing_file_or_directory(tmp_path: Path, target: str) -> None:
    res = runner.invoke(app, ["train", "--config", str(tmp_path / target), "--out", str(tmp_path / "o")])
    _assert_one_line_error(res, tmp_path / "o")


def _assert_one_line_error(res, out: Path, needle: str | None = None) -> None:
    import re

    assert res.exit_code != 0
    assert isinstance(res.exception, SystemExit), res.exception  # an error exit, not an uncaught exception
    assert res.output.strip().count("\n") == 0, res.output
    assert res.output.startswith("error:"), res.output
    if needle:
        assert re.search(needle, res.output), res.output
    assert not out.exists() or not any(out.iterdir()), "no run folder may be left behind"


# --- 6. concurrent sweeps -------------------------------------------------------------------------


def test_two_sweeps_on_one_folder_never_run_a_run_twice(tmp_path: Path) -> None:
    args = ["sweep", "--acts", "relu,elu,prelu", "--out", str(tmp_path), "--name", "sw"]
    for item in TINY:
        args += ["--set", item]
    procs = [_cli(*args), _cli(*args)]
    outs = [p.communicate(timeout=240)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    sweep_dir = tmp_path / "sw"
    for name in ("relu-s0", "elu-s0", "prelu-s0"):
        assert runs.read_status(sweep_dir / name) == "completed"
        assert [r["epoch"] for r in _metrics(sweep_dir / name)] == [1, 2]
        log = (sweep_dir / name / "train.log").read_text()
        assert log.count(" train images, ") == 1, log  # started exactly once
    assert yaml.safe_load((sweep_dir / "sweep.yaml").read_text())["runs"]


# --- 7. read-only output --------------------------------------------------------------------------


def _read_only_dir(tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        return ro
    return Path("/sys/actbench-read-only")  # root ignores permissions; /sys refuses new entries


@pytest.mark.parametrize("command", ["train", "sweep"])
def test_read_only_out_fails_up_front(tmp_path: Path, command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    started = []  # refused before any training: no session built, no sweep executed
    monkeypatch.setattr("actbench.training.loop.make_session", lambda *a: started.append(a))
    monkeypatch.setattr("actbench.sweep.local.execute", lambda *a, **k: started.append(a))
    ro = _read_only_dir(tmp_path)
    args = [command, "--out", str(ro / "runs")] + [a for item in TINY for a in ("--set", item)]
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit), res.output
    assert "not writable" in res.output or "cannot write" in res.output
    assert started == []
