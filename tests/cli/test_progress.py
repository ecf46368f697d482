"""Progress for logs (SLURM, nohup, CI): timestamped, flushed, unwrapped lines; JSON lines; sweep tailing.

Subprocess tests send stdout to a file (not a terminal), read that file while the process runs and
require progress lines there before the process ends."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from actbench import runs
from actbench.cli import app
from actbench.cli import events as E
from actbench.cli import progress as P
from actbench.config import ConfigError
from actbench.sweep.state import RunStatus, State
from actbench.training import loop as T
from tests.factories import REPO, TINY, tiny_config

runner = CliRunner()
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \S")  # every text line starts so: none is a fragment


def _sets(*extra: str) -> list[str]:
    return [a for item in (*TINY, *extra) for a in ("--set", item)]


# --- options and line format -----------------------------------------------------------------------


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_log_options_follow_the_terminal_unless_a_format_is_given() -> None:
    assert P.log_options(None, stream=_Tty()) is None  # terminal: the live display
    assert P.log_options(None, stream=io.StringIO()) == P.LogOptions("text")
    assert P.log_options("json", 5, 30, stream=_Tty()) == P.LogOptions("json", 5, 30)
    with pytest.raises(ConfigError, match=r"--log-format: 'xml' is not allowed \(allowed: text, json\)"):
        P.log_options("xml")
    with pytest.raises(ConfigError, match="--summary-every: -1"):
        P.log_options("text", 0, -1)


def test_a_message_with_newlines_stays_one_line_and_json_is_strict() -> None:
    out = io.StringIO()
    P.ProgressLog(P.LogOptions("text"), out).emit("warning", "r", {"message": "first\nsecond\r\n"})
    assert STAMP.match(out.getvalue()) and out.getvalue().count("\n") == 1
    assert out.getvalue().rstrip().endswith("r warning: first | second")
    out = io.StringIO()
    P.ProgressLog(P.LogOptions("json"), out).emit(
        "end", "r", {"loss": float("nan"), "nested": {"a": [float("inf")]}}
    )
    doc = json.loads(out.getvalue())
    assert (
        doc["loss"] is None and doc["nested"] == {"a": [None]} and doc["event"] == "end" and doc["run"] == "r"
    )


def test_a_run_name_with_a_line_break_keeps_its_text_log_line_whole() -> None:
    """A run folder may be named with a line break (`train --name`): the text log put the name in front of
    each line as given, so every line of that run was split in two, the second without a timestamp."""
    out = io.StringIO()
    P.ProgressLog(P.LogOptions("text"), out).emit("warning", "x\ny", {"message": "m"})
    assert out.getvalue().count("\n") == 1 and STAMP.match(out.getvalue()), out.getvalue()
    assert out.getvalue().rstrip().endswith(" x | y warning: m")


def _record(epoch: int) -> dict[str, Any]:
    return {
        "epoch": epoch,
        "train_loss": 2.0,
        "train_acc": 0.1,
        "val_loss": 2.1,
        "val_acc": 0.2,
        "lr": 1e-3,
        "epoch_time_s": 1.0,
        "images_per_s": 100.0,
        "act": {"conv1": {"a": 0.25}},
    }


class _Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def test_epoch_lines_at_most_every_n_seconds_but_always_the_last_epoch() -> None:
    out, clock = io.StringIO(), _Clock()
    sink = P.ProgressLog(P.LogOptions("text", every_s=10), out, clock).run("r", epochs=6)
    for epoch, t in zip(range(1, 7), [0, 3, 9, 11, 12, 13], strict=True):
        clock.t = 1_000_000.0 + t
        sink("batch", {"epoch": epoch, "batch": 1, "batches": 2})  # batches never reach a log
        sink("epoch", _record(epoch))
    epochs = [int(re.search(r"epoch (\d)/6", line)[1]) for line in out.getvalue().splitlines()]
    assert epochs == [1, 4, 6]


def test_end_line_names_status_final_metric_and_robust_epoch_time() -> None:
    summary = {
        "status": "completed",
        "last": {"test_acc": 0.712, "test_loss": 0.83},
        "timing": {"steady_epoch_s": 28.1, "steady_epoch_min_s": 27.5, "steady_epoch_max_s": 73.0},
        "wall_time_s": 3725.0,
        "epoch_times": [1.0] * 200,
    }
    text = E.end(summary)
    assert "completed: test acc 71.20% loss 0.8300" in text
    assert "median epoch 28.1s (min–max 27.5–73.0)" in text and "wall 1h02m05s" in text
    out = io.StringIO()
    P.ProgressLog(P.LogOptions("json"), out).run("r")("end", summary)
    assert "epoch_times" not in json.loads(out.getvalue())  # the per-epoch list stays in metrics.jsonl
    assert E.end({"status": "failed", "epochs_done": 3, "error": "loss became nan"}).startswith(
        "failed after 3 epochs: loss became nan"
    )


# --- the sweep's log, from run folders -------------------------------------------------------------


@dataclass
class _Plan:
    sweep_dir: Path
    runs: list[Any]


def _write_epoch(run_dir: Path, epoch: int) -> None:
    runs.append_metrics(run_dir, _record(epoch))


@pytest.mark.parametrize("fmt", P.LOG_FORMATS)
def test_sweep_progress_tails_run_folders(tmp_path: Path, fmt: str) -> None:
    a = tmp_path / "a-s0"
    a.mkdir()
    out, clock = io.StringIO(), _Clock()
    log = P.ProgressLog(P.LogOptions(fmt, summary_every_s=60), out, clock)
    statuses = [
        RunStatus("a-s0", State.RUNNING, "", "start", 0, 2, "node n1"),
        RunStatus("b-s0", State.SKIPPED, "completed", "skip", 2, 2),
    ]
    with P.SweepLog(log, _Plan(tmp_path, [None, None]), workers=2) as sp:
        sp.update(statuses)
        _write_epoch(a, 1)
        statuses[0].epochs, statuses[0].where = 1, "node n2"
        clock.t += 61  # a summary is due
        sp.update(statuses)
        sp.update(statuses)  # nothing new: no new line
        _write_epoch(a, 2)
        runs.write_json(
            a / runs.SUMMARY, {"status": "completed", "last": {"test_acc": 0.5, "test_loss": 1.0}}
        )
        statuses[0].epochs, statuses[0].state = 2, State.COMPLETED
        sp.update(statuses)
    sp.final(statuses)
    lines = out.getvalue().splitlines()
    if fmt == "json":
        events = [(d["event"], d.get("run"), d.get("epoch")) for d in map(json.loads, lines)]
        summary = json.loads(lines[5])
        assert (summary["runs_done"], summary["epochs_done"], summary["epochs"]) == (1, 3, 4)
        assert summary["eta_s"] == pytest.approx(61.0)  # 1 epoch trained in 61 s, 1 left
    else:
        assert all(STAMP.match(line) for line in lines), lines
        events = [line.split(" ", 3)[1:3] for line in lines]
        assert (
            "sweep: 1/2 runs done (1 skipped), 1 running | epochs 3/4 | elapsed 1m01s | ETA 1m01s" in lines[5]
        )
        assert "b-s0 skipped (completed)" in lines[2] and "a-s0 started (node n1; 2 epochs)" in lines[1]
        assert "sweep finished: 2/2 runs done (1 completed, 1 skipped) | epochs 4/4" in lines[-1]
    assert [e[:2] for e in events] == [
        ("sweep", None) if fmt == "json" else ["sweep", f"{tmp_path}:"],
        ("launch", "a-s0") if fmt == "json" else ["a-s0", "started"],
        ("skip", "b-s0") if fmt == "json" else ["b-s0", "skipped"],
        ("where", "a-s0") if fmt == "json" else ["a-s0", "running"],
        ("epoch", "a-s0") if fmt == "json" else ["a-s0", "epoch"],
        ("summary", None) if fmt == "json" else ["sweep:", "1/2"],
        ("epoch", "a-s0") if fmt == "json" else ["a-s0", "epoch"],
        ("end", "a-s0") if fmt == "json" else ["a-s0", "completed:"],
        ("summary", None) if fmt == "json" else ["sweep", "finished:"],
    ]


# --- through the CLI -------------------------------------------------------------------------------


def test_train_json_lines_parse_one_by_one(runs_dir: Path) -> None:
    res = runner.invoke(
        app, ["train", *_sets(), "--out", str(runs_dir), "--name", "j", "--log-format", "json"]
    )
    assert res.exit_code == 0, res.output
    docs = [json.loads(line) for line in res.output.splitlines()]  # every line one JSON object
    assert [d["event"] for d in docs] == ["start", "epoch", "epoch", "end"]
    assert all(d["run"] == "j" and re.match(r"\d{4}-\d\d-\d\dT", d["time"]) for d in docs)
    assert docs[-1]["status"] == "completed" and docs[-1]["last"]["test_acc"] >= 0
    assert docs[1]["epoch"] == 1 and docs[1]["epochs"] == 2 and "val_acc" in docs[1]


@pytest.mark.parametrize("command", ["sweep", "suite"])
def test_dry_run_in_a_json_log_is_one_object_per_line(tmp_path: Path, command: str) -> None:
    """`--dry-run --log-format json` printed the plan as a table between JSON lines; now a `sweep` event and
    a `planned` event per run (a suite: a note per task first), pack lines as notes."""
    args = ["--acts", "relu,elu", "--seeds", "0", "--out", str(tmp_path), "--pack", "2", "--dry-run"]
    head = ["sweep", "--config", "quickstart"] if command == "sweep" else ["suite", "run", "smoke"]
    res = runner.invoke(app, [*head, *args, "--log-format", "json"])
    assert res.exit_code == 0, res.output
    docs = [json.loads(line) for line in res.output.splitlines()]  # every line one JSON object
    planned = [d for d in docs if d["event"] == "planned"]
    assert {d["run"] for d in planned} >= {"relu-s0", "elu-s0"} and all(d["state"] == "new" for d in planned)
    assert all(d["epochs"] >= 1 and "activation.name=" in d["overrides"] for d in planned)
    assert any(d["event"] == "sweep" for d in docs) and any(d["event"] == "note" for d in docs)
    text = runner.invoke(app, [*head, *args, "--log-format", "text"]).output
    assert re.search(r"^\S+ relu-s0 planned \(new, \d+ epochs\): activation\.name=relu", text, re.M), text


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(log, "wb") as f:  # a file, as `> sweep.log` gives: not a terminal
        return subprocess.Popen(
            [sys.executable, "-m", "actbench", *args], cwd=REPO, env=env, stdout=f, stderr=subprocess.STDOUT
        )


def _wait_for_line(proc: subprocess.Popen[bytes], log: Path, pattern: str, timeout: float = 600) -> str:
    """The log's text once `pattern` is in it; fails if the process ends first (output only at the end)."""
    end = time.monotonic() + timeout
    while not re.search(pattern, text := log.read_text(errors="replace"), re.M):
        assert proc.poll() is None, f"ended before {pattern!r} appeared:\n{text}"
        assert time.monotonic() < end, f"no {pattern!r} yet:\n{text}"
        time.sleep(0.2)
    return text


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGINT)
    return proc.wait(timeout=600)


def test_train_into_a_file_logs_each_epoch_while_it_runs(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    proc = _spawn(["train", *_sets("train.epochs=200"), "--out", str(tmp_path), "--name", "t"], log)
    try:
        _wait_for_line(proc, log, r"^\S+Z t epoch 1/200: .* img/s")
        assert proc.poll() is None  # the line was there long before the end
    finally:
        assert _stop(proc) == 130
    lines = log.read_text().splitlines()
    assert lines and all(STAMP.match(line) for line in lines), lines  # nothing wrapped, nothing partial
    assert re.search(r"Z t started: \S+ on cpu, 200 train images, 4 batches/epoch, 200 epochs$", lines[0])
    assert f"resume with: actbench train --resume {tmp_path / 't'}" in lines[-1]


def test_sweep_into_a_file_logs_runs_epochs_and_summaries_as_json(tmp_path: Path) -> None:
    log = tmp_path / "sweep.log"
    args = ["sweep", "--acts", "relu", "--seeds", "0,1", "--out", str(tmp_path), "--name", "sw"]
    args += [*_sets("train.epochs=200"), "--log-format", "json", "--summary-every", "0"]
    proc = _spawn(args, log)
    try:
        _wait_for_line(proc, log, r'"event": "epoch", "run": "relu-s0"')
        assert proc.poll() is None
    finally:
        assert _stop(proc) == 130
    docs = [json.loads(line) for line in log.read_text().splitlines()]  # each line parses on its own
    events = [(d["event"], d.get("run")) for d in docs]
    assert events[:2] == [("sweep", None), ("launch", "relu-s0")]
    assert docs[1]["where"] == "worker 1/1, cpu, " + docs[1]["where"].split(", ")[-1]
    assert ("summary", None) in events and ("end", "relu-s0") in events
    assert ("not_started", "relu-s1") in events and events[-1] == ("note", None)
    assert next(d for d in docs if d["event"] == "end")["status"] == "interrupted"
    run_log = (tmp_path / "sw" / "relu-s0" / "train.log").read_text().splitlines()
    assert run_log and all(STAMP.match(line) for line in run_log), run_log  # the run's own log too


def test_eval_noise_logs_start_and_end_lines_around_its_table(runs_dir: Path) -> None:
    run_dir = T.create_run(tiny_config("train.epochs=1"), runs_dir, "e")
    assert T.run_training(run_dir)["status"] == "completed"
    res = runner.invoke(app, ["eval", str(run_dir), "--noise", "gaussian", "--levels", "0,0.1"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert (
        STAMP.match(lines[0])
        and "e robustness evaluation started: noise gaussian at levels 0,0.1" in lines[0]
    )
    done = next(i for i, line in enumerate(lines) if "robustness evaluation finished" in line)
    assert STAMP.match(lines[done]) and done > 0 and "gaussian acc %" in res.output


def test_sweep_corruptions_in_a_json_log_keep_every_line_json(tmp_path: Path) -> None:
    """`sweep --corruptions --log-format json`: the corruption results came as rich tables and a plain
    `wrote ...` line on stdout, amid the JSON lines; now one `eval` event per run, in the log's format."""
    args = ["sweep", "--acts", "relu", "--out", str(tmp_path), "--name", "sw", *_sets("train.epochs=1")]
    args += ["--corruptions", "contrast", "--severities", "2"]
    res = runner.invoke(app, [*args, "--log-format", "json"])
    assert res.exit_code == 0, res.output
    docs = [json.loads(line) for line in res.output.splitlines()]  # every line one JSON object
    evals = [d for d in docs if d["event"] == "eval"]
    assert [d["run"] for d in evals] == ["relu-s0"] and "corruptions.json" in evals[0]["message"]
    res = runner.invoke(app, [*args, "--log-format", "text"])  # a text log: timestamped lines only
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert all(STAMP.match(line) for line in lines), lines
    assert any("Z relu-s0 corruptions evaluated, wrote " in line for line in lines), lines
