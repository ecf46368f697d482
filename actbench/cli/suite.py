"""`actbench suite run|report`: several tasks, one sweep each, and the cross-task report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from actbench.cli.app import app, console, err_console, progress_log, say
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
    SweepOutOpt,
    WorkersOpt,
)
from actbench.cli.progress import PROGRESS_EVERY_S, SUMMARY_EVERY_S  # light: no torch
from actbench.cli.sweep import exit_after_sweep, plan_sweep, run_sweep
from actbench.errors import UserError

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
    dry_run: DryRunOpt = False,
) -> None:
    """Each task of SUITE as a sweep <out>/<name>/<task>/; re-running skips what is done."""
    from actbench.cli.display import plan_table
    from actbench.pack.plan import pack_lines, pack_sweep
    from actbench.suites import spec as SU
    from actbench.sweep import plan as S

    log = progress_log(log_format, progress_every, SUMMARY_EVERY_S)
    sets = [*(set_ or []), *(["robustness.enabled=true"] if robustness else [])]
    ray = (launcher, address, cpus_per_run, gpus_per_run, max_retries)
    spec = SU.load_suite(suite)
    root = Path(out or "runs") / (name or spec.name)
    if name is not None and not SU.TASK_NAME.match(name):
        raise SU.SuiteError(f"--name: {name!r} is not a plain folder name (letters, digits, . _ -)")
    todo, skipped = [], {}
    for task in spec.tasks:
        if problem := SU.missing_data(SU.task_config(task, sets)):
            say(log, f"task {task.name}: skipped: {problem}")
            skipped[task.name] = problem
            continue
        todo.append(task)
    # every task is planned (its config checked) before the first run starts: a bad override in the last
    # task is refused now, not after hours of the others
    plans = []
    for task in todo:
        try:
            task_sets = [*task.set, *sets]
            plan, options = plan_sweep(task.config, task_sets, acts, seeds, None, task.name, root, ray)
            plans.append((task, plan, options, pack_sweep(plan, pack, workers)))
        except UserError as exc:
            raise UserError(f"task {task.name}: {exc}") from None
    if dry_run:
        for task, plan, _, alone in plans:
            console.print(f"task {task.name} ({task.config}):", highlight=False)
            console.print(plan_table(plan))
            for line in [*pack_lines(plan), *alone]:
                console.print(line, highlight=False, soft_wrap=True)
        return
    SU.write_plan(root, spec, skipped)  # the tasks the suite report must find: one never started is named
    worst = 0
    for i, (task, plan, options, alone) in enumerate(plans, 1):
        say(log, f"=== suite {spec.name}: task {i}/{len(plans)} {task.name} ({task.config})")
        try:
            S.write_manifest(plan)
        except UserError as exc:
            raise UserError(f"task {task.name}: {exc}") from None
        for line in alone:  # why runs train alone, before they start
            say(log, line)
        try:
            exit_after_sweep(plan, run_sweep(plan, workers, options, retry_failed, log), log)
        except typer.Exit as exit_:
            if exit_.exit_code == 130:
                raise
            worst = max(worst, exit_.exit_code)
    say(log, f"suite {spec.name}: {len(todo)} task(s) in {root}; report: actbench suite report {root}")
    if worst:
        raise typer.Exit(worst)


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
    from rich.markup import escape

    from actbench.suites import report as SR

    text, rep = SR.suite_report_main(path, baseline, metric, fmt, out, html, plot, allow_incomplete)
    if text is None:  # the terminal: the report's tables, warnings on stderr
        from actbench.report import render

        for item in render.terminal(SR.suite_document(rep, warnings=False), console.width):
            console.print(item)
    elif out is None:
        console.print(text, highlight=False, markup=False, soft_wrap=True, end="")
    if text is None or fmt == "csv":  # the other formats carry the warnings
        for w in rep["warnings"]:
            err_console.print(f"[yellow]warning:[/] {escape(w)}", highlight=False, soft_wrap=True)
    for path in (
        p for p in (out, html, plot) if p is not None and p.is_file()
    ):  # stderr: stdout may be an export
        err_console.print(f"wrote {escape(str(path))}", highlight=False, soft_wrap=True)
