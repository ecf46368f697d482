"""Reliability, second battery (issue 24): one clear line and consistent files for bad names, full disks,
unreachable trackers, damaged CIFAR-10-C files and user modules that exit; permissions of run files."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from actbench import runs
from actbench.cli import app
from actbench.training import loop as T
from tests.factories import TINY, tiny_config

runner = CliRunner()


def _sets(*extra: str) -> list[str]:
    return [a for item in (*TINY, *extra) for a in ("--set", item)]


def _one_line_error(res, needle: str) -> None:
    assert res.exit_code != 0 and isinstance(res.exception, SystemExit), res.output
    assert res.output.startswith("error:") and res.output.strip().count("\n") == 0, res.output
    assert needle in res.output, res.output


@pytest.mark.parametrize("command", ["train", "sweep"])
@pytest.mark.parametrize("name", ["../x", "a/b", "..", "ABS"])
def test_name_cannot_leave_out(tmp_path: Path, command: str, name: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    name = str(tmp_path / "abs") if name == "ABS" else name  # an absolute path would replace --out
    res = runner.invoke(app, [command, "--out", str(out), "--name", name, *_sets("train.epochs=1")])
    _one_line_error(res, "not a plain folder name")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] and not any(out.iterdir())


def test_run_files_get_normal_permissions(tmp_path: Path) -> None:
    """config.yaml, summary.json, metrics.jsonl (rewritten atomically) are created like the checkpoints:
    0666 minus the umask, not mkstemp's 0600."""
    run_dir = T.create_run(tiny_config("train.epochs=1"), tmp_path, "p")
    assert T.run_training(run_dir, resume=False)["status"] == "completed"
    runs.truncate_metrics(run_dir, 1)  # what a resume does: metrics.jsonl rewritten atomically
    want = stat.S_IMODE((run_dir / runs.CKPT_LAST).stat().st_mode)
    assert want & 0o044  # group/other may read: the umask of this test run allows it
    for name in (runs.CONFIG, runs.SUMMARY, runs.METRICS, runs.ENV):
        assert stat.S_IMODE((run_dir / name).stat().st_mode) == want, name


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_mlflow_server_is_one_line_at_once(tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    import time

    run_dir = tmp_path / "runs" / "r"
    T.create_run(tiny_config(), run_dir.parent, "r")
    uri = f"http://127.0.0.1:{_closed_port()}"
    t0 = time.monotonic()
    res = runner.invoke(app, ["export", "mlflow", str(run_dir.parent), "--to", uri])
    assert time.monotonic() - t0 < 30  # MLflow alone retried for minutes
    _one_line_error(res, f"--to {uri}: no MLflow tracking server answers there")


def _disk_full_at_checkpoint(monkeypatch: pytest.MonkeyPatch, epoch: int, call: str) -> None:
    """From the checkpoints of `epoch` on, the checkpoint's temp file is created but `call` on it fails
    with ENOSPC: its write, or its fsync (where delayed allocation reports a full disk)."""
    import builtins
    import errno
    import os

    def full(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise OSError(errno.ENOSPC, "No space left on device")

    def full_open(file, mode="r", *args, **kwargs):  # noqa: ANN001, ANN202
        f = builtins.open(file, mode, *args, **kwargs)
        if str(file).endswith(".tmp") and "w" in mode:
            f.write = full
        return f

    real_save = runs.save_checkpoint

    def save(path: Path, state: dict) -> None:
        if state["epoch"] < epoch:
            return real_save(path, state)
        with pytest.MonkeyPatch.context() as m:
            if call == "write":
                m.setattr(runs, "open", full_open, raising=False)
            else:
                m.setattr(os, "fsync", full)
            real_save(path, state)

    monkeypatch.setattr(runs, "save_checkpoint", save)


@pytest.mark.parametrize("call", ["write", "fsync"])
def test_full_disk_while_checkpointing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, call: str) -> None:
    """One line, status `interrupted` (not `running`), no temp file; resuming later loses nothing."""
    run_dir = T.create_run(tiny_config("train.epochs=3"), tmp_path, "full")
    _disk_full_at_checkpoint(monkeypatch, 2, call)
    res = runner.invoke(app, ["train", "--resume", str(run_dir), "--no-progress"])
    assert res.exit_code == 130, res.output
    assert "Traceback" not in res.output and "No space left on device" in res.output
    summary = runs.read_json(run_dir / runs.SUMMARY)
    assert summary["status"] == runs.INTERRUPTED and "checkpoint" in summary["error"], summary
    assert "No space left on device" in summary["error"] and summary["epochs_done"] == 1
    assert not [p.name for p in run_dir.iterdir() if p.name.endswith(".tmp")]
    assert runs.load_checkpoint(run_dir / runs.CKPT_LAST)["epoch"] == 1
    monkeypatch.undo()
    assert T.run_training(run_dir, resume=True)["status"] == runs.COMPLETED
    assert [r["epoch"] for r in runs.read_metrics(run_dir)[0]] == [1, 2, 3]


@pytest.mark.parametrize("where", ["import", "build"])
def test_user_module_calling_sys_exit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """sys.exit(3) in a user module ended actbench with exit code 3 and no output at all."""
    from actbench.activations import plugins as plugins

    module = f"exits_on_{where}"
    body = "import sys\nsys.exit(3)\n" if where == "import" else ""
    body += "import sys\nfrom torch import nn\n\nclass Act(nn.Module):\n    def __init__(self):\n"
    body += "        super().__init__()\n        sys.exit(3)\n"
    (tmp_path / f"{module}.py").write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins.refresh()
    out = tmp_path / "out"
    res = runner.invoke(app, ["train", "--out", str(out), *_sets(f"activation.name={module}:Act")])
    _one_line_error(res, "it called sys.exit(3)")
    assert res.exit_code == 2 and module in res.output
