"""`actbench eval`: a run's checkpoint on the test/val split, under noise or corruptions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # annotations only: commands import the library lazily
    from actbench.cli.progress import ProgressLog

from actbench.cli.app import app, console, fail, line, progress_log, warn
from actbench.cli.options import DEFAULT_SEVERITIES, CorruptedRootOpt, CorruptionsOpt, SeveritiesOpt


def _run_levels(run_dir: Path) -> str:
    """The run's own robustness.levels (its config.yaml), as the --levels text: "0,0.02,0.05,0.1,0.2"."""
    from actbench.config import load_run_config

    return ",".join(f"{level:g}" for level in load_run_config(run_dir).robustness.levels)


def _eval_noise(run_dir: Path, checkpoint: str, split: str, kinds: str, levels: str, seed: int) -> None:
    """`eval --noise`: accuracy under input noise per kind and level, saved into robustness.json."""
    from actbench.cli.display import robustness_table
    from actbench.robustness import noise as N
    from actbench.runs import ROBUSTNESS

    if split != "test":
        fail("--noise evaluates the test split; drop --split val")
    from actbench.config import robustness_options

    names = {"kinds": "--noise", "levels": "--levels", "checkpoint": "--checkpoint"}
    rc = robustness_options(N.parse_kinds(kinds), N.parse_levels(levels), seed, checkpoint, names)
    log = progress_log(None)  # plain timestamped lines around the evaluation when not on a terminal
    if log:
        what = f"noise {','.join(rc.kinds)} at levels {','.join(f'{lv:g}' for lv in rc.levels)}"
        log.emit(
            "eval",
            run_dir.name,
            {"message": f"robustness evaluation started: {what} ({checkpoint} checkpoint)"},
        )
    r = N.robustness_run(run_dir, rc)
    if log:
        log.emit("eval", run_dir.name, {"message": f"robustness evaluation finished: {run_dir / ROBUSTNESS}"})
    line(f"{run_dir} ({checkpoint} checkpoint, epoch {r['epoch']}) test accuracy % under input noise "
         f"(noise seed {seed}):")  # fmt: skip
    console.print(robustness_table(r))
    line(f"wrote {run_dir / ROBUSTNESS}")


def eval_corruptions(
    run_dirs: list[Path],
    checkpoint: str,
    corruptions: str,
    severities: str,
    seed: int,
    root: Path | None,
    log: ProgressLog | None = None,
) -> None:
    """`eval/sweep --corruptions`: accuracy per corruption and severity of each run, into corruptions.json;
    with `log` (a sweep's --log-format, stdout not a terminal) an `eval` line per run instead of a table."""
    from actbench.cli.display import corruption_table
    from actbench.robustness import evaluate as CE
    from actbench.runs import CORRUPTIONS

    names, sevs = CE.parse_corruptions(corruptions, root), CE.parse_severities(severities)
    for run_dir, r in CE.corrupt_runs(run_dirs, names, sevs, seed, checkpoint, root):
        if log is not None:  # the log's own lines: a table would break JSON lines and timestamped text
            done = "already evaluated, skipped" if r is None else f"evaluated, wrote {run_dir / CORRUPTIONS}"
            log.emit("eval", run_dir.name, {"message": f"corruptions {done}"})
            continue
        if r is None:
            line(f"{run_dir}: corruptions already evaluated, skipped")
            continue
        console.print(corruption_table(r, f"{run_dir} ({checkpoint} checkpoint, epoch {r['epoch']})"))
        line(f"wrote {run_dir / CORRUPTIONS}")


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
        typer.Option(help="Noise levels in [0,1] image units (default: robustness.levels of the config)."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed of the noise (with --noise/--corruptions) (default: 0).")
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

    checkpoints = parse_checkpoints(checkpoint)
    C.check_choice("--split", split, C.Split)
    if not (run_dir / CONFIG).is_file():
        fail(f"{run_dir}: not a run folder (no {CONFIG})")
    if corruptions is None and (severities is not None or corrupted_root is not None):
        fail("--severities and --corrupted-root only apply with --corruptions (e.g. --corruptions all)")
    if noise is None and levels is not None:
        fail("--levels only applies with --noise KINDS (e.g. --noise gaussian)")
    if noise is None and corruptions is None and seed is not None:
        fail("--seed only applies with --noise KINDS or --corruptions NAMES")
    if corruptions is not None and split != "test":
        fail("--corruptions evaluates the test split; drop --split val")
    if (noise is not None or corruptions is not None) and len(checkpoints) != 1:
        fail("--noise/--corruptions evaluate one checkpoint (their files hold one): --checkpoint last|best")
    if noise is not None:
        _eval_noise(run_dir, checkpoints[0], split, noise, levels or _run_levels(run_dir), seed or 0)
    if corruptions is not None:
        sevs = severities or DEFAULT_SEVERITIES
        eval_corruptions([run_dir], checkpoints[0], corruptions, sevs, seed or 0, corrupted_root)
    if noise is not None or corruptions is not None:
        return
    results = evaluate_checkpoints(run_dir, checkpoints, split, write=predictions)
    for r in results:
        line(f"{run_dir} ({r['checkpoint']} checkpoint, epoch {r['epoch']}) {r['split']}: "
             f"loss {r['loss']:.4f}, accuracy {100 * r['acc']:.2f}%")  # fmt: skip
        if r.get("warning"):
            warn(r["warning"])
    if any(r.get("written") for r in results):
        done = ",".join(r["checkpoint"] for r in results if r.get("written"))
        line(f"wrote {run_dir / PREDICTIONS} ({done})")
