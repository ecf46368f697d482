"""The stateless parts of a run's life inside a training process, the same for a lone run (`train`) and
a pack member (`pack.train`); the run folder's state and the steps that change it (restore, mark_running,
log_epoch, complete, finish) are `state.RunState`:

  * `Hooks`: how a caller observes and steers a run (events, never prints);
  * a failure before the run's first epoch (`failed_before_start`), before any state exists;
  * the `start` event's data and what a torchvision/timm network's activation swap did (`swap_lines`);
  * each epoch's validation into metrics.jsonl's record (`epoch_record`);
  * the final test evaluation of the last and best checkpoints (`final_eval`) and the noise evaluation
    (`robustness`), which `RunState.complete` runs.

The training math (batches, losses, optimizer steps) stays with the caller.
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
from actbench.data.pipeline import num_batches
from actbench.errors import UserError, exception_line
from actbench.evaluation import evaluate, load_weights, weights_kept
from actbench.models import learned_parameters, network_info
from actbench.robustness.noise import evaluate_checkpoint
from actbench.session import Session

Event = Callable[[str, dict[str, Any]], None]


@dataclass
class Hooks:
    """How the caller observes and steers a run without training code knowing about displays.

    Event kinds and their data: start (`start_event`), batch (epoch, batch, batches), epoch (metrics.jsonl's
    record plus `learned`), warning (message), robustness (robustness.json), end (summary.json). Each has one
    formatter, `cli/events.py`; trackers (`actbench.trackers`) read the same events."""

    on_event: Event = field(default=lambda kind, data: None)
    should_stop: Callable[[], bool] = field(default=lambda: False)
    # sinks that mirror the events elsewhere (a TensorBoard writer): one that raises is dropped with a
    # warning that also goes into summary.json (`RunState`), and the run trains on. `dropped`, if the
    # sink has it, says what stops (e.g. "tensorboard: no more event files for this run")
    observers: tuple[Event, ...] = ()


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


# --- before the first epoch -------------------------------------------------------------------------


# Exceptions that say actbench's own code is wrong whatever the input (a misspelt attribute, a wrong
# call): they keep their traceback, also before a run's first epoch, where every other failure (a network
# that cannot take the images, unreadable data, out of memory) is one line naming the run.
BUGS = (AssertionError, AttributeError, LookupError, NameError, NotImplementedError, TypeError,
        ZeroDivisionError)  # fmt: skip


def is_bug(exc: BaseException) -> bool:
    return isinstance(exc, BUGS) and not isinstance(exc, UserError)


def unstarted_reason(exc: BaseException) -> str:
    """One line for a failure before a run's first epoch (summary.json's `error`): a user error's own
    message; anything else (a bug) with its type, so it reads as one."""
    if isinstance(exc, UserError):
        return str(exc)
    if isinstance(exc, OSError) and exc.filename:  # reading the data, not writing: no disk-space advice
        return f"cannot read {exc.filename} ({exc.strerror or type(exc).__name__})"
    return exception_line(exc)


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
    (`running`), ends `failed` (`fail_unstarted`). A bug (`is_bug`) is returned as it is, status settled
    all the same, so it keeps its traceback."""
    if isinstance(exc, runs.RunError) and summary.get("status", runs.RUNNING) != runs.RUNNING:
        return exc
    if summary.get("status") == runs.COMPLETED:  # an extension that could not start: the run keeps its end
        return not_extended(run_dir, exc)
    error = fail_unstarted(run_dir, summary, exc)
    return exc if is_bug(exc) else error


def not_extended(run_dir: Path, exc: Exception) -> Exception:
    """What to raise for a completed run whose extension failed before its first new epoch (it keeps its
    end: status, results, config): one line, or a bug (`is_bug`) as it is."""
    if is_bug(exc):
        return exc
    return runs.RunError(
        f"{run_dir}: not extended, failed before its first new epoch: {unstarted_reason(exc)}"
    )


# --- starting ----------------------------------------------------------------------------------------


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
