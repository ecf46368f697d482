"""predictions.npz: written by training and by `actbench eval` (also for runs trained before it existed),
merged per checkpoint, consistent with summary.json and with the plain evaluation."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from actbench import predictions as PR
from actbench import runs
from actbench.cli import app
from actbench.evaluation import evaluate_run
from actbench.training.loop import create_run, run_training
from tests.factories import tiny_config

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = create_run(tiny_config("train.epochs=2"), tmp_path_factory.mktemp("pred"), "tiny")
    assert run_training(run_dir)["status"] == "completed"
    return run_dir


def _arrays(run_dir: Path) -> dict[str, np.ndarray]:
    with np.load(run_dir / runs.PREDICTIONS) as f:
        return dict(f)


def test_training_writes_both_checkpoints_consistent_with_summary(trained: Path) -> None:
    a = _arrays(trained)
    summary = runs.read_json(trained / runs.SUMMARY)
    assert a["labels"].dtype == np.int32 and a["labels"].shape == (100,)
    for ckpt in runs.CHECKPOINTS:
        pred, prob = a[f"{ckpt}_pred"], a[f"{ckpt}_prob"]
        assert prob.dtype == np.float16 and prob.shape == (100, 10) and pred.shape == (100,)
        assert int(a[f"{ckpt}_epoch"]) == summary[ckpt]["epoch"]
        assert np.mean(pred == a["labels"]) == pytest.approx(summary[ckpt]["test_acc"])
        assert np.allclose(prob.astype(np.float32).sum(1), 1, atol=1e-2)
        assert np.mean(prob.argmax(1) == pred) > 0.95  # float16 rounding may tie a few rows


def test_summary_test_numbers_equal_the_plain_evaluation(trained: Path) -> None:
    summary = runs.read_json(trained / runs.SUMMARY)
    for ckpt in runs.CHECKPOINTS:
        plain = evaluate_run(trained, ckpt, "test")  # evaluation.evaluate, not predictions.predict
        assert summary[ckpt]["test_acc"] == pytest.approx(plain["acc"])
        assert summary[ckpt]["test_loss"] == pytest.approx(plain["loss"], rel=1e-6)


def test_eval_writes_predictions_for_a_run_without_them(trained: Path, tmp_path: Path) -> None:
    old = shutil.copytree(trained, tmp_path / "old")
    (old / runs.PREDICTIONS).unlink()  # as a run trained before predictions existed
    res = runner.invoke(app, ["eval", str(old), "--checkpoint", "best"])
    assert res.exit_code == 0, res.output
    assert set(_arrays(old)) == {"labels", "best_pred", "best_prob", "best_epoch"}
    res = runner.invoke(app, ["eval", str(old), "--checkpoint", "last,best"])
    assert res.exit_code == 0, res.output
    assert "last checkpoint" in res.output and "best checkpoint" in res.output and "(last,best)" in res.output
    got, want = _arrays(old), _arrays(trained)
    assert set(got) == set(want)
    for key in want:
        assert np.array_equal(got[key], want[key]), key


def test_no_predictions_flag_and_val_split_leave_no_file(trained: Path, tmp_path: Path) -> None:
    old = shutil.copytree(trained, tmp_path / "old")
    (old / runs.PREDICTIONS).unlink()
    assert runner.invoke(app, ["eval", str(old), "--no-predictions"]).exit_code == 0
    assert runner.invoke(app, ["eval", str(old), "--split", "val"]).exit_code == 0
    assert not (old / runs.PREDICTIONS).exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--checkpoint", "middle"], "--checkpoint: 'middle' is not allowed"),
        (["--checkpoint", "last,bestest"], "--checkpoint: 'bestest' is not allowed"),
        (["--checkpoint", "last,best", "--noise", "gaussian"], "--corruptions evaluate one checkpoint"),
    ],
)
def test_eval_option_errors_are_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / runs.CONFIG).write_text("{}\n")
    res = runner.invoke(app, ["eval", str(run_dir), *args])
    assert res.exit_code != 0 and needle in res.output and "Traceback" not in res.output
    assert res.output.strip().count("\n") == 0, res.output


def _result(labels: list[int], pred: list[int]) -> dict:
    prob = np.full((len(labels), 3), 0.25, dtype=np.float32)
    prob[np.arange(len(pred)), pred] = 0.5
    return {"labels": np.array(labels), "pred": np.array(pred), "prob": prob}


def test_save_merges_same_test_set_and_replaces_otherwise(tmp_path: Path) -> None:
    PR.save(tmp_path, "last", 5, _result([0, 1, 2], [0, 1, 1]))
    PR.save(tmp_path, "best", 3, _result([0, 1, 2], [0, 2, 2]))
    last, best = PR.load(tmp_path, "last"), PR.load(tmp_path, "best")
    assert (last.epoch, best.epoch) == (5, 3)
    assert last.correct.tolist() == [True, True, False] and best.correct.tolist() == [True, False, True]
    assert best.prob.dtype == np.float16
    PR.save(tmp_path, "last", 6, _result([2, 2], [2, 0]))  # another test set: the old best goes
    assert PR.load(tmp_path, "best") is None and PR.load(tmp_path, "last").epoch == 6


def test_unreadable_file_is_replaced_by_save_and_an_error_for_load(tmp_path: Path) -> None:
    assert PR.load(tmp_path, "last") is None  # no file: an older run
    (tmp_path / runs.PREDICTIONS).write_bytes(b"garbage")
    with pytest.raises(runs.RunError, match="unreadable"):
        PR.load(tmp_path, "last")
    PR.save(tmp_path, "best", 1, _result([1], [1]))
    assert PR.load(tmp_path, "best").correct.tolist() == [True]
