"""Paired corruption comparison (report.corruptions.paired_corruption) in `actbench report`: hand-built
run folders with corruption-predictions.npz where ELU gets GAIN more corrupted images right than ReLU in
every benchmark cell; the expected difference is computed here from the arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from actbench.report import build as RP
from actbench.report import exports as TB
from actbench.report import sections as S
from actbench.report.corruptions import benchmark_cells, paired_cell
from tests.factories import add_corruptions, write_run

N, CLASSES, SEVS = 400, 10, [1, 2, 3]
NAMES = ("gaussian_noise", "contrast", "saturate")  # saturate: an extra corruption, not in the paired cells
GAINS = {0: 12, 1: 9, 2: 15}  # per seed and benchmark cell, images only ELU gets right (mean 12)
GAIN = 12


def _preds(rng: np.random.Generator, labels: np.ndarray, correct: np.ndarray) -> np.ndarray:
    wrong = (labels + 1 + rng.integers(0, CLASSES - 1, size=len(labels))) % CLASSES
    return np.where(correct, labels, wrong).astype(np.uint8)


def build(root: Path, seeds: tuple[int, ...] = (0, 1, 2), npz: bool = True) -> dict:
    """relu and elu runs with corruptions.json and corruption-predictions.npz; returns the correct masks."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, CLASSES, size=N)
    masks: dict = {}
    for seed in seeds:
        base = {(n, s): rng.random(N) < 0.5 for n in NAMES for s in SEVS}
        better = {}
        for cell, m in base.items():
            b = m.copy()
            b[np.flatnonzero(~m)[: GAINS.get(seed, GAIN)]] = True
            better[cell] = b
        for act, cells in (("relu", base), ("elu", better)):
            masks[(act, seed)] = cells
            accs = {n: [float(cells[(n, s)].mean()) for s in SEVS] for n in NAMES}
            run = write_run(root, f"{act}-s{seed}", act, seed, 0.8, 1.0)
            add_corruptions(run, 0.8, accs)
            if npz:
                arrays = {"labels": labels.astype(np.int64), "clean": labels.astype(np.uint8)}
                arrays |= {f"{n}/{s}": _preds(rng, labels, c) for (n, s), c in cells.items()}
                np.savez_compressed(run / "corruption-predictions.npz", **arrays)
    return masks


def _paired(report: RP.Report, act: str) -> dict | None:
    return next(r for r in report.rows if r["activation"] == act)["corruptions"]["paired"]


def test_paired_difference_against_direct_computation(tmp_path: Path) -> None:
    masks = build(tmp_path)
    got = _paired(RP.build_report([tmp_path], bootstrap=500), "elu")
    cells = [(n, s) for n in ("gaussian_noise", "contrast") for s in SEVS]
    per_pair = [
        100 * np.mean([masks[("elu", k)][c].mean() - masks[("relu", k)][c].mean() for c in cells])
        for k in (0, 1, 2)
    ]
    want = np.mean(per_pair)
    assert want == pytest.approx(100 * GAIN / N)
    assert got["diff"] == pytest.approx(want) and got["per_pair"] == pytest.approx(per_pair)
    assert (got["pairs"], got["seeds"], got["cells"]) == (3, [0, 1, 2], 6)  # saturate stays out
    # the seed pair is the unit: the t-interval over the 3 pair differences (df = 2)
    ci = stats.ttest_1samp(per_pair, 0.0).confidence_interval(0.95)
    assert (got["ci_low"], got["ci_high"]) == pytest.approx((ci.low, ci.high))


def test_baseline_row_and_tests_option(tmp_path: Path) -> None:
    build(tmp_path)
    report = RP.build_report([tmp_path], bootstrap=100)
    assert _paired(report, "relu") is None  # the baseline is not compared with itself
    heads, cells = S.corruption_cells(report.rows, "relu")
    i = heads.index("Δacc corrupted (paired) [95% CI]")
    by_group = {c[0]: c[i] for c in cells}
    assert by_group["relu"] == "baseline" and by_group["elu"].startswith("+3.00 [+")
    assert _paired(RP.build_report([tmp_path], tests="welch"), "elu") is None
    flat = TB.flat_row(next(r for r in report.rows if r["activation"] == "elu"))
    assert flat["corrupt_paired_acc_pct_diff"] == pytest.approx(100 * GAIN / N)


def test_unmatched_seeds_and_missing_predictions_give_none(tmp_path: Path) -> None:
    build(tmp_path / "a", npz=False)
    assert _paired(RP.build_report([tmp_path / "a"], bootstrap=50), "elu") is None
    assert paired_cell(None) == "—"
    build(tmp_path / "b", seeds=(0,))
    (tmp_path / "b" / "relu-s0" / "corruption-predictions.npz").write_bytes(b"not an npz")
    assert _paired(RP.build_report([tmp_path / "b"], bootstrap=50), "elu") is None  # unreadable: skipped


def test_benchmark_cells_keep_only_the_15_benchmark_corruptions() -> None:
    grid = {"gaussian_noise": [1, 2], "saturate": [1], "fog": [3]}
    assert benchmark_cells(grid) == [("gaussian_noise", 1), ("gaussian_noise", 2), ("fog", 3)]
