"""A run folder's life inside a training process, the same for a lone run (`train`) and a pack member
(`pack.train`), so both leave identical folders:

    read_summary -> restore -> mark_running -> [epoch_record -> log_epoch]* -> final_eval
    -> robustness -> finish

Everything here reads or writes one run folder; the training math (batches, losses, optimizer steps)
stays with the caller. Emits events through `Hooks`, never prints.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from actbench import predictions, runs
from actbench.data.fingerprint import folder_fingerprint
from actbench.data.pipeline import num_batches
from actbench.errors import UserError
from actbench.evaluation import evaluate, load_weights, weights_kept
from actbench.models import learned_parameters, network_info, parameter_count, try_macs_per_image
from actbench.robustness.noise import evaluate_checkpoint
from actbench.session import Session
from actbench.timing import epoch_timing
from actbench.training.environment import environment
from actbench.training.resume_config import check_resume_config

Event = Callable[[str, dict[str, Any]], None]


@dataclass
class Hooks:
    """How the caller observes and steers a run without training code knowing about displays.

    Event kinds: start, batch, epoch, warning, robustness, end (the progress lines show their data)."""

    on_event: Event = field(default=lambda kind, data: None)
    should_stop: Callable[[], bool] = field(default=lambda: False)


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


# --- starting: summary, checkpoints -----------------------------------------------------------------


def read_summary(run_dir: Path, hooks: Hooks) -> dict[str, Any]:
    """summary.json is derived data: an unreadable one is reported and rebuilt, not fatal."""
    if not (run_dir / runs.SUMMARY).exists():
        return {}
    try:
        return runs.read_json(run_dir / runs.SUMMARY)
    except runs.RunError as exc:
        aside = runs.move_aside(run_dir / runs.SUMMARY)
        hooks.on_event("warning", {"message": f"{exc}; moved to {aside.name} and rebuilt"})
        return {}


# --- what a resume may change ---------------------------------------------------------------------


def checkpoint_state(s: Session, epoch: int, best: dict[str, Any]) -> dict[str, Any]:
    from actbench.config import to_dict

    return {
        "epoch": epoch,
        "config": to_dict(s.cfg),  # what these weights were trained with (checked on resume)
        "model": s.model.state_dict(),
        "optimizer": s.opt.state_dict(),
        "best": best,
        "rng_cpu": torch.get_rng_state(),
        "rng_cuda": torch.cuda.get_rng_state_all() if s.device.type == "cuda" else None,
    }


def load_newest(run_dir: Path, device: torch.device, hooks: Hooks) -> dict[str, Any] | None:
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


def restore(s: Session, run_dir: Path, hooks: Hooks) -> tuple[int, dict[str, Any]]:
    """Load the newest good checkpoint into the session (model, optimizer, RNG); returns (epochs done,
    best-so-far). Nothing to load: (0, {})."""
    records, warnings = runs.read_metrics(run_dir)
    for w in warnings:
        hooks.on_event("warning", {"message": w})
    had_checkpoint = any((run_dir / n).exists() for n in (runs.CKPT_LAST, runs.CKPT_BEST))
    state = load_newest(run_dir, s.device, hooks)
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
    check_resume_config(run_dir, s.cfg, state.get("config"), int(state["epoch"]))
    try:
        s.model.load_state_dict(state["model"])
    except RuntimeError:  # a checkpoint of an older actbench, no config in it: name the mismatch
        raise runs.RunError(
            f"{run_dir}: cannot resume, the checkpoint does not fit the network {runs.CONFIG} describes "
            f"(changed since the run started?); put it back, or start a new run: actbench train --config "
            f"{run_dir / runs.CONFIG} --name NEW_NAME"
        ) from None
    s.opt.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng_cpu"].cpu())
    if state.get("rng_cuda") is not None and s.device.type == "cuda":
        torch.cuda.set_rng_state_all([t.cpu() for t in state["rng_cuda"]])
    return int(state["epoch"]), dict(state.get("best") or {})


def mark_running(
    s: Session,
    run_dir: Path,
    summary: dict[str, Any],
    start: int,
    resumed_from: int | None,
    env_extra: dict[str, Any] | None = None,
    changes: dict[str, list[Any]] | None = None,
) -> None:
    """Drop metrics past the restored epoch, write env.json and a `running` summary.json. A torchvision/timm
    network adds `model`: the swapped activation modules and the calls that could not be swapped.
    summary.json keeps the config of this start (`config`; a resume is checked against it), and the
    start entry the allowed config changes since the previous start (`config_changes`: key -> [old, new]),
    and `extended` ({from, to}: train.epochs) when it raises the run's length. The final results of an
    earlier end (`last`, `best`) are dropped: they are redone at the new last epoch."""
    from actbench.config import to_dict

    runs.truncate_metrics(run_dir, start)
    model = network_info(s.model)
    env = {**environment(s.device), "effective": s.speed, **({"model": model} if model else {})}
    if s.cfg.data.name == "folder":  # what the report groups by, instead of where the data lay
        env["data_fingerprint"] = folder_fingerprint(s.cfg.data.root)
    env |= env_extra or {}
    runs.write_json(run_dir / runs.ENV, env)
    # one entry per process that trains the run: how many restarts it took, and with which code (env.json
    # holds only the latest start's); its wall_before_s + (now - unix_s) is the run's wall time so far,
    # written every epoch, so a process killed without a word (SIGKILL, the end of a batch job) loses at
    # most one epoch of it
    start_entry = {
        "at": runs.now(),
        "after_epoch": start,
        "git_commit": env.get("git_commit"),
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
        resumed_from=resumed_from,
        effective=s.speed,
    )
    runs.write_json(run_dir / runs.SUMMARY, summary)


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception as one line: its type and the first line of its message."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def unstarted_reason(exc: BaseException) -> str:
    """One line for a failure before a run's first epoch (summary.json's `error`): a user error's own
    message; anything else (a bug) with its type, so it reads as one."""
    if isinstance(exc, UserError):
        return str(exc)
    if isinstance(exc, OSError) and exc.filename:  # reading the data, not writing: no disk-space advice
        return f"cannot read {exc.filename} ({exc.strerror or type(exc).__name__})"
    return one_line(exc)


def fail_unstarted(run_dir: Path, summary: dict[str, Any], exc: BaseException) -> runs.RunError:
    """A failure before the run's first epoch (building the network, reading the data): summary.json says
    `failed` with the reason (never `running`); returns the one-line RunError for the caller to raise."""
    reason = unstarted_reason(exc)
    summary.update(status=runs.FAILED, error=reason, finished_at=runs.now())
    runs.write_json(run_dir / runs.SUMMARY, summary)
    return runs.RunError(f"{run_dir}: failed before its first epoch: {reason}")


def failed_before_start(run_dir: Path, summary: dict[str, Any], exc: Exception) -> Exception:
    """What a failure before the run's first epoch in this process leaves (a lone run and each member of a
    pack alike), returned for the caller to raise: a RunError about the folder (its checkpoints, its
    config.yaml) keeps a status the run already settled (interrupted, failed: its checkpoints still
    resume; completed: an extension that never started); anything else, or a run never settled
    (`running`), ends `failed` (`fail_unstarted`)."""
    if isinstance(exc, runs.RunError) and summary.get("status", runs.RUNNING) != runs.RUNNING:
        return exc
    if summary.get("status") == runs.COMPLETED:  # an extension that could not start: the run keeps its end
        return runs.RunError(
            f"{run_dir}: not extended, failed before its first new epoch: {unstarted_reason(exc)}"
        )
    return fail_unstarted(run_dir, summary, exc)


def swap_lines(s: Session) -> tuple[str | None, str | None]:
    """(what was swapped, a warning about what could not be) for a torchvision/timm network; else Nones."""
    info = network_info(s.model)
    if info is None:
        return None, None
    kinds = ", ".join(f"{k} {n}" for k, n in info["replaced"].items())
    done = f"{info['name']}: {info['swapped']} activation modules swapped for {s.cfg.activation.name}"
    done += f" ({kinds})"
    done += f"; {info['input']}" if info.get("input") else ""
    missed = info["unswappable"]
    if not missed:
        return done, None
    shown = ", ".join(missed[:3]) + (f" and {len(missed) - 3} more" if len(missed) > 3 else "")
    return done, (
        f"{info['name']}: {len(missed)} activation call(s) are functions, not modules, and keep their own "
        f"activation: {shown} (env.json model.unswappable)"
    )


def start_event(s: Session, run_dir: Path, start: int, **extra: Any) -> dict[str, Any]:
    """The data of a run's `start` event (`network`: what a torchvision/timm network's swap did)."""
    n = len(s.splits.train_y)
    network, _ = swap_lines(s)
    return {
        "run_dir": str(run_dir),
        "device": str(s.device),
        "speed": s.speed,
        "start_epoch": start,
        "epochs": s.cfg.train.epochs,
        "train_images": n,
        "batches": num_batches(n, s.cfg.train.batch_size),
        **({"network": network} if network else {}),
        **extra,
    }


# --- each epoch -------------------------------------------------------------------------------------


def epoch_record(
    s: Session, epoch: int, train: dict[str, float], lr: float, train_s: float
) -> dict[str, Any]:
    """Validate the model; metrics.jsonl's record of the epoch. `train`: train_loss/train_acc;
    `train_s`: seconds spent training (the record's epoch time adds validation)."""
    v0 = time.perf_counter()
    val = evaluate(s, "val")
    elapsed = train_s + time.perf_counter() - v0
    return {
        "epoch": epoch,
        "train_loss": train["train_loss"],
        "train_acc": train["train_acc"],
        "val_loss": val["loss"],
        "val_acc": val["acc"],
        "lr": lr,
        "epoch_time_s": elapsed,
        "images_per_s": len(s.splits.train_y) / elapsed,
        "act": act_summary(s.model),
    }


def persist(s: Session, run_dir: Path, rec: dict[str, Any], best: dict[str, Any]) -> dict[str, Any]:
    """Log the epoch, then checkpoint it. Order matters for crash safety: a checkpoint of epoch k only
    exists once record k is on disk, so resuming from any checkpoint never leaves a gap in metrics.jsonl."""
    epoch = rec["epoch"]
    runs.append_metrics(run_dir, rec)
    runs.maybe_fault("after_metrics", epoch)
    if not best or rec["val_acc"] > best["val_acc"]:
        best = {"epoch": epoch, "val_acc": rec["val_acc"], "val_loss": rec["val_loss"]}
        runs.save_checkpoint(run_dir / runs.CKPT_BEST, checkpoint_state(s, epoch, best))
    if epoch % s.cfg.run.checkpoint_every == 0 or epoch == s.cfg.train.epochs:
        runs.save_checkpoint(run_dir / runs.CKPT_LAST, checkpoint_state(s, epoch, best))
    return best


def log_epoch(
    s: Session,
    run_dir: Path,
    rec: dict[str, Any],
    best: dict[str, Any],
    summary: dict[str, Any],
    times: list[float],
    hooks: Hooks,
) -> dict[str, Any]:
    """Persist the epoch, append its time to `times`, update summary.json, emit `epoch`; the new best."""
    best = persist(s, run_dir, rec, best)
    times.append(rec["epoch_time_s"])
    summary.update(epochs_done=rec["epoch"], epoch_times=times, wall_time_s=wall_so_far(summary))
    runs.write_json(run_dir / runs.SUMMARY, summary)
    hooks.on_event("epoch", {**rec, "learned": learned_parameters(s.model)})  # + per-channel values
    return best


# --- ending -----------------------------------------------------------------------------------------


def final_eval(s: Session, run_dir: Path, best: dict[str, Any]) -> dict[str, Any]:
    """Test the last and best checkpoints (predictions.npz too); summary.json's `last`/`best` entries."""
    last_val, last_test = evaluate(s, "val"), predictions.predict(s)  # predict: evaluate's test loss/acc
    predictions.save(run_dir, "last", s.cfg.train.epochs, last_test)
    result = {
        "last": {
            "epoch": s.cfg.train.epochs,
            "val_loss": last_val["loss"],
            "val_acc": last_val["acc"],
            "test_loss": last_test["loss"],
            "test_acc": last_test["acc"],
            "test_n": len(last_test["labels"]),  # predictions.npz is checked against it where read
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
            "test_n": len(t["labels"]),
            "selected_on_test": s.splits.val_is_test,
        }
    return result


def robustness(s: Session, run_dir: Path, hooks: Hooks) -> None:
    """robustness.json for `robustness.checkpoint`; the model's current weights are put back afterwards."""
    with weights_kept(s.model):
        hooks.on_event("robustness", evaluate_checkpoint(s, run_dir, s.cfg.robustness))


def complete(s: Session, run_dir: Path, summary: dict[str, Any], best: dict[str, Any], hooks: Hooks) -> None:
    """After the last epoch: final evaluation into the summary, then the noise evaluation if enabled."""
    summary.update(final_eval(s, run_dir, best))
    if s.cfg.robustness.enabled:
        robustness(s, run_dir, hooks)


def wall_so_far(summary: dict[str, Any]) -> float:
    """Seconds of wall time over all the run's processes up to now, from the start entry `mark_running`
    added for this process (the last one)."""
    last = summary["starts"][-1]
    return float(last["wall_before_s"]) + max(0.0, time.time() - float(last["unix_s"]))


def finish(
    s: Session,
    run_dir: Path,
    summary: dict[str, Any],
    status: str,
    error: str | None,
    times: list[float],
    hooks: Hooks,
) -> dict[str, Any]:
    """Settle the run's status with its timing, memory and learned parameters; emit `end`."""
    summary.update(
        status=status,
        error=error,
        finished_at=runs.now(),
        wall_time_s=wall_so_far(summary),
        timing=epoch_timing(times),  # median of the steady epochs, with min-max (actbench.timing)
        peak_memory=peak_memory(s.device),
        learned=learned_parameters(s.model),
        parameters=parameter_count(s.model),
        macs_per_image=try_macs_per_image(s.model, s.image_shape()),
    )
    runs.write_json(run_dir / runs.SUMMARY, summary)
    hooks.on_event("end", summary)
    return summary
