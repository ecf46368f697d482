"""`actbench report` with per-example predictions: synthetic run folders (files written directly, no
training) where one activation is better in every seed pair while the seed-to-seed spread is large; the
decision over matched seeds (paired t) must find it while Welch's test on unmatched runs does not, and
the per-image McNemar test is reported per pair. Expected numbers are computed here independently."""

from __future__ import annotations

import csv
import io
import json
import shutil
import statistics
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from scipy import stats
from typer.testing import CliRunner

from actbench import predictions as PR
from actbench.cli import app
from actbench.report import build as RP
from actbench.report import exports as TB
from actbench.report import sections as S
from actbench.stats import paired as P
from tests.factories import write_run

N, CLASSES = 2000, 10
SEED_ACC = [0.55, 0.70, 0.85, 0.62]  # a large seed effect, shared by every activation trained with that seed
GAINS = [30, 22, 38, 26]  # rational: the baseline's correct images plus these many more, per seed
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
        better[np.flatnonzero(~base)[: GAINS[s]]] = True
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


def _accs(correct: dict, act: str) -> list[float]:
    return [100 * c.mean() for c in correct[act]]


def test_matched_seeds_find_what_welch_misses(bench: tuple[Path, dict]) -> None:
    root, correct = bench
    rows = _rows(RP.build_report([root], bootstrap=500))
    rat = rows["rational"]
    # Welch on the seeds' accuracies: +1.5 points under ~12 points of seed spread -> not significant
    accs, base = _accs(correct, "rational"), _accs(correct, "relu")
    welch_p = stats.ttest_ind(accs, base, equal_var=False).pvalue
    assert rat["vs_baseline"]["acc_pct"]["p"] == pytest.approx(welch_p)
    assert welch_p > 0.5 and "p_holm" not in rat["vs_baseline"]["acc_pct"]  # one p (Holm): the decision's
    # the decision: paired t over the 4 matched seeds (the seed effect cancels in each difference)
    paired = stats.ttest_rel(accs, base)
    assert rat["decision_method"] == "paired-t" and rat["decision_p"] == pytest.approx(paired.pvalue)
    ci = paired.confidence_interval(0.95)
    assert rat["decision_ci"] == pytest.approx([ci.low, ci.high])
    assert rat["decision"] == "better" and rat["verdict"].endswith(": better")
    assert rat["verdict"].startswith(f"rational vs relu: +{100 * sum(GAINS) / 4 / N:.2f} points [")
    # McNemar per seed pair (these networks on these images): every discordant image favours rational
    vs = rat["paired"]["vs_baseline"]
    assert (vs["b"], vs["c"], vs["pairs"], vs["seeds"]) == (sum(GAINS), 0, 4, [0, 1, 2, 3])
    per = [stats.binomtest(g, g).pvalue for g in GAINS]
    assert [q["p"] for q in vs["per_pair"]] == pytest.approx(per, rel=1e-9)
    assert vs["pairs_differ"] == 4 and "p" not in vs  # no pooled McNemar p any more
    # P(rational > relu) over all run pairs: the Mann-Whitney U / (4 * 4)
    u = stats.mannwhitneyu(accs, base).statistic
    assert rat["endpoints"]["last"]["prob_improvement"]["p"] == pytest.approx(u / 16)


def test_holm_over_the_report_and_the_unchanged_group(bench: tuple[Path, dict]) -> None:
    root, correct = bench
    rows = _rows(RP.build_report([root], bootstrap=200))
    p_rat, p_elu = rows["rational"]["decision_p"], rows["elu"]["decision_p"]
    assert p_elu == pytest.approx(stats.ttest_rel(_accs(correct, "elu"), _accs(correct, "relu")).pvalue)
    lo, hi = sorted([p_rat, p_elu])  # two comparisons: the smaller p doubles, the larger stays
    expected = {lo: min(1, 2 * lo), hi: max(min(1, 2 * lo), hi)}
    assert rows["rational"]["decision_p_holm"] == pytest.approx(expected[p_rat])
    assert rows["elu"]["decision_p_holm"] == pytest.approx(expected[p_elu])
    # elu: seeds needed (post hoc) from the matched seeds' differences (paired t-test power), at the
    # family's level: alpha / 2 for two comparisons (Holm's first step)
    diffs = [a - b for a, b in zip(_accs(correct, "elu"), _accs(correct, "relu"), strict=True)]
    needed = P.seeds_needed(statistics.fmean(diffs), statistics.stdev(diffs), paired=True, alpha=0.025)
    assert rows["elu"]["power"]["alpha"] == 0.025 and needed > 4
    assert rows["elu"]["power"]["basis"] == "paired" and rows["elu"]["power"]["seeds_needed"] == needed
    assert rows["elu"]["decision"] == "inconclusive"
    assert f"inconclusive; about {needed} seeds per group would give 80% power" in rows["elu"]["verdict"]


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
    assert rows["relu"]["decision"] is None and rows["relu"]["endpoints"] is None
    assert rows["rational"]["endpoints"]["last"]["prob_improvement"]["ci"] is None  # --bootstrap 0


def test_bootstrap_is_deterministic_per_comparison(bench: tuple[Path, dict], tmp_path: Path) -> None:
    root = Path(shutil.copytree(bench[0], tmp_path / "runs"))  # the fixture is shared: add runs to a copy

    def interval(report: RP.Report) -> list[float]:
        return _rows(report)["elu"]["endpoints"]["last"]["prob_improvement"]["ci"]

    # 4 runs a side: below MIN_BOOT_RUNS, so no interval is printed as if it meant something
    assert interval(RP.build_report([root], bootstrap=300)) is None
    for s in range(4, 6):  # a fifth (and sixth) seed per group: now an interval, the same every time
        for act in ("relu", "elu", "rational"):
            write_run(root, f"{act}-s{s}", act, s, acc=0.5 + 0.01 * s + 0.003 * len(act))
    one = interval(RP.build_report([root], bootstrap=300))
    two = interval(RP.build_report([root], bootstrap=50))  # enumerated exactly: resamples do not matter
    alone = RP.build_report([root], bootstrap=300, where=["activation.name=relu", "activation.name=elu"])
    assert one == two and interval(alone) == one  # other groups do not matter
    assert 0 <= one[0] < one[1] <= 1


def test_exports_carry_the_comparisons(bench: tuple[Path, dict]) -> None:
    root, _ = bench
    report = RP.build_report([root], bootstrap=200)
    md = TB.to_markdown(report)
    assert "Decisions vs relu" in md and "seed pairs differing (McNemar p (Holm) < 0.05)" in md
    assert "seeds for 80% power if Δ were true" in md and "- rational vs relu:" in md
    rows = list(csv.DictReader(io.StringIO(TB.to_csv(report))))
    by = {r["activation"]: r for r in rows}
    assert by["rational"]["decision"] == "better" and by["rational"]["verdict"].endswith("better")
    assert float(by["rational"]["decision_p"]) < 0.05 and by["rational"]["mcnemar_pairs_differ"] == "4"
    assert by["relu"]["decision"] == "" and "acc_pct_p_welch_vs_baseline" in by["relu"]
    doc = json.loads(TB.to_json(report))
    groups = {g["activation"]: g for g in doc["groups"]}
    assert groups["rational"]["paired"]["vs_baseline"]["b"] == sum(GAINS)
    for key in ("decision", "decision_p", "decision_p_holm", "decision_ci", "decision_method"):
        assert groups["rational"][key] is not None and key in groups["relu"]
    tex = TB.to_latex(report)
    assert r"\begin{itemize}" in tex and "McNemar" in tex and "Decisions vs relu" in tex
    console = Console(file=io.StringIO(), width=250, color_system=None)
    TB.render_report(report, "table", console)
    text = console.file.getvalue()
    assert "Decisions vs relu" in text and "rational vs relu" in text and "better" in text


def test_tests_option_chooses_columns(bench: tuple[Path, dict]) -> None:
    root, _ = bench
    welch_only = RP.build_report([root], tests="welch")
    heads = S.results_table(welch_only).heads
    assert "p (Holm)" in heads and S.comparison_table(welch_only) is None
    assert welch_only.rows[0]["paired"] is None
    heads = S.decision_table(welch_only).heads  # the decision needs no predictions and is always made
    assert "seeds for 80% power if Δ were true" not in heads
    assert _rows(welch_only)["rational"]["decision"] == "better"
    paired_only = RP.build_report([root], tests=["paired"], bootstrap=100)
    heads = S.results_table(paired_only).heads
    assert "p (Welch)" not in heads and "d" not in heads and "p (loss, Welch)" not in heads
    assert "p (Holm)" in heads and "95% CI Δacc" in heads  # the decision's, always
    heads = S.comparison_table(paired_only).heads
    assert "b / c" in heads and "ensemble acc %" not in heads and "ECE %" not in heads
    assert _rows(paired_only)["rational"]["verdict"].endswith("better")


def test_runs_without_predictions_report_as_before(tmp_path: Path) -> None:
    build_runs(tmp_path / "old", predictions=False)
    report = RP.build_report([tmp_path / "old"])
    assert all(r["paired"] is None for r in report.rows) and not report.warnings
    assert S.comparison_table(report) is None  # nothing per image without predictions
    heads = S.decision_table(report).heads
    assert "seeds for 80% power if Δ were true" in heads  # power needs only the seeds' accuracies
    assert _rows(report)["rational"]["power"]["basis"] == "paired"
    assert _rows(report)["rational"]["decision"] == "better"
    assert "McNemar" not in TB.to_markdown(report)


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
    assert "mcnemar_b" in res.output.splitlines()[0] and "decision_p" in res.output.splitlines()[0]
    res = runner.invoke(app, ["report", str(root), "--tests", "welch,bayes"])
    assert res.exit_code != 0 and "--tests: 'bayes' is not allowed" in res.output
    assert res.output.strip().count("\n") == 0 and "Traceback" not in res.output
    res = runner.invoke(app, ["report", str(root), "--bootstrap", "-1"])
    assert res.exit_code != 0 and "--bootstrap" in res.output
    res = runner.invoke(app, ["report", str(root), "--mde", "1.0", "--format", "md"])
    assert res.exit_code == 0, res.output
    assert "seeds for Δ = 1" in res.output
    res = runner.invoke(app, ["report", str(root), "--mde", "-1"])
    assert res.exit_code != 0 and "--mde: -1.0 is not allowed" in res.output and "Traceback" not in res.output


def test_slim_copies_give_the_same_decisions(bench: tuple[Path, dict], tmp_path: Path) -> None:
    """predictions.slim_copy (no probabilities, as published) -> the same decisions and per-pair tests."""
    root, _ = bench
    for run in sorted(root.iterdir()):
        dest = tmp_path / run.name
        shutil.copytree(run, dest, ignore=shutil.ignore_patterns("predictions.npz"))
        assert PR.slim_copy(run, dest) == dest / "predictions.npz"
        assert PR.load(dest, "last").prob is None
        assert np.array_equal(PR.load(dest, "last").pred, PR.load(run, "last").pred)
    full, slim = RP.build_report([root], bootstrap=200), RP.build_report([tmp_path], bootstrap=200)
    for act, row in _rows(full).items():
        got = _rows(slim)[act]
        assert got["decision"] == row["decision"] and got["verdict"] == row["verdict"]
        mine, theirs = (got["paired"]["vs_baseline"] or {}), (row["paired"]["vs_baseline"] or {})
        assert mine.get("per_pair") == theirs.get("per_pair")
        assert "ensemble_acc_pct" not in got["paired"] and "ece_pct" not in got["paired"]
        assert any("without probabilities" in n for n in got["paired"]["notes"])
    heads = S.comparison_table(slim).heads
    assert "ensemble acc %" not in heads and "ECE %" not in heads  # no empty columns
    paired_only = RP.build_report([tmp_path], tests="welch,paired,power", bootstrap=200)
    assert not any(r["paired"]["notes"] for r in paired_only.rows)


def test_one_primary_endpoint_decides_the_other_is_sensitivity(tmp_path: Path) -> None:
    """rational is clearly better at the last epoch and equal at the best-validation one: the report
    decides at its primary endpoint only (one Holm family); the other shows Δ [CI] without a decision."""
    for s, (base, gain) in enumerate([(0.70, 0.021), (0.72, 0.018), (0.71, 0.024), (0.69, 0.02)]):
        write_run(tmp_path, f"relu-s{s}", "relu", s, acc=base)
        run = write_run(tmp_path, f"rational-s{s}", "rational", s, acc=base + gain)
        summary = json.loads((run / "summary.json").read_text())
        summary["best"]["test_acc"] = base - 0.01 + (0.004 if s % 2 else -0.004)  # relu's best: base - 0.01
        (run / "summary.json").write_text(json.dumps(summary))
    report = RP.build_report([tmp_path], bootstrap=0)
    row = _rows(report)["rational"]
    assert row["endpoints"]["last"]["decision"] == "better" and row["decision"] == "better"
    best_end = row["endpoints"]["best"]
    assert best_end["decision"] is None and best_end["p_holm"] is None and best_end["p"] > 0.05
    assert not any("endpoint" in w for w in report.warnings)
    heads, cells = S.decision_table(report).heads, S.decision_table(report).rows
    assert heads[9:11] == ["decision (last)", "Δacc (best, sensitivity)"]
    lo, hi = best_end["ci"]
    want = ["better", f"{best_end['diff']:+.2f} [{lo:+.2f}, {hi:+.2f}]"]
    assert [c for c in cells if c[0] == "rational"][0][9:11] == want
    assert json.loads(TB.to_json(report))["family"] == {
        "endpoint": "last", "correction": "holm", "alpha": 0.05, "m": 1, "sensitivity": "best"
    }  # fmt: skip
    best = _rows(RP.build_report([tmp_path], metric="best", bootstrap=0))["rational"]
    assert best["decision"] == "inconclusive" and best["decision_metric"] == "best"


def test_no_power_figure_without_a_spread_to_plan_with() -> None:
    """A comparison without seed spread (every pair the same difference) has no t-test; its power figure
    was "2 (have 2)", a number that said the seeds sufficed for a comparison the report left undecided."""
    from actbench.report.comparisons import power_row
    from actbench.stats import decisions as D

    d = D.decide([(0, 40.65), (1, 35.55)], [(0, 40.15), (1, 35.05)], n_boot=0)
    assert d is not None and d["sd"] == 0.0
    assert power_row(d, 0.5) is None


def test_runs_left_out_of_the_paired_decision_are_named(tmp_path: Path) -> None:
    """rational has seeds 0-4, relu 0-2: the decision pairs 3 seeds and leaves 2 rational runs out; the
    results table still shows n = 5 and a mean over 5, so the report says which runs the decision used."""
    for s in range(5):
        write_run(tmp_path, f"rational-s{s}", "rational", s, acc=0.72 + 0.003 * s)
        if s < 3:
            write_run(tmp_path, f"relu-s{s}", "relu", s, acc=0.71 + 0.001 * s * s)
    report = RP.build_report([tmp_path], bootstrap=0)
    row = _rows(report)["rational"]
    assert row["n"] == 5 and row["endpoints"]["last"]["n"] == 3
    assert any(
        w.startswith("rational: the decision pairs 3 matched seeds with relu (0, 1, 2); 2 run(s) whose seed")
        for w in report.warnings
    ), report.warnings
    write_run(tmp_path, "relu-s3", "relu", 3, acc=0.712)  # relu-s3 pairs; rational-s4 alone stays out
    warned = [w for w in RP.build_report([tmp_path], bootstrap=0).warnings if "matched seeds" in w]
    assert len(warned) == 1 and "1 run(s) whose seed" in warned[0]
