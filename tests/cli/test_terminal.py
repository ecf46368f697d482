"""Terminal output in pipes and narrow terminals: identifiers whole, exports verbatim, NO_COLOR."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from actbench.activations import ACTIVATIONS
from actbench.cli import app
from actbench.cli.progress import TerminalPrinter
from actbench.report.model import Table
from actbench.report.render import fitted_tables
from tests.factories import write_run

runner = CliRunner()
WIDTHS = ["60", "80"]


def _words(output: str) -> set[str]:
    return {w for line in output.splitlines() for w in line.split()}


@pytest.mark.parametrize("columns", WIDTHS)
def test_acts_table_keeps_every_name_whole_and_every_formula_word(columns: str) -> None:
    res = runner.invoke(app, ["acts"], env={"COLUMNS": columns})
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert max(map(len, lines)) <= int(columns), "a line wider than the terminal gets cropped"
    words = _words(res.output)
    for name, spec in ACTIVATIONS.items():
        assert name in words, f"{name} cut or wrapped at {columns} columns"
        assert spec.ref.split()[-1] in words
        # every word of the formula is somewhere (wrapped at spaces, never cut)
        assert set(spec.formula.split()) <= words, (name, spec.formula)


def test_acts_formats_carry_the_full_registry() -> None:
    md = runner.invoke(app, ["acts", "--format", "md"], env={"COLUMNS": "60"})
    assert md.exit_code == 0
    md_cell = lambda text: text.replace("|", "\\|")  # noqa: E731 - as Markdown escapes a cell's pipes
    assert all(f"| {n} | {md_cell(s.formula)} |" in md.output for n, s in ACTIVATIONS.items())
    rows = list(csv.DictReader(io.StringIO(runner.invoke(app, ["acts", "--format", "csv"]).output)))
    assert [r["name"] for r in rows] == list(ACTIVATIONS)
    assert {r["name"]: r["formula"] for r in rows} == {n: s.formula for n, s in ACTIVATIONS.items()}
    doc = json.loads(runner.invoke(app, ["acts", "--format", "json", "--names", "prelu,relu"]).output)
    assert doc[0] == {
        "name": "prelu",
        "formula": ACTIVATIONS["prelu"].formula,
        "learnable": ["a"],
        "default_init": 0.25,
        "sharing": ["layer", "channel"],
        "fixed_params": {},
        "from": "built-in",
        "source": ACTIVATIONS["prelu"].ref,
    }
    assert doc[1]["learnable"] == [] and doc[1]["default_init"] is None


def test_acts_bad_format_is_one_line() -> None:
    res = runner.invoke(app, ["acts", "--format", "xml"])
    assert (
        res.exit_code == 2 and "--format: 'xml' is not allowed (allowed: table, md, csv, json)" in res.output
    )
    assert res.output.strip().count("\n") == 0


def test_acts_plot_refuses_an_export_format_it_would_ignore(tmp_path: Path) -> None:
    """`acts --plot F.png --format csv` wrote the PNG and no CSV, silently (as --a without --plot is
    refused, a --format that --plot ignores is refused before anything is drawn)."""
    res = runner.invoke(app, ["acts", "--plot", str(tmp_path / "a.png"), "--format", "csv"])
    assert res.exit_code == 2 and res.output.startswith("error: --format "), res.output
    assert res.output.strip().count("\n") == 0 and not (tmp_path / "a.png").exists()


def test_narrow_tables_continue_instead_of_cropping() -> None:
    heads = ["group", *(f"column {i}" for i in range(8))]
    rows = [["exponential (optim.lr=0.001, data.noise=0.35)", *(f"{i}.2345 ± 0.01" for i in range(8))]]
    tables = fitted_tables(Table("t", "t", heads, rows), 60)
    assert len(tables) > 1
    out = io.StringIO()
    console = Console(file=out, width=60, color_system=None)
    for table in tables:
        console.print(table)
    text = out.getvalue()
    assert max(map(len, text.splitlines())) <= 60
    assert text.count(rows[0][0]) == len(tables)  # the identifier, whole, in every table
    assert all(f"{i}.2345" in text for i in range(8))  # no column lost


@pytest.mark.parametrize("columns", WIDTHS)
def test_report_keeps_long_group_labels_whole(tmp_path: Path, columns: str) -> None:
    for s in range(2):
        write_run(tmp_path, f"relu-s{s}", "relu", s, 0.7 + 0.01 * s)
        write_run(tmp_path, f"x-s{s}", "exponential", s, 0.8, learned={"conv1": -2.0 + s}, optim__lr=0.01)
        write_run(tmp_path, f"y-s{s}", "leaky_relu", s, 0.75 + 0.01 * s, optim__lr=0.01)
    res = runner.invoke(app, ["report", str(tmp_path)], env={"COLUMNS": columns})
    assert res.exit_code == 0, res.output
    assert max(map(len, res.output.splitlines())) <= int(columns)
    for label in ("relu (optim.lr=0.001)", "exponential (optim.lr=0.01)", "leaky_relu (optim.lr=0.01)"):
        assert label in res.output
    for head in ("Δacc vs relu", "p (loss, Welch)", "peak mem", "img/s"):  # every column still shown
        assert all(w in res.output for w in head.split())
    # a value is never wrapped inside its cell ("1.0000 ±" / "0.0000" on two lines, as it was at 80)
    from actbench.report.build import build_report
    from actbench.report.sections import results_table

    table = results_table(build_report([tmp_path]))
    for head in ("test loss", "test acc %"):
        assert all(cell in res.output for cell in table.column(head)), head


def test_progress_lines_are_never_rewrapped() -> None:
    out = io.StringIO()
    display = TerminalPrinter(Console(file=out, width=40, color_system=None), progress=False).run("x")
    long_dir = "runs/" + "a-very-long-sweep-name/" * 3 + "exponential-s0"
    display(
        "start",
        {
            "run_dir": long_dir,
            "device": "cpu",
            "train_images": 240,
            "batches": 5,
            "start_epoch": 0,
            "epochs": 2,
        },
    )
    record = {
        "epoch": 1,
        "train_loss": 2.0,
        "train_acc": 0.1,
        "val_loss": 2.1,
        "val_acc": 0.1,
        "lr": 1e-3,
        "epoch_time_s": 1.0,
        "images_per_s": 240.0,
        "act": {"conv1": {"a": 0.5}, "conv2": {"a": 0.25}},
    }
    display("epoch", record)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2, lines  # one line per event at any width
    assert long_dir in lines[0] and "a=0.500/0.250" in lines[1]


def _error_output_with_color_forced(extra_env: dict[str, str]) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TERM")}
    env |= {"FORCE_COLOR": "1", "COLUMNS": "100", **extra_env}
    cmd = [sys.executable, "-m", "actbench", "train", "--config", "/nonexistent.yaml"]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120).stderr


def test_no_color_is_respected() -> None:
    colored = _error_output_with_color_forced({})
    assert "\x1b[" in colored and "31m" in colored  # FORCE_COLOR alone: the red "error:"
    plain = _error_output_with_color_forced({"NO_COLOR": "1"})
    assert "error:" in plain and "31m" not in plain and "no such config" in plain


def test_epoch_line_parameters_stay_short_for_deep_networks() -> None:
    from actbench.cli.events import fmt_act

    few = {f"conv{i}": {"a": 0.1 * i} for i in range(1, 4)}
    assert fmt_act(few) == "a=0.100/0.200/0.300"
    deep = {f"layer{i}": {"a": {"mean": i / 100}} for i in range(35)}  # mobilenet_v2: 35 activations
    assert fmt_act(deep) == "a=0.000/0.010/0.020/0.030/0.040/…/0.340 (35 layers)"


def test_sweep_display_counts_runs_never_started_as_such() -> None:
    """After Ctrl-C the live title said "1 not" (the first word of "not started")."""
    from actbench.cli.progress import SweepLive
    from actbench.sweep.state import RunStatus, State

    class Plan:
        sweep_dir = Path("runs/sw")

    statuses = [RunStatus("a-s0", total=2), RunStatus("b-s0", total=2), RunStatus("c-s0", total=2)]
    statuses[0].state, statuses[2].state = State.NOT_STARTED, State.COMPLETED
    statuses[1].state, statuses[1].reason = State.SKIPPED, "completed"
    live = SweepLive(Console(file=io.StringIO()), Plan())
    assert "skipped (completed)" in live.table(statuses).columns[1]._cells[1]
    title = live.title(statuses)
    assert title.startswith("sweep runs/sw: 2/3 runs done (1 completed, 1 skipped), 1 not started"), title
    assert "1 not started" in title and "1 skipped" in title and "1 completed" in title, title


def test_an_unfinished_runs_end_line_is_red_and_a_completed_ones_green() -> None:
    out = io.StringIO()
    printer = TerminalPrinter(Console(file=out, force_terminal=True, color_system="standard"), progress=False)
    printer.emit("end", "r", {"status": "failed", "epochs_done": 3, "error": "loss became nan"})
    printer.emit("end", "r", {"status": "interrupted", "epochs_done": 1, "error": "stopped"})
    printer.emit("end", "r", {"status": "completed"})  # summary.json unreadable: no KeyError
    failed, interrupted, completed = out.getvalue().splitlines()
    assert "\x1b[31mfailed\x1b[0m after 3 epochs: loss became nan" in failed
    assert "\x1b[31minterrupted\x1b[0m" in interrupted
    assert "\x1b[32mcompleted:\x1b[0m final results not read" in completed


def test_a_finished_sweep_on_a_terminal_ends_with_its_summary_line() -> None:
    from actbench.cli.progress import SweepLive
    from actbench.sweep.state import RunStatus, State

    class Plan:
        sweep_dir = Path("runs/sw")

    out = io.StringIO()
    live = SweepLive(Console(file=out, width=200), Plan())
    live.final(
        [RunStatus("a-s0", State.COMPLETED, epochs=2, total=2), RunStatus("b-s0", State.FAILED, total=2)]
    )
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(
        "sweep runs/sw finished: 2/2 runs done (1 completed, 1 failed) | epochs 2/4"
    ), lines
    assert "ETA" not in lines[0] and lines[1].startswith("failed: runs/sw/b-s0"), lines


def test_a_sweep_on_a_terminal_shows_the_warnings_its_runs_record(tmp_path: Path) -> None:
    """The live table has a warnings column once a run recorded one (summary.json `warnings`, as a
    run's train.log said it), and the end names each such run; runs without warnings keep a bare table."""
    import json

    from actbench.cli.progress import SweepLive
    from actbench.sweep.state import RunStatus, State

    class Plan:
        sweep_dir = tmp_path

    for name in ("a-s0", "b-s0"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "summary.json").write_text(json.dumps({"status": "running"}))
    out = io.StringIO()
    live = SweepLive(Console(file=out, width=200), Plan())
    a, b = (
        RunStatus("a-s0", State.RUNNING, action="start", total=2),
        RunStatus("b-s0", State.RUNNING, action="start", total=2),
    )
    live.update([a, b])
    assert [c.header for c in live.table([a, b]).columns] == ["run", "state", "epochs"]
    warned = [{"at": "t", "message": "loss [x] spiked"}, {"at": "t", "message": "lr\nclipped"}]
    (tmp_path / "a-s0" / "summary.json").write_text(json.dumps({"status": "running", "warnings": warned}))
    (tmp_path / "a-s0" / "metrics.jsonl").write_text(json.dumps({"epoch": 1, "train_loss": 1.0}) + "\n")
    a.epochs = 1
    live.update([a, b])
    table = live.table([a, b])
    assert [c.header for c in table.columns] == ["run", "state", "epochs", "warnings"]
    assert list(table.columns[3]._cells) == ["lr | clipped (+1 earlier)", ""]
    live.final([a, b])
    assert "2 warning(s): " + str(tmp_path / "a-s0") + ": lr | clipped (+1 earlier)" in out.getvalue()
    assert str(tmp_path / "b-s0") not in out.getvalue()
