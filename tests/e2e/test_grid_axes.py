"""Issue 37, class 3: `--grid` refuses keys that --acts/--seeds/--name set and repeated keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from actbench.cli import app
from tests.e2e.battery37 import one_line_error, runner, sets


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
    res = runner.invoke(app, ["sweep", "--dry-run", "--acts", "relu", "--out", str(tmp_path), *args, *sets()])
    one_line_error(res, needle)
    assert not any(tmp_path.iterdir())
