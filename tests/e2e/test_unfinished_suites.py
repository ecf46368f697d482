"""Issue 37, class 2 (and `suite report --baseline`): an unfinished suite lists what is missing and gives
no cross-task verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from actbench.cli import app
from actbench.report.groups import ReportError
from actbench.suites import page as SP
from actbench.suites import report as SR
from tests.e2e.battery37 import runner, suite_folder


def test_unfinished_suite_lists_what_is_missing_and_gives_no_verdict(tmp_path: Path) -> None:
    root = suite_folder(tmp_path / "s", finished=False)
    res = runner.invoke(app, ["suite", "report", str(root), "--format", "md"])
    assert res.exit_code == 0, res.output
    assert "task b: 1 planned run(s) not completed: elu-s1 interrupted" in res.output
    assert "tasks not started: c" in res.output
    assert "No cross-task verdict: the suite is unfinished" in res.output
    assert "Friedman" not in res.output and "/ 0 /" not in res.output  # no ranks, no decision counts
    doc = json.loads(runner.invoke(app, ["suite", "report", str(root), "--format", "json"]).output)
    assert doc["verdict_withheld"] and doc["mean_ranks"] is None and doc["decision_counts"] == {}
    assert doc["incomplete"] == {
        "tasks": {"c": "not started"},
        "skipped": {},
        "runs": {"b": {"elu-s1": "interrupted"}},
    }
    res = runner.invoke(app, ["suite", "report", str(root), "--format", "md", "--allow-incomplete"])
    assert "Friedman" in res.output and "elu-s1 interrupted" in res.output  # ranked, still listed


def test_finished_suite_ranks_and_labels_the_baseline_it_was_given(tmp_path: Path) -> None:
    root = suite_folder(tmp_path / "s", finished=True)
    rep = SR.build_suite_report(root, baseline="relu", bootstrap=0)
    assert not rep["withheld"] and rep["summary"] is not None
    assert dict((r[0], r[2]) for r in SP.rank_table(rep).rows)["relu"] == "baseline"
    with pytest.raises(ReportError, match=r"--baseline exponential: no runs of that activation in any task"):
        SR.build_suite_report(root, baseline="exp", bootstrap=0)  # in no task: an error, not a page of dashes
    rep = SR.build_suite_report(root, baseline="elu", bootstrap=0)
    assert dict((r[0], r[2]) for r in SP.rank_table(rep).rows)["elu"] == "baseline"
