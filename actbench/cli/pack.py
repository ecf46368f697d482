"""What `actbench train-pack` does around `pack_train.run_pack`: one display per member, into the member's
own train.log (the same lines a lone sweep run writes there) and, unless quiet, onto the console."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from rich.console import Console

from actbench import runs
from actbench.cli.display import TrainDisplay
from actbench.training.lifecycle import Hooks
from actbench.pack.train import run_pack
from actbench.sweep.plan import LOG
from actbench.training.loop import stop_on_signals


def _fan_out(*sinks: Callable[[str, dict[str, Any]], None]) -> Callable[[str, dict[str, Any]], None]:
    def on_event(kind: str, data: dict[str, Any]) -> None:
        for sink in sinks:
            sink(kind, data)

    return on_event


def train_pack_main(run_dirs: list[Path], console: Console, quiet: bool = False) -> list[str]:
    """Train `run_dirs` as one pack; returns each member's final status."""
    for d in run_dirs:
        if not (d / runs.CONFIG).is_file():
            raise runs.RunError(f"{d}: not a run folder (no config.yaml)")
    should_stop = stop_on_signals()
    with ExitStack() as files:

        def hooks_for(run_dir: Path) -> Hooks:
            log = files.enter_context(open(run_dir / LOG, "a", encoding="utf-8", buffering=1))
            sinks = [TrainDisplay(Console(file=log, width=160, no_color=True), progress=False)]
            if not quiet:
                sinks.append(TrainDisplay(console, progress=False, prefix=f"{run_dir.name}: "))
            return Hooks(on_event=_fan_out(*sinks), should_stop=should_stop)

        if not quiet:
            console.print(f"pack of {len(run_dirs)}: {', '.join(d.name for d in run_dirs)}", highlight=False)
        summaries = run_pack(run_dirs, hooks_for, should_stop)
    return [s.get("status", runs.FAILED) for s in summaries]
