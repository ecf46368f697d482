"""Robustness to input noise: test accuracy of a trained model when its input images are corrupted.

The paper argues that saturating negative regions (ELU, its Rational/Exponential units) make a network
less sensitive to noise than non-saturating ones (PReLU) but never measures it; this module does.

Noise is applied to the un-normalised image in [0,1] pixel units, after the eval centre crop and before
the normalisation the model was trained with:

    gaussian      x + N(0, level²) per pixel and channel
    uniform       x + U(-level, level) per pixel and channel
    salt_pepper   a fraction `level` of the pixels (all channels) set to 0 or 1 (black or white, 50/50)

and the result is clamped to [0,1]. Each (seed, kind, level) has its own generator, so results do not
depend on which other kinds/levels are evaluated, or in which order. Level 0 applies no noise at all: it
is exactly `evaluation.evaluate(session, "test")`.

robustness.json (in the run folder; accuracies are fractions, as in summary.json):

    {"checkpoint": "last", "epoch": 200, "seed": 0, "split": "test",
     "results": {"gaussian": [{"level": 0.0, "loss": 0.61, "acc": 0.79}, ...], ...}}
"""

from __future__ import annotations

import hashlib
import typing
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from actbench import lists, runs
from actbench.config import NoiseKind, RobustnessConfig
from actbench.data.pipeline import Stats, eval_crop, normalise_unit, stat_tensor
from actbench.errors import not_allowed
from actbench.evaluation import evaluate, load_weights, run_session, score_batches
from actbench.robustness.results import save_merged
from actbench.session import Session

KINDS: tuple[str, ...] = typing.get_args(NoiseKind)


# --- corruption -------------------------------------------------------------------------------------


def noise_seed(seed: int, kind: str, level: float) -> int:
    """A 63-bit generator seed from (seed, kind, level): independent streams per kind and level."""
    digest = hashlib.sha256(f"{seed}/{kind}/{float(level)!r}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def corrupt(x: Tensor, kind: str, level: float, generator: torch.Generator) -> Tensor:
    """uint8 (B, C, H, W) images (or float ones in [0,1]) -> float32 in [0,1] with `kind` noise of `level`."""
    img = x.float() / 255 if x.dtype == torch.uint8 else x.float()
    shape, dev = img.shape, img.device
    if kind == "gaussian":
        noisy = img + level * torch.randn(shape, generator=generator, device=dev)
    elif kind == "uniform":
        noisy = img + level * (2 * torch.rand(shape, generator=generator, device=dev) - 1)
    elif kind == "salt_pepper":
        pixels = (shape[0], 1, *shape[2:])  # one draw per pixel location: all channels go black or white
        hit = torch.rand(pixels, generator=generator, device=dev) < level
        salt = (torch.rand(pixels, generator=generator, device=dev) < 0.5).float()
        noisy = torch.where(hit, salt, img)
    else:
        raise not_allowed("noise kind", kind, KINDS)
    return noisy.clamp_(0, 1)


def noisy_batches(
    x: Tensor,
    y: Tensor,
    batch_size: int,
    s: Session,
    kind: str,
    level: float,
    generator: torch.Generator,
) -> Iterator[tuple[Tensor, Tensor]]:
    """In-order eval batches like `data.eval_batches`, corrupted between the crop and the normalisation."""
    aug = s.cfg.augment
    mean: Stats = stat_tensor(s.splits.mean, x.device)
    std: Stats = stat_tensor(s.splits.std, x.device)
    for i in range(0, len(x), batch_size):
        xb = corrupt(eval_crop(x[i : i + batch_size], aug), kind, level, generator)
        yield normalise_unit(xb, aug, mean, std), y[i : i + batch_size]


# --- evaluation -------------------------------------------------------------------------------------


def noisy_evaluate(s: Session, kind: str, level: float, seed: int) -> dict[str, float]:
    """Test loss/accuracy with `kind` noise of `level`; level 0 is the plain evaluation, untouched."""
    if level == 0:
        return evaluate(s, "test")
    gen = torch.Generator(device=s.device).manual_seed(noise_seed(seed, kind, level))
    x, y = s.splits.test_x, s.splits.test_y
    return score_batches(s, noisy_batches(x, y, s.cfg.train.eval_batch_size, s, kind, level, gen), len(y))


def robustness_eval(
    s: Session,
    kinds: Sequence[str],
    levels: Sequence[float],
    seed: int = 0,
    checkpoint: str = "last",
    epoch: int | None = None,
) -> dict[str, Any]:
    """Evaluate the session's model (holding `checkpoint` of `epoch`) at every kind x level (ascending)."""
    results = {
        kind: [{"level": float(lv), **noisy_evaluate(s, kind, lv, seed)} for lv in sorted(set(levels))]
        for kind in kinds
    }
    return {"checkpoint": checkpoint, "epoch": epoch, "seed": seed, "split": "test", "results": results}


def parse_kinds(text: str) -> list[str]:
    """Comma-separated kinds, e.g. gaussian,uniform -> ["gaussian", "uniform"] (repeats dropped; checked
    by config.robustness_options)."""
    return lists.parse(text, "--noise", allow_empty=True)


def parse_levels(text: str, option: str = "--levels") -> list[float]:
    """Comma-separated levels, e.g. 0,0.05,0.1 -> [0.0, 0.05, 0.1] (ascending, repeats dropped; checked
    by config.robustness_options)."""
    return sorted(lists.parse(text, option, float, allow_empty=True, example="0,0.02,0.05,0.1"))


# --- run folders ------------------------------------------------------------------------------------


SAME = ("checkpoint", "epoch", "seed", "split")  # robustness.json results that may be merged


def save(run_dir: Path, result: dict[str, Any]) -> Path:
    """Write robustness.json atomically, merged per kind and level with an existing file of the same
    checkpoint and seed."""
    path = run_dir / runs.ROBUSTNESS
    save_merged(path, result, SAME, "level", float)
    return path


def evaluate_checkpoint(s: Session, run_dir: Path, rc: RobustnessConfig) -> dict[str, Any]:
    """Load `rc.checkpoint` into the session, evaluate under noise, update robustness.json."""
    epoch = load_weights(s, run_dir, rc.checkpoint)
    result = robustness_eval(s, rc.kinds, rc.levels, rc.seed, rc.checkpoint, epoch)
    save(run_dir, result)
    return result


def robustness_run(run_dir: Path, rc: RobustnessConfig) -> dict[str, Any]:
    """`actbench eval RUN --noise ...`: a fresh session on the run's config, evaluated and saved
    (`rc` from config.robustness_options, so kinds, levels and checkpoint are already checked)."""
    s, _ = run_session(run_dir)
    return evaluate_checkpoint(s, run_dir, rc)
