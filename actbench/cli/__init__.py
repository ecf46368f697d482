"""Typer command-line interface. Thin commands: parse arguments, call library functions, display.

Only this module (and report rendering) touches rich/tqdm; library code returns data.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from actbench.cli.progress import PROGRESS_EVERY_S, SUMMARY_EVERY_S  # light: no torch

if TYPE_CHECKING:  # annotations only: commands import the library lazily
    from collections.abc import Callable

    from actbench.sweep.ray import RayOptions
    from actbench.cli.progress import ProgressLog
    from actbench.sweep.plan import Plan, RunStatus

app = typer.Typer(
    help="actbench: benchmark activation functions for CNN image classifiers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    """Print one readable error line and exit non-zero (no traceback)."""
    from rich.markup import escape  # messages quote user text: "[ray]" or "[64,64]" is not markup

    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


# --- acts ------------------------------------------------------------------------------------------

_ACTS_DEFAULT_A = "-3,-1,0,0.25,1,3"  # Fig. 1 style spread; Rational skips a <= 0 (its pole)


def _parse_floats(text: str, option: str) -> list[float]:
    import math

    values: list[float] = []
    for token in text.split(","):
        try:
            values.append(float(token))
        except ValueError:
            values.append(math.nan)
        if not math.isfinite(values[-1]):
            fail(f"{option}: {token.strip()!r} is not a finite number (expected e.g. {option} -3,-1,0,1,3)")
    return values


@app.command()
def acts(
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write Fig. 1 style curves to this PNG.")
    ] = None,
    a: Annotated[
        str | None,
        typer.Option("--a", help=f"Comma-separated a values for --plot [default: {_ACTS_DEFAULT_A}]."),
    ] = None,
    names: Annotated[
        str | None,
        typer.Option(
            "--names", help="Comma-separated activations (table: all; --plot: rational,exponential)."
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table | md | csv | json")] = "table",
) -> None:
    """List every registered activation; with --plot, draw its curves for several a."""
    from actbench.activations import get_spec
    from actbench.report.catalog import ACTS_FORMATS, acts_tables, acts_text
    from actbench.activations.plugins import all_names

    if fmt not in ACTS_FORMATS:
        fail(f"--format: {fmt!r} is not allowed (allowed: {', '.join(ACTS_FORMATS)})")

    chosen = [n.strip() for n in names.split(",") if n.strip()] if names else []
    for name in chosen:
        try:
            get_spec(name)
        except ValueError as exc:
            fail(f"--names: {exc}")
    if a is not None and plot is None:
        fail("--a only applies with --plot FILE.png")
    if plot is not None:
        from actbench.report.curves import plot_activation_curves

        a_values = _parse_floats(a if a is not None else _ACTS_DEFAULT_A, "--a")
        out = plot_activation_curves(chosen or ["rational", "exponential"], a_values, plot)
        console.print(f"wrote {out}")
        return
    listed = chosen or all_names()
    if fmt == "table":
        for table in acts_tables(listed, console.width):
            console.print(table)
    else:  # exports go out verbatim: no markup, no wrapping
        console.print(acts_text(listed, fmt), markup=False, highlight=False, soft_wrap=True, end="")


# --- train / eval ----------------------------------------------------------------------------------

ConfigOpt = Annotated[
    str | None, typer.Option("--config", "-c", help="YAML file, or a shipped preset name (e.g. cifar10_exp).")
]
SetOpt = Annotated[
    list[str] | None, typer.Option("--set", "-s", help="Override: section.key=value (repeatable).")
]


LogFormatOpt = Annotated[
    str | None,
    typer.Option(
        "--log-format",
        help="text | json: one timestamped line (or JSON object) per event on stdout, flushed at once "
        "(without it: the live display on a terminal, text lines otherwise).",
    ),
]
ProgressEveryOpt = Annotated[
    float, typer.Option(help="Logs: seconds between two epoch lines of one run at most (0: every epoch).")
]


def _user_errors() -> tuple[type[Exception], ...]:
    from actbench.config import ConfigError
    from actbench.runs import RunError
    from actbench.data.sources import DataError

    return ConfigError, DataError, RunError


@app.command()
def train(
    config: ConfigOpt = None,
    set_: SetOpt = None,
    name: Annotated[str | None, typer.Option(help="Run folder name (default: generated).")] = None,
    out: Annotated[Path | None, typer.Option(help="Parent folder of runs (default: run.out).")] = None,
    resume: Annotated[Path | None, typer.Option(help="Continue the run in this folder.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing run folder.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar per epoch.")] = True,
    log_format: LogFormatOpt = None,
    progress_every: ProgressEveryOpt = PROGRESS_EVERY_S,
) -> None:
    """Train one model. `actbench train --config quickstart` or `actbench train --resume runs/NAME`."""
    from actbench import config as C
    from actbench import runs
    from actbench.training import loop as T

    created = None
    log = _progress_log(log_format, progress_every)
    try:
        if resume is not None:
            if config or set_:
                fail("--resume takes the run's own config.yaml; drop --config/--set")
            run_dir = resume
            if not (run_dir / runs.CONFIG).is_file():
                fail(f"{run_dir}: not a run folder (no {runs.CONFIG})")
        else:
            cfg = C.load_config(config if config is not None else "quickstart", set_ or [])
            run_dir = created = T.create_run(cfg, out, name, force)
        hooks = T.Hooks(on_event=_train_sink(log, run_dir, progress), should_stop=T.stop_on_signals())
        summary = T.run_training(run_dir, resume=resume is not None, hooks=hooks)
    except _user_errors() as exc:
        _discard_unstarted(created)
        fail(str(exc))
    except OSError as exc:  # even the final summary.json could not be written (disk full)
        fail(runs.write_problem(exc))
    if summary["status"] == runs.INTERRUPTED:
        _say(log, f"resume with: actbench train --resume {run_dir}")
        raise typer.Exit(130)
    if summary["status"] != runs.COMPLETED:
        raise typer.Exit(1)


def _progress_log(
    log_format: str | None, every_s: float = PROGRESS_EVERY_S, summary_every_s: float = SUMMARY_EVERY_S
) -> ProgressLog | None:
    """The plain log of progress (stdout not a terminal, or --log-format given); None: live display."""
    from actbench.config import ConfigError
    from actbench.cli.progress import ProgressLog, log_options

    try:
        options = log_options(log_format, every_s, summary_every_s)
    except ConfigError as exc:
        fail(str(exc))
    return ProgressLog(options) if options else None


def _train_sink(log: ProgressLog | None, run_dir: Path, progress: bool) -> Callable[[str, dict], None]:
    from actbench.cli.display import TrainDisplay

    return log.run(run_dir.name) if log else TrainDisplay(console, progress)


def _say(log: ProgressLog | None, text: str) -> None:
    """A closing message: a log line in log mode (keeps JSON output parseable), else a console line."""
    if log:
        log.note(text)
    else:
        console.print(text, highlight=False, soft_wrap=True)


def _discard_unstarted(run_dir: Path | None) -> None:  # noqa: UP007
    """A run that failed before its first epoch (bad data path, ...) leaves no folder behind."""
    import shutil

    from actbench.runs import METRICS

    if run_dir is not None and run_dir.exists() and not (run_dir / METRICS).exists():
        shutil.rmtree(run_dir, ignore_errors=True)


@app.command("train-pack")
def train_pack(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run folders to train together (same shapes).")],
    quiet: Annotated[bool, typer.Option("--quiet", help="Log only into each run's train.log.")] = False,
) -> None:
    """Train several prepared run folders as one packed model (what `sweep --pack` runs per pack).
    Each member resumes from its own checkpoints and logs its progress into its own train.log."""
    from actbench import runs
    from actbench.cli.pack import train_pack_main

    try:
        statuses = train_pack_main(run_dirs, console, quiet)
    except _user_errors() as exc:
        fail(str(exc))
    except OSError as exc:  # a member's final summary.json could not be written (disk full)
        fail(runs.write_problem(exc))
    if runs.INTERRUPTED in statuses:
        raise typer.Exit(130)
    if any(s != runs.COMPLETED for s in statuses):
        raise typer.Exit(1)


def _noise_levels() -> str:
    """robustness.levels' default (config.py), as the --levels text: "0,0.02,0.05,0.1,0.2"."""
    from actbench.config import RobustnessConfig

    return ",".join(f"{level:g}" for level in RobustnessConfig().levels)


def _eval_noise(run_dir: Path, checkpoint: str, split: str, kinds: str, levels: str, seed: int) -> None:
    """`eval --noise`: accuracy under input noise per kind and level, saved into robustness.json."""
    from actbench.robustness import noise as N
    from actbench.cli.display import robustness_table
    from actbench.runs import ROBUSTNESS

    if split != "test":
        fail("--noise evaluates the test split; drop --split val")
    from actbench.config import robustness_options

    names = {"kinds": "--noise", "levels": "--levels", "checkpoint": "--checkpoint"}
    try:
        rc = robustness_options(N.parse_kinds(kinds), N.parse_levels(levels), seed, checkpoint, names)
    except ValueError as exc:
        fail(str(exc))
    log = _progress_log(None)  # plain timestamped lines around the evaluation when not on a terminal
    if log:
        what = f"noise {','.join(rc.kinds)} at levels {','.join(f'{lv:g}' for lv in rc.levels)}"
        log.emit("eval", run_dir.name, f"robustness evaluation started: {what} ({checkpoint} checkpoint)")
    try:
        r = N.robustness_run(run_dir, rc)
    except _user_errors() as exc:
        fail(str(exc))
    if log:
        log.emit("eval", run_dir.name, f"robustness evaluation finished: {run_dir / ROBUSTNESS}")
    console.print(
        f"{run_dir} ({checkpoint} checkpoint, epoch {r['epoch']}) test accuracy % under input noise "
        f"(noise seed {seed}):",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    console.print(robustness_table(r))
    console.print(f"wrote {run_dir / ROBUSTNESS}", highlight=False, soft_wrap=True)


_SEVERITIES = "1-5"  # CIFAR-10-C severities evaluated by --corruptions unless --severities says otherwise
CorruptionsOpt = Annotated[
    str | None,
    typer.Option(
        help="CIFAR-10-C corruptions: all, or comma-separated names (e.g. gaussian_noise,contrast). "
        "Evaluates the test split at each of --severities into corruptions.json in the run folder."
    ),
]
SeveritiesOpt = Annotated[
    str | None, typer.Option(help=f"Severities, e.g. 1-5 or 1,3 [default: {_SEVERITIES}].")
]
CorruptedRootOpt = Annotated[
    Path | None,
    typer.Option(help="Folder of the published CIFAR-10-C/-100-C .npy files (instead of in memory)."),
]


def _eval_corruptions(
    run_dirs: list[Path], checkpoint: str, corruptions: str, severities: str, seed: int, root: Path | None
) -> None:
    """`eval/sweep --corruptions`: accuracy per corruption and severity of each run, into corruptions.json."""
    from actbench.robustness import evaluate as CE
    from actbench.report.corruptions import corruption_table
    from actbench.runs import CORRUPTIONS

    try:
        names, sevs = CE.parse_corruptions(corruptions, root), CE.parse_severities(severities)
    except ValueError as exc:
        fail(str(exc))
    for run_dir in run_dirs:
        if len(run_dirs) > 1 and not CE.missing(run_dir, names, sevs, seed, root, checkpoint):
            console.print(f"{run_dir}: corruptions already evaluated, skipped", soft_wrap=True)
            continue
        try:
            r = CE.corruption_run(run_dir, names, sevs, seed, checkpoint, root)
        except (ValueError, *_user_errors()) as exc:
            fail(str(exc))
        console.print(corruption_table(r, f"{run_dir} ({checkpoint} checkpoint, epoch {r['epoch']})"))
        console.print(f"wrote {run_dir / CORRUPTIONS}", highlight=False, soft_wrap=True)


@app.command("eval")
def eval_(
    run_dir: Annotated[Path, typer.Argument(help="A run folder.")],
    checkpoint: Annotated[str, typer.Option(help="last | best | last,best (both, one session)")] = "last",
    split: Annotated[str, typer.Option(help="test | val")] = "test",
    noise: Annotated[
        str | None,
        typer.Option(
            help="Noise kinds, comma-separated: gaussian, uniform, salt_pepper. Evaluates the test split "
            "at each of --levels and writes robustness.json into the run folder."
        ),
    ] = None,
    levels: Annotated[
        str | None,
        typer.Option(help="Noise levels in [0,1] image units [default: robustness.levels of the config]."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed of the noise (with --noise/--corruptions) [default: 0].")
    ] = None,
    predictions: Annotated[
        bool, typer.Option(help="On the test split, write per-example predictions into predictions.npz.")
    ] = True,
    corruptions: CorruptionsOpt = None,
    severities: SeveritiesOpt = None,
    corrupted_root: CorruptedRootOpt = None,
) -> None:
    """Evaluate a run's checkpoint on the test (or validation) split, optionally under input noise."""
    from actbench import config as C
    from actbench.predictions import evaluate_checkpoints, parse_checkpoints
    from actbench.runs import CONFIG, PREDICTIONS

    try:
        checkpoints = parse_checkpoints(checkpoint)
        C.check_choice("--split", split, C.Split)
    except (ValueError, C.ConfigError) as exc:
        fail(str(exc))
    if not (run_dir / CONFIG).is_file():
        fail(f"{run_dir}: not a run folder (no {CONFIG})")
    if corruptions is None and (severities is not None or corrupted_root is not None):
        fail("--severities and --corrupted-root only apply with --corruptions (e.g. --corruptions all)")
    if corruptions is not None and split != "test":
        fail("--corruptions evaluates the test split; drop --split val")
    if (noise is not None or corruptions is not None) and len(checkpoints) != 1:
        fail("--noise/--corruptions evaluate one checkpoint (their files hold one): --checkpoint last|best")
    if noise is not None:
        _eval_noise(run_dir, checkpoints[0], split, noise, levels or _noise_levels(), seed or 0)
    if corruptions is not None:
        sevs = severities or _SEVERITIES
        _eval_corruptions([run_dir], checkpoints[0], corruptions, sevs, seed or 0, corrupted_root)
    if noise is not None or corruptions is not None:
        return
    if levels is not None or seed is not None:
        fail("--levels and --seed only apply with --noise KINDS (e.g. --noise gaussian)")
    try:
        results = evaluate_checkpoints(run_dir, checkpoints, split, write=predictions)
    except _user_errors() as exc:
        fail(str(exc))
    for r in results:
        console.print(
            f"{run_dir} ({r['checkpoint']} checkpoint, epoch {r['epoch']}) {r['split']}: "
            f"loss {r['loss']:.4f}, accuracy {100 * r['acc']:.2f}%",
            highlight=False,
            soft_wrap=True,
        )
        if r.get("warning"):
            err_console.print(f"warning: {r['warning']}", highlight=False, markup=False, soft_wrap=True)
    if any(r.get("written") for r in results):
        done = ",".join(r["checkpoint"] for r in results if r.get("written"))
        console.print(f"wrote {run_dir / PREDICTIONS} ({done})", highlight=False, soft_wrap=True)


# --- sweep -----------------------------------------------------------------------------------------


ActsOpt = Annotated[str, typer.Option(help="Comma-separated activations.")]
SeedsOpt = Annotated[str, typer.Option(help="Comma-separated seeds.")]
GridOpt = Annotated[list[str] | None, typer.Option(help="key=v1,v2 axis (repeatable).")]
SweepNameOpt = Annotated[str | None, typer.Option(help="Sweep folder name (default: from the config).")]
SweepOutOpt = Annotated[Path | None, typer.Option(help="Parent folder (default: run.out).")]
WorkersOpt = Annotated[
    int | None,
    typer.Option(min=1, help="Runs at once, each in its own process [default: 1; ray: what fits]."),
]
RetryOpt = Annotated[bool, typer.Option("--retry-failed", help="Restart failed runs.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the planned runs and exit.")]
RobustnessOpt = Annotated[
    bool,
    typer.Option(
        "--robustness",
        help="Evaluate each run under input noise at its end (= --set robustness.enabled=true).",
    ),
]
TensorBoardOpt = Annotated[
    bool,
    typer.Option(
        "--tensorboard",
        help="Write TensorBoard event files into each run folder (= --set run.tensorboard=true).",
    ),
]
LauncherOpt = Annotated[str, typer.Option(help="local (this machine) | ray (a Ray cluster).")]
AddressOpt = Annotated[
    str | None, typer.Option(help="Ray cluster: auto | HOST:PORT [default: RAY_ADDRESS, else local].")
]
CpusOpt = Annotated[int | None, typer.Option(min=1, help="Ray: CPUs/threads per run [1].")]
GpusOpt = Annotated[float | None, typer.Option(min=0, help="Ray: GPUs per run [0].")]
MaxRetriesOpt = Annotated[
    int | None, typer.Option(min=0, help="Ray: resubmissions of a run whose worker/node died [2].")
]
PackOpt = Annotated[
    str | None,
    typer.Option(
        help="Train up to K compatible runs (differing in seed, activation, lr, weight decay) as one "
        "packed model per process: K, or auto (as many as fit the device's memory)."
    ),
]


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
    summary_every: Annotated[
        float, typer.Option(help="Logs: seconds between two sweep summary lines (done/total, elapsed, ETA).")
    ] = SUMMARY_EVERY_S,
    pack: PackOpt = None,
    corruptions: CorruptionsOpt = None,
    severities: SeveritiesOpt = None,
    corrupted_root: CorruptedRootOpt = None,
) -> None:
    """Run activation x grid x seed; re-running skips completed runs and resumes partial ones."""
    from actbench.sweep import plan as S
    from actbench.cli.display import plan_table

    log = _progress_log(log_format, progress_every, summary_every)
    if corruptions is None and (severities is not None or corrupted_root is not None):
        fail("--severities and --corrupted-root only apply with --corruptions (e.g. --corruptions all)")
    if corruptions is not None:  # checked before hours of training, not after
        from actbench.robustness import evaluate as CE

        try:
            CE.parse_corruptions(corruptions, corrupted_root), CE.parse_severities(severities or _SEVERITIES)
        except ValueError as exc:
            fail(str(exc))
    sets = [*(set_ or []), *(["robustness.enabled=true"] if robustness else [])]
    sets += ["run.tensorboard=true"] if tensorboard else []
    ray = (launcher, address, cpus_per_run, gpus_per_run, max_retries)
    try:
        plan, options = _plan_sweep(config, sets, acts, seeds, grid, name, out, ray)
        plan.packs, alone = _packs(plan, pack, workers)
        if dry_run:
            console.print(plan_table(plan))
            for line in [*_pack_lines(plan), *alone]:
                console.print(line, highlight=False, soft_wrap=True)
            return
        if plan.base.run.tensorboard:  # refuse before any run starts, not once per run
            from actbench.trackers import require

            require("tensorboard", "tensorboard")
        S.write_manifest(plan)
    except _user_errors() as exc:
        fail(str(exc))
    for line in alone:  # why runs train alone, before they start
        _say(log, line)
    statuses = _run_sweep(plan, workers, options, retry_failed, log)
    if corruptions is not None:  # every completed run of the sweep, also those completed before
        from actbench.robustness.evaluate import completed_runs

        done = completed_runs([plan.sweep_dir / r.name for r in plan.runs])
        _eval_corruptions(done, "last", corruptions, severities or _SEVERITIES, 0, corrupted_root)
    _exit_after_sweep(plan, statuses, log)


def _packs(plan: Plan, pack: str | None, workers: int | None) -> tuple[list[list[str]], list[str]]:
    """The packs of the plan, and one line per reason other runs train alone."""
    from actbench.pack.plan import parse_pack, plan_packs, why_alone

    k = parse_pack(pack)
    packs = plan_packs(plan.runs, k, workers or 1)
    return packs, why_alone(plan.runs, k, packs, workers or 1)


def _pack_lines(plan: Plan) -> list[str]:
    from actbench.pack.model import describe

    lines = describe(plan.packs)
    return lines and [*lines, f"{sum(map(len, plan.packs))} runs in {len(plan.packs)} packs"]


def _plan_sweep(
    config: str | None,
    sets: list[str],
    acts: str,
    seeds: str,
    grid: list[str] | None,
    name: str | None,
    out: Path | None,
    ray: tuple[str, str | None, int | None, float | None, int | None],
) -> tuple[Plan, RayOptions | None]:
    """The planned runs and the Ray options (None for the local launcher); user errors raise."""
    from actbench import config as C
    from actbench import runs
    from actbench.sweep import plan as S
    from actbench.sweep.ray import ray_options

    spec = config if config is not None else "quickstart"
    base = C.load_config(spec, sets)
    act_list = S.parse_list(acts, "acts")
    seed_list = S.parse_list(seeds, "seeds", int)
    sweep_name = runs.check_folder_name(name) if name is not None else f"sweep-{Path(spec).stem}"
    options = ray_options(*ray)
    plan = S.plan_sweep(
        base, act_list, seed_list, S.parse_grid(grid or []), Path(out or base.run.out) / sweep_name
    )
    return plan, options


def _run_sweep(
    plan: Plan,
    workers: int | None,
    options: RayOptions | None,
    retry_failed: bool,
    log: ProgressLog | None = None,
) -> list[RunStatus]:
    """Execute the plan with a live display (or log lines); the final status of each run."""
    from contextlib import ExitStack

    from actbench.sweep import plan as S
    from actbench.cli.display import SweepDisplay
    from actbench.sweep.ray import open_launcher
    from actbench.cli.progress import SweepProgress
    from actbench.training.loop import stop_on_signals

    with ExitStack() as stack:
        try:
            run_launcher, slots = stack.enter_context(open_launcher(plan.sweep_dir, workers, options))
        except _user_errors() as exc:
            fail(str(exc))
        display = SweepProgress(log, plan, slots) if log else SweepDisplay(console, plan)
        with display:
            statuses = S.execute(
                plan, slots, retry_failed, display.update, stop_on_signals(), launcher=run_launcher
            )
    display.final(statuses)
    return statuses


def _exit_after_sweep(plan: Plan, statuses: list[RunStatus], log: ProgressLog | None = None) -> None:
    """Exit 130 when runs were interrupted or not started (with how to continue), 1 when any failed."""
    bad = [
        s for s in statuses if s.state not in ("completed",) and not s.state.startswith("skipped (completed")
    ]
    if any(s.state in ("interrupted", "not started") for s in statuses):
        _say(log, f"interrupted; re-run the same command to continue ({plan.sweep_dir})")
        raise typer.Exit(130)
    if bad:
        raise typer.Exit(1)


# --- suite -----------------------------------------------------------------------------------------

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
) -> None:
    """Each task of SUITE as a sweep <out>/<name>/<task>/; re-running skips what is done."""
    from actbench.suites import spec as SU
    from actbench.sweep import plan as S

    log = _progress_log(log_format, progress_every, SUMMARY_EVERY_S)
    sets = [*(set_ or []), *(["robustness.enabled=true"] if robustness else [])]
    ray = (launcher, address, cpus_per_run, gpus_per_run, max_retries)
    try:
        spec = SU.load_suite(suite)
        root = Path(out or "runs") / (name or spec.name)
        if name is not None and not SU.TASK_NAME.match(name):
            raise SU.SuiteError(f"--name: {name!r} is not a plain folder name (letters, digits, . _ -)")
        todo = []
        for task in spec.tasks:
            if problem := SU.missing_data(SU.task_config(task, sets)):
                _say(log, f"task {task.name}: skipped: {problem}")
                continue
            todo.append(task)
    except (*_user_errors(), SU.SuiteError) as exc:
        fail(str(exc))
    worst = 0
    for i, task in enumerate(todo, 1):
        _say(log, f"=== suite {spec.name}: task {i}/{len(todo)} {task.name} ({task.config})")
        try:
            task_sets = [*task.set, *sets]
            plan, options = _plan_sweep(task.config, task_sets, acts, seeds, None, task.name, root, ray)
            plan.packs = _packs(plan, pack, workers)
            S.write_manifest(plan)
        except _user_errors() as exc:
            fail(f"task {task.name}: {exc}")
        try:
            _exit_after_sweep(plan, _run_sweep(plan, workers, options, retry_failed, log), log)
        except typer.Exit as exit_:
            if exit_.exit_code == 130:
                raise
            worst = max(worst, exit_.exit_code)
    _say(log, f"suite {spec.name}: {len(todo)} task(s) in {root}; report: actbench suite report {root}")
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
) -> None:
    """Per task, each activation's decision vs the baseline; across tasks, mean ranks, Friedman, CD."""
    from rich.markup import escape

    from actbench.suites import report as SR
    from actbench.report.groups import ReportError

    try:
        if metric not in ("last", "best"):
            raise ReportError(f"--metric: {metric!r} is not allowed (allowed: last, best)")
        rep = SR.build_suite_report(path, baseline, metric)
        text = SR.render(rep, fmt)
        if html is not None:
            SR.write_html(rep, html)
        if out is not None:
            out.write_text(text, encoding="utf-8")
    except ReportError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{out}: cannot write ({exc.strerror})")
    if out is None:
        console.print(text, highlight=False, markup=False, soft_wrap=True, end="")
    for w in rep["warnings"] if fmt == "csv" else []:  # the other formats carry them
        err_console.print(f"[yellow]warning:[/] {escape(w)}", highlight=False, soft_wrap=True)


# --- report ----------------------------------------------------------------------------------------


@app.command()
def report(
    paths: Annotated[
        list[Path], typer.Argument(help="Run folders or folders holding runs (searched recursively).")
    ],
    baseline: Annotated[str, typer.Option(help="Activation the others are compared with.")] = "relu",
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
        bool, typer.Option(help="md/json: add versions, device, epochs and wall time read from the runs.")
    ] = False,
    html: Annotated[
        Path | None, typer.Option(help="Also write the whole report as one self-contained HTML file.")
    ] = None,
    tests: Annotated[
        str | None,
        typer.Option(help="Comma-separated: welch, paired, power, ensemble, calibration [default: all]."),
    ] = None,
    bootstrap: Annotated[
        int | None,
        typer.Option(min=0, help="Resamples of the P(better) bootstrap interval; 0: none [default: 2000]."),
    ] = None,
    mde: Annotated[
        float | None,
        typer.Option(help="Plan: seeds per group to detect this many accuracy points at 80% power."),
    ] = None,
) -> None:
    """Tables (mean ± std, 95% CI, tests vs the baseline with the run as the unit, power) and plots."""
    from rich.markup import escape

    from actbench.report.groups import ReportError
    from actbench.report.build import report_main

    try:
        warnings = report_main(
            paths,
            baseline,
            metric,
            sort,
            where or [],
            paper,
            fmt,
            out,
            plots,
            console,
            with_provenance=provenance,
            html=html,
            tests=tests,
            bootstrap=bootstrap,
            mde=mde,
        )
    except ReportError as exc:
        fail(str(exc))
    for w in warnings:
        err_console.print(f"[yellow]warning:[/] {escape(w)}", highlight=False, soft_wrap=True)


# --- export ----------------------------------------------------------------------------------------


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
    from rich.markup import escape

    from actbench.report.groups import ReportError
    from actbench.runs import RunError
    from actbench.trackers import export as export_runs

    try:
        message, warnings = export_runs(target, paths, to)
    except (ReportError, RunError) as exc:
        fail(str(exc))
    for w in warnings:
        err_console.print(f"[yellow]warning:[/] {escape(w)}", highlight=False, soft_wrap=True)
    console.print(message, highlight=False, markup=False, soft_wrap=True)
