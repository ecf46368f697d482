"""Reliability, third battery (issue 37): resume checks what it resumes, suites say they are unfinished,
grids never drop an axis, failures before the first epoch leave no `running` folder, a run's own damaged
files are named, output paths are checked up front, a sweep never outlives its workers, option bounds."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from actbench.cli import app
from tests.factories import TINY

runner = CliRunner()


def _sets(*extra: str) -> list[str]:
    return [a for item in (*TINY, *extra) for a in ("--set", item)]


def _one_line_error(res, needle: str, code: int = 2) -> None:
    assert res.exit_code == code and isinstance(res.exception, SystemExit), res.output
    assert res.output.startswith("error:") and res.output.strip().count("\n") == 0, res.output
    assert needle in res.output, res.output


# --- class 3: --grid refuses keys owned by other options and repeated keys --------------------------


@pytest.mark.parametrize(
    ("grid", "needle"),
    [
        (["activation.name=elu,prelu"], "activation.name is set by --acts"),
        (["train.seed=1,2"], "train.seed is set by --seeds"),
        (["run.name=a,b"], "run.name is set by --name"),
        (["optim.lr=0.1", "optim.lr=0.2"], "optim.lr given twice"),
    ],
)
def test_grid_refuses_owned_and_repeated_keys(tmp_path: Path, grid: list[str], needle: str) -> None:
    args = [a for g in grid for a in ("--grid", g)]
    res = runner.invoke(
        app, ["sweep", "--dry-run", "--acts", "relu", "--out", str(tmp_path), *args, *_sets()]
    )
    _one_line_error(res, needle)
    assert not any(tmp_path.iterdir())
