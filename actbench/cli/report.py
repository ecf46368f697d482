"""`actbench report` and `actbench export`: tables, plots, HTML; TensorBoard/MLflow export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from actbench.cli.app import app, console, line, warn


@app.command()
def report(
    paths: Annotated[
        list[Path], typer.Argument(help="Run folders or folders holding runs (searched recursively).")
    ],
    baseline: Annotated[
        str | None, typer.Option(help="Activation the others are compared with (relu when not given).")
    ] = None,
    metric: Annotated[str, typer.Option(help="last (final epoch) | best (best-validation epoch)")] = "last",
    sort: Annotated[str, typer.Option(help="paper | acc | loss | name | p")] = "paper",
    where: Annotated[
        list[str] | None, typer.Option(help="Keep runs with config key=value (repeatable).")
    ] = None,
    paper: Annotated[str | None, typer.Option(help="Add the paper's numbers: cifar10 | cifar100.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table | md | csv | latex | json")] = "table",
    out: Annotated[Path | None, typer.Option(help="Write the export to this file instead of stdout.")] = None,
    plots: Annotated[Path | None, typer.Option(help="Write PNG figures into this folder.")] = None,
    provenance: Annotated[
        bool, typer.Option(help="Add versions, device, epochs and wall time read from the runs (not to csv).")
    ] = False,
    html: Annotated[
        Path | None, typer.Option(help="Also write the whole report as one self-contained HTML file.")
    ] = None,
    tests: Annotated[
        str | None,
        typer.Option(help="Comma-separated: welch, paired, power, ensemble, calibration (default: all)."),
    ] = None,
    bootstrap: Annotated[
        int | None,
        typer.Option(min=0, help="Resamples of the P(better) bootstrap interval; 0: none (default: 2000)."),
    ] = None,
    mde: Annotated[
        float | None,
        typer.Option(help="Plan: seeds per group to detect this many accuracy points at 80% power."),
    ] = None,
    reference: Annotated[
        list[Path] | None,
        typer.Option(help="Another sweep of the same groups to show side by side (e.g. fewer epochs)."),
    ] = None,
) -> None:
    """Tables (mean ± std, 95% CI, tests vs the baseline with the run as the unit, power) and plots."""
    from actbench.report.build import report_main, report_options

    options = report_options(
        baseline, metric, sort, where or [], paper, tests, bootstrap, mde, reference or []
    )
    warnings = report_main(paths, options, fmt, out, plots, console, provenance, html)
    for w in warnings:
        warn(w)


@app.command()
def export(
    target: Annotated[str, typer.Argument(help="tensorboard | mlflow")],
    paths: Annotated[
        list[Path], typer.Argument(help="Run folders or folders holding runs (searched recursively).")
    ],
    to: Annotated[
        str | None,
        typer.Option(
            help="tensorboard: a folder [./tensorboard]; mlflow: a tracking URI or folder [./mlruns]."
        ),
    ] = None,
) -> None:
    """Turn run folders into TensorBoard event files or MLflow runs (again: no duplicates)."""
    from actbench.trackers import export as export_runs

    message, warnings = export_runs(target, paths, to)
    for w in warnings:
        warn(w)
    line(message)
