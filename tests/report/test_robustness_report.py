"""`actbench report` on robustness.json: accuracy per noise level, nAUC, nAUC vs baseline, exports, plot.

Hand-built run folders with known numbers; expected values are computed here independently (numpy's
trapezoid rule, the statistics module, test_report's hand-written Welch test).
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from pathlib import Path

import numpy as np
import pytest
import yaml
from rich.console import Console

from actbench.report import build as RP
from actbench.report import exports as TB
from actbench.report import sections as S
from actbench.report.figures import write_figures
from tests.factories import PNG, welch_by_hand, write_run

UNPAIRED = (
    "prelu: the decision pairs 2 matched seeds with relu (0, 1); 1 run(s) whose seed has no result on the "
    "other side are left out of it"
)
LEVELS = [0.0, 0.05, 0.1, 0.2]  # uneven spacing: a plain mean over levels would differ from the nAUC
ACC = {  # test accuracy (fraction) at each level, per seed
    "relu": [[0.70, 0.66, 0.60, 0.45], [0.72, 0.69, 0.61, 0.43], [0.75, 0.70, 0.64, 0.50]],
    "elu": [[0.78, 0.76, 0.72, 0.62], [0.80, 0.77, 0.74, 0.60], [0.83, 0.80, 0.75, 0.66]],
    "prelu": [[0.74, 0.70, 0.62, 0.44], [0.76, 0.71, 0.66, 0.47]],
}


def add_robustness(run_dir: Path, results: dict[str, list[float]], levels: list[float] = LEVELS) -> None:
    """robustness.json as actbench.robustness.noise writes it (fractions)."""
    doc = {
        "checkpoint": "last",
        "epoch": 3,
        "seed": 0,
        "split": "test",
        "results": {
            kind: [{"level": lv, "loss": 1.0, "acc": a} for lv, a in zip(levels, accs, strict=True)]
            for kind, accs in results.items()
        },
    }
    (run_dir / "robustness.json").write_text(json.dumps(doc))


@pytest.fixture
def noisy(tmp_path: Path) -> Path:
    """relu x3, elu x3, prelu x2, each with gaussian robustness; salt_pepper for relu and elu only."""
    root = tmp_path / "runs"
    for act, per_seed in ACC.items():
        for seed, accs in enumerate(per_seed):
            run = write_run(root, f"{act}-s{seed}", act, seed, accs[0], 1.0)
            kinds = {"gaussian": accs} | ({"salt_pepper": [a - 0.05 for a in accs]} if act != "prelu" else {})
            add_robustness(run, kinds)
    return root


def auc_pct(accs: list[float], levels: list[float] = LEVELS) -> float:
    return 100 * float(np.trapezoid(accs, levels)) / (levels[-1] - levels[0])


def robust(report: RP.Report, label: str, kind: str = "gaussian") -> dict:
    return next(r for r in report.rows if r["group"] == label)["robustness"][kind]


def test_accuracy_per_level_auc_and_p_value_against_hand_computation(noisy: Path) -> None:
    report = RP.build_report([noisy])
    assert report.warnings == [UNPAIRED]  # prelu has seeds 0-1, relu 0-2
    elu, relu = robust(report, "elu"), robust(report, "relu")
    assert elu["levels"] == LEVELS and elu["n"] == 3 and elu["checkpoint"] == "last"
    for i, d in enumerate(elu["acc_pct"]):
        values = [100 * accs[i] for accs in ACC["elu"]]
        assert d["mean"] == pytest.approx(statistics.mean(values))
        assert d["std"] == pytest.approx(statistics.stdev(values))
    aucs = {act: [auc_pct(a) for a in per_seed] for act, per_seed in ACC.items()}
    assert elu["auc_pct"]["mean"] == pytest.approx(statistics.mean(aucs["elu"]))
    assert elu["auc_pct"]["std"] == pytest.approx(statistics.stdev(aucs["elu"]))
    assert aucs["elu"][0] != pytest.approx(100 * statistics.mean(ACC["elu"][0]))  # the spacing matters
    t, df, p, d = welch_by_hand(aucs["elu"], aucs["relu"])
    vs = elu["vs_baseline"]
    assert vs["diff"] == pytest.approx(statistics.mean(aucs["elu"]) - statistics.mean(aucs["relu"]))
    assert (vs["t"], vs["df"], vs["d"]) == pytest.approx((t, df, d))
    assert vs["p"] == pytest.approx(p, rel=1e-3)
    assert relu["vs_baseline"] is None  # the baseline itself
    prelu = robust(report, "prelu", "salt_pepper")  # prelu runs measured gaussian only
    assert prelu["n"] == 0 and prelu["auc_pct"]["mean"] is None


def test_runs_without_robustness_have_none_and_no_warnings(tmp_path: Path) -> None:
    for seed in range(2):
        write_run(tmp_path, f"relu-s{seed}", "relu", seed, 0.7)
    report = RP.build_report([tmp_path])
    assert report.rows[0]["robustness"] == {} and report.warnings == []
    assert S.robustness_kinds(report) == [] and "noise" not in TB.to_markdown(report)
    assert not any(c.startswith("robust_") for c in next(csv.reader(io.StringIO(TB.to_csv(report)))))


def test_robustness_settings_and_old_configs_do_not_split_groups(noisy: Path) -> None:
    write_run(noisy, "relu-s5", "relu", 5, 0.7, robustness__enabled=True, robustness__kinds=["uniform"])
    old = write_run(noisy, "relu-s6", "relu", 6, 0.7)  # written before the robustness section existed
    cfg = yaml.safe_load((old / "config.yaml").read_text())
    del cfg["robustness"]
    (old / "config.yaml").write_text(yaml.safe_dump(cfg))
    report = RP.build_report([noisy])
    assert [(r["group"], r["n"]) for r in report.rows] == [("relu", 5), ("elu", 3), ("prelu", 2)]
    assert robust(report, "relu")["n"] == 3  # only the runs that have robustness.json


def test_levels_not_in_every_run_are_left_out_with_one_warning(noisy: Path) -> None:
    add_robustness(noisy / "relu-s0", {"gaussian": [*ACC["relu"][0], 0.3]}, [*LEVELS, 0.4])
    report = RP.build_report([noisy])
    assert robust(report, "relu")["levels"] == LEVELS
    assert robust(report, "relu")["auc_pct"]["mean"] == pytest.approx(
        statistics.mean(auc_pct(a) for a in ACC["relu"])
    )
    assert report.warnings == [
        UNPAIRED,
        "robustness gaussian: level(s) 0.4 not measured in every run, left out",
    ]


def test_tables_and_exports_include_robustness(noisy: Path) -> None:
    report = RP.build_report([noisy])
    heads, cells = S.robustness_table(report, "gaussian").heads, S.robustness_table(report, "gaussian").rows
    assert heads == ["group", "n", "0", "0.05", "0.1", "0.2", "nAUC acc %", "ΔnAUC vs relu", "p (nAUC)"]
    assert [c[0] for c in cells] == ["relu", "elu", "prelu"] and cells[0][-2] == "baseline"
    assert cells[1][2] == f"{100 * statistics.mean(a[0] for a in ACC['elu']):.2f} ± " + (
        f"{statistics.stdev(100 * a[0] for a in ACC['elu']):.2f}"
    )
    md = TB.to_markdown(report)
    assert "under gaussian noise" in md and "under salt_pepper noise" in md
    assert (
        len([b for b in md.split("\n\n") if b.startswith("|")]) == 5
    )  # results, cost, decisions, two noise kinds
    assert TB.to_latex(report).count(r"\begin{tabular}") == 5
    rows = list(csv.DictReader(io.StringIO(TB.to_csv(report))))
    aucs = [auc_pct(a) for a in ACC["elu"]]
    assert float(rows[1]["robust_gaussian_auc_pct_mean"]) == pytest.approx(statistics.mean(aucs))
    assert float(rows[1]["robust_gaussian_acc_pct_at_0.05_mean"]) == pytest.approx(
        statistics.mean(100 * a[1] for a in ACC["elu"])
    )
    assert rows[2]["robust_salt_pepper_n"] == "0" and rows[2]["robust_salt_pepper_auc_pct_mean"] == ""
    doc = json.loads(TB.to_json(report))
    assert doc["groups"][1]["robustness"]["gaussian"]["vs_baseline"]["p"] > 0
    console = Console(record=True, width=300)
    TB.render_report(report, console=console)
    text = console.export_text()
    assert "Test accuracy % under gaussian noise" in text and "ΔnAUC vs relu" in text


def test_robustness_plots_are_pngs(noisy: Path, tmp_path: Path) -> None:
    files, warnings = write_figures(RP.build_report([noisy]), tmp_path / "figs")
    names = {f.name for f in files}
    assert {"robustness_gaussian.png", "robustness_salt_pepper.png"} <= names and warnings == []
    for name in ("robustness_gaussian.png", "robustness_salt_pepper.png"):
        assert (tmp_path / "figs" / name).read_bytes()[:8] == PNG
