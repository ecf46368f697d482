"""Where progress goes: printers that frame the lines of `actbench.cli.events` (the words, one formatter
per event) for their output, and the followers that feed them.

A terminal gets `TerminalPrinter` (a tqdm bar over batches, one line per event, a live table for a
sweep); output that is not a terminal (SLURM logs, `nohup`, CI, files) gets `ProgressLog`: one line per
event, written and flushed the moment it happens, each a complete record that starts with a UTC timestamp
and the run's name and is never wrapped or truncated (written to `sys.stdout` directly, not through rich's
wrapping console):

    2026-11-28T21:03:05Z sweep runs/sw: 4 runs, 2 at a time
    2026-11-28T21:03:05Z relu-s0 started (worker 1/2, cpu, 1 thread; 2 epochs)
    2026-11-28T21:03:07Z relu-s0 epoch 1/2: train loss 2.2841 acc 14.17% | val loss 2.2706 acc 20.00% | ...
    2026-11-28T21:03:08Z relu-s0 completed: test acc 22.00% loss 2.1903 | best val epoch 2: test acc ...
    2026-11-28T21:04:05Z sweep: 3/4 runs done (2 completed, 1 failed), 1 running | epochs 7/8 | ...

`--log-format json` writes the same events as JSON objects, one per line:
`{"time": ..., "event": "epoch", "run": "relu-s0", ...}`.

`RunSink` is the `lifecycle.Hooks.on_event` of one run into a printer, whether the events come from the
training loop in this process (`train`, every member of a pack) or from a sweep following its runs'
folders (`SweepLog`, `SweepLive`, fed by `sweep.watch.SweepWatch`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Protocol

from actbench.cli import events as E
from actbench.config import ConfigError
from actbench.errors import not_allowed

if TYPE_CHECKING:  # annotations only: the CLI imports rich and the sweep lazily
    from rich.console import Console

    from actbench.sweep.state import RunStatus
    from actbench.sweep.watch import Tally

LOG_FORMATS = ("text", "json")  # --log-format; without it: the live display on a terminal, else text
PROGRESS_EVERY_S = 0.0  # --progress-every: at most one epoch line per run this often (0: every epoch)
SUMMARY_EVERY_S = 60.0  # --summary-every: seconds between sweep summary lines


@dataclass(frozen=True)
class LogOptions:
    fmt: str = "text"  # text | json
    every_s: float = PROGRESS_EVERY_S
    summary_every_s: float = SUMMARY_EVERY_S


def log_options(
    fmt: str | None,
    every_s: float = PROGRESS_EVERY_S,
    summary_every_s: float = SUMMARY_EVERY_S,
    stream: IO[str] | None = None,
) -> LogOptions | None:
    """The log settings, or None for the live terminal display (no --log-format and stdout a terminal)."""
    if fmt is not None and fmt not in LOG_FORMATS:
        raise not_allowed("--log-format", fmt, LOG_FORMATS, cls=ConfigError)
    for option, value in (("--progress-every", every_s), ("--summary-every", summary_every_s)):
        if not (math.isfinite(value) and value >= 0):
            raise ConfigError(f"{option}: {value} is not a number of seconds >= 0")
    if fmt is None and _is_terminal(stream or sys.stdout):
        return None
    return LogOptions(fmt or "text", every_s, summary_every_s)


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real file
        return False


def timestamp(t: float | None = None) -> str:
    """UTC, to the second: 2026-11-28T21:03:05Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if t is None else t))


def _jsonable(obj: Any) -> Any:
    """NaN/inf become null: every line must be strict JSON (jq, other languages), not Python's NaN."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return str(obj)


class ProgressLog:
    """Writes events to `stream` (default: sys.stdout at the time of each write), one flushed line each."""

    def __init__(
        self, options: LogOptions, stream: IO[str] | None = None, clock: Callable[[], float] = time.time
    ):
        self.options, self.stream, self.clock = options, stream, clock

    def emit(self, kind: str, run: str | None, data: dict[str, Any]) -> None:
        """One event: its line(s) (`events.lines`) in text format, one JSON object in JSON format. Batches
        are for a terminal's bar only: a log line per batch would bury the epochs."""
        if kind == "batch":
            return
        t = self.clock()
        if self.options.fmt == "json":
            head = {"time": timestamp(t), "event": kind, **({"run": run} if run else {})}
            record = head | {k: v for k, v in data.items() if k not in head}  # the head always wins
            out = [json.dumps(_jsonable(record), ensure_ascii=False, allow_nan=False)]
        else:
            name = f"{E.one_line(run)} " if run else ""  # a folder name may hold a line break
            out = [f"{timestamp(t)} {name}{line}" for line in E.lines(kind, data)]
        stream = self.stream or sys.stdout
        for line in out:
            stream.write(line + "\n")  # one write per line: concurrent writers never interleave mid-line
        stream.flush()

    def note(self, text: str) -> None:
        """A message outside any run (how to resume, what was written)."""
        self.emit("note", None, {"message": E.one_line(text)})

    def run(self, name: str, epochs: int | None = None) -> RunSink:
        return RunSink(self, name, epochs, self.options.every_s, self.clock)


class TerminalPrinter:
    """Events on a terminal: a tqdm bar over an epoch's batches, then one line per event. `prefix` starts
    every line (a pack's members share one console: "relu-s0: epoch ...")."""

    STYLE = {"warning": "yellow", "completed": "green", "failed": "red", "interrupted": "red"}  # first word

    def __init__(self, console: Console, progress: bool = True, prefix: str = ""):
        self.console, self.progress, self.prefix = console, progress, prefix
        self.bar: Any = None  # the tqdm bar of the epoch under way

    def emit(self, kind: str, run: str | None, data: dict[str, Any]) -> None:
        from rich.markup import escape

        if kind == "batch":
            self._batch(data)
            return
        self._close_bar()
        for line in E.lines(kind, data):
            word, space, rest = line.partition(" ")  # "failed after 3 epochs: ...", "warning: ..."
            style = self.STYLE.get(word.rstrip(":")) if kind in ("end", "warning") else None
            text = f"[{style}]{escape(word)}[/]{space}{escape(rest)}" if style else escape(line)
            self.console.print(escape(self.prefix) + text, highlight=False, soft_wrap=True)

    def _batch(self, d: dict[str, Any]) -> None:
        if not self.progress:
            return
        if self.bar is None:
            from tqdm import tqdm

            desc = f"epoch {d['epoch']}/{d.get('epochs') or '?'}"
            self.bar = tqdm(total=d["batches"], desc=desc, leave=False, unit="batch", dynamic_ncols=True)
        self.bar.update(1)

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def run(self, name: str, epochs: int | None = None) -> RunSink:
        return RunSink(self, name, epochs)


class Printer(Protocol):
    def emit(self, kind: str, run: str | None, data: dict[str, Any]) -> None: ...


class RunSink:
    """`lifecycle.Hooks.on_event` of one run into a printer: epoch and batch events get the run's length
    (known from its start), and an epoch is shown at most every `every_s` (the last one always)."""

    def __init__(
        self,
        printer: Printer,
        name: str,
        epochs: int | None = None,
        every_s: float = 0.0,
        clock: Callable[[], float] = time.time,
    ):
        self.printer, self.name, self.epochs, self.every_s, self.clock = printer, name, epochs, every_s, clock
        self.last_line: float | None = None  # clock time of the last epoch line

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        if kind in ("start", "launch"):
            self.epochs = data.get("epochs", self.epochs)
        if kind in ("epoch", "batch"):
            data = {"epochs": self.epochs, **data}
        if kind == "epoch" and not self._epoch_due(data):
            return
        if kind == "end":  # the per-epoch list is in metrics.jsonl
            data = {k: v for k, v in data.items() if k != "epoch_times"}
        self.printer.emit(kind, self.name, data)

    def _epoch_due(self, r: dict[str, Any]) -> bool:
        now, last = self.clock(), r.get("epoch") == self.epochs
        if self.last_line is not None and now - self.last_line < self.every_s and not last:
            return False
        self.last_line = now
        return True


# --- sweeps ------------------------------------------------------------------------------------------


class SweepLog:
    """A sweep in a log: its runs' events as `SweepWatch` finds them in their folders, and a summary line
    every `summary_every_s` and at the end. A `sweep.run.Watcher`."""

    def __init__(self, log: ProgressLog, plan: Any, workers: int | None = None):
        from actbench.sweep.watch import SweepWatch

        self.log, self.plan, self.workers = log, plan, workers
        self.watch = SweepWatch(plan.sweep_dir, log.clock)
        self.last_summary = self.watch.t0
        self.sinks: dict[str, RunSink] = {}

    def __enter__(self) -> SweepLog:
        data = {"sweep_dir": str(self.plan.sweep_dir), "runs": len(self.plan.runs), "workers": self.workers}
        self.log.emit("sweep", None, data)
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def update(self, statuses: list[RunStatus]) -> None:
        for kind, run, data in self.watch.poll(statuses):
            if run is not None and kind in ("launch", "epoch", "end"):
                self.sinks.setdefault(run, self.log.run(run))(kind, data)
            else:
                self.log.emit(kind, run, data)
        if self.log.clock() - self.last_summary >= self.log.options.summary_every_s:
            self.summary(statuses)

    def final(self, statuses: list[RunStatus]) -> None:
        self.summary(statuses, final=True)

    def summary(self, statuses: list[RunStatus], final: bool = False) -> None:
        tally = self.watch.tally(statuses)
        self.last_summary = self.log.clock()
        data = summary_data(tally, final)
        self.log.emit("summary", None, data)


def summary_data(tally: Tally, final: bool = False) -> dict[str, Any]:
    """A `summary` event: the tally, `runs_done`, and no ETA once the sweep has finished."""
    data = {**dataclasses.asdict(tally), "runs_done": tally.runs_done, "final": final}
    return data | ({"eta_s": None} if final else {})


class SweepLive:
    """A sweep on a terminal: one live table (a row per run, the summary as its title) instead of
    interleaved progress bars, and at the end a line per failed run. A `sweep.run.Watcher`."""

    def __init__(self, console: Console, plan: Any):
        from rich.live import Live

        from actbench.sweep.watch import SweepWatch

        self.console, self.plan = console, plan
        self.watch = SweepWatch(plan.sweep_dir)
        self.live = Live(console=console, refresh_per_second=2, transient=False)
        self.warnings: dict[str, list[str]] = {}  # run -> the warnings it recorded while this sweep ran

    def __enter__(self) -> SweepLive:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.live.__exit__(*exc)

    def update(self, statuses: list[RunStatus]) -> None:
        from rich.console import Group
        from rich.text import Text

        for kind, run, data in self.watch.poll(statuses):  # the table shows only a run's warnings
            if kind == "warning" and run is not None:
                self.warnings.setdefault(run, []).append(E.one_line(str(data.get("message"))))
        # the summary above the table, not as its title: a title wraps at the table's width
        self.live.update(Group(Text(self.title(statuses)), self.table(statuses)))

    def title(self, statuses: list[RunStatus], final: bool = False) -> str:
        """`sweep runs/sw: 1/3 runs done (1 skipped), 2 running | epochs 45/600 | elapsed 1m01s | ETA …`."""
        tally = summary_data(self.watch.tally(statuses), final)
        return E.summary(tally | {"sweep_dir": self.plan.sweep_dir})

    def table(self, statuses: list[RunStatus]) -> Any:
        from rich.markup import escape
        from rich.table import Table

        table = Table()
        table.add_column("run", no_wrap=True, min_width=max((len(s.name) for s in statuses), default=3))
        cols = ("state", "epochs", "warnings") if self.warnings else ("state", "epochs")
        for col in cols:
            table.add_column(col, overflow="fold")
        for s in statuses:
            style = {"completed": "green", "failed": "red", "running": "cyan"}.get(str(s.state), "")
            row = [s.name, f"[{style}]{s.label}[/]" if style else s.label, f"{s.epochs}/{s.total}"]
            told = self.warnings.get(s.name, [])
            table.add_row(*row, *([escape(_last_of(told))] if self.warnings else []))
        return table

    def final(self, statuses: list[RunStatus]) -> None:
        """Below the table's last frame: the final summary line, and a line per failed run and per run that
        recorded warnings while the sweep ran."""
        from rich.markup import escape

        self.console.print(escape(self.title(statuses, final=True)), highlight=False, soft_wrap=True)
        for s in statuses:
            where = escape(str(self.plan.sweep_dir / s.name))
            if s.state == "failed":
                self.console.print(f"[red]failed[/]: {where} (see summary.json, train.log)",
                                   highlight=False, soft_wrap=True)  # fmt: skip
            if told := self.warnings.get(s.name):
                self.console.print(f"[yellow]{len(told)} warning(s)[/]: {where}: {escape(_last_of(told))} "
                                   "(all in its summary.json; actbench report lists them)",
                                   highlight=False, soft_wrap=True)  # fmt: skip


def _last_of(told: list[str]) -> str:
    """A run's warnings in one table cell: the newest, with how many came before it."""
    if not told:
        return ""
    return told[-1] if len(told) == 1 else f"{told[-1]} (+{len(told) - 1} earlier)"
