"""Issue 37, class 6: every output path is checked (folder or file, extension, writable) before the work."""

from __future__ import annotations

from pathlib import Path

import pytest

from actbench.cli import app
from tests.e2e.battery37 import one_line_error, runner, suite_folder
from tests.factories import write_run


@pytest.mark.parametrize("target", ["tensorboard", "mlflow"])
def test_export_to_an_existing_file_is_one_line_before_any_work(tmp_path: Path, target: str) -> None:
    run_dir = write_run(tmp_path / "runs", "relu-s0", "relu", 0)
    taken = tmp_path / "taken"
    taken.write_text("not a folder")
    res = runner.invoke(app, ["export", target, str(run_dir), "--to", str(taken)])
    one_line_error(res, f"--to {taken}: exists and is not a folder")
    below = taken / "sub"  # a folder that cannot be made: its parent is a file
    res = runner.invoke(app, ["export", target, str(run_dir), "--to", f"file://{below}"])
    one_line_error(res, "--to: ")
    assert taken.read_text() == "not a folder"


@pytest.mark.parametrize(
    ("name", "needle"),
    [("curves.xyz", "extension '.xyz' is not allowed"), ("curves", "extension none is not allowed"),
     ("file/curves.png", "is not a folder"), ("dir", "extension none")],
)  # fmt: skip
def test_acts_plot_path_is_checked_first(tmp_path: Path, name: str, needle: str) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir").mkdir()
    res = runner.invoke(app, ["acts", "--plot", str(tmp_path / name)])
    one_line_error(res, needle)
    res = runner.invoke(app, ["acts", "--plot", str(tmp_path / "dir" / "curves.svg")])
    assert res.exit_code == 0 and (tmp_path / "dir" / "curves.svg").stat().st_size > 0, res.output


@pytest.mark.parametrize(
    ("option", "name", "needle"),
    [("--plot", "cd.xyz", "--plot"), ("--plot", "file/cd.png", "is not a folder"),
     ("--out", "file/r.md", "is not a folder"), ("--html", "dir", "is a folder")],
)  # fmt: skip
def test_suite_report_outputs_are_checked_first(tmp_path: Path, option: str, name: str, needle: str) -> None:
    root = suite_folder(tmp_path / "s", finished=True)
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir").mkdir()
    res = runner.invoke(app, ["suite", "report", str(root), option, str(tmp_path / name)])
    one_line_error(res, needle)
