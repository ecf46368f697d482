"""Training and evaluation. Reads only the resolved config in the run folder; emits events, never prints.

Determinism: the model is initialised from `train.seed`; each epoch's shuffling and augmentation use a
fresh generator seeded from (seed, epoch), and checkpoints hold model, optimizer and global RNG state,
so a run resumed after epoch k repeats exactly what an uninterrupted run does (on CPU).
"""

from __future__ import annotations

import math
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from actbench import predictions, runs
from actbench.config import Config
from actbench.data import num_batches, train_batches
from actbench.evaluation import evaluate, load_run_config, load_weights, weights_kept
from actbench.models import learned_parameters, parameter_count, try_macs_per_image
from actbench.noise import evaluate_checkpoint
from actbench.session import Session, make_session
from actbench.timing import epoch_timing

Event = Callable[[str, dict[str, Any]], None]


class NonFiniteLoss(RuntimeError):
    """Training diverged: the loss became NaN/Inf."""


class Interrupted(RuntimeError):
    """A stop was requested (Ctrl-C / SIGTERM) and the run halted at a safe point."""


@dataclass
class Hooks:
    """How the caller observes and steers a run without training code knowing about displays."""

    on_event: Event = field(default=lambda kind, data: None)
    should_stop: Callable[[], bool] = field(default=lambda: False)


def epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7_919) % (2**63 - 1)


def lr_at(cfg: Config, epoch: int) -> float:
    """Learning rate for 1-based `epoch` (a pure function, so resume needs no scheduler state)."""
    o, total = cfg.optim, cfg.train.epochs
    if o.warmup_epochs and epoch <= o.warmup_epochs:
        return o.lr * epoch / o.warmup_epochs
    if o.schedule == "cosine":
        span = max(1, total - o.warmup_epochs)
        return 0.5 * o.lr * (1 + math.cos(math.pi * (epoch - 1 - o.warmup_epochs) / span))
    if o.schedule == "step":
        return o.lr * o.gamma ** ((epoch - 1) // o.step_epochs)
    return o.lr


def train_epoch(s: Session, epoch: int, hooks: Hooks) -> dict[str, float]:
    """One pass over the training split; returns mean loss/accuracy. Raises NonFiniteLoss/Interrupted."""
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


def act_summary(model: nn.Module) -> dict[str, dict[str, Any]]:
    """Learned activation parameters per layer: the value (layer sharing) or mean/min/max (channel)."""
    out: dict[str, dict[str, Any]] = {}
    for layer, params in learned_parameters(model).items():
        out[layer] = {
            k: v[0] if len(v) == 1 else {"mean": sum(v) / len(v), "min": min(v), "max": max(v)}
            for k, v in params.items()
        }
    return out


def peak_memory(device: torch.device) -> dict[str, Any]:
    if device.type == "cuda":
        return {"kind": "cuda_max_allocated", "bytes": torch.cuda.max_memory_allocated(device)}
    return {"kind": "max_rss", "bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


# --- run orchestration ------------------------------------------------------------------------------


def default_run_name(cfg: Config) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return f"{cfg.data.name}-{cfg.activation.name}-s{cfg.train.seed}-{stamp}"


def create_run(cfg: Config, out: Path | None = None, name: str | None = None, force: bool = False) -> Path:
    """Make the run folder and write the resolved config (the only thing training will read)."""
    from actbench.config import dump_yaml

    out = Path(out if out is not None else cfg.run.out)
    run_dir = runs.prepare_run_dir(out / (name or cfg.run.name or default_run_name(cfg)), force=force)
    runs.atomic_write_text(run_dir / runs.CONFIG, dump_yaml(cfg))
    runs.write_json(run_dir / runs.SUMMARY, runs.new_summary())
    return run_dir


def _checkpoint_state(s: Session, epoch: int, best: dict[str, Any]) -> dict[str, Any]:
    return {
        "epoch": epoch,
        "model": s.model.state_dict(),
        "optimizer": s.opt.state_dict(),
        "best": best,
        "rng_cpu": torch.get_rng_state(),
        "rng_cuda": torch.cuda.get_rng_state_all() if s.device.type == "cuda" else None,
    }


def _load_newest(run_dir: Path, device: torch.device, hooks: Hooks) -> dict[str, Any] | None:
    """checkpoint-last, else checkpoint-best; a corrupt file is moved aside (never silently overwritten)."""
    for name in (runs.CKPT_LAST, runs.CKPT_BEST):
        path = run_dir / name
        if not path.exists():
            continue
        try:
            return runs.load_checkpoint(path, map_location=device)
        except runs.RunError as exc:
            aside = runs.move_aside(path)
            hooks.on_event(
                "warning", {"message": f"{exc}; moved to {aside.name}, trying an older checkpoint"}
            )
    return None


def _restore(s: Session, run_dir: Path, hooks: Hooks) -> tuple[int, dict[str, Any]]:
    """Load the newest good checkpoint; returns (epochs done, best-so-far)."""
    records, warnings = runs.read_metrics(run_dir)
    for w in warnings:
        hooks.on_event("warning", {"message": w})
    had_checkpoint = any((run_dir / n).exists() for n in (runs.CKPT_LAST, runs.CKPT_BEST))
    state = _load_newest(run_dir, s.device, hooks)
    if state is None:
        if had_checkpoint and records:  # all checkpoints corrupt: restarting would discard real work
            raise runs.RunError(
                f"{run_dir}: cannot resume, no readable checkpoint for the {len(records)} logged epoch(s); "
                f"start over with: actbench train --config {run_dir / runs.CONFIG} --out {run_dir.parent} "
                f"--name {run_dir.name} --force"
            )
        if records:  # killed before its first checkpoint landed: redo from the start (deterministic)
            hooks.on_event(
                "warning", {"message": f"no checkpoint yet; redoing {len(records)} logged epoch(s)"}
            )
        return 0, {}
    s.model.load_state_dict(state["model"])
    s.opt.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng_cpu"].cpu())
    if state.get("rng_cuda") is not None and s.device.type == "cuda":
        torch.cuda.set_rng_state_all([t.cpu() for t in state["rng_cuda"]])
    return int(state["epoch"]), dict(state.get("best") or {})


def _read_summary(run_dir: Path, hooks: Hooks) -> dict[str, Any]:
    """summary.json is derived data: an unreadable one is reported and rebuilt, not fatal."""
    if not (run_dir / runs.SUMMARY).exists():
        return {}
    try:
        return runs.read_json(run_dir / runs.SUMMARY)
    except runs.RunError as exc:
        aside = runs.move_aside(run_dir / runs.SUMMARY)
        hooks.on_event("warning", {"message": f"{exc}; moved to {aside.name} and rebuilt"})
        return {}


def _final_eval(s: Session, run_dir: Path, best: dict[str, Any]) -> dict[str, Any]:
    last_val, last_test = evaluate(s, "val"), predictions.predict(s)  # predict: evaluate's test loss/acc
    predictions.save(run_dir, "last", s.cfg.train.epochs, last_test)
    result = {
        "last": {
            "epoch": s.cfg.train.epochs,
            "val_loss": last_val["loss"],
            "val_acc": last_val["acc"],
            "test_loss": last_test["loss"],
            "test_acc": last_test["acc"],
        }
    }
    if (run_dir / runs.CKPT_BEST).exists():
        with weights_kept(s.model):  # the run ends on its last epoch (summary's learned `a` too)
            epoch = load_weights(s, run_dir, "best")
            t = predictions.predict(s)
            predictions.save(run_dir, "best", epoch, t)
        # data.val_size 0: "validation" is the test split, so flag that this choice saw test data.
        result["best"] = {
            **best,
            "test_loss": t["loss"],
            "test_acc": t["acc"],
            "selected_on_test": s.splits.val_is_test,
        }
    return result


def _robustness(s: Session, run_dir: Path, hooks: Hooks) -> None:
    """robustness.json for `robustness.checkpoint`; the model's current weights are put back afterwards."""
    with weights_kept(s.model):
        hooks.on_event("robustness", evaluate_checkpoint(s, run_dir, s.cfg.robustness))


def _with_tensorboard(hooks: Hooks, run_dir: Path) -> Hooks:
    """`run.tensorboard`: the caller's hooks plus an observer writing event files (optional extra,
    imported only here; missing, it fails before training with the install command)."""
    from actbench.trackers import require

    require("tensorboard", "tensorboard")
    from actbench.trackers.tensorboard import TensorBoardObserver

    observer, display = TensorBoardObserver(run_dir), hooks.on_event

    def on_event(kind: str, data: dict[str, Any]) -> None:
        display(kind, data)
        observer(kind, data)

    return Hooks(on_event=on_event, should_stop=hooks.should_stop)


def run_training(run_dir: Path, resume: bool = False, hooks: Hooks | None = None) -> dict[str, Any]:
    """Train the run in `run_dir` to completion (or failure/interruption); returns summary.json's dict."""
    hooks = hooks or Hooks()
    cfg = load_run_config(run_dir)
    if cfg.run.tensorboard:
        hooks = _with_tensorboard(hooks, run_dir)
    with runs.run_lock(run_dir):
        summary = _read_summary(run_dir, hooks)
        if resume and summary.get("status") == runs.COMPLETED:
            raise runs.RunError(f"{run_dir}: run already completed (nothing to resume)")
        s = make_session(cfg)
        start, best = _restore(s, run_dir, hooks) if resume else (0, {})
        runs.truncate_metrics(run_dir, start)
        runs.write_json(run_dir / runs.ENV, {**runs.environment(s.device), "effective": s.speed})
        summary.update(
            status=runs.RUNNING,
            started_at=summary.get("started_at", runs.now()),
            error=None,
            epochs_done=start,
            resumed_from=start if resume else None,
            effective=s.speed,
        )
        runs.write_json(run_dir / runs.SUMMARY, summary)
        return _loop(s, run_dir, start, best, summary, hooks)


def _loop(
    s: Session, run_dir: Path, start: int, best: dict[str, Any], summary: dict[str, Any], hooks: Hooks
) -> dict[str, Any]:
    cfg, t0 = s.cfg, time.perf_counter()
    times = list(summary.get("epoch_times", []))[:start]
    hooks.on_event(
        "start",
        {
            "run_dir": str(run_dir),
            "device": str(s.device),
            "speed": s.speed,
            "start_epoch": start,
            "epochs": cfg.train.epochs,
            "train_images": len(s.splits.train_y),
            "batches": num_batches(len(s.splits.train_y), cfg.train.batch_size),
        },
    )
    try:
        for epoch in range(start + 1, cfg.train.epochs + 1):
            rec = _epoch(s, epoch, hooks)
            times.append(rec["epoch_time_s"])
            best = _persist(s, run_dir, rec, best)
            summary.update(epochs_done=epoch, epoch_times=times)
            runs.write_json(run_dir / runs.SUMMARY, summary)
            hooks.on_event("epoch", {**rec, "learned": learned_parameters(s.model)})  # + per-channel values
    except (NonFiniteLoss, Interrupted) as exc:
        status = runs.FAILED if isinstance(exc, NonFiniteLoss) else runs.INTERRUPTED
        return _finish(s, run_dir, summary, status, str(exc), times, t0, hooks)
    summary.update(_final_eval(s, run_dir, best))
    if cfg.robustness.enabled:
        _robustness(s, run_dir, hooks)
    return _finish(s, run_dir, summary, runs.COMPLETED, None, times, t0, hooks)


def _epoch(s: Session, epoch: int, hooks: Hooks) -> dict[str, Any]:
    """Train one epoch and validate; the metrics record of that epoch."""
    e0 = time.perf_counter()
    rec = {"epoch": epoch, **train_epoch(s, epoch, hooks)}
    val = evaluate(s, "val")
    elapsed = time.perf_counter() - e0
    rec.update(
        val_loss=val["loss"],
        val_acc=val["acc"],
        lr=lr_at(s.cfg, epoch),
        epoch_time_s=elapsed,
        images_per_s=len(s.splits.train_y) / elapsed,
        act=act_summary(s.model),
    )
    return rec


def _persist(s: Session, run_dir: Path, rec: dict[str, Any], best: dict[str, Any]) -> dict[str, Any]:
    """Log the epoch, then checkpoint it. Order matters for crash safety: a checkpoint of epoch k only
    exists once record k is on disk, so resuming from any checkpoint never leaves a gap in metrics.jsonl."""
    epoch = rec["epoch"]
    runs.append_metrics(run_dir, rec)
    runs.maybe_fault("after_metrics", epoch)
    if not best or rec["val_acc"] > best["val_acc"]:
        best = {"epoch": epoch, "val_acc": rec["val_acc"], "val_loss": rec["val_loss"]}
        runs.save_checkpoint(run_dir / runs.CKPT_BEST, _checkpoint_state(s, epoch, best))
    if epoch % s.cfg.run.checkpoint_every == 0 or epoch == s.cfg.train.epochs:
        runs.save_checkpoint(run_dir / runs.CKPT_LAST, _checkpoint_state(s, epoch, best))
    return best


def _finish(
    s: Session,
    run_dir: Path,
    summary: dict[str, Any],
    status: str,
    error: str | None,
    times: list[float],
    t0: float,
    hooks: Hooks,
) -> dict[str, Any]:
    summary.update(
        status=status,
        error=error,
        finished_at=runs.now(),
        wall_time_s=summary.get("wall_time_s", 0.0) + time.perf_counter() - t0,
        timing=epoch_timing(times),  # median of the steady epochs, with min-max (actbench.timing)
        peak_memory=peak_memory(s.device),
        learned=learned_parameters(s.model),
        parameters=parameter_count(s.model),
        macs_per_image=try_macs_per_image(s.model, s.image_shape()),
    )
    runs.write_json(run_dir / runs.SUMMARY, summary)
    hooks.on_event("end", summary)
    return summary


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
