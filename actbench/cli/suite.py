"""`actbench suite run|report`: several tasks, one sweep each, and the cross-task report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from actbench.cli.app import app, console, line, progress_log, say, warn
from actbench.cli.options import (
    ActsOpt,
    AddressOpt,
    CpusOpt,
    DryRunOpt,
    GpusOpt,
    LauncherOpt,
    LogFormatOpt,
    MaxRetriesOpt,
    PackOpt,
    ProgressEveryOpt,
    RetryOpt,
    RobustnessOpt,
    SeedsOpt,
    SetOpt,
    SummaryEveryOpt,
    SweepOutOpt,
    TensorBoardOpt,
    WorkersOpt,
    with_flags,
)
from actbench.cli.progress import PROGRESS_EVERY_S, SUMMARY_EVERY_S, SweepLive, SweepLog  # light: no torch

if TYPE_CHECKING:
    from actbench.sweep.plan import Plan

suite_app = typer.Typer(help="Run and report a suite: several tasks (networks x data), one sweep each.")


app.add_typer(suite_app, name="suite")


@suite_app.command("run")
def suite_run(
    suite: Annotated[str, typer.Argument(help="Shipped suite (smoke, paper, cifar10-nets, standard), YAML.")],
    acts: ActsOpt = "relu,elu,prelu,rational,exponential",
    seeds: SeedsOpt = "0",
    set_: SetOpt = None,
    name: Annotated[str | None, typer.Option(help="Suite folder name (default: the suite's name).")] = None,
    out: SweepOutOpt = None,
    workers: WorkersOpt = None,
    retry_failed: RetryOpt = False,
    robustness: RobustnessOpt = False,
    launcher: LauncherOpt = "local",
    address: AddressOpt = None,
    cpus_per_run: CpusOpt = None,
    gpus_per_run: GpusOpt = None,
    max_retries: MaxRetriesOpt = None,
    pack: PackOpt = None,
    log_format: LogFormatOpt = None,
    progress_every: ProgressEveryOpt = PROGRESS_EVERY_S,
    summary_every: SummaryEveryOpt = SUMMARY_EVERY_S,
    tensorboard: TensorBoardOpt = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Each task of SUITE as a sweep <out>/<name>/<task>/; re-running skips what is done."""
    from actbench import runs
    from actbench.cli.display import show_plan
    from actbench.pack.plan import pack_lines
    from actbench.suites.run import plan_suite, run_suite
    from actbench.sweep.ray import ray_options

    log = progress_log(log_format, progress_every, summary_every)
    sets = with_flags(set_, robustness, tensorboard)
    options = ray_options(launcher, address, cpus_per_run, gpus_per_run, max_retries)
    skip = lambda task, why: say(log, f"task {task}: skipped: {why}")  # noqa: E731
    plan = plan_suite(suite, acts, seeds, sets, name, out, pack, workers, on_skip=skip)
    if dry_run:
        for tp in plan.tasks:
            say(log, f"task {tp.task.name} ({tp.task.config}):")
            show_plan(tp.plan, log, console)
            for text in [*pack_lines(tp.plan), *tp.alone]:
                say(log, text)
        return

    def watch(sweep_plan: Plan, slots: int) -> SweepLog | SweepLive:
        return SweepLog(log, sweep_plan, slots) if log else SweepLive(console, sweep_plan)

    result = run_suite(plan, workers, options, retry_failed, watch, lambda text: say(log, text))
    if result.tasks and result.tasks[-1].result == runs.INTERRUPTED:
        say(log, f"interrupted; re-run the same command to continue ({result.tasks[-1].sweep_dir})")
    else:
        say(log, f"suite {plan.suite.name}: {len(plan.tasks)} task(s) in {plan.root}; report: "
            f"actbench suite report {plan.root}")  # fmt: skip
    if result.exit_code:
        raise typer.Exit(result.exit_code)


@suite_app.command("report")
def suite_report(
    path: Annotated[Path, typer.Argument(help="A suite folder (<out>/<name> of `actbench suite run`).")],
    baseline: Annotated[str, typer.Option(help="Activation every other is compared with.")] = "relu",
    metric: Annotated[str, typer.Option(help="last (final epoch) | best (best-validation epoch)")] = "last",
    fmt: Annotated[str, typer.Option("--format", help="table | md | csv | json")] = "table",
    out: Annotated[Path | None, typer.Option(help="Write the export to this file instead of stdout.")] = None,
    html: Annotated[Path | None, typer.Option(help="Also write one HTML page with the CD diagram.")] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Also write the CD diagram as a PNG (a Markdown --out links it).")
    ] = None,
    allow_incomplete: Annotated[
        bool,
        typer.Option(
            "--allow-incomplete",
            help="Rank across tasks even while planned runs or tasks are missing (they are still listed).",
        ),
    ] = False,
) -> None:
    """Per task, each activation's decision vs the baseline; across tasks, mean ranks, Friedman, CD."""
    from actbench.suites import report as SR
    from actbench.suites.page import written_format

    text, rep = SR.suite_report_main(path, baseline, metric, fmt, out, html, plot, allow_incomplete)
    if text is None:  # the terminal: the report's tables, warnings on stderr
        from actbench.report import render
        from actbench.suites.page import suite_document

        for item in render.terminal(suite_document(rep, warnings=False), console.width):
            console.print(item)
    elif out is None:
        console.print(text, highlight=False, markup=False, soft_wrap=True, end="")
    if text is None or written_format(fmt, out) == "csv":  # the other formats carry the warnings
        for w in rep["warnings"]:
            warn(w)
    for path in (
        p for p in (out, html, plot) if p is not None and p.is_file()
    ):  # stderr: stdout may be an export
        line(f"wrote {path}", to_stderr=True)
