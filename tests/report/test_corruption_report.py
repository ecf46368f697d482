"""`actbench report` on corruptions.json: error per corruption, mCE and relative mCE vs the baseline
activation, exports and the heat map. Hand-built run folders; expected numbers computed here."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from actbench.report import build as RP
from actbench.report import exports as TB
from actbench.report.figures import write_figures
from tests.factories import PNG, SEVS, add_corruptions, write_run

# accuracy (fraction): clean, then per corruption one value per severity in SEVS, per seed
ACC = {
    "relu": [
        (0.80, {"gaussian_noise": [0.6, 0.5, 0.4], "contrast": [0.7, 0.6, 0.5], "saturate": [0.7, 0.7, 0.6]}),
        (
            0.78,
            {
                "gaussian_noise": [0.58, 0.46, 0.40],
                "contrast": [0.68, 0.6, 0.52],
                "saturate": [0.7, 0.6, 0.6],
            },
        ),
    ],
    "elu": [
        (
            0.82,
            {"gaussian_noise": [0.7, 0.6, 0.5], "contrast": [0.72, 0.62, 0.5], "saturate": [0.8, 0.7, 0.7]},
        ),
        (
            0.81,
            {"gaussian_noise": [0.72, 0.6, 0.52], "contrast": [0.7, 0.64, 0.5], "saturate": [0.8, 0.7, 0.6]},
        ),
    ],
}


@pytest.fixture
def corrupted(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    for act, seeds in ACC.items():
        for seed, (clean, accs) in enumerate(seeds):
            add_corruptions(write_run(root, f"{act}-s{seed}", act, seed, clean, 1.0), clean, accs)
    return root


def err(a: float) -> float:
    return 100 * (1 - a)


def by_hand(act: str) -> tuple[list[float], list[float]]:
    """Per-seed mCE and relative mCE over gaussian_noise and contrast (saturate is an extra corruption)."""
    base = ACC["relu"]
    bench = ("gaussian_noise", "contrast")
    base_err = {n: [statistics.mean(err(accs[n][i]) for _, accs in base) for i in range(3)] for n in bench}
    base_clean = statistics.mean(err(c) for c, _ in base)
    mce, rel = [], []
    for clean, accs in ACC[act]:
        ce = [sum(err(a) for a in accs[n]) / sum(base_err[n]) for n in bench]
        rce = [
            sum(err(a) - err(clean) for a in accs[n]) / sum(e - base_clean for e in base_err[n])
            for n in bench
        ]
        mce.append(100 * statistics.mean(ce))
        rel.append(100 * statistics.mean(rce))
    return mce, rel


def row(report: RP.Report, group: str) -> dict:
    return next(r for r in report.rows if r["group"] == group)["corruptions"]


def test_mce_and_relative_mce_against_hand_computation(corrupted: Path) -> None:
    report = RP.build_report([corrupted], baseline="relu")
    for act in ("relu", "elu"):
        st = row(report, act)
        mce, rel = by_hand(act)
        assert st["n"] == 2 and st["mce_corruptions"] == ["gaussian_noise", "contrast"]
        assert st["mce_pct"]["mean"] == pytest.approx(statistics.mean(mce))
        assert st["mce_pct"]["std"] == pytest.approx(statistics.stdev(mce))
        assert st["rel_mce_pct"]["mean"] == pytest.approx(statistics.mean(rel))
        gn = [statistics.mean(err(a) for a in accs["gaussian_noise"]) for _, accs in ACC[act]]
        assert st["error_pct"]["gaussian_noise"]["mean"] == pytest.approx(statistics.mean(gn))
    assert row(report, "relu")["mce_pct"]["mean"] == pytest.approx(100)  # the baseline normalises itself
    assert row(report, "elu")["mce_pct"]["mean"] < 100
    vs = row(report, "elu")["vs_baseline"]["mce_pct"]
    assert vs["diff"] == pytest.approx(
        statistics.mean(by_hand("elu")[0]) - statistics.mean(by_hand("relu")[0])
    )
    assert vs["p"] is not None and 0 < vs["p"] < 1
    assert "saturate" in row(report, "elu")["error_pct"]  # reported, but not in the mean


def test_relative_mce_leaves_out_corruptions_the_baseline_hardly_feels(tmp_path: Path) -> None:
    """contrast costs relu under 1 point on average: its relCE would be a ratio of noise, so relative mCE
    is gaussian_noise's alone, and the title names what was left out."""
    mild = {"relu": [0.795, 0.79, 0.80], "elu": [0.80, 0.78, 0.79]}  # relu's degradation ~0.5 points
    for act, seeds in ACC.items():
        for seed, (clean, accs) in enumerate(seeds):
            run = write_run(tmp_path, f"{act}-s{seed}", act, seed, clean, 1.0)
            add_corruptions(run, clean, accs | {"contrast": [a - 0.8 + clean for a in mild[act]]})
    report = RP.build_report([tmp_path], baseline="relu")
    st = row(report, "elu")
    assert st["rel_mce_omitted"] == ["contrast"]
    base = ACC["relu"]
    base_err = [statistics.mean(err(accs["gaussian_noise"][i]) for _, accs in base) for i in range(3)]
    base_clean = statistics.mean(err(c) for c, _ in base)
    rel = [
        100 * sum(err(a) - err(c) for a in accs["gaussian_noise"]) / sum(e - base_clean for e in base_err)
        for c, accs in ACC["elu"]
    ]
    assert st["rel_mce_pct"]["mean"] == pytest.approx(statistics.mean(rel))
    assert st["rel_mce_pct"]["std"] == pytest.approx(statistics.stdev(rel))
    assert "omitted: contrast" in TB.to_markdown(report)


def test_severities_not_in_every_run_are_left_out_with_a_warning(corrupted: Path) -> None:
    run = corrupted / "elu-s1"
    clean, accs = ACC["elu"][1]
    add_corruptions(run, clean, {n: [*v, 0.3] for n, v in accs.items()}, [1, 2, 3, 4])
    report = RP.build_report([corrupted], baseline="relu")
    assert row(report, "elu")["grid"]["contrast"] == SEVS
    assert any("severity 4 not in every run" in w for w in report.warnings)
    left_out = [w for w in report.warnings if "not in every run" in w]  # one line for all three
    assert left_out == [
        "corruptions gaussian_noise, contrast, saturate: severity 4 not in every run, left out"
    ]


def test_runs_without_corruptions_have_none(tmp_path: Path) -> None:
    write_run(tmp_path / "runs", "relu-s0", "relu", 0, 0.7, 1.0)
    report = RP.build_report([tmp_path / "runs"])
    assert report.rows[0]["corruptions"] is None and "CIFAR-10-C" not in TB.to_markdown(report)


def test_csv_of_groups_of_which_only_a_later_one_has_corruptions(tmp_path: Path) -> None:
    """The baseline measured clean only, ELU under corruptions too (its mCE then has no baseline to divide by,
    its error per corruption stands): the CSV has every group's columns (it
    took them from the first row, so DictWriter raised ValueError on ELU's corrupt_* fields)."""
    import csv
    import io

    root = tmp_path / "runs"
    for seed in range(2):
        write_run(root, f"relu-s{seed}", "relu", seed, 0.7, 1.0)
    for seed, (clean, accs) in enumerate(ACC["elu"]):
        add_corruptions(write_run(root, f"elu-s{seed}", "elu", seed, clean, 1.0), clean, accs)
    rows = list(csv.DictReader(io.StringIO(TB.to_csv(RP.build_report([root])))))
    assert [r["group"] for r in rows] == ["relu", "elu"]
    columns = [c for c in rows[0] if c.startswith("corrupt_")]
    assert columns and all(rows[0][c] == "" for c in columns) and rows[1]["corrupt_error_pct_contrast"] != ""


def test_tables_exports_and_heatmap(corrupted: Path, tmp_path: Path) -> None:
    report = RP.build_report([corrupted], baseline="relu")
    md = TB.to_markdown(report)
    assert "CIFAR-10-C" in md and "not AlexNet" in md and "mCE %" in md and "gaussian_noise" in md
    assert "mCE" in TB.to_latex(report)
    csv_text = TB.to_csv(report)
    assert "corrupt_mce_pct_mean" in csv_text and "corrupt_error_pct_contrast" in csv_text
    assert json.loads(TB.to_json(report))["groups"][0]["corruptions"]["mce_pct"]["mean"] is not None
    files, _ = write_figures(report, tmp_path / "plots")
    heat = tmp_path / "plots" / "corruptions_heatmap.png"
    assert heat in files and heat.read_bytes().startswith(PNG)
