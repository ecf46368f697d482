"""Helpers the test modules share (plain functions and constants; pytest fixtures live in conftest.py):
tiny configs, fake run folders as actbench writes them, image folders, corruption results."""

from __future__ import annotations

import copy
import json
import math
import os
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from PIL import Image

from actbench import config as C

REPO = Path(__file__).resolve().parents[1]  # the repository root

# Small but real: 3 conv layers of 4 channels on 32x32 synthetic images.
TINY = [
    "data.name=synthetic",
    "data.train_size=240",
    "data.test_size=100",
    "data.val_size=40",
    "model.channels=[4,4,4]",
    "train.epochs=2",
    "train.batch_size=50",
    "train.eval_batch_size=100",
    "train.device=cpu",
    "train.threads=1",
]


def tiny_config(*extra: str) -> C.Config:
    return C.load_config(None, [*TINY, *extra])


def strip_times(records: list[dict]) -> list[dict]:
    """metrics.jsonl records without their timings: what an exact resume must repeat bit for bit."""
    return [{k: v for k, v in r.items() if k not in ("epoch_time_s", "images_per_s")} for r in records]


# Easy enough to be clearly above chance (25%) after 4 quick epochs: 4 classes, little built-in noise
# (the default synthetic data.noise=0.35 would teach the model to ignore small corruptions).
LEARNABLE = [
    "data.num_classes=4",
    "data.train_size=1000",
    "data.test_size=400",
    "data.val_size=100",
    "data.noise=0.05",
    "model.channels=[8,8,8]",
    "train.epochs=4",
    "augment.enabled=false",
]


PNG = b"\x89PNG\r\n\x1a\n"


BASE = C.to_dict(C.Config())


def _record(epoch: int, seed: int, learned: dict[str, float] | None) -> dict[str, Any]:
    act = {layer: {"a": value * epoch / 3} for layer, value in (learned or {}).items()}
    return {
        "epoch": epoch,
        "train_loss": 2.0 - 0.2 * epoch - 0.01 * seed,
        "train_acc": 0.2 * epoch,
        "val_loss": 2.1 - 0.2 * epoch,
        "val_acc": 0.2 * epoch - 0.01 * seed,
        "lr": 1e-3,
        "epoch_time_s": 2.0 + seed,
        "images_per_s": 1000.0 * epoch,
        "act": act,
    }


def write_run(
    root: Path,
    name: str,
    act: str,
    seed: int,
    acc: float = 0.5,
    loss: float = 1.0,
    status: str = "completed",
    learned: dict[str, list[float]] | None = None,
    epochs: int = 3,
    **sets: Any,
) -> Path:
    """One run folder as runs.py/train.py write it; `sets`: dotted config keys with `__` for the dot."""
    run_dir = root / name
    run_dir.mkdir(parents=True)
    cfg = copy.deepcopy(BASE)
    cfg["activation"]["name"], cfg["train"]["seed"], cfg["run"]["name"] = act, seed, name
    for key, value in sets.items():
        section, field = key.split("__")
        cfg[section][field] = value
    (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    records = [_record(e, seed, learned) for e in range(1, epochs + 1)]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    summary: dict[str, Any] = {"status": status, "error": None, "epochs_done": epochs, "wall_time_s": 9.0}
    if status == "completed":
        summary.update(
            last={"epoch": epochs, "val_loss": loss, "val_acc": acc, "test_loss": loss, "test_acc": acc},
            best={
                "epoch": 2,
                "val_acc": acc,
                "val_loss": loss,
                "test_loss": loss + 0.1,
                "test_acc": acc - 0.01,
            },
            timing={"first_epoch_s": 3.0, "steady_epoch_s": 2.0 + seed, "warmup_s": 1.0},
            peak_memory={"kind": "max_rss", "bytes": (100 + seed) * 2**20},
            learned={layer: {"a": [value]} for layer, value in (learned or {}).items()},
            parameters=1234,
        )
    (run_dir / "summary.json").write_text(json.dumps(summary))
    return run_dir


def welch_by_hand(a: list[float], b: list[float]) -> tuple[float, float, float, float]:
    """Welch's t, df and p from statsmodels (an implementation independent of the one actbench uses),
    and Cohen's d with the pooled sd written out."""
    from statsmodels.stats.weightstats import ttest_ind

    t, p, df = ttest_ind(a, b, usevar="unequal")
    va, vb, na, nb = statistics.variance(a), statistics.variance(b), len(a), len(b)
    pooled = math.sqrt(((na - 1) * va + (nb - 1) * vb) / (na + nb - 2))
    return float(t), float(df), float(p), (statistics.mean(a) - statistics.mean(b)) / pooled


def make_folder(
    root: Path, per_class: dict[str, int], size: int = 32, seed: int = 0
) -> dict[str, np.ndarray]:
    """ImageFolder layout with PNG train images (lossless) and JPEG test images; returns train arrays."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, ext in (("train", "png"), ("test", "jpg")):
        for cls, n in per_class.items():
            (root / split / cls).mkdir(parents=True, exist_ok=True)
            for i in range(n if split == "train" else 2):
                a = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
                Image.fromarray(a).save(root / split / cls / f"{i:03d}.{ext}")
                arrays[f"{split}/{cls}/{i:03d}"] = a
    (root / "train" / next(iter(per_class)) / "notes.txt").write_text("ignored: not an image")
    return arrays


def shared_cifar10_jpeg() -> Path:
    env = os.environ.get("ACTBENCH_CIFAR10_JPEG")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared/data/cifar10-jpeg"


SEVS = [1, 2, 3]


def add_corruptions(
    run_dir: Path, clean: float, accs: dict[str, list[float]], sevs: list[int] = SEVS
) -> None:
    doc = {
        "checkpoint": "last",
        "epoch": 3,
        "seed": 0,
        "split": "test",
        "source": "memory",
        "root": None,
        "n": 100,
        "clean": {"loss": 1.0, "acc": clean},
        "results": {
            name: [{"severity": s, "loss": 1.0, "acc": a} for s, a in zip(sevs, values, strict=True)]
            for name, values in accs.items()
        },
    }
    (run_dir / "corruptions.json").write_text(json.dumps(doc))
