"""`actbench report` with per-example predictions: synthetic run folders (files written directly, no
training) where one activation is better on the same test images; the paired test must find it while
Welch's test on the seeds' accuracies does not. Expected numbers are computed here independently."""

from __future__ import annotations

import csv
import io
import json
import statistics
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from scipy import stats
from typer.testing import CliRunner

from actbench import paired as P
from actbench import report as RP
from actbench import tables as TB
from actbench.cli import app
from tests.test_report import write_run

N, CLASSES = 2000, 10
SEED_ACC = [0.55, 0.70, 0.85, 0.62]  # a large seed effect, shared by every activation trained with that seed
GAIN = 30  # rational: the baseline's correct images plus 30 more (+1.5 points) in every seed
ELU_SWAPS = [(14, 15), (19, 15), (13, 15), (16, 15)]  # elu: (wrong -> right, right -> wrong) images per seed


def _probs(pred: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """float16 softmax-like rows whose argmax is `pred` (top probability 0.3 to 0.9)."""
    top = rng.uniform(0.3, 0.9, size=len(pred))
    prob = np.repeat(((1 - top) / (CLASSES - 1))[:, None], CLASSES, axis=1)
    prob[np.arange(len(pred)), pred] = top
    return prob.astype(np.float16)


def _write_predictions(run_dir: Path, labels: np.ndarray, correct: np.ndarray, epoch: int, seed: int) -> None:
    """predictions.npz as actbench.predictions documents it, written with numpy directly."""
    rng = np.random.default_rng(1000 + seed)
    wrong = (labels + 1 + rng.integers(0, CLASSES - 1, size=len(labels))) % CLASSES
    pred = np.where(correct, labels, wrong).astype(np.int32)
    np.savez(
        run_dir / "predictions.npz",
        labels=labels.astype(np.int32),
        last_pred=pred,
        last_prob=_probs(pred, rng),
        last_epoch=np.int64(epoch),
    )


def build_runs(root: Path, predictions: bool = True) -> dict[str, list[np.ndarray]]:
    """relu (baseline), rational (better on the same images), elu (as good), 4 seeds each."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, CLASSES, size=N)
    correct: dict[str, list[np.ndarray]] = {"relu": [], "rational": [], "elu": []}
    for s, acc in enumerate(SEED_ACC):
        base = np.zeros(N, dtype=bool)
        base[rng.permutation(N)[: int(acc * N)]] = True
        better = base.copy()
        better[np.flatnonzero(~base)[:GAIN]] = True
        same = base.copy()
        gain, lose = ELU_SWAPS[s]
        same[rng.choice(np.flatnonzero(~base), gain, replace=False)] = True
        same[rng.choice(np.flatnonzero(base), lose, replace=False)] = False
        for act, c in (("relu", base), ("rational", better), ("elu", same)):
            correct[act].append(c)
            run = write_run(root, f"{act}-s{s}", act, s, acc=float(c.mean()), loss=1.0)
            if predictions:
                _write_predictions(run, labels, c, epoch=3, seed=s)
    correct["labels"] = [labels]
    return correct


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[np.ndarray]]]:
    root = tmp_path_factory.mktemp("paired") / "runs"
    return root, build_runs(root)


def _rows(report: RP.Report) -> dict[str, dict]:
    return {r["activation"]: r for r in report.rows}


def test_paired_finds_what_welch_misses(bench: tuple[Path, dict]) -> None:
    root, correct = bench
    rows = _rows(RP.build_report([root], bootstrap=500))
    rat = rows["rational"]
    # Welch on the seeds' accuracies: +1.5 points under ~12 points of seed spread -> not significant
    accs = [100 * c.mean() for c in correct["rational"]]
    base = [100 * c.mean() for c in correct["relu"]]
    welch_p = stats.ttest_ind(accs, base, equal_var=False).pvalue
    assert rat["vs_baseline"]["acc_pct"]["p"] == pytest.approx(welch_p)
    assert welch_p > 0.5 and rat["vs_baseline"]["acc_pct"]["p_holm"] > 0.05
    # McNemar: 30 discordant images per seed, all for rational -> binomial test of 120 of 120
    vs = rat["paired"]["vs_baseline"]
    assert (vs["b"], vs["c"], vs["pairs"], vs["seeds"]) == (4 * GAIN, 0, 4, [0, 1, 2, 3])
    assert vs["p"] == pytest.approx(stats.binomtest(4 * GAIN, 4 * GAIN).pvalue, rel=1e-9)
    assert vs["diff"] == pytest.approx(100 * GAIN / N)
    assert 0 < vs["ci_low"] < vs["diff"] < vs["ci_high"]
    assert rat["verdict"].startswith(f"rational vs relu: +{100 * GAIN / N:.1f} points [")
    assert rat["verdict"].endswith(": better")


def test_holm_over_the_report_and_the_unchanged_group(bench: tuple[Path, dict]) -> None:
    root, correct = bench
    rows = _rows(RP.build_report([root], bootstrap=200))
    p_rat, p_elu = rows["rational"]["paired"]["vs_baseline"]["p"], rows["elu"]["paired"]["vs_baseline"]["p"]
    b = sum(g for g, _ in ELU_SWAPS)
    c = sum(lo for _, lo in ELU_SWAPS)
    assert p_elu == pytest.approx(stats.binomtest(b, b + c).pvalue)
    # two comparisons: the smaller p doubles, the larger stays (and stays >= the smaller adjusted one)
    assert rows["rational"]["paired"]["vs_baseline"]["p_holm"] == pytest.approx(2 * p_rat)
    assert rows["elu"]["paired"]["vs_baseline"]["p_holm"] == pytest.approx(max(p_elu, 2 * p_rat))
    w = [rows[a]["vs_baseline"]["acc_pct"]["p"] for a in ("rational", "elu")]
    adjusted = [rows[a]["vs_baseline"]["acc_pct"]["p_holm"] for a in ("rational", "elu")]
    lo, hi = sorted(w)
    expected = {lo: min(1, 2 * lo), hi: max(min(1, 2 * lo), hi)}
    assert adjusted == pytest.approx([expected[w[0]], expected[w[1]]])
    # elu: seeds needed from the matched seeds' differences (paired t-test power)
    diffs = [100 * (e.mean() - r.mean()) for e, r in zip(correct["elu"], correct["relu"], strict=True)]
    needed = P.seeds_needed(statistics.fmean(diffs), statistics.stdev(diffs), paired=True)
    assert rows["elu"]["power"]["basis"] == "paired" and rows["elu"]["power"]["seeds_needed"] == needed
    assert f"not distinguishable with 4 seeds; about {needed} would be needed" in rows["elu"]["verdict"]


def test_ensemble_and_calibration_against_direct_computation(bench: tuple[Path, dict]) -> None:
    root, correct = bench
    rows = _rows(RP.build_report([root], bootstrap=0))
    labels = correct["labels"][0]
    files = [np.load(root / f"rational-s{s}" / "predictions.npz") for s in range(4)]
    mean = sum(f["last_prob"].astype(np.float64) for f in files) / 4
    assert rows["rational"]["paired"]["ensemble_acc_pct"] == pytest.approx(
        100 * np.mean(mean.argmax(1) == labels), abs=1e-9
    )
    eces = []
    for f in files:  # 15 bins (b/15, (b+1)/15] of the top probability: |sum(correct) - sum(conf)| / N
        conf, right = f["last_prob"].astype(np.float64).max(1), f["last_pred"] == labels
        bins = np.minimum((np.ceil(conf * 15) - 1).astype(int), 14)
        eces.append(100 * sum(abs(right[bins == b].sum() - conf[bins == b].sum()) for b in range(15)) / N)
    ece = rows["rational"]["paired"]["ece_pct"]
    assert ece["n"] == 4 and ece["mean"] == pytest.approx(statistics.fmean(eces), rel=1e-4)
    assert rows["rational"]["paired"]["ensemble_ece_pct"] > 0
    assert rows["relu"]["paired"]["vs_baseline"] is None and rows["relu"]["verdict"] is None
    assert rows["rational"]["paired"]["vs_baseline"]["ci_low"] is None  # --bootstrap 0: no CI


def test_bootstrap_is_deterministic_per_comparison(bench: tuple[Path, dict]) -> None:
    root, _ = bench
    one = _rows(RP.build_report([root], bootstrap=300))["rational"]["paired"]["vs_baseline"]
    two = _rows(RP.build_report([root], bootstrap=300))["rational"]["paired"]["vs_baseline"]
    alone = _rows(
        RP.build_report([root], bootstrap=300, where=["activation.name=relu", "activation.name=rational"])
    )
    assert (one["ci_low"], one["ci_high"]) == (two["ci_low"], two["ci_high"])
    vs = alone["rational"]["paired"]["vs_baseline"]
    assert (vs["ci_low"], vs["ci_high"]) == (one["ci_low"], one["ci_high"])  # other groups do not matter


def test_exports_carry_the_comparisons(bench: tuple[Path, dict]) -> None:
    root, _ = bench
    report = RP.build_report([root], bootstrap=200)
    md = TB.to_markdown(report)
    assert "p (McNemar)" in md and "seeds for 80% power" in md and "- rational vs relu:" in md
    rows = list(csv.DictReader(io.StringIO(TB.to_csv(report))))
    by = {r["activation"]: r for r in rows}
    assert float(by["rational"]["mcnemar_p"]) < 1e-30 and by["rational"]["verdict"].endswith("better")
    assert by["relu"]["mcnemar_p"] == "" and "acc_pct_p_holm_vs_baseline" in by["relu"]
    doc = json.loads(TB.to_json(report))
    assert {g["activation"]: g["paired"]["vs_baseline"] for g in doc["groups"]}["rational"]["b"] == 4 * GAIN
    tex = TB.to_latex(report)
    assert r"\begin{itemize}" in tex and "McNemar" in tex
    console = Console(file=io.StringIO(), width=250, color_system=None)
    TB.render_report(report, "table", console)
    text = console.file.getvalue()
    assert "p (McNemar)" in text and "rational vs relu" in text


def test_tests_option_chooses_columns(bench: tuple[Path, dict]) -> None:
    root, _ = bench
    welch_only = RP.build_report([root], tests="welch")
    heads, _ = TB.summary_table(welch_only)
    assert "p (Holm)" in heads and TB.comparison_table(welch_only) is None
    assert welch_only.rows[0]["paired"] is None
    rat = _rows(welch_only)["rational"]
    assert "not distinguishable with 4 seeds" in rat["verdict"]  # Welch's verdict: the seed spread hides it
    paired_only = RP.build_report([root], tests=["paired"], bootstrap=100)
    heads, _ = TB.summary_table(paired_only)
    assert "p" not in heads and "p (Holm)" not in heads and "d" not in heads
    title, heads, _ = TB.comparison_table(paired_only)
    assert "p (McNemar)" in heads and "ensemble acc %" not in heads and "ECE %" not in heads
    assert _rows(paired_only)["rational"]["verdict"].endswith("better")


def test_runs_without_predictions_report_as_before(tmp_path: Path) -> None:
    build_runs(tmp_path / "old", predictions=False)
    report = RP.build_report([tmp_path / "old"])
    assert all(r["paired"] is None for r in report.rows) and not report.warnings
    title, heads, _ = TB.comparison_table(report)
    assert heads == ["group", "seeds for 80% power"]  # power needs only the seeds' accuracies
    assert _rows(report)["rational"]["power"]["basis"] == "unpaired"
    assert "p (McNemar)" not in TB.to_markdown(report)


def test_missing_and_stale_predictions_are_warnings(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    build_runs(root)
    (root / "elu-s3" / "predictions.npz").unlink()
    (root / "elu-s2" / "predictions.npz").write_bytes(b"not a zip")
    with np.load(root / "rational-s1" / "predictions.npz") as f:
        arrays = dict(f)
    np.savez(root / "rational-s1" / "predictions.npz", **(arrays | {"last_epoch": np.int64(2)}))
    report = RP.build_report([root], bootstrap=50)
    text = "\n".join(report.warnings)
    assert "elu-s2/predictions.npz: unreadable" in text
    assert "rational-s1/predictions.npz: last predictions are of epoch 2" in text
    assert "elu: 2 of 4 run(s) have no last predictions" in text
    assert _rows(report)["rational"]["paired"]["vs_baseline"]["seeds"] == [0, 2, 3]


def test_cli_tests_and_bootstrap_options(bench: tuple[Path, dict]) -> None:
    root, _ = bench
    runner = CliRunner()
    res = runner.invoke(
        app, ["report", str(root), "--tests", "paired,power", "--bootstrap", "100", "--format", "csv"]
    )
    assert res.exit_code == 0, res.output
    assert "mcnemar_p" in res.output.splitlines()[0]
    res = runner.invoke(app, ["report", str(root), "--tests", "welch,bayes"])
    assert res.exit_code != 0 and "--tests: 'bayes' is not allowed" in res.output
    assert res.output.strip().count("\n") == 0 and "Traceback" not in res.output
    res = runner.invoke(app, ["report", str(root), "--bootstrap", "-1"])
    assert res.exit_code != 0 and "--bootstrap" in res.output
