"""The learning rate of each epoch: a pure function of the config and the 1-based epoch, so a resume needs
no scheduler state, and whether a new `train.epochs` changes the epochs a run already trained is a plain
comparison (`training.resume_config`)."""

from __future__ import annotations

import math

from actbench.config import Config


def lr_at(cfg: Config, epoch: int) -> float:
    """Learning rate of 1-based `epoch`; only a cosine schedule past its warm-up depends on train.epochs."""
    o, total = cfg.optim, cfg.train.epochs
    if o.warmup_epochs and epoch <= o.warmup_epochs:
        return o.lr * epoch / o.warmup_epochs
    if o.schedule == "cosine":
        span = max(1, total - o.warmup_epochs)
        return 0.5 * o.lr * (1 + math.cos(math.pi * (epoch - 1 - o.warmup_epochs) / span))
    if o.schedule == "step":
        return o.lr * o.gamma ** ((epoch - 1) // o.step_epochs)
    return o.lr
