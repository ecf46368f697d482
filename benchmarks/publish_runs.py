"""Copy the small files of finished runs into the repository, so a results page re-renders from git.

    python benchmarks/publish_runs.py RUNS_DIR DEST

Every run folder below RUNS_DIR (a sweep or a suite folder) is copied to DEST/<its path below RUNS_DIR>:
the small files (actbench.runs.PUBLISHED: config, metrics, summary, environment, noise and corruption
evaluations), the sweep manifests, and slim predictions (predicted classes without probabilities,
actbench.predictions.slim_copy). Checkpoints and full predictions stay where they are. Files of a run
already published are overwritten. Runs that have not ended (still training, interrupted, never started)
are left out with one line each, so a page rendered while a sweep goes on shows only ended runs (a failed
run is published: the report counts it); --all copies them too.

A run of image-folder data made before actbench recorded the data's content fingerprint (env.json
`data_fingerprint`) gets it in its published env.json, computed from its data.root here (relative to the
working directory, as the report resolves it) and marked `data_fingerprint_source: publish`: the report
groups runs by that fingerprint, so the page then re-renders the same whether or not the data is present
where it is rendered. `--fingerprints DEST` does only that, for runs published before.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from actbench import runs
from actbench.errors import UserError
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
    record_fingerprints(dest)
    return len(run_dirs)


def record_fingerprints(dest: Path) -> int:
    """Give each published folder-data run without a recorded data fingerprint the one of its data.root
    here (see the module's docstring); one line for each, and for each whose data is not here."""
    from actbench.config import load_run_config
    from actbench.data.fingerprint import folder_fingerprint

    done = 0
    for run in find_run_dirs([dest])[0]:
        try:
            env = runs.read_json(run / runs.ENV) if (run / runs.ENV).is_file() else {}
            data = load_run_config(run).data
        except UserError as exc:  # a damaged published file: the report names it; nothing to add here
            print(f"no fingerprint for {run} ({exc})")
            continue
        if data.name != "folder" or env.get("data_fingerprint"):
            continue
        fingerprint = folder_fingerprint(data.root)
        if fingerprint is None:
            print(f"no fingerprint for {run} ({data.root} is not here)")
            continue
        runs.write_json(
            run / runs.ENV, {**env, "data_fingerprint": fingerprint, "data_fingerprint_source": "publish"}
        )
        print(f"recorded the data fingerprint of {run} ({data.root})")
        done += 1
    return done


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("src", type=Path, nargs="?", help="a sweep or suite folder")
    p.add_argument("dest", type=Path, nargs="?", help="e.g. docs/results/runs/NAME")
    p.add_argument("--all", action="store_true", help="also runs that are not completed")
    p.add_argument("--fingerprints", type=Path, metavar="DEST", help="only record data fingerprints there")
    a = p.parse_args()
    if a.fingerprints is not None:
        print(f"recorded {record_fingerprints(a.fingerprints)} data fingerprints under {a.fingerprints}")
        return
    if a.src is None or a.dest is None:
        p.error("SRC and DEST are required (or --fingerprints DEST)")
    print(f"published {publish(a.src, a.dest, a.all)} runs from {a.src} to {a.dest}")


if __name__ == "__main__":
    main()
