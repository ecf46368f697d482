"""More datasets: MNIST, Fashion-MNIST and SVHN through torchvision, and a one-channel synthetic variant.

Each loader returns what `load_raw` returns: uint8 train/test images (N, C, H, W) with
int64 labels and the class names. MNIST and Fashion-MNIST are one-channel 28x28 (C = 1); the models take
the channel count from the data. SVHN is 3x32x32 with labels 0-9 (the .mat files store digit 0 as 10).

Files are downloaded only when ``data.download`` is true; otherwise a missing dataset is one line that says
which files to put where:

- mnist:          <root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte
- fashion_mnist:  <root>/FashionMNIST/raw/ (the same four file names)
- svhn:           <root>/train_32x32.mat and <root>/test_32x32.mat (http://ufldl.stanford.edu/housenumbers/)
"""

from __future__ import annotations

from pathlib import Path

import torch

from actbench.config import DataConfig
from actbench.data.sources import DataError, Raw, load_cifar, load_folder, synthetic

SVHN_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat"}
MNIST_FILES = "{train,t10k}-{images-idx3,labels-idx1}-ubyte"


def _mnist_like(data: DataConfig) -> Raw:
    from torchvision import datasets  # local: keeps `import actbench.data.pipeline` light

    cls = datasets.MNIST if data.name == "mnist" else datasets.FashionMNIST
    root = Path(data.root).expanduser()
    folder = root / cls.__name__ / "raw"
    try:
        train = cls(str(root), train=True, download=data.download)
        test = cls(str(root), train=False, download=False)
    except Exception as exc:  # RuntimeError when missing; URLError/OSError on a failed download
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if not data.download:
            raise DataError(
                f"{data.name}: no dataset at {folder} (put {MNIST_FILES} there, or set data.download=true)"
            ) from None
        raise DataError(
            f"{data.name}: download to {root} failed ({why}); put {MNIST_FILES} in {folder}"
        ) from None
    return (
        train.data[:, None].contiguous(),
        train.targets.long(),
        test.data[:, None].contiguous(),
        (test.targets.long()),
        list(train.classes),
    )


def _svhn_split(root: Path, split: str, download: bool) -> tuple[torch.Tensor, torch.Tensor]:
    path = root / SVHN_FILES[split]
    if not path.is_file():
        if not download:
            files = " and ".join(SVHN_FILES.values())
            raise DataError(
                f"svhn: {path} not found (put {files} from http://ufldl.stanford.edu/housenumbers/ in "
                f"{root}, or set data.download=true)"
            )
        from torchvision import datasets

        try:
            datasets.SVHN(str(root), split=split, download=True)
        except Exception as exc:
            raise DataError(f"svhn: download of {path.name} to {root} failed ({exc})") from None
    from scipy.io import loadmat

    try:
        mat = loadmat(str(path))
        x = torch.from_numpy(mat["X"]).permute(3, 2, 0, 1).contiguous()  # (32, 32, 3, N) -> (N, 3, 32, 32)
        y = torch.from_numpy(mat["y"].astype("int64")).flatten() % 10  # 10 means the digit 0
    except Exception as exc:  # not a .mat file, missing X/y, wrong layout
        raise DataError(f"svhn: {path} is not a readable SVHN file ({type(exc).__name__}: {exc})") from None
    if x.dtype != torch.uint8 or x.shape[1:] != (3, 32, 32) or len(x) != len(y):
        raise DataError(
            f"svhn: {path} holds {tuple(x.shape)} {x.dtype} images, expected (N, 3, 32, 32) uint8"
        )
    return x, y


def _svhn(data: DataConfig) -> Raw:
    root = Path(data.root).expanduser()
    return (
        *_svhn_split(root, "train", data.download),
        *_svhn_split(root, "test", data.download),
        [str(d) for d in range(10)],
    )


def synthetic_mnist(data: DataConfig) -> Raw:
    """`synthetic` rendered at 28x28 and converted to one grey channel (ITU-R 601 luma): MNIST-shaped
    data with no download, for tests and quick runs."""
    train_x, train_y, test_x, test_y, classes = synthetic(data, size=28)
    return _grey(train_x), train_y, _grey(test_x), test_y, classes


def _grey(x: torch.Tensor) -> torch.Tensor:
    w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (x.float() * w).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)


LOADERS = {
    "mnist": _mnist_like,
    "fashion_mnist": _mnist_like,
    "svhn": _svhn,
    "synthetic_mnist": synthetic_mnist,
}


def load_raw(data: DataConfig) -> Raw:
    """(train_x, train_y, test_x, test_y, classes) of `data.name`, before limits and the val split."""
    fns = {"synthetic": synthetic, "cifar10": load_cifar, "cifar100": load_cifar, "folder": load_folder}
    fns |= LOADERS  # mnist, fashion_mnist, svhn, synthetic_mnist
    if data.name not in fns:
        raise DataError(f"data.name: unknown dataset {data.name!r} (allowed: {', '.join(fns)})")
    return fns[data.name](data)
