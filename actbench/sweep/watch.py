"""Following a sweep while it runs: the statuses `local.execute` polls (`on_update`) turned into the
events of its runs, and the sweep's tally (runs done, epochs, ETA), computed here once for every display.

The runs train in other processes (or on other nodes), so their epochs are read from metrics.jsonl
(fsynced each epoch) and their ends from summary.json; where each runs comes from the launcher
(`RunStatus.where`). Events are `(kind, run, data)`, `run` None for the sweep itself:

    launch       a run's process started (data: action, where, epochs_done, epochs, run_dir)
    where        where a running run trains changed (a Ray task left the queue, was resubmitted)
    epoch        a run finished an epoch (its metrics.jsonl record, plus `epochs`)
    warning      a run recorded a warning in its summary.json (`warnings`) since it was launched
    end          a run ended (its summary.json)
    skip         a run was left alone (state, reason)
    waiting      another process holds the run (a sweep its claim, `train` its lock)
    not_started  the sweep was stopped before the run was launched
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actbench import runs
from actbench.sweep.state import RunStatus, State

Event = tuple[str, str | None, dict[str, Any]]  # (kind, run name or None, data)
LAUNCHED = ("start", "resume", "restart")  # RunStatus.action of a run this sweep trains


@dataclass(frozen=True)
class Tally:
    """A sweep at one moment: runs per state (skipped ones as "skipped"), epochs, time, ETA."""

    runs: int
    counts: dict[str, int]
    finished: dict[str, int]  # of `counts`, the states of runs that ended (completed, failed, skipped, ...)
    epochs_done: int
    epochs: int
    elapsed_s: float
    eta_s: float | None  # at the pace of the epochs trained since this sweep started; None before one

    @property
    def runs_done(self) -> int:
        return sum(self.finished.values())


def eta_s(fresh_epochs: int, left_epochs: int, elapsed_s: float) -> float | None:
    """Seconds left at the pace of the epochs trained since this sweep started (None before the first)."""
    if fresh_epochs <= 0:
        return None
    return left_epochs * elapsed_s / fresh_epochs


@dataclass
class SweepWatch:
    """What changed in a sweep since the last poll, as events; and its tally."""

    sweep_dir: Path
    clock: Callable[[], float] = time.monotonic
    t0: float = field(init=False)
    # per run, the epochs it had before this invocation (they give no pace for an ETA), lowered when a run
    # starts over below them (a --retry-failed restart): only epochs above it were trained by this sweep
    before: dict[str, int] = field(default_factory=dict)
    seen: dict[str, State] = field(default_factory=dict)  # run -> state at the last poll
    where: dict[str, str] = field(default_factory=dict)
    logged: dict[str, int] = field(default_factory=dict)  # run -> last epoch reported
    following: set[str] = field(default_factory=set)  # runs launched and not yet ended
    ended: set[str] = field(default_factory=set)
    warned: dict[str, int] = field(default_factory=dict)  # run -> warnings in its summary.json already told

    def __post_init__(self) -> None:
        self.t0 = self.clock()

    def _done(self, statuses: list[RunStatus]) -> int:
        """Epochs done over the sweep; each run's lowest count so far is kept in `before`."""
        done = 0
        for s in statuses:
            e = min(s.epochs, s.total)
            self.before[s.name] = min(self.before.get(s.name, e), e)
            done += e
        return done

    @property
    def first_epochs(self) -> int:
        """Epochs done before this invocation, over the runs seen so far (less after a restart)."""
        return sum(self.before.values())

    def tally(self, statuses: list[RunStatus]) -> Tally:
        done, first = self._done(statuses), self.first_epochs
        counts = Counter(str(s.state) for s in statuses)
        finished = {k: v for k, v in counts.items() if k in runs.FINAL or k == State.SKIPPED}
        elapsed = self.clock() - self.t0
        total = sum(s.total for s in statuses)
        eta = eta_s(done - first, total - done, elapsed)
        return Tally(len(statuses), dict(counts), finished, done, total, elapsed, eta)

    def poll(self, statuses: list[RunStatus]) -> list[Event]:
        self._done(statuses)
        events: list[Event] = []
        for s in statuses:
            events += self._follow(s)
        return events

    def _follow(self, s: RunStatus) -> list[Event]:
        run_dir, before = self.sweep_dir / s.name, self.seen.get(s.name)
        self.seen[s.name] = s.state
        events: list[Event] = []
        launched = s.action in LAUNCHED and s.state != State.PENDING
        if s.name in self.ended and s.state == State.RUNNING and before != State.RUNNING:
            self.ended.discard(s.name)  # launched again: a pack's member resumed alone after a crash
        if launched and s.name not in self.following and s.name not in self.ended:
            events.append(self._launched(s, run_dir))  # (a run may already have ended by the first poll)
        if s.name in self.following:
            if s.state == State.RUNNING and s.where != self.where.get(s.name):
                self.where[s.name] = s.where
                events.append(("where", s.name, {"where": s.where}))
            events += self._epochs(s, run_dir)
            if s.state != State.RUNNING:
                events += self._ended(s, run_dir)
        elif s.state != before and s.state in (State.SKIPPED, State.BUSY, State.NOT_STARTED):
            kind = {State.BUSY: "waiting", State.NOT_STARTED: "not_started"}.get(s.state, "skip")
            events.append((kind, s.name, {"state": str(s.state), "reason": s.reason}))
        return events

    def _launched(self, s: RunStatus, run_dir: Path) -> Event:
        done = s.epochs if s.action == "resume" else 0
        self.logged[s.name] = done
        self.following.add(s.name)
        self.where[s.name] = s.where
        self.warned[s.name] = len(_warnings(_summary(run_dir) or {}))  # earlier processes: told then
        data = {"action": s.action, "where": s.where, "epochs_done": done, "epochs": s.total}
        return "launch", s.name, data | {"run_dir": str(run_dir)}

    def _epochs(self, s: RunStatus, run_dir: Path) -> list[Event]:
        if s.epochs < self.logged.get(s.name, 0):  # metrics.jsonl cut back: the run redoes epochs past its
            self.logged[s.name] = s.epochs  # newest checkpoint (a lost one), each told again as it lands
        if s.epochs <= self.logged.get(s.name, 0) and s.state == State.RUNNING:
            return []
        records, _ = runs.read_metrics(run_dir)  # a half-written last line: skipped, read next time
        events: list[Event] = []
        for rec in records:
            if rec.get("epoch", 0) > self.logged.get(s.name, 0):
                self.logged[s.name] = rec["epoch"]
                events.append(("epoch", s.name, {**rec, "epochs": s.total}))
        return (self._warned(s.name, _summary(run_dir) or {}) + events) if events else []

    def _warned(self, name: str, summary: dict[str, Any]) -> list[Event]:
        """The run's warnings not told yet (they are written before the epoch that follows them)."""
        told, recorded = self.warned.get(name, 0), _warnings(summary)
        self.warned[name] = max(told, len(recorded))
        return [("warning", name, {"message": w.get("message")}) for w in recorded[told:]]

    def _ended(self, s: RunStatus, run_dir: Path) -> list[Event]:
        summary = _summary(run_dir)
        if summary is None:
            summary = {"status": str(s.state), "error": "summary.json unreadable"}
        summary.setdefault("status", str(s.state))
        self.following.discard(s.name)
        self.ended.add(s.name)
        return [*self._warned(s.name, summary), ("end", s.name, summary)]


def _summary(run_dir: Path) -> dict[str, Any] | None:
    """The run's summary.json; None when it cannot be read now (not written yet, or mid-replace)."""
    try:
        return runs.read_json(run_dir / runs.SUMMARY)
    except runs.RunError:
        return None


def _warnings(summary: dict[str, Any]) -> list[dict[str, Any]]:
    recorded = summary.get("warnings")
    return [w for w in recorded if isinstance(w, dict)] if isinstance(recorded, list) else []
