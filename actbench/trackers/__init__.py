"""Optional trackers: TensorBoard event files and MLflow runs from actbench run folders.

Each tracker lives in its own module and imports its library (an optional extra: `pip install
'actbench[tensorboard]'`, `'actbench[mlflow]'`) only when used; the core never imports this package
unless a run asks for it (`run.tensorboard: true`) or `actbench export` is called.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from actbench.errors import not_allowed, require
from actbench.runs import RunError, check_output
from actbench.trackers.scalars import TRACKERS

DEFAULT_TO = {"tensorboard": "tensorboard", "mlflow": "mlruns"}  # folders in the current directory


def export(target: str, paths: list[Path], to: str | None = None) -> tuple[str, list[str]]:
    """`actbench export TARGET PATH... [--to DIR|URI]`: a one-line result and warnings; user errors
    raise RunError or groups.ReportError."""
    import os

    from actbench.report.groups import find_run_dirs

    if target not in TRACKERS:
        raise not_allowed("TARGET", target, TRACKERS, cls=RunError)
    dest = to or DEFAULT_TO[target]
    require(target, target)
    run_dirs, warnings = find_run_dirs(paths)  # a bad PATH is refused before --to is made
    if local := local_folder(dest):  # checked before anything is exported
        check_output(local, "--to", folder=True)
    if target == "tensorboard":
        from actbench.trackers.tensorboard import export_tensorboard

        root = Path(os.path.commonpath([str(Path(p).resolve().parent) for p in paths]))
        export_tensorboard(run_dirs, Path(dest), root)
        return f"exported {len(run_dirs)} runs to {dest} (view with: tensorboard --logdir {dest})", warnings
    from actbench.trackers.mlflow import export_mlflow

    uri, written, unchanged = export_mlflow(run_dirs, dest)
    return f"exported {written} runs to {uri} ({unchanged} unchanged since the last export)", warnings


def local_folder(dest: str) -> Path | None:
    """The folder an export destination names on this machine (a path or a file: URI); None for a
    server or database URI."""
    import urllib.parse

    if dest.startswith("file:"):
        return Path(urllib.parse.unquote(urllib.parse.urlsplit(dest).path))
    if "://" in dest or dest.startswith("databricks"):
        return None
    return Path(dest)


def with_trackers(hooks: Any, run_dir: Path) -> Any:
    """`run.tensorboard: true`: `hooks` (training.lifecycle.Hooks) plus an observer writing TensorBoard event
    files into the run folder; `hooks` unchanged otherwise. The command line attaches it for lone runs and
    for each member of a pack; training itself knows no tracker. A missing extra fails here, before
    training, with the install command (RunError). An observer that raises is dropped with a warning
    (`training.state.RunState`, which also records it in summary.json): the run trains on."""
    from actbench.config import load_run_config

    if not load_run_config(run_dir).run.tensorboard:
        return hooks
    require("tensorboard", "tensorboard")
    from actbench.trackers.tensorboard import TensorBoardObserver

    return dataclasses.replace(hooks, observers=(*hooks.observers, TensorBoardObserver(run_dir)))
