"""The notebook API (issue 26): actbench.load_runs / load_metrics / load_report as pandas DataFrames, the
one-line error without pandas, a light `import actbench`, and the example notebook executed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import actbench
from actbench import runs as R
from actbench.config import dump_yaml, load_config

pd = pytest.importorskip("pandas")

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT / "docs" / "results" / "runs" / "cifar10-cpu"  # the 20-epoch page's 25 runs


def _run(root: Path, name: str, act: str, seed: int, status: str = "completed", done: int = 2) -> Path:
    """A run folder as training leaves it: config.yaml, metrics.jsonl, summary.json (written by hand)."""
    d = root / name
    d.mkdir(parents=True)
    epochs = 2
    cfg = load_config(None, [f"activation.name={act}", f"train.seed={seed}", f"train.epochs={epochs}"])
    (d / R.CONFIG).write_text(dump_yaml(cfg))
    learned = act in ("rational", "prelu")
    for e in range(1, done + 1):
        channels = {"mean": 0.5, "min": 0.4, "max": 0.6}  # metrics.jsonl's summary of per-channel values
        rec = {"epoch": e, "train_loss": 2.0 / e, "train_acc": 0.3 * e, "val_loss": 2.1 / e,
               "val_acc": 0.25 * e, "lr": 1e-3, "epoch_time_s": 1.5, "images_per_s": 100.0,
               "act": {"conv1": {"a": 1.0 - 0.1 * e}, "conv2": {"a": channels}} if learned else {},
               }  # fmt: skip
        R.append_metrics(d, rec)
    summary = {"status": status, "epochs_done": done, "wall_time_s": 4.0, "parameters": 1000}
    if status == "completed":
        last = {"epoch": epochs, "val_loss": 1.0, "val_acc": 0.5, "test_loss": 1.1}
        last["test_acc"] = 0.4 + seed / 100
        summary |= {"last": last, "best": {**last, "epoch": 1}, "timing": {"steady_epoch_s": 1.5}}
        summary["learned"] = {"conv1": {"a": [0.8]}, "conv2": {"a": [0.4, 0.6]}} if learned else {}
    R.write_json(d / R.SUMMARY, summary)
    return d


@pytest.fixture
def fixture_runs(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    for seed in (0, 1):
        _run(root, f"relu-s{seed}", "relu", seed)
        _run(root, f"rational-s{seed}", "rational", seed)
    _run(root, "relu-s2", "relu", 2, status="failed", done=1)
    return root


def test_load_runs_gives_one_row_per_run(fixture_runs: Path) -> None:
    df = actbench.load_runs(fixture_runs)
    assert len(df) == 5 and df["run"].is_unique
    assert list(df.columns[:4]) == ["run", "status", "activation.name", "train.seed"]
    assert {
        "optim.lr",
        "model.name",
        "last.test_acc_pct",
        "best.epoch",
        "steady_epoch_s",
        "parameters",
    } <= set(df.columns)
    row = df.set_index("run").loc[str(fixture_runs / "rational-s1")]
    assert (row["status"], row["activation.name"], row["train.seed"]) == ("completed", "rational", 1)
    assert row["last.test_acc_pct"] == pytest.approx(41.0) and row["best.epoch"] == 1
    assert row["learned.conv1.a"] == pytest.approx(0.8) and row["learned.conv2.a"] == pytest.approx(0.5)
    failed = df[df["status"] == "failed"]
    assert len(failed) == 1 and pd.isna(failed["last.test_acc_pct"]).all()
    assert df.groupby("activation.name")["last.test_acc_pct"].count().to_dict() == {"rational": 2, "relu": 2}
    assert actbench.load_runs([fixture_runs / "relu-s0"])["run"].tolist() == [str(fixture_runs / "relu-s0")]


def test_load_metrics_gives_one_row_per_run_and_epoch(fixture_runs: Path) -> None:
    df = actbench.load_metrics(str(fixture_runs))
    assert len(df) == 4 * 2 + 1
    assert list(df.columns[:4]) == ["run", "activation.name", "train.seed", "epoch"]
    assert {"train_loss", "val_acc_pct", "lr", "epoch_time_s", "act.conv1.a", "act.conv2.a"} <= set(
        df.columns
    )
    assert "val_acc" not in df.columns and df["val_acc_pct"].max() == pytest.approx(
        50.0
    )  # percent, as everywhere
    rational = df[df["activation.name"] == "rational"].sort_values(["train.seed", "epoch"])
    assert rational["act.conv1.a"].tolist() == pytest.approx([0.9, 0.8, 0.9, 0.8])
    assert rational["act.conv2.a"].tolist() == pytest.approx([0.5] * 4)  # per-channel: the mean
    assert df[df["activation.name"] == "relu"]["act.conv1.a"].isna().all()


def test_load_report_gives_the_reports_tables(fixture_runs: Path) -> None:
    tables = actbench.load_report(fixture_runs, bootstrap=0, tests="welch")
    summary, learned, per_run = tables["summary"], tables["learned"], tables["runs"]
    assert summary["group"].tolist() == ["relu", "rational"]  # paper order
    assert summary["n"].tolist() == [2, 2]
    assert summary["test_acc_pct_mean"].tolist() == pytest.approx([40.5, 40.5])
    assert summary.set_index("group").loc["relu", "excluded"] == "failed=1"
    assert learned.index.tolist() == ["init", "conv1", "conv2"]
    assert learned.columns.tolist() == ["rational", "rational k"]  # a, and the saturation level k
    assert learned.loc["conv2", "rational"] == pytest.approx(0.5)
    assert learned.loc["conv2", "rational k"] == pytest.approx(0.5)  # Rational: k = max(a, a_min)
    assert len(per_run) == 5 and {"group", "path", "seed", "status"} <= set(per_run.columns)
    assert isinstance(summary.attrs["warnings"], list)
    with pytest.raises(ValueError, match="--metric: 'final' is not allowed"):
        actbench.load_report(fixture_runs, metric="final")


def test_published_results_load_with_one_row_per_run() -> None:
    published = sorted(p.parent for p in PUBLISHED.rglob(R.SUMMARY))
    df = actbench.load_runs(PUBLISHED)
    assert len(df) == len(published) == 25
    assert (df["status"] == "completed").all() and df["last.test_acc_pct"].notna().all()
    assert sorted(df["activation.name"].unique()) == ["elu", "exponential", "prelu", "rational", "relu"]


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=full, capture_output=True, text=True,
                          timeout=300)  # fmt: skip


def test_import_stays_light_and_pandas_is_optional() -> None:
    out = _python("import sys, actbench\nprint(sorted({'pandas', 'torch'} & set(sys.modules)))")
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr
    code = "import sys\nsys.modules['pandas'] = None\nimport actbench\nactbench.load_runs('docs/results')"
    out = _python(code)
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert last == "ImportError: actbench's DataFrames need pandas: pip install 'actbench[analysis]'"
    with pytest.raises(AttributeError, match="has no attribute 'load_everything'"):
        actbench.load_everything  # noqa: B018


def test_example_notebook_runs_and_draws_a_figure(tmp_path: Path) -> None:
    figure = tmp_path / "figure.png"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ACTBENCH_FIGURE": str(figure), "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "examples/results_in_pandas.py"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "25 runs" in proc.stdout and f"wrote {figure}" in proc.stdout
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.dumps(sorted(p.name for p in tmp_path.iterdir())) == '["figure.png"]'
