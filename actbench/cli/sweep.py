"""`actbench sweep`: plan activation x grid x seed, run it locally or on Ray, show progress."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from actbench.cli.progress import PROGRESS_EVERY_S, SUMMARY_EVERY_S  # light: no torch

if TYPE_CHECKING:  # annotations only: commands import the library lazily
    from actbench.cli.progress import ProgressLog
    from actbench.sweep.plan import Plan
    from actbench.sweep.ray import RayOptions
    from actbench.sweep.state import RunStatus

from actbench.cli.app import app, console, fail, progress_log, say
from actbench.cli.eval import eval_corruptions
from actbench.cli.options import (
    DEFAULT_SEVERITIES,
    ActsOpt,
    AddressOpt,
    ConfigOpt,
    CorruptedRootOpt,
    CorruptionsOpt,
    CpusOpt,
    DryRunOpt,
    GpusOpt,
    GridOpt,
    LauncherOpt,
    LogFormatOpt,
    MaxRetriesOpt,
    PackOpt,
    ProgressEveryOpt,
    RetryOpt,
    RobustnessOpt,
    SeedsOpt,
    SetOpt,
    SeveritiesOpt,
    SummaryEveryOpt,
    SweepNameOpt,
    SweepOutOpt,
    TensorBoardOpt,
    WorkersOpt,
    with_flags,
)


@app.command()
def sweep(
    config: ConfigOpt = None,
    acts: ActsOpt = "relu,elu,prelu,rational,exponential",
    seeds: SeedsOpt = "0",
    grid: GridOpt = None,
    set_: SetOpt = None,
    name: SweepNameOpt = None,
    out: SweepOutOpt = None,
    workers: WorkersOpt = None,
    retry_failed: RetryOpt = False,
    dry_run: DryRunOpt = False,
    robustness: RobustnessOpt = False,
    tensorboard: TensorBoardOpt = False,
    launcher: LauncherOpt = "local",
    address: AddressOpt = None,
    cpus_per_run: CpusOpt = None,
    gpus_per_run: GpusOpt = None,
    max_retries: MaxRetriesOpt = None,
    log_format: LogFormatOpt = None,
    progress_every: ProgressEveryOpt = PROGRESS_EVERY_S,
    summary_every: SummaryEveryOpt = SUMMARY_EVERY_S,
    pack: PackOpt = None,
    corruptions: CorruptionsOpt = None,
    severities: SeveritiesOpt = None,
    corrupted_root: CorruptedRootOpt = None,
) -> None:
    """Run activation x grid x seed; re-running skips completed runs and resumes partial ones."""
    from actbench import runs
    from actbench.cli.display import show_plan
    from actbench.pack.plan import pack_lines, pack_sweep
    from actbench.sweep import plan as S
    from actbench.sweep.ray import ray_options
    from actbench.sweep.run import sweep_outcome

    log = progress_log(log_format, progress_every, summary_every)
    if corruptions is None and (severities is not None or corrupted_root is not None):
        fail("--severities and --corrupted-root only apply with --corruptions (e.g. --corruptions all)")
    if corruptions is not None:  # checked before hours of training, not after
        from actbench.robustness import evaluate as CE

        (
            CE.parse_corruptions(corruptions, corrupted_root),
            CE.parse_severities(severities or DEFAULT_SEVERITIES),
        )
    sets = with_flags(set_, robustness, tensorboard)
    options = ray_options(launcher, address, cpus_per_run, gpus_per_run, max_retries)
    # the run names start with a network --set chose (a suite's runs sit in a task folder named for it)
    plan = S.plan_from_options(config, sets, acts, seeds, grid, name, out)
    alone = pack_sweep(plan, pack, workers)
    if dry_run:
        show_plan(plan, log, console)
        for text in [*pack_lines(plan), *alone]:
            say(log, text)
        return
    statuses = run_sweep(plan, workers, options, retry_failed, log, alone)
    interrupted = sweep_outcome(statuses) == runs.INTERRUPTED  # Ctrl-C: stop now, a re-run evaluates
    if corruptions is not None and not interrupted:  # every completed run, also those completed before
        from actbench.robustness.evaluate import completed_runs

        done = completed_runs([plan.sweep_dir / r.name for r in plan.runs])
        eval_corruptions(done, "last", corruptions, severities or DEFAULT_SEVERITIES, 0, corrupted_root, log)
    exit_after_sweep(plan, statuses, log)


def run_sweep(
    plan: Plan,
    workers: int | None,
    options: RayOptions | None,
    retry_failed: bool,
    log: ProgressLog | None = None,
    notes: list[str] | None = None,
) -> list[RunStatus]:
    """Execute the plan (actbench.sweep.run) with a live display, or log lines when `log` is given;
    `notes` (why runs train alone) are said once run_plan has accepted the plan, before any run starts."""
    from actbench.cli.progress import SweepLive, SweepLog
    from actbench.sweep.run import run_plan

    def watch(slots: int) -> SweepLog | SweepLive:
        return SweepLog(log, plan, slots) if log else SweepLive(console, plan)

    return run_plan(plan, workers, options, retry_failed, watch, lambda text: say(log, text), notes or [])


def exit_after_sweep(plan: Plan, statuses: list[RunStatus], log: ProgressLog | None = None) -> None:
    """Exit 130 when runs were interrupted or not started (with how to continue), 1 when any failed."""
    from actbench import runs
    from actbench.sweep.run import EXIT_CODES, sweep_outcome

    result = sweep_outcome(statuses)
    if result == runs.INTERRUPTED:
        say(log, f"interrupted; re-run the same command to continue ({plan.sweep_dir})")
    if EXIT_CODES[result]:
        raise typer.Exit(EXIT_CODES[result])
