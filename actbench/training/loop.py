"""Training a lone run. Reads only the resolved config in the run folder; emits events, never prints.

Determinism: the model is initialised from `train.seed`; each epoch's shuffling and augmentation use a
fresh generator seeded from (seed, epoch), and checkpoints hold model, optimizer and global RNG state,
so a run resumed after epoch k repeats exactly what an uninterrupted run does (on CPU). What happens to
the run folder around the training math (restore, log, checkpoint, final evaluation) is the run's
`state.RunState`, the same object each member of a pack is (`pack.train.Member`).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from actbench import runs
from actbench.config import Config, dump_yaml, load_run_config
from actbench.data.pipeline import num_batches, train_batches
from actbench.errors import exception_line
from actbench.session import Session, make_session
from actbench.training.checks import NoGradient, first_step
from actbench.training.lifecycle import (
    Hooks,
    epoch_record,
    failed_before_start,
    is_bug,
    not_extended,
    swap_lines,
)
from actbench.training.resume_config import check_resume_config, earlier_results, resume_sets
from actbench.training.schedule import lr_at
from actbench.training.state import RunState, read_summary


class NonFiniteLoss(RuntimeError):
    """Training diverged: the loss became NaN/Inf."""


class Interrupted(RuntimeError):
    """A stop was requested (Ctrl-C / SIGTERM) and the run halted at a safe point."""


def epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7_919) % (2**63 - 1)


def train_epoch(s: Session, epoch: int, hooks: Hooks, check: bool = False) -> dict[str, float]:
    """One pass over the training split; returns mean loss/accuracy. Raises NonFiniteLoss/Interrupted, and
    NoGradient when `check` (the process's first epoch) and its first step left the network without one."""
    cfg, splits = s.cfg, s.splits
    gen = torch.Generator(device=s.device).manual_seed(epoch_seed(cfg.train.seed, epoch))
    n_batch = num_batches(len(splits.train_y), cfg.train.batch_size)
    losses = torch.zeros(n_batch, device=s.device)  # per-batch, checked once per epoch (no GPU sync/batch)
    correct = torch.zeros((), device=s.device, dtype=torch.long)
    for group in s.opt.param_groups:
        group["lr"] = lr_at(cfg, epoch)
    s.net.train()
    batches = train_batches(
        splits.train_x, splits.train_y, cfg.train.batch_size, cfg.augment, splits.mean, splits.std, gen
    )
    for i, (x, y) in enumerate(batches):
        with s.autocast():
            logits = s.net(s.prep(x))
            loss = F.cross_entropy(logits.float(), y)
        s.opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.train.grad_clip:
            nn.utils.clip_grad_norm_(s.model.parameters(), cfg.train.grad_clip)
        s.opt.step()
        if check and i == 0 and (warning := first_step(s.model, s.speed)):
            hooks.on_event("warning", {"message": warning})
        losses[i] = loss.detach() * len(y)
        correct += (logits.argmax(1) == y).sum()
        hooks.on_event("batch", {"epoch": epoch, "batch": i + 1, "batches": n_batch})
        runs.maybe_fault("batch", epoch, i + 1)
        if s.device.type == "cpu" and not math.isfinite(loss.item()):
            raise NonFiniteLoss(f"loss became {loss.item()} at epoch {epoch}, batch {i + 1}")
        if hooks.should_stop():
            raise Interrupted(f"stopped during epoch {epoch} (batch {i + 1}/{n_batch})")
    bad = (~torch.isfinite(losses)).nonzero()
    if len(bad):
        raise NonFiniteLoss(f"loss became non-finite at epoch {epoch}, batch {int(bad[0]) + 1}")
    n = len(splits.train_y)
    return {"train_loss": losses.sum().item() / n, "train_acc": correct.item() / n}


# --- run orchestration ------------------------------------------------------------------------------


def default_run_name(cfg: Config) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return f"{cfg.data.name}-{cfg.activation.name}-s{cfg.train.seed}-{stamp}"


def create_run(cfg: Config, out: Path | None = None, name: str | None = None, force: bool = False) -> Path:
    """Make the run folder and write the resolved config (the only thing training will read)."""
    out = Path(out if out is not None else cfg.run.out)
    if name is not None:
        runs.check_folder_name(name)
    run_dir = runs.prepare_run_dir(out / (name or cfg.run.name or default_run_name(cfg)), force=force)
    runs.atomic_write_text(run_dir / runs.CONFIG, dump_yaml(cfg))
    runs.write_json(run_dir / runs.SUMMARY, runs.new_summary())
    return run_dir


def run_training(
    run_dir: Path, resume: bool = False, hooks: Hooks | None = None, sets: list[str] | None = None
) -> dict[str, Any]:
    """Train the run in `run_dir` to completion (or failure/interruption); returns summary.json's dict.
    Displays and trackers (`trackers.with_trackers`) observe it through `hooks`. `sets` (with `resume`):
    config.yaml overrides, train.epochs and speed settings only (`resume_config.resume_sets`); a
    train.epochs above the epochs done extends a completed run, its final evaluation redone at the end."""
    hooks = hooks or Hooks()
    cfg = load_run_config(run_dir)
    with runs.run_lock(run_dir):
        summary = read_summary(run_dir, hooks)
        done = int(summary.get("epochs_done") or 0)
        # a completed run's end as it is: an extension that fails before its first new epoch puts it back
        ended = Ended(run_dir, summary) if resume and summary.get("status") == runs.COMPLETED else None
        if resume and sets:
            cfg = resume_sets(run_dir, sets, done)
        if resume and summary.get("status") == runs.COMPLETED and cfg.train.epochs <= done:
            raise runs.RunError(
                f"{run_dir}: run already completed (nothing to resume; to train it longer: actbench train "
                f"--resume {run_dir} --set train.epochs=N, N > {done})"
            )
        # refused before anything is built: a resume must train what the run was started with
        changes = check_resume_config(run_dir, cfg, summary.get("config"), done) if resume else {}
        try:
            run = RunState(run_dir, make_session(cfg), hooks, summary)
            if resume:
                run.restore()
        except Exception as exc:  # building the network, reading the data: failed, one line, never running
            raise failed_before_start(run_dir, summary, exc) from None
        if resume and sets:  # written once the run can start: a refusal or a failure leaves config.yaml
            runs.atomic_write_text(run_dir / runs.CONFIG, dump_yaml(cfg))
        if resume and summary.get("status") == runs.COMPLETED:
            for warning in earlier_results(run_dir, cfg, done):
                run.hooks.on_event("warning", {"message": warning})
        run.mark_running(changes=changes)
        return _loop(run, ended)


class Ended:
    """A completed run's summary.json and config.yaml before an extension starts (`run_training`), to put
    back when the extension fails before its first new epoch: the run keeps its results and length."""

    def __init__(self, run_dir: Path, summary: dict[str, Any]):
        self.run_dir, self.summary = run_dir, copy.deepcopy(summary)  # mark_running changes the original
        self.config = (run_dir / runs.CONFIG).read_bytes()

    def restore(self, epochs: int, exc: Exception) -> Exception:
        """Put the run back as it ended (metrics cut back to its `epochs`); the exception to raise."""
        runs.truncate_metrics(self.run_dir, epochs)
        runs.atomic_write_bytes(self.run_dir / runs.CONFIG, self.config)
        runs.write_json(self.run_dir / runs.SUMMARY, self.summary)
        return not_extended(self.run_dir, exc)


def _loop(run: RunState, ended: Ended | None = None) -> dict[str, Any]:
    """Train the marked-running run to its last epoch; every way out settles its status (`finish`); an
    extension of a completed run (`ended`) that fails before its first new epoch leaves the run completed.
    """
    s, cfg = run.s, run.s.cfg
    run.announce()
    if warning := swap_lines(s)[1]:
        run.hooks.on_event("warning", {"message": warning})
    try:
        for epoch in range(run.start + 1, cfg.train.epochs + 1):
            e0 = time.perf_counter()
            metrics = train_epoch(s, epoch, run.hooks, check=epoch == run.start + 1)
            run.log_epoch(epoch_record(s, epoch, metrics, lr_at(cfg, epoch), time.perf_counter() - e0))
        run.complete()
    except Interrupted as exc:  # a stopped extension stays one: `train --resume` goes on with it
        return run.finish(runs.INTERRUPTED, str(exc))
    except OSError as exc:  # disk full, folder gone read-only: the last checkpoint stands, resumable
        return run.finish(runs.INTERRUPTED, runs.write_problem(exc))
    except Exception as exc:  # the run failed (never left `running`)
        if ended is not None and run.epoch == run.start:
            raise ended.restore(run.start, exc) from None
        if isinstance(exc, NonFiniteLoss | NoGradient):
            return run.finish(runs.FAILED, str(exc))
        run.finish(runs.FAILED, exception_line(exc))
        if run.epoch > run.start or is_bug(exc):  # a fault of actbench: shown in full
            raise
        raise runs.RunError(f"{run.run_dir}: failed before its first epoch: {exception_line(exc)}") from None
    return run.finish(runs.COMPLETED, None)


def stop_on_signals() -> Callable[[], bool]:
    """First SIGINT/SIGTERM asks the run to stop at the next batch; a second SIGINT aborts at once."""
    import signal

    state = {"stop": False}

    def handler(signum: int, frame: Any) -> None:
        if state["stop"] and signum == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        state["stop"] = True

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return lambda: state["stop"]
