"""Progress as plain log lines, for output that is not a terminal (SLURM logs, `nohup`, CI, files).

A terminal gets the live displays of `actbench.cli.display`; a log file gets one line per event instead,
written and flushed the moment it happens, each a complete record that starts with a UTC timestamp and
is never wrapped or truncated (written to `sys.stdout` directly, not through rich's wrapping console):

    2026-11-28T21:03:05Z sweep runs/sw: 4 runs, 2 at a time
    2026-11-28T21:03:05Z relu-s0 started: worker 1/2, cpu, 1 thread
    2026-11-28T21:03:07Z relu-s0 epoch 1/2: train loss 2.2841 acc 14.17% | val loss 2.2706 acc 20.00% | ...
    2026-11-28T21:03:08Z relu-s0 completed: test acc 22.00% loss 2.1903 | best val epoch 2: test acc ...
    2026-11-28T21:04:05Z sweep: 3/4 runs done (2 completed, 1 failed), 1 running | epochs 7/8 | ...

`--log-format json` writes the same events as JSON objects, one per line:
`{"time": ..., "event": "epoch", "run": "relu-s0", ...}`.

Events are consumed by run name, so one log can follow many runs at once: `RunProgress` turns the
`lifecycle.Hooks.on_event(kind, data)` events of one run (start, epoch, warning, robustness, end) into lines,
whether they come from the training loop in this process (`train`, every member of a packed run) or from a
sweep that tails each run's metrics.jsonl and summary.json (`SweepProgress`).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from actbench import runs
from actbench.config import ConfigError
from actbench.errors import not_allowed
from actbench.sweep.state import BUSY, NOT_STARTED, PENDING, is_skipped, state_kind
from actbench.timing import fmt_range

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


def one_line(text: Any) -> str:
    """A message from elsewhere (an error, a warning) as part of one log line."""
    return " | ".join(part.strip() for part in str(text).replace("\r", "\n").splitlines() if part.strip())


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

    @property
    def json(self) -> bool:
        return self.options.fmt == "json"

    def emit(self, event: str, run: str | None, text: str, **data: Any) -> None:
        """One event: `text` is its message in text format; `data` its fields in JSON format."""
        t = self.clock()
        if self.json:
            head = {"time": timestamp(t), "event": event, **({"run": run} if run else {})}
            record = head | {k: v for k, v in data.items() if k not in head}  # the head always wins
            line = json.dumps(_jsonable(record), ensure_ascii=False, allow_nan=False)
        else:
            line = f"{timestamp(t)} {run + ' ' if run else ''}{one_line(text)}"
        stream = self.stream or sys.stdout
        stream.write(line + "\n")  # one write per line: concurrent writers never interleave mid-line
        stream.flush()

    def note(self, text: str, **data: Any) -> None:
        """A message outside any run (how to resume, what was written)."""
        self.emit("note", None, text, message=one_line(text), **data)

    def run(self, name: str, epochs: int | None = None) -> RunProgress:
        """The event sink of one run (`lifecycle.Hooks.on_event`); `epochs` if known before its start."""
        return RunProgress(self, name, epochs)


class RunProgress:
    """`lifecycle.Hooks.on_event` for one run: its events as log lines, epochs at most every `every_s`."""

    def __init__(self, log: ProgressLog, name: str, epochs: int | None = None):
        self.log, self.name, self.epochs = log, name, epochs
        self.last_line: float | None = None  # clock time of the last epoch line

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        getattr(self, f"_on_{kind}", lambda d: None)(data)  # batch events are for terminals only

    def _on_start(self, d: dict[str, Any]) -> None:
        self.epochs = d.get("epochs", self.epochs)
        resumed = f", resuming after epoch {d['start_epoch']}" if d.get("start_epoch") else ""
        sp = d.get("speed") or {}
        extras = [
            f"compile={sp['compile_mode']}" if sp.get("compile") else "",
            "fused act" if sp.get("fused") else "",
        ]
        resumed += "".join(f", {e}" for e in extras if e)
        text = (
            f"started: {d.get('run_dir')} on {d.get('device')}, {d.get('train_images')} train images, "
            f"{d.get('batches')} batches/epoch, {self.epochs} epochs{resumed}"
            + (f"; {d['network']}" if d.get("network") else "")
        )
        self.log.emit("start", self.name, text, **d)

    def _on_epoch(self, r: dict[str, Any]) -> None:
        now, every = self.log.clock(), self.log.options.every_s
        last_epoch = self.epochs is not None and r.get("epoch") == self.epochs
        if self.last_line is not None and now - self.last_line < every and not last_epoch:
            return
        self.last_line = now
        self.log.emit("epoch", self.name, epoch_text(r, self.epochs), epochs=self.epochs, **r)

    def _on_warning(self, d: dict[str, Any]) -> None:
        self.log.emit("warning", self.name, f"warning: {d.get('message')}", **d)

    def _on_robustness(self, r: dict[str, Any]) -> None:
        for kind, entries in (r.get("results") or {}).items():
            accs = "  ".join(f"{e['level']:g}: {100 * e['acc']:.2f}%" for e in entries)
            self.log.emit(
                "robustness", self.name, f"robustness {kind} ({r.get('checkpoint')}): {accs}", kind=kind, **r
            )

    def _on_end(self, s: dict[str, Any]) -> None:
        data = {k: v for k, v in s.items() if k != "epoch_times"}  # the per-epoch list is in metrics.jsonl
        self.log.emit("end", self.name, end_text(s), **data)


def epoch_text(r: dict[str, Any], epochs: int | None) -> str:
    from actbench.cli.display import fmt_act

    return (
        f"epoch {r.get('epoch')}/{epochs or '?'}: "
        f"train loss {r['train_loss']:.4f} acc {100 * r['train_acc']:.2f}% | "
        f"val loss {r['val_loss']:.4f} acc {100 * r['val_acc']:.2f}% | lr {r['lr']:.2g} | "
        f"{r['epoch_time_s']:.1f}s {r['images_per_s']:.0f} img/s"
        + (f" | {fmt_act(r['act'])}" if r.get("act") else "")
    )


def end_text(s: dict[str, Any]) -> str:
    """`completed: test acc 71.20% loss 0.8311 | best val epoch 180: ... | 200 epochs, median epoch 28.1s`."""
    status = s.get("status")
    if status != runs.COMPLETED:
        return f"{status} after {s.get('epochs_done', 0)} epochs: {s.get('error')}"
    last, best, t = s.get("last") or {}, s.get("best") or {}, s.get("timing") or {}
    parts = [f"completed: test acc {100 * last['test_acc']:.2f}% loss {last['test_loss']:.4f}"]
    if best:
        parts.append(
            f"best val epoch {best['epoch']}: "
            f"test acc {100 * best['test_acc']:.2f}% loss {best['test_loss']:.4f}"
        )
    if t.get("steady_epoch_s") is not None:
        spread = fmt_range(t.get("steady_epoch_min_s"), t.get("steady_epoch_max_s"), ".1f")
        parts.append(f"median epoch {t['steady_epoch_s']:.1f}s (min–max {spread})")
    if s.get("wall_time_s") is not None:
        parts.append(f"wall {duration(s['wall_time_s'])}")
    return " | ".join(parts)


def duration(seconds: float) -> str:
    """90061 -> 1d01h01m, 3725 -> 1h02m05s, 65 -> 1m05s, 4.2 -> 4s."""
    s = int(round(seconds))
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    if d:
        return f"{d}d{h:02d}h{m:02d}m"
    if h:
        return f"{h}h{m:02d}m{s:02d}s"
    return f"{m}m{s:02d}s" if m else f"{s}s"


# --- sweeps ------------------------------------------------------------------------------------------


class SweepProgress:
    """The sweep's log: what each run does, read from its folder at every poll of `sweep.execute`.

    The runs train in other processes (or on other nodes), so their epochs are read from metrics.jsonl
    (fsynced per epoch) and their ends from summary.json; where each runs comes from the launcher
    (`RunStatus.where`). Same interface as `display.SweepDisplay`: a context manager, update, final."""

    def __init__(self, log: ProgressLog, plan: Any, workers: int | None = None):
        self.log, self.plan, self.workers = log, plan, workers
        self.t0 = log.clock()
        self.last_summary = self.t0
        self.first_epochs: int | None = None  # epochs done before this invocation (no ETA from them)
        self.seen: dict[str, str] = {}  # run -> state last reported
        self.where: dict[str, str] = {}
        self.logged: dict[str, int] = {}  # run -> last epoch reported
        self.sinks: dict[str, RunProgress] = {}  # runs started and not yet ended
        self.ended: set[str] = set()

    def __enter__(self) -> SweepProgress:
        slots = f", {self.workers} at a time" if self.workers else ""
        n = len(self.plan.runs)
        text, folder = f"sweep {self.plan.sweep_dir}: {n} runs{slots}", str(self.plan.sweep_dir)
        self.log.emit("sweep", None, text, sweep_dir=folder, runs=n, workers=self.workers)
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def update(self, statuses: list[Any]) -> None:
        if self.first_epochs is None:
            self.first_epochs = sum(min(s.epochs, s.total) for s in statuses)
        for s in statuses:
            self._follow(s)
        if self.log.clock() - self.last_summary >= self.log.options.summary_every_s:
            self.summary(statuses)

    def final(self, statuses: list[Any]) -> None:
        self.summary(statuses, final=True)

    def _follow(self, s: Any) -> None:
        run_dir, before = self.plan.sweep_dir / s.name, self.seen.get(s.name)
        self.seen[s.name] = s.state
        launched = s.action in ("start", "resume", "restart") and s.state != PENDING
        if launched and s.name not in self.sinks and s.name not in self.ended:
            self._started(s, run_dir)  # (a run may already have ended by the first poll that sees it)
        if s.name in self.sinks:
            if s.state == runs.RUNNING and s.where != self.where.get(s.name):
                self.where[s.name] = s.where  # e.g. a Ray task left the queue, or was resubmitted elsewhere
                self.log.emit("where", s.name, f"running on {s.where}", where=s.where)
            self._epochs(s, run_dir)
            if s.state != runs.RUNNING:
                self._ended(s, run_dir)
        elif s.state != before and (is_skipped(s.state) or s.state in (BUSY, NOT_STARTED)):
            event = {BUSY: "waiting", NOT_STARTED: "not_started"}.get(s.state, "skip")
            text = "waiting: claimed by another sweep process" if s.state == BUSY else s.state
            self.log.emit(event, s.name, text, state=s.state)

    def _started(self, s: Any, run_dir: Path) -> None:
        done = s.epochs if s.action == "resume" else 0
        self.logged[s.name] = done
        self.sinks[s.name] = self.log.run(s.name, s.total)
        self.where[s.name] = s.where
        verb = {"resume": f"resumed after epoch {done}", "restart": "restarted"}.get(s.action, "started")
        where = f"{s.where}; " if s.where else ""
        self.log.emit(
            "start", s.name, f"{verb} ({where}{s.total} epochs)", action=s.action, where=s.where,
            epochs_done=done, epochs=s.total, run_dir=str(run_dir),
        )  # fmt: skip

    def _epochs(self, s: Any, run_dir: Path) -> None:
        if s.epochs <= self.logged.get(s.name, 0) and s.state == runs.RUNNING:
            return
        records, _ = runs.read_metrics(run_dir)  # half-written last line: skipped, read next time
        for rec in records:
            if rec.get("epoch", 0) > self.logged.get(s.name, 0):
                self.logged[s.name] = rec["epoch"]
                self.sinks[s.name]("epoch", rec)

    def _ended(self, s: Any, run_dir: Path) -> None:
        try:
            summary = runs.read_json(run_dir / runs.SUMMARY)
        except runs.RunError:
            summary = {"status": s.state, "error": "summary.json unreadable"}
        summary.setdefault("status", s.state)
        self.sinks.pop(s.name)("end", summary)
        self.ended.add(s.name)

    def summary(self, statuses: list[Any], final: bool = False) -> None:
        """`sweep: 3/15 runs done (2 completed, 1 failed), 2 running | epochs 45/300 | elapsed | ETA`."""
        now = self.log.clock()
        self.last_summary = now
        counts = Counter(state_kind(s.state) for s in statuses)
        finished = {k: v for k, v in counts.items() if k in runs.FINAL or k == "skipped"}
        n_done = sum(finished.values())
        done = sum(min(s.epochs, s.total) for s in statuses)
        total = sum(s.total for s in statuses)
        elapsed = now - self.t0
        eta = eta_s(done - (self.first_epochs or 0), total - done, elapsed)
        detail = ", ".join(f"{v} {k}" for k, v in sorted(finished.items()))
        others = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()) if k not in finished)
        text = (
            f"sweep{' finished' if final else ''}: {n_done}/{len(statuses)} runs done"
            + (f" ({detail})" if detail else "")
            + (f", {others}" if others else "")
            + f" | epochs {done}/{total} | elapsed {duration(elapsed)}"
            + ("" if final else f" | ETA {duration(eta) if eta is not None else '?'}")
        )
        self.log.emit(
            "summary", None, text, final=final, runs_done=n_done, runs=len(statuses), states=counts,
            epochs_done=done, epochs=total, elapsed_s=elapsed, eta_s=None if final else eta,
        )  # fmt: skip


def eta_s(fresh_epochs: int, left_epochs: int, elapsed_s: float) -> float | None:
    """Seconds left at the pace of the epochs trained since this sweep started (None before the first)."""
    if fresh_epochs <= 0:
        return None
    return left_epochs * elapsed_s / fresh_epochs
