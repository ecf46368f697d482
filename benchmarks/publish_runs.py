"""Copy the small files of finished runs into the repository, so a results page re-renders from git.

    python benchmarks/publish_runs.py RUNS_DIR DEST

Every run folder below RUNS_DIR (a sweep or a suite folder) is copied to DEST/<its path below RUNS_DIR>:
the small files (actbench.runs.PUBLISHED: config, metrics, summary, environment, noise and corruption
evaluations), the sweep manifests, and slim predictions (predicted classes without probabilities,
actbench.predictions.slim_copy). Checkpoints and full predictions stay where they are. Files of a run
already published are overwritten.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from actbench import runs
from actbench.predictions import slim_copy
from actbench.report.groups import find_run_dirs
from actbench.sweep.plan import MANIFEST


def publish(src: Path, dest: Path) -> int:
    run_dirs, warnings = find_run_dirs([src])
    for w in warnings:
        print(f"warning: {w}")
    for manifest in src.rglob(MANIFEST):
        target = dest / manifest.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(manifest, target)
    for run in run_dirs:
        target = dest / run.relative_to(src)
        target.mkdir(parents=True, exist_ok=True)
        for name in runs.PUBLISHED:
            if (run / name).is_file():
                shutil.copy2(run / name, target / name)
        slim_copy(run, target)
    return len(run_dirs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("src", type=Path, help="a sweep or suite folder")
    p.add_argument("dest", type=Path, help="e.g. docs/results/runs/NAME")
    a = p.parse_args()
    print(f"published {publish(a.src, a.dest)} runs from {a.src} to {a.dest}")


if __name__ == "__main__":
    main()
