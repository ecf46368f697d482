"""`actbench train`: one run, with a live display or progress log lines."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from actbench.cli.progress import PROGRESS_EVERY_S  # light: no torch
from actbench.errors import UserError

if TYPE_CHECKING:  # annotations only: commands import the library lazily
    from collections.abc import Callable

    from actbench.cli.progress import ProgressLog

from actbench.cli.app import app, console, fail, progress_log, say
from actbench.cli.options import ConfigOpt, LogFormatOpt, ProgressEveryOpt, SetOpt


@app.command()
def train(
    config: ConfigOpt = None,
    set_: SetOpt = None,
    name: Annotated[str | None, typer.Option(help="Run folder name (default: generated).")] = None,
    out: Annotated[Path | None, typer.Option(help="Parent folder of runs (default: run.out).")] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            help="Continue the run in this folder; with --set train.epochs=N, train it to N epochs."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing run folder.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar per epoch.")] = True,
    log_format: LogFormatOpt = None,
    progress_every: ProgressEveryOpt = PROGRESS_EVERY_S,
) -> None:
    """Train one model. `actbench train --config quickstart` or `actbench train --resume runs/NAME`.

    `--resume RUN --set train.epochs=N` extends a run, also a completed one, to N epochs (more than it
    trained): it continues from its last checkpoint and redoes its final evaluation at epoch N. With a
    constant or step schedule (and warm-up) that is exactly the run trained to N from the start; a cosine
    schedule past its warm-up is refused (stretched over N, it would not be the one the earlier epochs
    had). With --resume, --set takes train.epochs and the speed settings only.
    """
    from actbench import config as C
    from actbench import runs
    from actbench.trackers import with_trackers
    from actbench.training import loop as T

    created = None
    log = progress_log(log_format, progress_every)
    try:
        if resume is not None:
            if config:
                fail("--resume takes the run's own config.yaml; drop --config (--set train.epochs=N extends)")
            new_run = [o for o, given in (("--name", name), ("--out", out), ("--force", force)) if given]
            if new_run:  # ignored, they would extend the run itself where a new one was meant
                fail(
                    f"{new_run[0]} makes a new run; --resume continues {resume} in its own folder (a new run "
                    f"from it: actbench train --config {resume / 'config.yaml'} --name NEW_NAME)"
                )
            run_dir = resume
            if not (run_dir / runs.CONFIG).is_file():
                fail(f"{run_dir}: not a run folder (no {runs.CONFIG})")
        else:
            cfg = C.load_config(config if config is not None else "quickstart", set_ or [])
            run_dir = created = T.create_run(cfg, out, name, force)
        hooks = T.Hooks(on_event=_train_sink(log, run_dir, progress), should_stop=T.stop_on_signals())
        hooks = with_trackers(hooks, run_dir)
        summary = T.run_training(run_dir, resume=resume is not None, hooks=hooks, sets=set_ or [])
    except UserError:
        runs.discard_unstarted(created)  # a folder made for a run that never started
        raise
    except OSError as exc:  # even the final summary.json could not be written (disk full)
        fail(runs.write_problem(exc))
    except Exception:  # a bug, raised with its traceback; a folder it left unstarted goes all the same
        runs.discard_unstarted(created)
        raise
    if summary["status"] == runs.INTERRUPTED:
        say(log, f"resume with: actbench train --resume {run_dir}")
        raise typer.Exit(130)
    if summary["status"] != runs.COMPLETED:
        raise typer.Exit(1)


def _train_sink(log: ProgressLog | None, run_dir: Path, progress: bool) -> Callable[[str, dict], None]:
    from actbench.cli.progress import TerminalPrinter

    return (log or TerminalPrinter(console, progress)).run(run_dir.name)
