"""Issue 37, class 8: --mde bounds; --reference across data sets warns."""

from __future__ import annotations

from pathlib import Path

import pytest

from actbench.cli import app
from tests.e2e.battery37 import one_line_error, runner
from tests.factories import write_run


@pytest.mark.parametrize("mde", ["150", "100.5"])
def test_mde_above_100_points_is_refused(tmp_path: Path, mde: str) -> None:
    write_run(tmp_path, "relu-s0", "relu", 0)
    res = runner.invoke(app, ["report", str(tmp_path), "--mde", mde])
    one_line_error(res, f"--mde: {float(mde)} is not allowed")
    assert runner.invoke(app, ["report", str(tmp_path), "--mde", "100"]).exit_code == 0


def test_reference_of_another_data_set_warns(tmp_path: Path) -> None:
    from actbench.report.build import build_report

    for act in ("relu", "elu"):
        write_run(tmp_path / "here", f"{act}-s0", act, 0, data__name="cifar10")
        write_run(tmp_path / "there", f"{act}-s0", act, 0, data__name="cifar100")
        write_run(tmp_path / "same", f"{act}-s0", act, 0, data__name="cifar10")
    report = build_report([tmp_path / "here"], reference=[tmp_path / "there"])
    assert any(
        w.startswith("--reference there: groups lined up across different data sets")
        and "elu: cifar10 here, cifar100 there" in w
        for w in report.warnings
    ), report.warnings
    report = build_report([tmp_path / "here"], reference=[tmp_path / "same"])
    assert not any("different data sets" in w for w in report.warnings), report.warnings
