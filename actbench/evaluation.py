"""Evaluating a model: loss/accuracy over batches, loading a run's checkpoint weights.

Shared by training (per-epoch validation, the final test evaluation), `actbench eval` and the noise
robustness evaluation, so none of them has to import another.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from actbench import runs
from actbench.config import load_run_config
from actbench.data.pipeline import eval_batches
from actbench.errors import not_allowed
from actbench.session import Session, make_session


@torch.no_grad()
def evaluate(s: Session, split: str) -> dict[str, float]:
    x, y = {"val": (s.splits.val_x, s.splits.val_y), "test": (s.splits.test_x, s.splits.test_y)}[split]
    batches = eval_batches(x, y, s.cfg.train.eval_batch_size, s.cfg.augment, s.splits.mean, s.splits.std)
    return score_batches(s, batches, len(y))


@torch.no_grad()
def score_batches(
    s: Session,
    batches: Iterable[tuple[Tensor, Tensor]],
    n: int,
    keep_pred: bool = False,
    keep_prob: bool = False,
) -> dict[str, Any]:
    """Mean loss and accuracy of the model in eval mode over normalised (x, y) batches of n images; with
    `keep_pred` also "pred" (long (n,), argmax of the float32 logits), with `keep_prob` "prob" (float16
    (n, C) softmax), both in batch order on the session's device."""
    s.net.eval()
    loss_sum = torch.zeros((), device=s.device, dtype=torch.float64)
    correct = torch.zeros((), device=s.device, dtype=torch.long)
    preds, probs = [], []
    for xb, yb in batches:
        with s.autocast():
            logits = s.net(s.prep(xb)).float()
        loss_sum += F.cross_entropy(logits, yb, reduction="sum")
        pred = logits.argmax(1)  # a new tensor: a CUDA-graph output buffer is reused by the next call
        correct += (pred == yb).sum()
        if keep_pred:
            preds.append(pred)
        if keep_prob:
            probs.append(logits.softmax(1).half())
    out: dict[str, Any] = {"loss": loss_sum.item() / max(1, n), "acc": correct.item() / max(1, n)}
    if keep_pred:
        out["pred"] = torch.cat(preds) if preds else torch.zeros(0, dtype=torch.long, device=s.device)
    if keep_prob:
        out["prob"] = torch.cat(probs) if probs else torch.zeros(0, 0, dtype=torch.half, device=s.device)
    return out


@contextlib.contextmanager
def weights_kept(model: nn.Module) -> Iterator[None]:
    """Evaluate other weights inside the block; the model's current ones are put back afterwards."""
    kept = {k: v.clone() for k, v in model.state_dict().items()}
    try:
        yield
    finally:
        model.load_state_dict(kept)


def load_weights(s: Session, run_dir: Path, checkpoint: str) -> int:
    """Load `checkpoint` (last | best) of the run into the session's model; returns its epoch."""
    if checkpoint not in runs.CHECKPOINTS:
        raise not_allowed("checkpoint", checkpoint, runs.CHECKPOINTS)
    state = runs.load_checkpoint(run_dir / runs.CKPT_FILES[checkpoint], map_location=s.device)
    s.model.load_state_dict(state["model"])
    return int(state["epoch"])


def run_session(run_dir: Path, checkpoint: str | None = None) -> tuple[Session, int | None]:
    """A fresh session built from the run's config.yaml, holding `checkpoint`'s weights when one is
    named; returns it with that checkpoint's epoch (None when none was loaded)."""
    s = make_session(load_run_config(run_dir))
    return s, (load_weights(s, run_dir, checkpoint) if checkpoint is not None else None)


def evaluate_run(run_dir: Path, checkpoint: str = "last", split: str = "test") -> dict[str, Any]:
    """Evaluate a saved checkpoint of a run on a split; returns loss/acc and which epoch it was."""
    s, epoch = run_session(run_dir, checkpoint)
    return {"checkpoint": checkpoint, "epoch": epoch, "split": split, **evaluate(s, split)}
