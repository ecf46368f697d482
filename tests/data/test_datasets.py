"""MNIST / Fashion-MNIST / SVHN loaders (from small files written here, no download) and synthetic_mnist."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from actbench.config import DataConfig
from actbench.data.datasets import load_raw
from actbench.data.pipeline import channel_stats, load_splits
from actbench.data.sources import DataError
from actbench.training import loop as T
from tests.factories import tiny_config


def _idx(path: Path, array: np.ndarray) -> None:
    """IDX file (the MNIST format): magic (0, 0, type 0x08 = ubyte, ndim), big-endian dims, data."""
    path.write_bytes(struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
                     + array.astype(np.uint8).tobytes())  # fmt: skip


def _write_mnist(root: Path, folder: str, n_train: int = 30, n_test: int = 10) -> None:
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        _idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        _idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)


@pytest.mark.parametrize(("name", "folder"), [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_mnist_like_from_files(tmp_path: Path, name: str, folder: str) -> None:
    with pytest.raises(DataError, match=f"{name}: no dataset at .*{folder}/raw .*data.download=true"):
        load_raw(DataConfig(name=name, root=str(tmp_path)))
    _write_mnist(tmp_path, folder)
    train_x, train_y, test_x, test_y, classes = load_raw(DataConfig(name=name, root=str(tmp_path)))
    assert (
        train_x.shape == (30, 1, 28, 28) and train_x.dtype == torch.uint8 and test_x.shape == (10, 1, 28, 28)
    )
    assert train_y.tolist() == [i % 10 for i in range(30)] and len(classes) == 10


def test_svhn_from_mat_files(tmp_path: Path) -> None:
    from scipy.io import savemat

    with pytest.raises(DataError, match="svhn: .*train_32x32.mat not found .*data.download=true"):
        load_raw(DataConfig(name="svhn", root=str(tmp_path)))
    rng = np.random.default_rng(0)
    for split, n in (("train", 12), ("test", 5)):
        x = rng.integers(0, 256, (32, 32, 3, n)).astype(np.uint8)
        savemat(tmp_path / f"{split}_32x32.mat", {"X": x, "y": (np.arange(n) % 10 + 1).reshape(-1, 1)})
    train_x, train_y, test_x, _, classes = load_raw(DataConfig(name="svhn", root=str(tmp_path)))
    assert train_x.shape == (12, 3, 32, 32) and test_x.shape == (5, 3, 32, 32)
    assert train_y.tolist()[:10] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0]  # label 10 is the digit 0
    ref = torch.from_numpy(x).permute(3, 2, 0, 1)
    assert torch.equal(test_x, ref)


def test_one_channel_stats_and_training(runs_dir: Path) -> None:
    splits = load_splits(DataConfig(name="synthetic_mnist", train_size=60, test_size=20, val_size=10))
    assert splits.train_x.shape[1:] == (1, 28, 28) and len(splits.mean) == len(splits.std) == 1
    x = torch.tensor([0, 255], dtype=torch.uint8).view(2, 1, 1, 1)
    assert channel_stats(x) == ((0.5,), (0.5,))
    for model in ("paper_cnn", "resnet20", "mlp"):
        cfg = tiny_config("data.name=synthetic_mnist", f"model.name={model}", "model.widths=[4,4,4]"
                          if model == "resnet20" else "model.widths=[8]", "train.epochs=1")  # fmt: skip
        summary = T.run_training(T.create_run(cfg, runs_dir, model))
        assert summary["status"] == "completed", summary.get("error")
        assert summary["macs_per_image"] > 0 and summary["parameters"] > 0
