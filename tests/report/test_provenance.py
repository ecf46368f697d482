"""`actbench report --provenance`: versions, device, epochs and wall time read from run folders."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from actbench.cli import app
from tests.factories import write_run

runner = CliRunner()


def env(run_dir: Path, torch: str = "2.14.1", device: str = "cpu", time: str = "2026-01-01T00:00:00") -> None:
    doc = {
        "actbench": "0.1.0",
        "git_commit": "a" * 40,
        "python": "3.11.7",
        "torch": torch,
        "torchvision": "0.29.1",
        "device": device,
        "device_name": device,
        "cpu_threads": 2,
        "time": time,
    }
    (run_dir / "env.json").write_text(json.dumps(doc))  # fmt: skip


def make_runs(root: Path) -> Path:
    for i, act in enumerate(("relu", "elu")):
        for seed in (0, 1):
            run = write_run(root, f"{act}-s{seed}", act, seed, acc=0.5 + 0.1 * i)
            env(run, time=f"2026-01-0{1 + seed}T00:00:00")
    write_run(root, "elu-s2", "elu", 2, status="failed")  # no env.json: counted as unknown
    return root


def test_markdown_section_and_json(tmp_path: Path) -> None:
    root = make_runs(tmp_path / "runs")
    res = runner.invoke(app, ["report", str(root), "--format", "md", "--provenance"])
    assert res.exit_code == 0, res.output
    section = res.output.split("**Provenance")[1]
    assert "runs: 5 (4 completed, 1 failed); epochs per run: 200 (done: 3)" in section
    assert "actbench 0.1.0 (4), ? (1) (git aaaaaaaaaaaa (4), ? (1))" in section
    assert "torch 2.14.1 (4), ? (1)" in section
    # write_run records 9 s of wall time per run: 45 s summed, 9 s median; earliest env.json time
    assert "wall time: 0.8 min summed over 5 runs (median 0.1 min per run)" in section
    assert "first run started 2026-01-01T00:00:00" in section
    out = tmp_path / "r.json"
    assert (
        runner.invoke(
            app, ["report", str(root), "--format", "json", "--provenance", "--out", str(out)]
        ).exit_code
        == 0
    )
    doc = json.loads(out.read_text())["provenance"]
    assert (
        doc["runs"] == 5 and doc["wall_time_s"]["total"] == 45.0 and doc["env"]["device"] == "cpu (4), ? (1)"
    )


def test_absent_without_flag_and_stable(tmp_path: Path) -> None:
    root = make_runs(tmp_path / "runs")
    plain = runner.invoke(app, ["report", str(root), "--format", "md"]).output
    assert "Provenance" not in plain
    a, b = tmp_path / "a.md", tmp_path / "b.md"
    for path in (a, b):
        runner.invoke(app, ["report", str(root), "--format", "md", "--provenance", "--out", str(path)])
    assert a.read_bytes() == b.read_bytes() and a.read_text().startswith(plain.rstrip("\n")[:40])


def test_process_starts_are_counted_where_recorded(tmp_path: Path) -> None:
    root = make_runs(tmp_path / "runs")
    res = runner.invoke(app, ["report", str(root), "--format", "md", "--provenance"])
    assert "process starts" not in res.output  # no run recorded its starts: nothing claimed
    for name, starts in (("relu-s0", [0]), ("relu-s1", [0, 59, 120])):
        path = root / name / "summary.json"
        summary = json.loads(path.read_text())
        commits = "abc"[: len(starts)]
        summary["starts"] = [
            {"at": "t", "after_epoch": e, "git_commit": c * 40} for e, c in zip(starts, commits, strict=True)
        ]
        path.write_text(json.dumps(summary))
    res = runner.invoke(app, ["report", str(root), "--format", "md", "--provenance"])
    assert (
        "- process starts: 4 for 2 runs (1 resumed after an interruption; trained by git aaaaaaaaaaaa, "
        "bbbbbbbbbbbb, cccccccccccc); 3 older runs did not record theirs" in res.output
    )
    summary["starts"][1]["git_dirty"] = True  # started from a working tree with changes
    path.write_text(json.dumps(summary))
    res = runner.invoke(app, ["report", str(root), "--format", "md", "--provenance"])
    assert "3 older runs did not record theirs; 1 of the starts ran uncommitted changes" in res.output


def test_first_start_survives_a_resume(tmp_path: Path) -> None:
    """env.json is rewritten when a run resumes; the page must still say when the first run began."""
    root = make_runs(tmp_path / "runs")
    path = root / "relu-s0" / "summary.json"
    summary = json.loads(path.read_text())
    path.write_text(json.dumps({**summary, "started_at": "2025-12-31T00:00:00"}))  # before any env.json time
    res = runner.invoke(app, ["report", str(root), "--format", "md", "--provenance"])
    assert "first run started 2025-12-31T00:00:00" in res.output
