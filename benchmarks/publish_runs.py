"""Copy the small files of finished runs into the repository, so a results page re-renders from git.

    python benchmarks/publish_runs.py RUNS_DIR DEST

Every run folder below RUNS_DIR (a sweep or a suite folder) is copied to DEST/<its path below RUNS_DIR>:
the small files (actbench.runs.PUBLISHED: config, metrics, summary, environment, noise and corruption
evaluations), the sweep manifests, and slim predictions (predicted classes without probabilities,
actbench.predictions.slim_copy). Checkpoints and full predictions stay where they are. Files of a run
already published are overwritten. Runs that have not ended (still training, interrupted, never started)
are left out with one line each, so a page rendered while a sweep goes on shows only ended runs (a failed
run is published: the report counts it); --all copies them too.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from actbench import runs
from actbench.predictions import slim_copy
from actbench.report.groups import find_run_dirs
from actbench.sweep.plan import MANIFEST

ENDED = (runs.COMPLETED, runs.FAILED)  # what a run can end as; the others may still change


def publish(src: Path, dest: Path, everything: bool = False) -> int:
    run_dirs, warnings = find_run_dirs([src])
    for w in warnings:
        print(f"warning: {w}")
    if not everything:
        ended = [r for r in run_dirs if runs.read_status(r) in ENDED]
        for run in [r for r in run_dirs if r not in ended]:
            print(f"left out {run.relative_to(src.parent)} ({runs.read_status(run) or 'no status'})")
        run_dirs = ended
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
    p.add_argument("--all", action="store_true", help="also runs that are not completed")
    a = p.parse_args()
    print(f"published {publish(a.src, a.dest, a.all)} runs from {a.src} to {a.dest}")


if __name__ == "__main__":
    main()
