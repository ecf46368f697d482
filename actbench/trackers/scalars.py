"""What every tracker shares: the scalars a run folder yields (per epoch from
metrics.jsonl, once from summary.json), tagged the same way for TensorBoard and MLflow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from actbench.runs import CHECKPOINTS

TRACKERS = ("tensorboard", "mlflow")  # `actbench export` targets; each is a pyproject extra of that name


def epoch_scalars(record: dict[str, Any]) -> dict[str, float]:
    """One metrics.jsonl record -> {tag: value}: losses, accuracies (fractions), lr, epoch time and the
    learned activation parameters ("act/conv1/a"; mean/min/max under channel sharing)."""
    out: dict[str, float] = {}
    for key, tag in (
        ("train_loss", "loss/train"),
        ("val_loss", "loss/val"),
        ("train_acc", "accuracy/train"),
        ("val_acc", "accuracy/val"),
        ("lr", "lr"),
        ("epoch_time_s", "time/epoch_s"),
        ("images_per_s", "time/images_per_s"),
    ):
        if isinstance(record.get(key), (int, float)):
            out[tag] = float(record[key])
    act = record.get("act")
    for layer, params in (act if isinstance(act, dict) else {}).items():
        for name, value in (params if isinstance(params, dict) else {}).items():
            if isinstance(value, dict):  # channel sharing
                out |= {f"act/{layer}/{name}/{k}": float(v) for k, v in value.items()}
            elif isinstance(value, (int, float)):
                out[f"act/{layer}/{name}"] = float(value)
    return out


def summary_scalars(summary: dict[str, Any]) -> dict[str, float]:
    """summary.json -> {tag: value}: test loss/accuracy at the last and best-validation epochs, timing."""
    out: dict[str, float] = {}
    for part in CHECKPOINTS:
        entry = summary.get(part)
        if not isinstance(entry, dict):
            entry = {}
        for key in ("test_loss", "test_acc", "epoch"):
            if isinstance(entry.get(key), (int, float)):
                out[f"test/{key}_{part}" if key != "epoch" else f"test/epoch_{part}"] = float(entry[key])
    for key in ("wall_time_s",):
        if isinstance(summary.get(key), (int, float)):
            out[f"time/{key}"] = float(summary[key])
    timing = summary.get("timing")
    if not isinstance(timing, dict):
        timing = {}
    if isinstance(timing.get("steady_epoch_s"), (int, float)):
        out["time/steady_epoch_s"] = float(timing["steady_epoch_s"])
    return out


def run_label(run_dir: Path, root: Path) -> str:
    """A run's name below the common folder of an export ("sweep/exponential-s0")."""
    try:
        rel = run_dir.resolve().relative_to(root.resolve())
    except ValueError:
        rel = Path(run_dir.name)
    return rel.as_posix() if rel.parts else run_dir.name
