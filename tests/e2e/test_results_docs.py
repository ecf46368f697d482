"""docs/results: the published page is exactly what its documented report command renders from the
committed run summaries, and benchmarks/reproduce_table2.sh runs end to end (on a tiny archive)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from actbench.cli import app
from tests.factories import REPO, make_folder

DOCS = REPO / "docs" / "results"
runner = CliRunner()


PAGE_COMMANDS = ("actbench report docs/results/", "actbench suite report docs/results/")


def documented_report_commands() -> list[list[str]]:
    """Every `actbench [suite] report docs/results/... --out PAGE` line in docs/results/README.md, as argv."""
    text = (DOCS / "README.md").read_text(encoding="utf-8")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip().startswith(PAGE_COMMANDS)]
    return [shlex.split(ln)[1:] for ln in lines if "--out" in ln]


@pytest.mark.skipif(not (DOCS / "README.md").is_file(), reason="no docs/results/README.md")
@pytest.mark.parametrize("data_here", [True, False], ids=["data-here", "data-absent"])
def test_pages_regenerate_byte_identically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_here: bool
) -> None:
    """From the documented commands, the same bytes; also where the runs' data sets are not (a clean
    clone elsewhere): the published runs record their data's fingerprint, so the groups do not depend on
    finding the data at its data.root (benchmarks/publish_runs.py)."""
    if not data_here:
        from actbench.report import groups

        monkeypatch.setattr(groups, "folder_fingerprint", lambda root: None)
    commands = documented_report_commands()
    assert commands, "docs/results/README.md documents no `actbench report ... --out PAGE` command"
    assert any(argv[0] == "suite" for argv in commands), "the suite page's command is not documented"
    monkeypatch.chdir(REPO)  # the documented commands are relative to the repository root
    for argv in commands:
        i = argv.index("--out")
        page, argv[i + 1] = REPO / argv[i + 1], str(tmp_path / "page.md")
        # figures go beside the temporary page under the same names, so the page's links are the same
        for flag in ("--plots", "--plot"):
            if flag in argv:
                j = argv.index(flag)
                argv[j + 1] = str(tmp_path / Path(argv[j + 1]).name)
        res = runner.invoke(app, argv)
        assert res.exit_code == 0, res.output
        assert (tmp_path / "page.md").read_bytes() == page.read_bytes(), f"{page} is stale: re-run {argv}"


def test_committed_runs_hold_no_checkpoints_and_no_probabilities() -> None:
    files = list((DOCS / "runs").rglob("*")) if DOCS.exists() else []
    assert [p for p in files if p.suffix == ".pt"] == []
    for p in (p for p in files if p.suffix == ".npz"):  # only slim predictions.npz (predictions.slim_copy)
        assert p.name == "predictions.npz" and p.stat().st_size < 50_000, p
        with np.load(p) as f:
            assert not [k for k in f.files if k.endswith("_prob")], p


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("actbench") is None, reason="actbench is not installed on PATH")
def test_reproduce_script_end_to_end(tmp_path: Path) -> None:
    """5 activations x 1 seed x 1 epoch on a tiny CIFAR-shaped archive, then the page and its plots."""
    folder = tmp_path / "imgs"
    make_folder(folder, {f"c{k}": 6 for k in range(10)})
    archive = tmp_path / "tiny.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder / "train", "train")
        tar.add(folder / "test", "test")
    docs, page = tmp_path / "docs", tmp_path / "docs" / "page.md"
    tiny = ["data.val_size=10", "model.channels=[4,4,4]", "train.device=cpu", "train.threads=1",
            "robustness.levels=[0,0.1]", f"data.cache_dir={tmp_path / 'cache'}"]  # fmt: skip
    cmd = ["bash", str(REPO / "benchmarks/reproduce_table2.sh"), "--epochs", "1", "--seeds", "0",
           "--data", str(archive), "--out", str(tmp_path / "runs"), "--name", "tiny", "--docs", str(docs),
           "--page", str(page), "--noise", "gaussian", "--reference", str(docs / "runs" / "tiny"),
           "--"]  # fmt: skip
    cmd += [a for s in tiny for a in ("--set", s)]
    proc = subprocess.run(
        cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600, env=os.environ.copy()
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    runs = sorted(p.name for p in (docs / "runs" / "tiny").iterdir() if p.is_dir())
    assert runs == ["elu-s0", "exponential-s0", "prelu-s0", "rational-s0", "relu-s0"]
    summary = json.loads((docs / "runs" / "tiny" / "rational-s0" / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert not list((docs / "runs").rglob("*.pt"))
    with np.load(docs / "runs" / "tiny" / "rational-s0" / "predictions.npz") as f:  # slim: no _prob
        assert {"labels", "last_pred", "best_pred"} <= set(f.files) and not any("_prob" in k for k in f.files)
    text = page.read_text()
    assert "**Provenance (" in text and "| rational |" in text and "Table 2" in text
    assert list((docs / "tiny-plots").glob("*.png"))
    # the page lines the runs up with the reference sweep (here: themselves) and links its plots
    assert "**Compared with tiny (" in text and "](tiny-plots/val_acc.png)" in text


RUN_COMMANDS = ("actbench sweep ", "actbench suite run ")
# what may differ between a documented command's plan and the committed run: where things lie, and speed
# settings (they change how fast the same model trains, not which model: report.groups.IGNORED_KEYS)
NOT_COMPARED = {"run.name", "run.out", "data.root", "data.download", "data.cache", "data.cache_dir"}


def documented_run_commands() -> list[list[str]]:
    """Every `actbench sweep ...` / `actbench suite run ...` command in docs/results/README.md (backslash
    continuations joined), as argv."""
    text = (DOCS / "README.md").read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip().startswith(RUN_COMMANDS)]
    return [shlex.split(ln)[1:] for ln in lines]


def _flat(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict) and key != "params":
            out |= _flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


@pytest.mark.skipif(not (DOCS / "runs").is_dir(), reason="no published runs")
def test_published_runs_replan_from_their_documented_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each committed run's config.yaml is what its documented command plans today (`--dry-run`), up to
    paths and speed settings: a preset changed after publication shows up here, not in a reader's re-run."""
    import yaml

    from actbench.cli import display
    from actbench.config import from_dict, to_dict
    from actbench.report.groups import IGNORED_KEYS
    from actbench.suites import spec as SU

    plans = []
    monkeypatch.setattr(display, "show_plan", lambda plan, log, console: plans.append(plan))
    # what a command plans does not depend on its data being here (a clean clone elsewhere): a suite's
    # dry run would skip the tasks whose data is missing
    monkeypatch.setattr(SU, "missing_data", lambda cfg: None)
    monkeypatch.chdir(REPO)
    commands = documented_run_commands()
    assert commands
    planned: dict[str, dict] = {}
    for argv in commands:
        before = len(plans)
        res = runner.invoke(app, [*argv, "--dry-run", "--out", "runs"])
        assert res.exit_code == 0, (argv, res.output)
        for plan in plans[before:]:
            top = Path(plan.sweep_dir).relative_to(
                REPO / "runs" if Path(plan.sweep_dir).is_absolute() else "runs"
            )
            for spec in plan.runs:
                planned[(top / spec.name).as_posix()] = _flat(to_dict(spec.config))
    skip = NOT_COMPARED | (
        IGNORED_KEYS - {"train.seed"} - {k for k in IGNORED_KEYS if k.startswith("robust")}
    )
    committed = sorted(p.parent for p in (DOCS / "runs").rglob("config.yaml"))
    assert committed
    for run in committed:
        key = run.relative_to(DOCS / "runs").as_posix()
        assert key in planned, f"{key}: no documented command in docs/results/README.md plans this run"
        have = _flat(to_dict(from_dict(yaml.safe_load((run / "config.yaml").read_text()))))
        diff = {k: (have.get(k), planned[key].get(k)) for k in have.keys() | planned[key].keys()
                if k not in skip and have.get(k) != planned[key].get(k)}  # fmt: skip
        assert not diff, f"{key}: committed vs planned today {diff}"
