"""CLI through typer's CliRunner: train/eval happy paths and one-line user errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from actbench.cli import app
from tests.factories import TINY

runner = CliRunner()


def _sets(*items: str) -> list[str]:
    out: list[str] = []
    for item in (*TINY, *items):
        out += ["--set", item]
    return out


def test_train_then_eval(runs_dir: Path) -> None:
    res = runner.invoke(
        app,
        [
            "train",
            "--config",
            "quickstart",
            *_sets(),
            "--out",
            str(runs_dir),
            "--name",
            "cli",
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "completed" in res.output
    summary = json.loads((runs_dir / "cli" / "summary.json").read_text())
    res = runner.invoke(app, ["eval", str(runs_dir / "cli"), "--checkpoint", "best", "--split", "val"])
    assert res.exit_code == 0, res.output
    assert f"epoch {summary['best']['epoch']}" in res.output and "val: loss" in res.output


def test_existing_run_refused_then_forced(runs_dir: Path) -> None:
    args = ["train", *_sets("train.epochs=1"), "--out", str(runs_dir), "--name", "x", "--no-progress"]
    assert runner.invoke(app, args).exit_code == 0
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and "already exists" in res.output and isinstance(res.exception, SystemExit)
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["train", "--set", "train.epochs=-3"], "train.epochs"),
        (["train", "--set", "train.epochs"], "expected section.key=value"),
        (["train", "--config", "nope_missing"], "no such config"),
        (["train", "--set", "data.name=cifar10", "--set", "data.root=/nonexistent/x"], "/nonexistent/x"),
        (["eval", "/nonexistent/run"], "not a run folder"),
        (["train", "--resume", "/nonexistent/run"], "not a run folder"),
    ],
)
def test_user_errors_are_one_line(runs_dir: Path, args: list[str], needle: str) -> None:
    res = runner.invoke(
        app, [*args, "--out", str(runs_dir)] if args[0] == "train" and "--resume" not in args else args
    )
    assert res.exit_code != 0
    assert needle in res.output and isinstance(res.exception, SystemExit), res.exception  # no crash
    assert res.output.strip().count("\n") == 0, res.output
    assert not any(runs_dir.iterdir()), "a failed start must leave no run folder behind"


def test_version_suggestions_ranges_and_help_defaults() -> None:
    """--version; a mistyped --set key is blamed on --set with a suggestion; a preset named with the long
    activation name is suggested; --seeds takes ranges like --severities; hand-written defaults survive
    --help (rich used to read "[default: ...]" as markup and drop it)."""
    from actbench import __version__

    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.strip() == f"actbench {__version__}"
    res = runner.invoke(app, ["train", "--set", "train.epoch=3"])
    assert res.exit_code == 2 and res.output.startswith("error: --set train.epoch=3: train.epoch: unknown")
    assert "did you mean train.epochs?" in res.output and "quickstart.yaml" not in res.output
    res = runner.invoke(app, ["train", "--config", "cifar10_exponential"])
    assert res.exit_code == 2 and "did you mean cifar10_exp?" in res.output
    res = runner.invoke(app, ["sweep", "--seeds", "0-2", "--acts", "relu", "--dry-run"])
    assert res.exit_code == 0 and all(f"relu-s{s}" in res.output for s in (0, 1, 2)), res.output
    res = runner.invoke(app, ["sweep", "--seeds", "2-0", "--dry-run"])
    assert res.exit_code == 2 and "expected e.g. --seeds 0,1,2 or 0-4" in res.output
    res = runner.invoke(app, ["sweep", "--help"], env={"COLUMNS": "200"})
    assert "(default: 1; ray: what fits)" in res.output


@pytest.mark.parametrize("option", [["--name", "longer"], ["--out", "elsewhere"], ["--force"]])
def test_resume_refuses_the_options_of_a_new_run(runs_dir: Path, option: list[str]) -> None:
    """--name, --out and --force make a new run; with --resume they were ignored, so `--resume RUN --set
    train.epochs=N --name LONGER` extended RUN itself (its earlier end's results and last checkpoint gone)."""
    args = ["train", *_sets("train.epochs=1"), "--out", str(runs_dir), "--name", "r", "--no-progress"]
    assert runner.invoke(app, args).exit_code == 0
    run_dir = runs_dir / "r"
    before = (run_dir / "summary.json").read_bytes(), (run_dir / "config.yaml").read_bytes()
    res = runner.invoke(
        app, ["train", "--resume", str(run_dir), "--set", "train.epochs=2", *option, "--no-progress"]
    )
    assert res.exit_code == 2 and res.output.startswith(f"error: {option[0]} ") and "--resume" in res.output
    assert res.output.strip().count("\n") == 0, res.output
    assert ((run_dir / "summary.json").read_bytes(), (run_dir / "config.yaml").read_bytes()) == before


def test_an_interrupted_sweep_stops_before_its_corruption_evaluation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C on `sweep --corruptions`: the sweep stopped its runs, then went on to evaluate every completed
    run under the corruptions (minutes each) before exiting 130; now it exits 130 at once (re-running the
    same command trains the rest and evaluates them all)."""
    from actbench.cli import sweep as cli_sweep
    from actbench.sweep.state import RunStatus, State

    stopped = [RunStatus("relu-s0", State.COMPLETED), RunStatus("elu-s0", State.INTERRUPTED)]
    evaluated: list[object] = []
    monkeypatch.setattr(cli_sweep, "run_sweep", lambda *args, **kwargs: stopped)
    monkeypatch.setattr(cli_sweep, "eval_corruptions", lambda *args, **kwargs: evaluated.append(args))
    args = ["sweep", "--acts", "relu,elu", "--out", str(tmp_path), "--name", "sw", *_sets()]
    res = runner.invoke(app, [*args, "--corruptions", "contrast", "--log-format", "text"])
    assert res.exit_code == 130, res.output
    assert evaluated == [] and "re-run the same command to continue" in res.output


def test_suite_report_into_a_csv_file_still_tells_its_warnings(tmp_path: Path) -> None:
    """`suite report ROOT --out r.csv` (the format from the suffix): a CSV holds no warnings and the
    command printed none, since it looked at --format (table); a missing task was said nowhere."""
    from actbench.sweep.plan import MANIFEST
    from tests.suites.test_suites import _suite_of_worlds

    root = _suite_of_worlds(tmp_path / "suite", [8.0] * 5)
    (root / "task9").mkdir()
    (root / "task9" / MANIFEST).write_text("runs:\n- name: relu-s0\n  overrides: {}\n")
    missing = "warning: task task9: 1 planned run(s) not completed"
    for out in ("r.csv", "r.md"):
        res = runner.invoke(
            app, ["suite", "report", str(root), "--allow-incomplete", "--out", str(tmp_path / out)]
        )
        assert res.exit_code == 0, res.output
        told = missing in res.output or "not completed" in (tmp_path / out).read_text()
        assert told, (out, res.output)
