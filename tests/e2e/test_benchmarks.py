"""Smoke tests: every benchmark script runs end to end with tiny sizes and writes parseable JSON.
They check that the scripts work, never how fast anything is (timings come from the scripts' output)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import REPO

# Subprocess limits with room for a loaded machine: each is at least 3x what its command took on 2 cores
# shared with other jobs (load average 5-9): a script's --quick run well under 300 s, a gpu_check.sh
# section about 130 s (the script's own per-step limit on CPU is 600 s).
SCRIPT_TIMEOUT_S, SECTION_TIMEOUT_S = 900, 1200


def _run(args: list[str], timeout: int = SCRIPT_TIMEOUT_S, env: dict[str, str] | None = None) -> str:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    proc = subprocess.run(args, cwd=REPO, env=full_env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.parametrize(
    "script",
    [
        "bench_activations.py",
        "bench_train.py",
        "bench_train_acts.py",
        "bench_sweep.py",
        "bench_resnet.py",
        "bench_pack.py",
        "bench_corruptions.py",
        "calibration.py",
        "bench_tv_models.py",
    ],
)
def test_benchmark_script_quick(tmp_path: Path, script: str) -> None:
    out = tmp_path / "out.json"
    stdout = _run([sys.executable, f"benchmarks/{script}", "--quick", "--json", str(out)])
    assert stdout.strip()
    assert json.loads(out.read_text())


def test_gpu_check_runs_on_cpu_with_tiny_sizes(tmp_path: Path) -> None:
    stdout = _run(
        ["bash", "benchmarks/gpu_check.sh", str(tmp_path)],
        timeout=SECTION_TIMEOUT_S,
        env={"ONLY": "protocol", "PYTHON": sys.executable},
    )
    assert "ESTIMATE: Table 2 protocol" in stdout and "!!! step failed" not in stdout
    rows = json.loads((tmp_path / "protocol.json").read_text())["rows"]
    assert len(rows) == 5 and all(r["status"] == "completed" for r in rows)


def test_gpu_check_pack_section_runs_on_cpu_with_tiny_sizes(tmp_path: Path) -> None:
    stdout = _run(
        ["bash", "benchmarks/gpu_check.sh", str(tmp_path)],
        timeout=SECTION_TIMEOUT_S,
        env={"ONLY": "pack", "PYTHON": sys.executable},
    )
    assert "ESTIMATE: Table 2 x seeds packed" in stdout and "!!! step failed" not in stdout
    for k, mates in ((5, {4}), (25, {9})):  # on CPU: 5 activations x 2 seeds
        rows = json.loads((tmp_path / f"pack{k}.json").read_text())["rows"]
        assert len(rows) == 10 and all(r["status"] == "completed" for r in rows)
        assert {r["packed_with"] for r in rows} == mates
    steps = json.loads((tmp_path / "pack_steps.json").read_text())
    assert steps["engines"]["k"] == steps["optimizer"]["k"] == 25
    assert all(v > 0 for v in steps["optimizer"]["ms_per_step"].values())


def test_gpu_speed_runs_on_cpu_with_tiny_sizes(tmp_path: Path) -> None:
    """Issue 38's one-box protocol (benchmarks/gpu_speed.py, what gpu_speed.sh runs on a GPU) at --tiny sizes:
    every section runs and the JSON holds the three numbers the issue asks for (the values mean nothing)."""
    out = tmp_path / "speed.json"
    stdout = _run(
        [sys.executable, "benchmarks/gpu_speed.py", "--tiny", "--json", str(out)], timeout=SECTION_TIMEOUT_S
    )
    assert "wrote" in stdout
    res = json.loads(out.read_text())
    assert res["tiny"] and res["unit_epoch_ratio"] > 0 and res["pack_vs_workers"] > 0
    assert res["table2_5seeds_minutes"]["how"] == "extrapolated" and res["table2_5seeds_minutes"]["value"] > 0
    assert {"relu", "rational/layer/eager", "exponential/channel/compiled"} <= set(res["acts"]["ms"])
    for name in ("workers5", "pack5x5"):
        sweep = res["packs"]["arrangements"][name]
        assert sweep["completed"] == sweep["runs"] > 0, sweep
    assert res["e2e"]["completed"] == res["e2e"]["runs"] == 5
