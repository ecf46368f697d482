"""What a suite folder lacks before its report may give a cross-task verdict: the planned tasks without a
sweep (suite.yaml, written by `suite run`), those skipped for missing data, and per task the planned
runs not completed (each task's sweep.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from actbench import runs
from actbench.suites.spec import read_plan
from actbench.sweep.plan import MANIFEST


def missing_runs(task: Path) -> dict[str, str]:
    """The runs its sweep.yaml plans that are not completed: run name -> status (or "not started")."""
    try:
        manifest = yaml.safe_load((task / MANIFEST).read_text(encoding="utf-8")) or {}
        names = [r["name"] for r in manifest.get("runs") or []]
    except (OSError, yaml.YAMLError, TypeError, KeyError, AttributeError):
        return {}
    out = {}
    for name in names:
        status = runs.read_status(task / str(name)) if (task / str(name)).is_dir() else None
        if status != runs.COMPLETED:
            out[str(name)] = status or "not started"
    return out


def incomplete(root: Path, tasks: list[Path]) -> dict[str, Any]:
    """What the suite folder lacks: planned tasks without a sweep (suite.yaml), those `suite run` skipped
    for missing data (with why: known, named, not waited for) apart, and per task the planned runs not
    completed."""
    plan = read_plan(root) or {}
    present = {t.name for t in tasks}
    skipped = plan.get("skipped")
    if not isinstance(skipped, dict):
        skipped = {}
    absent = [str(t) for t in plan.get("tasks", []) if str(t) not in present]
    return {
        "tasks": {t: "not started" for t in absent if t not in skipped},
        "skipped": {t: str(skipped[t]) for t in absent if t in skipped},
        "runs": {t.name: m for t in tasks if (m := missing_runs(t))},
    }


def incomplete_lines(missing: dict[str, Any]) -> list[str]:
    lines = []
    for task, gone in missing["runs"].items():
        shown = ", ".join(f"{name} {status}" for name, status in gone.items())
        lines.append(f"task {task}: {len(gone)} planned run(s) not completed: {shown}")
    if missing["tasks"]:
        lines.append(f"tasks not started: {', '.join(missing['tasks'])}")
    return lines
