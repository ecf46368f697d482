"""TensorBoard and MLflow (optional extras), checked with the libraries' own readers: TensorBoard's
EventAccumulator and MLflow's client on a file store. Each test skips when its extra is absent."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from actbench import runs as R
from actbench.cli import app
from actbench.trackers import with_trackers
from actbench.training import loop as T
from tests.factories import tiny_config, write_run

runner = CliRunner()
needs_tb = pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="tensorboard extra")
needs_mlflow = pytest.mark.skipif(importlib.util.find_spec("mlflow") is None, reason="mlflow extra")


def _events(folder: Path):  # noqa: ANN202 - tensorboard's EventAccumulator
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    return acc


def _scalars(acc, tag: str) -> dict[int, float]:  # noqa: ANN001
    return {e.step: e.value for e in acc.Scalars(tag)}


@pytest.fixture
def sweep_runs(tmp_path: Path) -> Path:
    """runs/sweep (a sweep: relu x2, exponential x2 with learned a) and runs/solo (one prelu run)."""
    root = tmp_path / "runs"
    for s in range(2):
        write_run(root / "sweep", f"relu-s{s}", "relu", s, 0.7 + 0.01 * s)
        learned = {"conv1": -2.0 + 0.1 * s, "conv2": -1.5}
        write_run(root / "sweep", f"exponential-s{s}", "exponential", s, 0.8, learned=learned)
    (root / "sweep" / "sweep.yaml").write_text("base: {}\naxes: {}\nruns: []\n")
    write_run(root, "solo", "prelu", 0, 0.75, learned={"conv1": 0.1})
    return root


@needs_tb
def test_training_writes_event_files_as_it_goes(runs_dir: Path) -> None:
    cfg = tiny_config("activation.name=exponential", "activation.sharing=channel", "run.tensorboard=true")
    run_dir = T.create_run(cfg, runs_dir, "tb")
    summary = T.run_training(run_dir, hooks=with_trackers(T.Hooks(), run_dir))  # what `actbench train` does
    assert summary["status"] == "completed"
    records, _ = R.read_metrics(run_dir)
    acc = _events(run_dir / "tensorboard")
    assert _scalars(acc, "loss/train") == pytest.approx({r["epoch"]: r["train_loss"] for r in records})
    assert _scalars(acc, "accuracy/val") == pytest.approx({r["epoch"]: r["val_acc"] for r in records})
    assert _scalars(acc, "lr") == pytest.approx({1: 1e-3, 2: 1e-3})
    assert set(_scalars(acc, "time/epoch_s")) == {1, 2}
    mean = _scalars(acc, "act/conv2/a/mean")
    assert mean == pytest.approx({r["epoch"]: r["act"]["conv2"]["a"]["mean"] for r in records})
    hist = acc.Histograms("act/conv1/a")  # channel sharing: one value per output channel
    assert [h.step for h in hist] == [1, 2] and hist[-1].histogram_value.num == 4
    final = summary["learned"]["conv1"]["a"]
    assert hist[-1].histogram_value.min == pytest.approx(min(final))
    assert _scalars(acc, "test/test_acc_last")[2] == pytest.approx(summary["last"]["test_acc"])


@needs_tb
def test_a_failing_tracker_never_fails_the_run(runs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # an exception writing event files reached training's loop: the run ended failed after one epoch
    from actbench.trackers import tensorboard as TB

    def broken(*args: object) -> None:
        raise OSError(28, "No space left on device", "tensorboard/events.out.tfevents.x")

    monkeypatch.setattr(TB, "write_epoch", broken)
    cfg = tiny_config("run.tensorboard=true")
    run_dir = T.create_run(cfg, runs_dir, "tb")
    events: list[tuple[str, dict]] = []
    hooks = T.Hooks(on_event=lambda kind, data: events.append((kind, data)))
    summary = T.run_training(run_dir, hooks=with_trackers(hooks, run_dir))
    assert summary["status"] == "completed" and summary["epochs_done"] == cfg.train.epochs
    warnings = [d["message"] for k, d in events if k == "warning" and "tensorboard" in d["message"]]
    assert len(warnings) == 1 and "No space left on device" in warnings[0], warnings
    assert [k for k, _ in events].count("epoch") == cfg.train.epochs
    # and in summary.json, as every other warning about a run (a sweep's table and a report read it there)
    recorded = [w["message"] for w in summary.get("warnings", []) if "tensorboard" in w["message"]]
    assert recorded == warnings, summary.get("warnings")
    assert json.loads((run_dir / R.SUMMARY).read_text())["warnings"][-1]["message"] == warnings[0]


@needs_tb
def test_export_of_a_diverged_run_with_non_finite_learned_values(tmp_path: Path) -> None:
    # a run whose loss became NaN under channel sharing ends with NaN parameters in summary.json's
    # learned; torch's add_histogram raised "The histogram is empty" and the whole export stopped
    from actbench.trackers.tensorboard import export_run

    run_dir = write_run(tmp_path / "runs", "diverged", "prelu", 0, status="failed")
    summary = json.loads((run_dir / R.SUMMARY).read_text())
    summary["learned"] = {"conv1": {"a": [float("nan")] * 4}, "conv2": {"a": [float("inf"), 0.5, 0.25]}}
    (run_dir / R.SUMMARY).write_text(json.dumps(summary))
    export_run(run_dir, tmp_path / "tb")
    acc = _events(tmp_path / "tb")
    assert set(_scalars(acc, "loss/train")) == {1, 2, 3}
    assert "act/conv1/a" not in acc.Tags()["histograms"]


def test_missing_tracker_extra_is_one_line_before_anything_runs(
    runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "tensorboard" else real(n, *a)
    )
    sets = [
        x
        for s in ("train.epochs=1", "run.tensorboard=true", "data.train_size=100", "data.val_size=10")
        for x in ("--set", s)
    ]
    res = runner.invoke(app, ["train", *sets, "--out", str(runs_dir), "--name", "x", "--no-progress"])
    assert res.exit_code == 2 and "pip install 'actbench[tensorboard]'" in res.output
    assert res.output.strip().count("\n") == 0 and not (runs_dir / "x").exists()
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "mlflow" else real(n, *a))
    res = runner.invoke(app, ["export", "mlflow", str(runs_dir)])
    assert res.exit_code == 2 and "pip install 'actbench[mlflow]'" in res.output


def test_export_target_is_checked(sweep_runs: Path) -> None:
    res = runner.invoke(app, ["export", "wandb", str(sweep_runs)])
    assert res.exit_code == 2 and "'wandb' is not allowed (allowed: tensorboard, mlflow)" in res.output


@needs_tb
def test_export_of_a_missing_path_makes_no_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PATH that is not there is one error line and leaves no empty ./tensorboard behind (--to was made
    before the paths were checked)."""
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["export", "tensorboard", str(tmp_path / "nonexistent")])
    assert res.exit_code == 2 and res.output.strip().count("\n") == 0, res.output
    assert not (tmp_path / "tensorboard").exists()


@needs_tb
def test_export_tensorboard_twice_gives_one_history_per_run(sweep_runs: Path, tmp_path: Path) -> None:
    to = tmp_path / "tb"
    for _ in range(2):
        res = runner.invoke(app, ["export", "tensorboard", str(sweep_runs), "--to", str(to)])
        assert res.exit_code == 0, res.output
    assert "exported 5 runs" in res.output
    folders = sorted(p.parent.relative_to(to).as_posix() for p in to.rglob("events.out.tfevents.*"))
    assert folders == [
        "runs/solo",
        "runs/sweep/exponential-s0",
        "runs/sweep/exponential-s1",
        "runs/sweep/relu-s0",
        "runs/sweep/relu-s1",
    ]
    acc = _events(to / "runs/sweep/exponential-s1")
    assert [e.step for e in acc.Scalars("loss/train")] == [1, 2, 3]  # not twice
    assert _scalars(acc, "loss/train")[2] == pytest.approx(2.0 - 0.4 - 0.01)  # write_run's record
    assert _scalars(acc, "act/conv1/a")[3] == pytest.approx(-1.9)
    assert _scalars(acc, "test/test_acc_last")[3] == pytest.approx(0.8)


@needs_mlflow
def test_export_mlflow_runs_params_metrics_parent_and_idempotence(sweep_runs: Path, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    store = tmp_path / "mlruns"
    res = runner.invoke(app, ["export", "mlflow", str(sweep_runs), "--to", str(store)])
    assert res.exit_code == 0, res.output
    assert "exported 5 runs" in res.output
    client = MlflowClient(tracking_uri=store.resolve().as_uri())
    exp = client.get_experiment_by_name("actbench")

    def runs() -> dict[str, object]:
        return {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}

    first = runs()
    assert set(first) == {"sweep", "relu-s0", "relu-s1", "exponential-s0", "exponential-s1", "solo"}
    parent = first["sweep"].info.run_id
    assert all(first[n].data.tags.get("mlflow.parentRunId") == parent for n in first if "-s" in n)
    assert "mlflow.parentRunId" not in first["solo"].data.tags
    exp1 = first["exponential-s1"]
    assert exp1.data.params["activation.name"] == "exponential" and exp1.data.params["optim.lr"] == "0.001"
    history = client.get_metric_history(exp1.info.run_id, "loss/train")
    assert [(m.step, round(m.value, 6)) for m in history] == [(1, 1.79), (2, 1.59), (3, 1.39)]
    assert exp1.data.metrics["test/test_acc_last"] == pytest.approx(0.8)
    assert exp1.data.metrics["act/conv1/a"] == pytest.approx(-1.9)
    assert exp1.info.status == "FINISHED"
    artifacts = {a.path for a in client.list_artifacts(exp1.info.run_id)}
    assert {"config.yaml", "summary.json"} <= artifacts
    plots = {a.path for a in client.list_artifacts(parent, "plots")}
    assert "plots/val_acc.png" in plots and client.list_artifacts(first["solo"].info.run_id, "plots")

    res = runner.invoke(app, ["export", "mlflow", str(sweep_runs), "--to", str(store)])
    assert res.exit_code == 0 and "exported 0 runs" in res.output and "5 unchanged" in res.output
    assert {n: r.info.run_id for n, r in runs().items()} == {n: r.info.run_id for n, r in first.items()}

    # the run trained one more epoch: its MLflow run is replaced, with the longer history, once
    run_dir = sweep_runs / "sweep" / "relu-s0"
    with open(run_dir / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"epoch": 4, "train_loss": 1.0, "val_acc": 0.9}) + "\n")
    res = runner.invoke(app, ["export", "mlflow", str(sweep_runs), "--to", str(store)])
    assert "exported 1 runs" in res.output
    now = runs()
    assert len(now) == 6 and now["relu-s0"].info.run_id != first["relu-s0"].info.run_id
    steps = [m.step for m in client.get_metric_history(now["relu-s0"].info.run_id, "loss/train")]
    assert steps == [1, 2, 3, 4]


def test_tensorboard_setting_does_not_make_another_sweep_or_group(tmp_path: Path) -> None:
    from actbench import config as C
    from actbench.report import build as RP
    from actbench.sweep import plan as S

    base = tiny_config()
    S.write_manifest(S.plan_sweep(base, ["relu"], [0], {}, tmp_path / "sw"))
    logged = S.plan_sweep(C.replace(base, **{"run.tensorboard": True}), ["relu"], [0], {}, tmp_path / "sw")
    S.write_manifest(logged)  # the same sweep, now with event files: accepted
    assert logged.runs[0].config.run.tensorboard
    other = S.plan_sweep(C.replace(base, **{"train.epochs": 3}), ["relu"], [0], {}, tmp_path / "sw")
    with pytest.raises(R.RunError, match="different base config"):
        S.write_manifest(other)
    write_run(tmp_path / "g", "a-s0", "relu", 0, run__tensorboard=True)
    write_run(tmp_path / "g", "a-s1", "relu", 1)
    assert [len(g.runs) for g in RP.build_report([tmp_path / "g"]).groups] == [2]
