"""Shared fixtures: tiny synthetic configs that train in about a second on CPU."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from actbench import config as C

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


@pytest.fixture(autouse=True)
def _deterministic_threads():
    # Same thread count in every test so float reductions, hence results, are reproducible.
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    d = tmp_path / "runs"
    d.mkdir()
    return d
