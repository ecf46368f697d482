"""One training epoch of paper_cnn: actbench's on-device pipeline vs a plain torchvision DataLoader.

actbench: uint8 images held as one tensor on the training device; each batch is shuffled, cropped,
flipped, brightness/contrast-jittered and normalised there with a few vectorised ops (`train_batches`).
plain:    the usual torchvision recipe, as with `datasets.CIFAR10`: a Dataset of HWC uint8 arrays turned
          into PIL images per item, per-image transforms (RandomCrop(32, padding=4, reflect),
          RandomHorizontalFlip, ColorJitter(brightness, contrast), ToTensor, Normalize), DataLoader with
          shuffling and `--workers` worker processes (default: one per CPU core, 2 here).

Both train the same model from the same initial weights with Adam (lr 1e-3), batch 100, on the same
synthetic CIFAR-shaped images. Also timed: actbench's batch generation alone (the iterator without the
model), reported as a fraction of its epoch time.

    python benchmarks/bench_train.py                 # 10k images
    python benchmarks/bench_train.py --quick         # CI smoke test (a few hundred images)
    python benchmarks/bench_train.py --images 20000 --workers 0 --json out.json
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torchvision import transforms

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from actbench.config import ActivationConfig, AugmentConfig, DataConfig, ModelConfig  # noqa: E402
from actbench.data.pipeline import load_splits, train_batches  # noqa: E402
from actbench.models import build_model  # noqa: E402

BATCH = 100
AUG = AugmentConfig()  # pad 4 (reflect) + flip + brightness 0.25 + contrast 0.2..1.8 + dataset mean/std


class PlainDataset(torch.utils.data.Dataset):
    """What torchvision.datasets.CIFAR10 does per item: HWC uint8 array -> PIL image -> transform."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, transform: transforms.Compose):
        self.data = x.permute(0, 2, 3, 1).numpy()  # (N, 32, 32, 3) uint8, as CIFAR10.data
        self.targets = y.tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.transform(Image.fromarray(self.data[i])), self.targets[i]


def plain_transform(mean, std) -> transforms.Compose:
    c = 1 - AUG.contrast_low  # ColorJitter contrast factor ~ U[1 - c, 1 + c] = [0.2, 1.8]
    return transforms.Compose([
        transforms.RandomCrop(32, padding=AUG.padding, padding_mode="reflect"),
        transforms.RandomHorizontalFlip(),
        transforms.ColorJitter(brightness=AUG.brightness, contrast=c),  # multiplicative brightness (PIL)
        transforms.ToTensor(),
        transforms.Normalize(mean, std),
    ])  # fmt: skip


def step(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> None:
    opt.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    opt.step()


def timed(fn) -> float:
    """Wall seconds of fn(), waiting for queued GPU work at both ends."""
    sync = torch.cuda.synchronize if torch.cuda.is_available() else lambda: None
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t0


def actbench_batches(splits, seed: int):
    g = torch.Generator(splits.train_x.device).manual_seed(seed)  # on the data's device, as the trainer does
    return train_batches(splits.train_x, splits.train_y, BATCH, AUG, splits.mean, splits.std, g)


def epoch_actbench(model: nn.Module, splits, seed: int = 0) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    return timed(lambda: [step(model, opt, x, y) for x, y in actbench_batches(splits, seed)])


def data_only_actbench(splits, seed: int = 0) -> float:
    return timed(lambda: [None for _ in actbench_batches(splits, seed)])


def epoch_plain(model: nn.Module, splits, workers: int, device: torch.device, seed: int = 0) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = splits.train_x.cpu(), splits.train_y.cpu()
    ds = PlainDataset(x, y, plain_transform(splits.mean, splits.std))
    loader = torch.utils.data.DataLoader(ds, batch_size=BATCH, shuffle=True, num_workers=workers,
                                         pin_memory=device.type == "cuda",
                                         generator=torch.Generator().manual_seed(seed))  # fmt: skip

    def run() -> None:  # includes starting the workers, as every epoch does without persistent_workers
        for xb, yb in loader:
            step(model, opt, xb.to(device, non_blocking=True), yb.to(device, non_blocking=True))

    return timed(run)


def warm_up(model: nn.Module, splits, steps: int = 3) -> None:
    """A few steps on a copy so one-time costs (allocator, kernel selection) hit neither measurement."""
    model = copy.deepcopy(model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _, (x, y) in zip(range(steps), actbench_batches(splits, 123), strict=False):
        step(model, opt, x, y)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=10_000, help="training images in the epoch")
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test, numbers meaningless")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="DataLoader workers (plain)")
    p.add_argument("--repeats", type=int, default=1, help="epochs per pipeline; the best one is reported")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    n = 300 if args.quick else args.images

    torch.manual_seed(0)
    device = torch.device(args.device)
    splits = load_splits(DataConfig(train_size=n, test_size=100, val_size=0)).to(device)
    init = build_model(ModelConfig(), ActivationConfig(name="relu"), splits.num_classes).to(device)
    warm_up(init, splits)
    times: dict[str, list[float]] = {"data": [], "act": [], "plain": []}
    for _ in range(args.repeats):  # interleaved, best of each: robust to load that drifts on a shared machine
        times["data"].append(data_only_actbench(splits))
        times["act"].append(epoch_actbench(copy.deepcopy(init), splits))
        times["plain"].append(epoch_plain(copy.deepcopy(init), splits, args.workers, device))
    t_data, t_act, t_plain = (min(times[k]) for k in ("data", "act", "plain"))
    res = {
        "images": n, "batch_size": BATCH, "threads": torch.get_num_threads(), "plain_workers": args.workers,
        "cpus": os.cpu_count(), "torch": torch.__version__, "device": str(device),
        "actbench_s": round(t_act, 3), "plain_s": round(t_plain, 3), "actbench_data_s": round(t_data, 3),
        "actbench_img_per_s": round(n / t_act, 1), "plain_img_per_s": round(n / t_plain, 1),
        "speedup": round(t_plain / t_act, 3), "actbench_data_fraction": round(t_data / t_act, 4),
    }  # fmt: skip
    print(f"paper_cnn (relu), {n} synthetic 32x32 images, batch {BATCH}, Adam, {device}, "
          f"CPU threads {res['threads']}")  # fmt: skip
    print(
        f"  {'actbench (on-device tensor aug):':32s} {res['actbench_img_per_s']:8.1f} img/s  ({t_act:.2f} s)"
    )
    plain = f"plain DataLoader, {args.workers:2d} workers:"
    print(f"  {plain:32s} {res['plain_img_per_s']:8.1f} img/s  ({t_plain:.2f} s)")
    print(f"  speedup {res['speedup']:.2f}x; actbench data preparation {t_data:.3f} s = "
          f"{100 * res['actbench_data_fraction']:.1f}% of its epoch")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n")
    return res


if __name__ == "__main__":
    main()
