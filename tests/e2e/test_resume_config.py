"""Issue 37, class 1: a resume checks config.yaml against the config the run was trained with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from actbench import runs
from actbench.cli import app
from tests.e2e.battery37 import edit_config, interrupted_run, one_line_error, runner

CHANGES = [
    ("activation__name", "elu"),
    ("train__seed", 7),
    ("optim__lr", 0.1),
    ("model__channels", [6, 4, 4]),
]


@pytest.mark.parametrize(
    ("key", "value", "kept"),
    [(k, v, kept) for k, v in CHANGES for kept in ("summary", "checkpoint")]
    + [("model__channels", [6, 4, 4], "neither")],  # no record: only a changed network can be told
)
def test_resume_refuses_a_changed_model_data_seed_or_optimiser(
    runs_dir: Path, key: str, value: Any, kept: str
) -> None:
    """kept: where the trained config survives (a run of an older actbench has neither; a changed network
    is still named, not a load_state_dict traceback)."""
    run_dir = interrupted_run(runs_dir)
    if kept != "summary":
        summary = runs.read_json(run_dir / runs.SUMMARY)
        del summary["config"]
        runs.write_json(run_dir / runs.SUMMARY, summary)
    if kept == "neither":
        for name in (runs.CKPT_LAST, runs.CKPT_BEST):
            state = torch.load(run_dir / name, weights_only=False)
            del state["config"]
            torch.save(state, run_dir / name)
    before = (run_dir / runs.METRICS).read_text()
    edit_config(run_dir, **{key: value})
    res = runner.invoke(app, ["train", "--resume", str(run_dir), "--no-progress"])
    one_line_error(res, "cannot resume")
    assert "--name NEW_NAME" in res.output
    if kept != "neither":
        assert key.replace("__", ".") in res.output
    assert runs.read_status(run_dir) == runs.INTERRUPTED  # untouched: put config.yaml back and resume
    assert (run_dir / runs.METRICS).read_text() == before


def test_resume_records_allowed_changes(runs_dir: Path) -> None:
    run_dir = interrupted_run(runs_dir)
    edit_config(run_dir, train__epochs=2, train__eval_batch_size=40, robustness__enabled=True)
    res = runner.invoke(app, ["train", "--resume", str(run_dir), "--no-progress"])
    assert res.exit_code == 0, res.output
    summary = runs.read_json(run_dir / runs.SUMMARY)
    assert summary["status"] == runs.COMPLETED and summary["epochs_done"] == 2
    assert "config_changes" not in summary["starts"][0]
    assert summary["starts"][-1]["config_changes"] == {
        "robustness.enabled": [False, True],
        "train.epochs": [3, 2],
        "train.eval_batch_size": [100, 40],
    }
    assert summary["config"]["train"]["epochs"] == 2  # the next resume compares with this start


def test_resume_accepts_the_same_images_at_another_root_only(runs_dir: Path, tmp_path: Path) -> None:
    """Folder data moved (another machine, a copy): resume carries on when the new root holds the images
    the run recorded (env.json data_fingerprint); other images at the new root are refused."""
    import shutil

    from tests.factories import make_folder

    make_folder(tmp_path / "a", {"cat": 6, "dog": 6})
    shutil.copytree(tmp_path / "a", tmp_path / "copy")
    make_folder(tmp_path / "other", {"cat": 6, "dog": 6}, seed=5)
    folder = ("data.name=folder", f"data.root={tmp_path / 'a'}", "data.val_size=2", "data.cache=false")
    run_dir = interrupted_run(runs_dir, *folder, "train.batch_size=4", "robustness.enabled=false")
    edit_config(run_dir, data__root=str(tmp_path / "other"))
    one_line_error(runner.invoke(app, ["train", "--resume", str(run_dir), "--no-progress"]), "data.root")
    edit_config(run_dir, data__root=str(tmp_path / "copy"))
    res = runner.invoke(app, ["train", "--resume", str(run_dir), "--no-progress"])
    assert res.exit_code == 0, res.output
    summary = runs.read_json(run_dir / runs.SUMMARY)
    assert summary["status"] == runs.COMPLETED
    assert summary["starts"][-1]["config_changes"]["data.root"][1] == str(tmp_path / "copy")
