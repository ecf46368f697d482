"""Reliability, second battery (issue 24): one clear line and consistent files for bad names, full disks,
unreachable trackers, damaged CIFAR-10-C files and user modules that exit; permissions of run files."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from actbench import runs
from actbench import train as T
from actbench.cli import app

from .conftest import TINY, tiny_config

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
