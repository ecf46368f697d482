"""Helpers of the issue-37 reliability tests (tests/e2e/test_*.py of each failure class): CLI option
lists, the one-line error check, an interrupted run, an edited config.yaml, a suite folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from actbench import runs
from actbench.sweep.plan import MANIFEST
from actbench.training import loop as T
from tests.factories import TINY, tiny_config, write_run

runner = CliRunner()


def sets(*extra: str) -> list[str]:
    return [a for item in (*TINY, *extra) for a in ("--set", item)]


def one_line_error(res, needle: str, code: int = 2) -> None:  # noqa: ANN001 - a click Result
    """Exit `code` (the user-error code of cli.app.fail), one `error:` line holding `needle`, no traceback."""
    assert res.exit_code == code and isinstance(res.exception, SystemExit), res.output
    assert res.output.startswith("error:") and res.output.strip().count("\n") == 0, res.output
    assert needle in res.output, res.output


def interrupted_run(root: Path, *extra: str) -> Path:
    """A run stopped during its second epoch: one epoch logged and checkpointed, status interrupted."""
    run_dir = T.create_run(tiny_config("train.epochs=3", *extra), root, "r")
    stop = T.Hooks(should_stop=lambda: len(runs.read_metrics(run_dir)[0]) >= 1)
    assert T.run_training(run_dir, hooks=stop)["status"] == runs.INTERRUPTED
    return run_dir


def edit_config(run_dir: Path, **sets: Any) -> None:
    raw = yaml.safe_load((run_dir / runs.CONFIG).read_text())
    for key, value in sets.items():
        section, field = key.split("__")
        raw[section][field] = value
    (run_dir / runs.CONFIG).write_text(yaml.safe_dump(raw, sort_keys=False))


def suite_folder(root: Path, finished: bool) -> Path:
    """Two tasks of relu and elu over 2 seeds (elu 2 points ahead), planned as `suite run` plans them,
    with a third task planned; unless `finished`, task b's elu-s1 was interrupted and c never started."""
    for t, task in enumerate(("a", "b")):
        for act, acc in (("relu", 0.50), ("elu", 0.52)):
            for seed in (0, 1):
                status = (
                    "interrupted" if not finished and (task, act, seed) == ("b", "elu", 1) else "completed"
                )
                write_run(
                    root / task,
                    f"{act}-s{seed}",
                    act,
                    seed,
                    acc=acc + (0.003 if act == "relu" else 0.007) * seed + 0.01 * t,
                    status=status,
                )
        names = [f"{a}-s{s}" for a in ("relu", "elu") for s in (0, 1)]
        (root / task / MANIFEST).write_text(yaml.safe_dump({"runs": [{"name": n} for n in names]}))
    tasks = ["a", "b"] + ([] if finished else ["c"])
    (root / "suite.yaml").write_text(yaml.safe_dump({"suite": "s", "tasks": tasks, "skipped": {}}))
    return root
