"""`actbench report`: hand-built run folders with known numbers -> statistics, tables, exports, figures.

Expected statistics are computed here independently (statistics module, hand formulas, a numeric
integral of the t density), never through actbench.report.build's own code path.
"""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
import statistics
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from actbench.report import build as RP
from actbench.report import exports as TB
from actbench.report import groups as G
from actbench.report import sections as S
from actbench.report.figures import act_series, write_figures
from actbench.stats import summary as ST
from tests.factories import PNG, REPO, welch_by_hand, write_run

T975_DF2 = 4.302652729911275  # t quantile 0.975 with 2 degrees of freedom (tables)

RELU = {"acc": [0.70, 0.72, 0.75], "loss": [0.90, 0.85, 0.80]}
EXP = {"acc": [0.78, 0.80, 0.83], "loss": [0.60, 0.62, 0.55]}
EXP_A = {"conv1": [-2.0, -2.2, -2.1], "conv2": [-1.9, -2.0, -2.1], "conv3": [-1.5, -1.7, -1.6]}
PRELU_A = {"conv1": [0.05, 0.07], "conv2": [0.02, 0.04], "conv3": [0.03, 0.03]}


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    """runs/: relu x3, exponential x3 (+1 failed) nested in a sweep folder, prelu x2."""
    root = tmp_path / "runs"
    for s in range(3):
        write_run(root, f"relu-s{s}", "relu", s, RELU["acc"][s], RELU["loss"][s])
        learned = {layer: values[s] for layer, values in EXP_A.items()}
        write_run(
            root / "sweep",
            f"exponential-s{s}",
            "exponential",
            s,
            EXP["acc"][s],
            EXP["loss"][s],
            learned=learned,
            activation__init=0.0,
        )
    write_run(root / "sweep", "exponential-s3", "exponential", 3, status="failed", activation__init=0.0)
    for s in range(2):
        learned = {layer: values[s] for layer, values in PRELU_A.items()}
        write_run(
            root, f"prelu-s{s}", "prelu", s, 0.74 + 0.02 * s, 0.7, learned=learned, activation__init=0.25
        )
    return root


def row_of(report: RP.Report, label: str) -> dict[str, Any]:
    return next(r for r in report.rows if r["group"] == label)


# --- independent reference statistics ---------------------------------------------------------------


# --- statistics and grouping ------------------------------------------------------------------------


def test_groups_mean_std_ci_and_failed_runs(bench: Path) -> None:
    report = RP.build_report([bench])
    assert [r["group"] for r in report.rows] == ["relu", "prelu", "exponential"]  # paper order
    row = row_of(report, "exponential")
    accs = [100 * a for a in EXP["acc"]]
    assert row["n"] == 3 and row["excluded"] == {"failed": 1}
    acc = row["test_acc_pct"]
    assert acc["mean"] == pytest.approx(statistics.mean(accs))
    assert acc["std"] == pytest.approx(statistics.stdev(accs))
    half = T975_DF2 * statistics.stdev(accs) / math.sqrt(3)
    assert (acc["ci_low"], acc["ci_high"]) == pytest.approx(
        (statistics.mean(accs) - half, statistics.mean(accs) + half)
    )
    assert row["test_loss"]["mean"] == pytest.approx(statistics.mean(EXP["loss"]))
    assert {r["status"] for r in row["runs"]} == {"completed", "failed"}
    t = S.results_table(report)
    cells = dict(zip(t.heads, t.rows[2], strict=True))
    assert cells["n"] == "3 (+1 failed)"


def test_welch_p_value_and_cohens_d_against_hand_formulas(bench: Path) -> None:
    row = row_of(RP.build_report([bench]), "exponential")
    a, b = [100 * x for x in EXP["acc"]], [100 * x for x in RELU["acc"]]
    t, df, p, d = welch_by_hand(a, b)
    cmp = row["vs_baseline"]["acc_pct"]
    assert row["baseline"] == "relu"
    assert cmp["diff"] == pytest.approx(statistics.mean(a) - statistics.mean(b))
    assert (cmp["t"], cmp["df"], cmp["d"]) == pytest.approx((t, df, d))
    assert cmp["p"] == pytest.approx(p, abs=1e-6)
    t, df, p, d = welch_by_hand(EXP["loss"], RELU["loss"])
    assert (row["vs_baseline"]["loss"]["p"], row["vs_baseline"]["loss"]["d"]) == pytest.approx(
        (p, d), abs=1e-6
    )
    assert row_of(RP.build_report([bench]), "relu")["vs_baseline"] is None


def test_compare_needs_two_per_side_and_handles_zero_spread() -> None:
    one = ST.compare([80.0], [70.0, 72.0])
    assert one["diff"] == pytest.approx(9.0) and one["p"] is None and one["d"] is None
    flat = ST.compare([1.0, 1.0], [1.0, 1.0])
    assert flat["diff"] == 0 and flat["d"] is None and flat["p"] is None
    assert ST.describe([])["mean"] is None and ST.describe([2.0])["std"] is None


def test_best_metric_uses_best_val_epoch(bench: Path) -> None:
    row = row_of(RP.build_report([bench], metric="best"), "relu")
    assert row["test_acc_pct"]["mean"] == pytest.approx(statistics.mean(100 * a - 1 for a in RELU["acc"]))
    assert row["epoch"] == 2
    assert "best epoch" in S.results_table(RP.build_report([bench], metric="best")).heads


def test_timing_and_memory_per_group(bench: Path) -> None:
    t = row_of(RP.build_report([bench]), "relu")["timing"]
    assert t["steady_epoch_s"] == pytest.approx(statistics.mean([2.0, 3.0, 4.0]))
    assert t["images_per_s"] == pytest.approx(2500.0)  # epochs 2..3 (epoch 1 is warm-up)
    assert t["peak_memory_bytes"] == 102 * 2**20 and t["peak_memory_kind"] == "max_rss"


def test_labels_name_varying_keys_and_baseline_has_same_settings(bench: Path) -> None:
    write_run(bench, "exp-lr-s0", "exponential", 0, 0.6, optim__lr=0.01, activation__init=0.0)
    write_run(bench, "exp-lr-s1", "exponential", 1, 0.62, optim__lr=0.01, activation__init=0.0)
    report = RP.build_report([bench])
    labels = {r["group"] for r in report.rows}
    assert {"exponential (optim.lr=0.01)", "exponential (optim.lr=0.001)", "relu (optim.lr=0.001)"} <= labels
    assert row_of(report, "exponential (optim.lr=0.01)")["vs_baseline"] is None  # no relu at lr=0.01
    write_run(bench, "relu-lr-s0", "relu", 0, 0.5, optim__lr=0.01, data__root="/elsewhere")  # same data
    report = RP.build_report([bench])
    assert row_of(report, "exponential (optim.lr=0.01)")["baseline"] == "relu (optim.lr=0.01)"
    assert row_of(report, "exponential (optim.lr=0.001)")["baseline"] == "relu (optim.lr=0.001)"


def test_folder_datasets_group_by_root(tmp_path: Path) -> None:
    for s, root in enumerate(["a", "a", "b"]):
        write_run(tmp_path, f"r{s}", "relu", s, 0.5, data__name="folder", data__root=root)
    labels = [r["group"] for r in RP.build_report([tmp_path]).rows]
    assert labels == ["relu (data.root=a)", "relu (data.root=b)"]


def test_where_filters_sort_and_option_errors(bench: Path) -> None:
    names = lambda rep: [r["activation"] for r in rep.rows]  # noqa: E731
    assert names(RP.build_report([bench], where=["activation.name=exp"])) == ["exponential"]
    assert len(RP.build_report([bench], where=["optim.lr=1e-3"]).rows) == 3  # YAML reads 1e-3 as text
    both = RP.build_report(
        [bench], where=["activation.name=relu", "activation.name=prelu", "data.name=synthetic"]
    )
    assert names(both) == ["relu", "prelu"]
    assert names(RP.build_report([bench], sort="acc")) == ["exponential", "prelu", "relu"]
    assert names(RP.build_report([bench], sort="loss")) == ["exponential", "prelu", "relu"]
    assert names(RP.build_report([bench], sort="p"))[-1] == "relu"  # no p for the baseline itself
    for kwargs in (
        {"where": ["nope.key=1"]},
        {"where": ["data.name=cifar10"]},
        {"where": ["novalue"]},
        {"metric": "first"},
        {"sort": "speed"},
        {"paper": "mnist"},
    ):
        with pytest.raises(G.ReportError) as exc:
            RP.build_report([bench], **kwargs)
        assert "\n" not in str(exc.value)


# --- robustness -------------------------------------------------------------------------------------


def test_crash_leftovers_are_warnings_not_crashes(bench: Path) -> None:
    broken = write_run(bench, "relu-s9", "relu", 9, 0.1)
    with open(broken / "metrics.jsonl", "a") as f:
        f.write('{"epoch": 4, "train_lo')  # half-written by a crash
    (write_run(bench, "relu-s8", "relu", 8, 0.1) / "summary.json").write_text("{not json")
    write_run(bench, "relu-s7", "relu", 7, status="running")
    (bench / "notarun").mkdir()
    (bench / "notarun" / "config.yaml").write_text("train: {seed: 1}\n")
    (bench / "plots").mkdir()
    report = RP.build_report([bench])
    text = "\n".join(report.warnings)
    assert "corrupt line" in text and "summary.json: unreadable" in text and "notarun: not a run" in text
    row = row_of(report, "relu")
    assert row["n"] == 4 and row["excluded"] == {"running": 1, "unknown": 1}
    assert row["test_acc_pct"]["mean"] == pytest.approx(statistics.mean([70, 72, 75, 10]))


@pytest.mark.parametrize("make", ["empty_list", "missing", "file", "empty_dir", "only_junk"])
def test_bad_paths_are_one_line_errors(tmp_path: Path, make: str) -> None:
    paths: list[Path] = [tmp_path / "nope"] if make == "missing" else [tmp_path]
    if make == "empty_list":
        paths = []
    elif make == "file":
        paths = [tmp_path / "x.txt"]
        paths[0].write_text("x")
    elif make == "only_junk":
        (tmp_path / "a").mkdir()
        (tmp_path / "a" / "metrics.jsonl").write_text("garbage\n")
    with pytest.raises(G.ReportError) as exc:
        RP.build_report(paths)
    assert str(exc.value) and "\n" not in str(exc.value)


# --- tables, paper references, exports --------------------------------------------------------------


def test_learned_parameter_table_in_paper_table1_layout(bench: Path) -> None:
    report = RP.build_report([bench], paper="cifar10")
    heads, rows = S.learned_table(report).heads, S.learned_table(report).rows
    assert heads == [
        "layer", "prelu", "exponential", "prelu (paper)", "exponential (paper)", "exponential k",
        "exponential k (paper)",
    ]  # fmt: skip
    assert [r[0] for r in rows] == ["init", "conv1", "conv2", "conv3"]
    cells = report.learned["cells"]
    assert cells["exponential"]["init"]["mean"] == 0.0 and cells["prelu"]["init"]["mean"] == 0.25
    for layer, values in EXP_A.items():
        assert cells["exponential"][layer]["mean"] == pytest.approx(statistics.mean(values))
        assert cells["exponential"][layer]["std"] == pytest.approx(statistics.stdev(values))
        # k = e^a of each run, then the mean over seeds (not e^ of the mean a)
        ks = [math.exp(a) for a in values]
        assert cells["exponential k"][layer]["mean"] == pytest.approx(statistics.mean(ks))
        assert cells["exponential k"][layer]["std"] == pytest.approx(statistics.stdev(ks))
    assert cells["exponential k"]["init"]["mean"] == 1.0  # e^0: the same function as Rational at a = 1
    assert cells["exponential k (paper)"]["conv1"]["mean"] == pytest.approx(math.exp(-2.11))
    assert cells["prelu"]["conv2"]["mean"] == pytest.approx(0.03)
    assert rows[1][3] == "0.056" and rows[2][4] == "-2.030"


def test_channel_shared_values_are_averaged_per_run(tmp_path: Path) -> None:
    run = write_run(tmp_path, "r", "rational", 0, 0.5, activation__sharing="channel")
    summary = json.loads((run / "summary.json").read_text())
    summary["learned"] = {"conv1": {"a": [0.1, 0.3]}}
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "metrics.jsonl").write_text(
        json.dumps({"epoch": 1, "act": {"conv1": {"a": {"mean": 0.2, "min": 0.1}}}})
    )
    report = RP.build_report([tmp_path])
    assert report.learned["cells"]["rational"]["conv1"]["mean"] == pytest.approx(0.2)
    assert report.learned["cells"]["rational k"]["conv1"]["mean"] == pytest.approx(
        0.2
    )  # mean of max(a, a_min)
    assert act_series(report.groups[0].runs[0], "conv1", "a") == {1: 0.2}


def test_paper_reference_column(bench: Path) -> None:
    heads, rows = (
        S.results_table(RP.build_report([bench], paper="cifar100")).heads,
        S.results_table(RP.build_report([bench], paper="cifar100")).rows,
    )
    assert heads[-2:] == ["paper loss", "paper acc %"]
    assert rows[-1][-2:] == ["1.550", "56.5"]  # exponential, paper Table 3
    assert "paper loss" not in S.results_table(RP.build_report([bench])).heads
    assert "paper: Table 3 (cifar100" in TB.to_markdown(RP.build_report([bench], paper="cifar100"))


def test_paper_numbers_match_paper_md() -> None:
    path = REPO.parent / "shared" / "paper" / "paper.md"
    if not path.is_file():
        pytest.skip("paper.md not available")
    text = path.read_text(encoding="utf-8")
    for table, data in (("Table 2", "cifar10"), ("Table 3", "cifar100")):
        block = text.split(f"{table} —")[1].split("\n\n")[1]
        for line in block.splitlines()[2:]:
            name, loss, acc = [c.strip() for c in line.strip("|").split("|")]
            assert RP.PAPER[data][name.lower()] == (float(loss), float(acc))


def test_every_export_format_parses(bench: Path, tmp_path: Path) -> None:
    report = RP.build_report([bench], paper="cifar10")
    rows = list(csv.DictReader(io.StringIO(TB.to_csv(report))))
    assert [r["group"] for r in rows] == ["relu", "prelu", "exponential"]
    assert float(rows[2]["test_acc_pct_mean"]) == pytest.approx(statistics.mean([78, 80, 83]))
    doc = json.loads(TB.to_json(report))
    assert doc["groups"][2]["vs_baseline"]["acc_pct"]["p"] > 0 and doc["learned"]["columns"]
    tables = [b for b in TB.to_markdown(report).split("\n\n") if b.startswith("|")]
    assert len(tables) == 4  # results, cost, decisions (no predictions here: no per-image table), learned
    for table in tables:
        lines = table.splitlines()
        assert set(lines[1]) <= set("|-: ") and len({line.count("|") for line in lines}) == 1
    tex = TB.to_latex(report)
    assert tex.count(r"\begin{tabular}") == 4 and r"\%" in tex and "±" not in tex
    assert tex.isascii() and r"$\le$" in tex and r"$\alpha$" in tex  # every symbol spelled for LaTeX
    out = tmp_path / "report.md"
    TB.render_report(report, out=out)  # format from the suffix
    assert out.read_text().startswith("**Test results")


def test_report_main_renders_to_console_and_writes_plots(bench: Path, tmp_path: Path) -> None:
    console = Console(record=True, width=300)
    options = RP.report_options(paper="cifar10")
    warnings = RP.report_main([bench], options, plots=tmp_path / "figs", console=console)
    text = console.export_text()
    assert "exponential" in text and "Learned activation parameters" in text and "paper" in text
    # prelu (seeds 0-1) leaves relu-s2 out of its paired decision: said once
    assert [w.split(":")[0] for w in warnings] == ["--paper cifar10", "prelu"] and "6 figures written" in text
    files = sorted(p.name for p in (tmp_path / "figs").iterdir())
    assert files == [
        "activation_shapes.png",
        "learned_a.png",
        "train_acc.png",
        "train_loss.png",
        "val_acc.png",
        "val_loss.png",
    ]
    for name in files:
        assert (tmp_path / "figs" / name).read_bytes()[:8] == PNG


def test_reads_what_training_writes(tmp_path: Path) -> None:
    """Real (tiny) training runs, so a change in the run-folder format breaks this test, not users."""
    from actbench.training import loop as T
    from tests.factories import tiny_config

    for act in ("relu", "exponential"):
        T.run_training(T.create_run(tiny_config(f"activation.name={act}"), tmp_path, f"{act}-s0"))
    report = RP.build_report([tmp_path], paper="cifar10")
    assert [(r["group"], r["n"]) for r in report.rows] == [("relu", 1), ("exponential", 1)]
    assert report.learned["columns"] == [
        "exponential", "exponential (paper)", "exponential k", "exponential k (paper)"
    ]  # fmt: skip
    assert report.learned["layers"] == ["init", "conv1", "conv2", "conv3"]
    assert any("data.name=synthetic" in w for w in report.warnings)  # paper numbers are for CIFAR-10
    files, warnings = write_figures(report, tmp_path / "figs")
    assert len(files) == 6 and warnings == []


def test_figures_cope_with_runs_without_epochs(tmp_path: Path) -> None:
    write_run(tmp_path, "relu-s0", "relu", 0, 0.5, epochs=0)
    files, warnings = write_figures(RP.build_report([tmp_path]), tmp_path / "figs")
    assert files == [] and "no epoch records" in warnings[0]


def test_cli_report_exports_and_one_line_errors(bench: Path) -> None:
    """`actbench report` itself: the export on stdout alone, a bad path as one error line."""
    from actbench.cli import app

    result = CliRunner().invoke(app, ["report", str(bench), "--format", "csv"])
    assert result.exit_code == 0 and result.stdout.startswith("group,activation,n,")
    assert list(csv.DictReader(io.StringIO(result.stdout)))[0]["group"] == "relu"
    result = CliRunner().invoke(app, ["report", str(bench / "missing")])
    assert result.exit_code == 2 and result.output.count("\n") == 1 and "no such file" in result.output


def test_cost_is_the_median_of_steady_epochs_with_min_max(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    for seed in range(2):
        run = write_run(root, f"elu-s{seed}", "elu", seed, epochs=5)
        records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        for rec, t in zip(records, [50.0, 28.0, 28.0, 73.0 if seed else 28.0, 28.0], strict=True):
            rec["epoch_time_s"] = t  # epoch 1 warm-up; one epoch of seed 1 slowed by a busy machine
        (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    report = RP.build_report([root], baseline="elu")
    t = row_of(report, "elu")["timing"]
    assert (t["steady_epoch_s"], t["steady_epoch_min_s"], t["steady_epoch_max_s"]) == (28.0, 28.0, 73.0)
    heads, rows = S.cost_table(report).heads, S.cost_table(report).rows
    assert rows[0][heads.index("median epoch s")] == "28.00"
    assert rows[0][heads.index("min–max epoch s")] == "28.00–73.00"


def test_cost_title_states_the_spread_between_runs_of_one_group(tmp_path: Path) -> None:
    """Runs of one group train the same network, so their per-run medians differ only by the machine's load;
    the cost title gives the largest such ratio so a reader does not take a smaller gap between groups as a
    cost (the 200-epoch CPU runs: ×1.38 within PReLU's seeds)."""
    root = tmp_path / "runs"
    for act, seed, t in (("relu", 0, 30.0), ("relu", 1, 45.0), ("elu", 0, 40.0), ("elu", 1, 44.0)):
        run = write_run(root, f"{act}-s{seed}", act, seed, epochs=3)
        records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        for rec in records:
            rec["epoch_time_s"] = t
        (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    report = RP.build_report([root])
    assert row_of(report, "relu")["timing"]["run_median_epoch_s"] == [30.0, 45.0]
    title = S.cost_table(report).title
    assert "spans up to ×1.50 (relu: 30.00–45.00 s)" in title, title
    one = RP.build_report([root], where=["train.seed=0"])  # one run a group: no spread to state
    assert "spans" not in S.cost_table(one).title


def test_cost_reads_old_summaries_without_epoch_times(tmp_path: Path) -> None:
    run = write_run(tmp_path / "runs", "relu-s0", "relu", 0)  # summary: timing.steady_epoch_s 2.0 (a mean)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    (run / "metrics.jsonl").write_text(
        "".join(json.dumps({k: v for k, v in r.items() if k != "epoch_time_s"}) + "\n" for r in records)
    )
    t = row_of(RP.build_report([tmp_path / "runs"]), "relu")["timing"]
    assert t["steady_epoch_s"] == 2.0 and (t["steady_epoch_min_s"], t["steady_epoch_max_s"]) == (2.0, 2.0)


def test_a_copied_run_is_counted_once(tmp_path: Path) -> None:
    """The same config and seed in two folders is one seed (issue 24: n was 4 and p = 0.0023, truly n = 2)."""
    for s, acc in ((0, 0.70), (1, 0.72)):
        write_run(tmp_path / "a", f"relu-s{s}", "relu", s, acc)
        write_run(tmp_path / "a", f"elu-s{s}", "elu", s, acc + 0.05)
    shutil.copytree(tmp_path / "a" / "relu-s0", tmp_path / "copy" / "relu-s0")
    shutil.copytree(tmp_path / "a" / "elu-s1", tmp_path / "copy" / "elu-again")
    alone = RP.build_report([tmp_path / "a"], baseline="relu")
    both = RP.build_report([tmp_path / "a", tmp_path / "copy"], baseline="relu")
    for a, b in zip(alone.rows, both.rows, strict=True):
        assert a["n"] == b["n"] == 2 and a["vs_baseline"] == b["vs_baseline"], b["group"]
    repeated = [w for w in both.warnings if "repeat another run's config and seed" in w]
    assert len(repeated) == 1 and repeated[0].startswith("2 run(s)"), both.warnings
    assert f"{tmp_path / 'copy' / 'relu-s0'} (= {tmp_path / 'a' / 'relu-s0'})" in repeated[0]
    assert not [w for w in alone.warnings if "repeat" in w]
    write_run(tmp_path / "b", "relu-s2", "relu", 2, 0.71)  # another seed of the same config: counted
    assert {r["activation"]: r["n"] for r in RP.build_report([tmp_path]).rows} == {"relu": 3, "elu": 2}


def test_a_missing_baseline_is_an_error_only_when_asked_for(bench: Path) -> None:
    """--baseline gelu (no such runs): one line, exit 2, and load_report raises; with the default relu
    absent the report still renders its tables, with a warning naming the activations there are."""
    from typer.testing import CliRunner

    from actbench import analysis
    from actbench.cli import app

    res = CliRunner().invoke(app, ["report", str(bench), "--baseline", "gelu"])
    assert res.exit_code == 2 and res.output.startswith("error: --baseline gelu: no runs of that activation")
    assert res.output.strip().count("\n") == 0 and "(exponential, prelu, relu)" in res.output
    with pytest.raises(G.ReportError, match="--baseline gelu"):
        analysis.load_report([bench], baseline="gelu")
    report = RP.build_report([bench], where=["activation.name=prelu", "activation.name=exponential"])
    assert "no relu runs, so no comparisons (--baseline picks one of: exponential, prelu)" in report.warnings


def test_paper_numbers_beside_a_shorter_protocol_say_so(bench: Path, tmp_path: Path) -> None:
    assert not [w for w in RP.build_report([bench], paper="cifar10").warnings if "200 epochs" in w]
    for act in ("relu", "rational"):
        write_run(tmp_path / "short", f"{act}-s0", act, 0, train__epochs=3)
    report = RP.build_report([tmp_path / "short"], paper="cifar10")
    (line,) = [w for w in report.warnings if "200 epochs" in w]
    assert line.endswith("after 200 epochs, these runs trained 3: compare the ordering, not the levels")
    assert "paper: Table 2 (cifar10, one run, 200 epochs; these runs: 3)" in TB.to_markdown(report)


def test_what_a_run_warned_of_while_training_is_in_the_reports_warnings(tmp_path: Path) -> None:
    for seed in (0, 1):
        write_run(tmp_path, f"relu-s{seed}", "relu", seed)
    run = tmp_path / "relu-s1"
    summary = json.loads((run / "summary.json").read_text())
    summary["warnings"] = [{"at": "2026-01-01T00:00:00+00:00", "message": "checkpoint-last.pt corrupt"}] * 2
    (run / "summary.json").write_text(json.dumps(summary))
    warnings = RP.build_report([tmp_path]).warnings
    assert (
        "relu-s1: 2 warning(s) while training (summary.json warnings); first: checkpoint-last.pt corrupt"
        in (warnings)
    )
    assert not [w for w in warnings if w.startswith("relu-s0:")]
