"""`actbench train-pack`: several prepared run folders trained as one packed model (what `sweep --pack`
runs per pack), one display per member into the member's own train.log (the same lines a lone sweep run
writes there) and, unless --quiet, onto the console with the member's name in front."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from actbench.cli.app import app, console, fail


@app.command("train-pack")
def train_pack(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run folders to train together (same shapes).")],
    quiet: Annotated[bool, typer.Option("--quiet", help="Log only into each run's train.log.")] = False,
) -> None:
    """Train several prepared run folders as one packed model (what `sweep --pack` runs per pack).
    Each member resumes from its own checkpoints and logs its progress into its own train.log."""
    from actbench import runs

    try:
        statuses = train_pack_main(run_dirs, console, quiet)
    except OSError as exc:  # a member's final summary.json could not be written (disk full)
        fail(runs.write_problem(exc))
    if runs.INTERRUPTED in statuses:
        raise typer.Exit(130)
    if any(s != runs.COMPLETED for s in statuses):
        raise typer.Exit(1)


def _fan_out(*sinks: Callable[[str, dict[str, Any]], None]) -> Callable[[str, dict[str, Any]], None]:
    def on_event(kind: str, data: dict[str, Any]) -> None:
        for sink in sinks:
            sink(kind, data)

    return on_event


def train_pack_main(run_dirs: list[Path], console: Console, quiet: bool = False) -> list[str]:
    """Train `run_dirs` as one pack; returns each member's final status."""
    from contextlib import ExitStack

    from actbench import runs
    from actbench.cli.progress import LogOptions, ProgressLog, TerminalPrinter
    from actbench.pack.train import run_pack
    from actbench.sweep.state import LOG
    from actbench.trackers import with_trackers
    from actbench.training.lifecycle import Hooks
    from actbench.training.loop import stop_on_signals

    for d in run_dirs:
        if not (d / runs.CONFIG).is_file():
            raise runs.RunError(f"{d}: not a run folder (no config.yaml)")
    should_stop = stop_on_signals()
    with ExitStack() as files:

        def hooks_for(run_dir: Path) -> Any:
            # the member's train.log: the lines a lone run's log has (timestamped, never wrapped)
            log = files.enter_context(open(run_dir / LOG, "a", encoding="utf-8", buffering=1))
            sinks = [ProgressLog(LogOptions("text"), log).run(run_dir.name)]
            if not quiet:
                sinks.append(TerminalPrinter(console, False, f"{run_dir.name}: ").run(run_dir.name))
            return with_trackers(Hooks(on_event=_fan_out(*sinks), should_stop=should_stop), run_dir)

        if not quiet:
            console.print(f"pack of {len(run_dirs)}: {', '.join(d.name for d in run_dirs)}", highlight=False)
        summaries = run_pack(run_dirs, hooks_for, should_stop)
    return [s.get("status", runs.FAILED) for s in summaries]
