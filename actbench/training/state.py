"""`RunState`: one run folder and its training state in the process that trains it, the one object a lone
run (`loop.run_training`) and each member of a pack (`pack.train.Member`, a subclass) go through, so both
leave identical folders:

    read_summary -> RunState(...) -> restore -> mark_running -> [lifecycle.epoch_record -> log_epoch]*
    -> complete -> finish

Everything here reads or writes the run folder; the training math (batches, losses, optimizer steps)
stays with the caller, the pieces that need no state (hooks, the epoch record, the final evaluation, a
failure before the first epoch) in `lifecycle`. Emits events through `Hooks`, never prints.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from actbench import runs
from actbench.config import to_dict
from actbench.data.fingerprint import folder_fingerprint
from actbench.errors import exception_line
from actbench.models import learned_parameters, network_info, parameter_count, try_macs_per_image
from actbench.session import Session
from actbench.timing import epoch_timing
from actbench.training.environment import environment
from actbench.training.lifecycle import Hooks, final_eval, peak_memory, robustness, start_event
from actbench.training.resume_config import check_resume_config

MAX_WARNINGS = 20  # per run in summary.json: a warning repeated every start must not grow it without bound


def read_summary(run_dir: Path, hooks: Hooks) -> dict[str, Any]:
    """summary.json is derived data: an unreadable one is reported and rebuilt, not fatal. Read before
    the session is built (a resume is checked against its config), hence not a method."""
    if not (run_dir / runs.SUMMARY).exists():
        return {}
    try:
        return runs.read_json(run_dir / runs.SUMMARY)
    except runs.RunError as exc:
        aside = runs.move_aside(run_dir / runs.SUMMARY)
        hooks.on_event("warning", {"message": f"{exc}; moved to {aside.name} and rebuilt"})
        return {}


def load_newest(run_dir: Path, device: torch.device, hooks: Hooks, logged: int) -> tuple[str, dict[str, Any]]:
    """The readable checkpoint of the latest epoch: checkpoint-last, or checkpoint-best where that is newer
    (a kill between an epoch's two writes, run.checkpoint_every > 1) and its epoch is among the `logged`
    ones. Both are read, so a corrupt one is moved aside (never silently overwritten) even when the other
    one is good: the final evaluation must not find it. Returns (file name, checkpoint); ("", {}): none."""
    states = {}
    for name in (runs.CKPT_LAST, runs.CKPT_BEST):
        path = run_dir / name
        if not path.exists():
            continue
        try:
            states[name] = runs.load_checkpoint(path, map_location=device)
        except runs.RunError as exc:
            aside = runs.move_aside(path)
            hooks.on_event(
                "warning", {"message": f"{exc}; moved to {aside.name}, trying the other checkpoint"}
            )
    last, best = states.get(runs.CKPT_LAST), states.get(runs.CKPT_BEST)
    if last is None or (best is not None and int(last["epoch"]) < int(best["epoch"]) <= logged):
        return (runs.CKPT_BEST, best) if best is not None else ("", {})
    return runs.CKPT_LAST, last


@dataclass
class RunState:
    """A run folder in the process training it: its session (model, optimizer), hooks, summary.json's
    dict (written back at every step below) and where the run stands. A fresh start until `restore`."""

    run_dir: Path
    s: Session
    hooks: Hooks
    summary: dict[str, Any]
    start: int = 0  # epochs done when this process started
    epoch: int = 0  # epochs done
    best: dict[str, Any] = field(default_factory=dict)  # {epoch, val_acc, val_loss} of checkpoint-best
    times: list[float] = field(default_factory=list)  # epoch_time_s of every epoch done, in order
    status: str | None = None  # set once `finish` has settled the run (completed / failed / interrupted)

    def __post_init__(self) -> None:
        """Every warning about the run also goes into summary.json (`warnings`), written with the next
        summary write: a sweep's log and a report see what a run's own log said (a corrupt checkpoint moved
        aside, epochs redone, a network part without a gradient, a dropped observer). The hooks'
        observers see each event after the display; one that raises is dropped with such a warning."""
        emit, observers = self.hooks.on_event, list(self.hooks.observers)

        def on_event(kind: str, data: dict[str, Any]) -> None:
            if kind == "warning":
                self.record_warning(str(data.get("message")))
            emit(kind, data)
            for observer in list(observers):
                try:
                    observer(kind, data)
                except Exception as exc:  # noqa: BLE001 - an observer's outage must never fail the run
                    observers.remove(observer)
                    what = getattr(observer, "dropped", f"{type(observer).__name__}: dropped")
                    on_event("warning", {"message": f"{what} ({exception_line(exc)})"})

        self.hooks = dataclasses.replace(self.hooks, on_event=on_event, observers=())

    def record_warning(self, message: str) -> None:
        recorded = self.summary.setdefault("warnings", [])
        if len(recorded) < MAX_WARNINGS and message not in (w.get("message") for w in recorded):
            recorded.append({"at": runs.now(), "message": message})

    # --- starting ---------------------------------------------------------------------------------------

    def restore(self) -> None:
        """Load the newest good checkpoint into the session (model, optimizer, RNG) and take the run's
        place from it: epochs done, best-so-far, their epoch times. Nothing to load: a fresh start."""
        run_dir, s, hooks = self.run_dir, self.s, self.hooks
        records, warnings = runs.read_metrics(run_dir)
        for w in warnings:
            hooks.on_event("warning", {"message": w})
        had_checkpoint = any((run_dir / n).exists() for n in (runs.CKPT_LAST, runs.CKPT_BEST))
        name, state = load_newest(run_dir, s.device, hooks, max((r["epoch"] for r in records), default=0))
        if not state:
            if had_checkpoint and records:  # all checkpoints corrupt: restarting would discard real work
                raise runs.RunError(
                    f"{run_dir}: cannot resume, no readable checkpoint for the {len(records)} logged "
                    f"epoch(s); start over with: actbench train --config {run_dir / runs.CONFIG} --out "
                    f"{run_dir.parent} --name {run_dir.name} --force"
                )
            if records:  # killed before its first checkpoint landed: redo from the start (deterministic)
                hooks.on_event(
                    "warning", {"message": f"no checkpoint yet; redoing {len(records)} logged epoch(s)"}
                )
            return
        check_resume_config(run_dir, s.cfg, state.get("config"), int(state["epoch"]))
        try:
            s.model.load_state_dict(state["model"])
        except RuntimeError:  # a checkpoint of an older actbench, no config in it: name the mismatch
            raise runs.RunError(
                f"{run_dir}: cannot resume, the checkpoint does not fit the network {runs.CONFIG} describes "
                f"(changed since the run started?); put it back, or start a new run: actbench train "
                f"--config {run_dir / runs.CONFIG} --name NEW_NAME"
            ) from None
        s.opt.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng_cpu"].cpu())
        if state.get("rng_cuda") is not None and s.device.type == "cuda":
            torch.cuda.set_rng_state_all([t.cpu() for t in state["rng_cuda"]])
        self.start = self.epoch = int(state["epoch"])
        self.best = dict(state.get("best") or {})
        self.times = list(self.summary.get("epoch_times", []))[: self.start]
        # repairs, not the run's own writes: a full disk leaves the files as they were (the run's first
        # write then says so), not a resumable run `failed` before its first epoch
        with contextlib.suppress(OSError):
            if name != runs.CKPT_LAST:  # checkpoint-last is the latest epoch (what eval and a report read)
                runs.save_checkpoint(run_dir / runs.CKPT_LAST, state)
            if self.best and self.best["epoch"] == self.start and not (run_dir / runs.CKPT_BEST).exists():
                runs.save_checkpoint(run_dir / runs.CKPT_BEST, state)  # moved aside as corrupt: the same
        if self.best and not (run_dir / runs.CKPT_BEST).exists():
            lost = f"the best-validation weights (epoch {self.best['epoch']}) are lost"
            hooks.on_event("warning", {"message": f"{lost}: a later epoch must validate better for a best"})

    def mark_running(
        self,
        env_extra: dict[str, Any] | None = None,
        changes: dict[str, list[Any]] | None = None,
    ) -> None:
        """Drop metrics past the restored epoch, write env.json and a `running` summary.json. A
        torchvision/timm network adds `model`: the swapped activation modules and the calls that could not
        be swapped. summary.json keeps the config of this start (`config`; a resume is checked against
        it), and the start entry the allowed config changes since the previous start (`config_changes`:
        key -> [old, new]), and `extended` ({from, to}: train.epochs) when it raises the run's length. The
        final results of an earlier end (`last`, `best`) are dropped: they are redone at the new last
        epoch."""
        s, summary, start = self.s, self.summary, self.start
        runs.truncate_metrics(self.run_dir, start)
        model = network_info(s.model)
        env = {**environment(s.device), "effective": s.speed, **({"model": model} if model else {})}
        if s.cfg.data.name == "folder":  # what the report groups by, instead of where the data lay
            env["data_fingerprint"] = folder_fingerprint(s.cfg.data.root)
        env |= env_extra or {}
        runs.write_json(self.run_dir / runs.ENV, env)
        # one entry per process that trains the run: how many restarts it took, and with which code
        # (env.json holds only the latest start's); its wall_before_s + (now - unix_s) is the run's wall
        # time so far, written every epoch, so a process killed without a word (SIGKILL, the end of a batch
        # job) loses at most one epoch of it
        start_entry = {
            "at": runs.now(),
            "after_epoch": start,
            "git_commit": env.get("git_commit"),
            **({"git_dirty": True} if env.get("git_dirty") else {}),  # the commit is not the whole code
            "wall_before_s": float(summary.get("wall_time_s") or 0.0),
            "unix_s": time.time(),
            **({"config_changes": changes} if changes else {}),
        }
        old, new = (changes or {}).get("train.epochs", [None, None])
        if isinstance(old, int) and isinstance(new, int) and new > old:
            start_entry["extended"] = {"from": old, "to": new}
        for key in ("last", "best"):  # a completed run extended: its results are no longer the run's end
            summary.pop(key, None)
        summary.update(
            config=to_dict(s.cfg),
            starts=[*(summary.get("starts") or []), start_entry],
            status=runs.RUNNING,
            started_at=summary.get("started_at", runs.now()),
            error=None,
            epochs_done=start,
            resumed_from=start or None,  # the epoch it went on after; None: from the start
            effective=s.speed,
        )
        runs.write_json(self.run_dir / runs.SUMMARY, summary)

    def announce(self, **extra: Any) -> None:
        """Emit the run's `start` event (`extra`: what the caller adds, a pack its other members)."""
        self.hooks.on_event("start", start_event(self.s, self.run_dir, self.start, **extra))

    # --- each epoch ---------------------------------------------------------------------------------------

    def checkpoint(self, epoch: int, best: dict[str, Any]) -> dict[str, Any]:
        """What checkpoint-last/best hold at `epoch`: weights, optimizer, the best so far, global RNG."""
        s = self.s
        return {
            "epoch": epoch,
            "config": to_dict(s.cfg),  # what these weights were trained with (checked on resume)
            "model": s.model.state_dict(),
            "optimizer": s.opt.state_dict(),
            "best": best,
            "rng_cpu": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state_all() if s.device.type == "cuda" else None,
        }

    def persist(self, rec: dict[str, Any]) -> None:
        """Log the epoch, then checkpoint it. Order matters for crash safety: a checkpoint of epoch k only
        exists once record k is on disk, so resuming from any checkpoint never leaves a gap in
        metrics.jsonl."""
        epoch, best = rec["epoch"], self.best
        runs.append_metrics(self.run_dir, rec)
        runs.maybe_fault("after_metrics", epoch)
        if not best or rec["val_acc"] > best["val_acc"]:
            best = {"epoch": epoch, "val_acc": rec["val_acc"], "val_loss": rec["val_loss"]}
            runs.save_checkpoint(self.run_dir / runs.CKPT_BEST, self.checkpoint(epoch, best))
        if epoch % self.s.cfg.run.checkpoint_every == 0 or epoch == self.s.cfg.train.epochs:
            runs.save_checkpoint(self.run_dir / runs.CKPT_LAST, self.checkpoint(epoch, best))
        self.best = best  # only once its checkpoints are written (a failed write leaves the state as it was)

    def log_epoch(self, rec: dict[str, Any]) -> None:
        """Persist the epoch (`lifecycle.epoch_record`'s `rec`), count it done, update summary.json, emit
        `epoch`."""
        self.persist(rec)
        self.times.append(rec["epoch_time_s"])
        self.epoch = rec["epoch"]
        self.summary.update(epochs_done=self.epoch, epoch_times=self.times, wall_time_s=self.wall_so_far())
        runs.write_json(self.run_dir / runs.SUMMARY, self.summary)
        self.hooks.on_event("epoch", {**rec, "learned": learned_parameters(self.s.model)})  # + per channel

    # --- ending -------------------------------------------------------------------------------------------

    def complete(self) -> None:
        """After the last epoch: final evaluation into the summary, then the noise evaluation if enabled."""
        self.summary.update(final_eval(self.s, self.run_dir, self.best))
        if self.s.cfg.robustness.enabled:
            robustness(self.s, self.run_dir, self.hooks)

    def wall_so_far(self) -> float:
        """Seconds of wall time over all the run's processes up to now, from the start entry
        `mark_running` added for this process (the last one)."""
        last = self.summary["starts"][-1]
        return float(last["wall_before_s"]) + max(0.0, time.time() - float(last["unix_s"]))

    def finish(self, status: str, error: str | None) -> dict[str, Any]:
        """Settle the run's status with its timing, memory and learned parameters; emit `end`. Returns
        summary.json's dict."""
        s = self.s
        self.status = status
        self.summary.update(
            status=status,
            error=error,
            finished_at=runs.now(),
            wall_time_s=self.wall_so_far(),
            timing=epoch_timing(self.times),  # median of the steady epochs, with min-max (actbench.timing)
            peak_memory=peak_memory(s.device),
            learned=learned_parameters(s.model),
            parameters=parameter_count(s.model),
            macs_per_image=try_macs_per_image(s.model, s.image_shape()),
        )
        runs.write_json(self.run_dir / runs.SUMMARY, self.summary)
        self.hooks.on_event("end", self.summary)
        return self.summary
