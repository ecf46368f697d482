"""CIFAR-10-C evaluation of a run: test loss/accuracy under each corruption and severity.

Corrupted test images come either from `actbench.robustness.corruptions` (in memory, one generator per
(seed, corruption, severity)) or from the published CIFAR-10-C / CIFAR-100-C files (`root`):
<root>/<corruption>.npy, uint8 (5 m, 32, 32, 3) = severities 1..5 of the m test images in test-set order,
and <root>/labels.npy. Either way the corrupted uint8 32x32 image then goes through the run's own eval
transform (centre crop in "resize" mode, normalisation): the corruption acts on the un-normalised image
in [0,1] at the resolution CIFAR-10-C was made at, so both sources feed the model the same kind of input.

corruptions.json (run folder; accuracies are fractions, as in summary.json):

    {"checkpoint": "last", "epoch": 200, "seed": 0, "split": "test", "source": "memory", "root": null,
     "n": 10000, "clean": {"loss": 0.61, "acc": 0.79},
     "results": {"gaussian_noise": [{"severity": 1, "loss": 0.9, "acc": 0.70}, ...], ...}}

corruption-predictions.npz (same folder): the predicted class of every test image, "clean" and
"<corruption>/<severity>", plus "labels": per-example data for paired tests. Both files are merged with
earlier results of the same checkpoint, seed and source, and replaced otherwise.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from actbench import lists, runs
from actbench.data.pipeline import eval_batches
from actbench.errors import UserError
from actbench.evaluation import run_session, score_batches
from actbench.robustness.corruptions import CORRUPTIONS, MISSING, PUBLISHED, SEVERITIES, corrupt
from actbench.robustness.noise import noise_seed
from actbench.robustness.results import save_merged
from actbench.session import Session

CHUNK = 1000  # test images corrupted per call: results do not depend on train.eval_batch_size


# --- options ----------------------------------------------------------------------------------------


def parse_corruptions(text: str, root: Path | None = None, option: str = "--corruptions") -> list[str]:
    """ "all" or comma-separated names -> checked names (in memory: the registry; with `root`: the
    published names whose .npy file is there)."""
    allowed = [n for n in PUBLISHED if (root / f"{n}.npy").is_file()] if root else list(CORRUPTIONS)
    where = f"in {root}" if root else "in memory"
    if root is not None and not allowed:
        raise UserError(f"--corrupted-root: no <corruption>.npy files in {root} (e.g. gaussian_noise.npy)")
    names = lists.parse(text, option, allow_empty=True)
    if names == ["all"]:
        names = allowed
    elif not names:
        raise UserError(f"{option}: no corruption given (all, or names: {', '.join(allowed)})")
    for name in names:
        if name in allowed:
            continue
        if root is None and name in MISSING:
            raise UserError(f"{option}: {name!r} is not implemented in memory; evaluate it from the "
                             "published files with --corrupted-root DIR")  # fmt: skip
        raise UserError(f"{option}: {name!r} is not available {where} (allowed: all, {', '.join(allowed)})")
    if root is not None:  # headers only: a bad file stops before any training
        for name in names:
            image_file(root, name)
    return names


def parse_severities(text: str, option: str = "--severities") -> list[int]:
    """ "1-5", "3" or "1,3,5" -> ascending severities in 1..5."""
    out: set[int] = set()
    try:
        for part in lists.split(text):
            lo, _, hi = part.partition("-")
            out.update(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise UserError(f"{option}: cannot parse {text!r} (expected e.g. 1-5 or 1,3,5)") from None
    if not out or not out <= set(SEVERITIES):
        raise UserError(f"{option}: {text!r} must name severities in 1..5 (e.g. 1-5 or 1,3,5)")
    return sorted(out)


# --- corrupted test images --------------------------------------------------------------------------


def memory_chunks(x: Tensor, name: str, severity: int, seed: int) -> Iterator[Tensor]:
    """The test images x (N, 3, H, W) uint8, corrupted in CHUNKs by one generator on x's device."""
    gen = torch.Generator(device=x.device).manual_seed(noise_seed(seed, name, float(severity)))
    for i in range(0, len(x), CHUNK):
        yield corrupt(x[i : i + CHUNK], name, severity, gen)


def load_npy(path: Path) -> np.ndarray:
    """A memory-mapped .npy array; a damaged or foreign file is one ValueError naming it."""
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise UserError(f"--corrupted-root: {path} is not a readable .npy array ({why})") from None
    if not isinstance(arr, np.ndarray):  # an .npz archive under a .npy name
        raise UserError(f"--corrupted-root: {path} is not a .npy array ({type(arr).__name__})")
    return arr


def image_file(root: Path, name: str) -> np.ndarray:
    """<root>/<name>.npy, checked to be what CIFAR-10-C publishes: uint8 (5 m, H, W, 3). Any other dtype
    is refused, never cast: float images in [0, 1] cast to uint8 are all black."""
    path = root / f"{name}.npy"
    arr = load_npy(path)
    if arr.dtype != np.uint8:
        raise UserError(f"--corrupted-root: {path} holds {arr.dtype} values, expected uint8 images (0-255)")
    if arr.ndim != 4 or arr.shape[-1] != 3 or not arr.shape[0] or arr.shape[0] % len(SEVERITIES):
        raise UserError(f"--corrupted-root: {path} has shape {arr.shape}, expected (5 m, H, W, 3) uint8")
    return arr


def check_npy_root(root: Path, x: Tensor, y: Tensor) -> None:
    """Raise ValueError unless labels.npy starts with the run's test labels (same images, same order)."""
    path = root / "labels.npy"
    if not path.is_file():
        raise UserError(f"--corrupted-root: {path} is missing (the published layout has labels.npy)")
    labels = load_npy(path)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        what = f"{labels.dtype} {labels.shape}"
        raise UserError(f"--corrupted-root: {path} holds {what}, expected a vector of integer labels")
    m = len(labels) // len(SEVERITIES)
    if len(y) > m or not np.array_equal(np.asarray(labels[: len(y)], dtype=np.int64), y.cpu().numpy()):
        raise UserError(
            f"--corrupted-root: {path} does not match the run's test split ({len(y)} images; the published "
            "files follow the CIFAR test-set order, so the run must use data.name cifar10/cifar100)"
        )


def npy_images(root: Path, name: str, severity: int, x: Tensor) -> Tensor:
    """Severity `severity` of <root>/<name>.npy for the run's len(x) test images, as uint8 (N, 3, H, W)."""
    path, arr = root / f"{name}.npy", image_file(root, name)
    n, (h, w) = len(x), x.shape[2:]
    if arr.shape[1:] != (h, w, 3):
        raise UserError(f"--corrupted-root: {path} has shape {arr.shape}, expected (5 m, {h}, {w}, 3) uint8")
    per = arr.shape[0] // len(SEVERITIES)
    if per < n:  # a shorter block would run into the next severity's images
        raise UserError(
            f"--corrupted-root: {path} holds {per} images per severity, fewer than the run's {n} test images"
        )
    start = (severity - 1) * per
    block = np.array(arr[start : start + n])  # a writable copy of the mapped slice (uint8, checked)
    return torch.from_numpy(block).permute(0, 3, 1, 2).contiguous().to(x.device)


# --- scoring ----------------------------------------------------------------------------------------


def score_images(
    s: Session, chunks: Iterator[Tensor] | Sequence[Tensor], y: Tensor
) -> tuple[dict[str, float], Tensor]:
    """Loss/accuracy of the model over uint8 test images given in order (chunks), and the predictions (N,)."""
    aug, bs = s.cfg.augment, s.cfg.train.eval_batch_size

    def batches() -> Iterator[tuple[Tensor, Tensor]]:
        start = 0
        for xc in chunks:
            yc = y[start : start + len(xc)]
            start += len(xc)
            yield from eval_batches(xc, yc, bs, aug, s.splits.mean, s.splits.std)

    out = score_batches(s, batches(), len(y), keep_pred=True)
    return {"loss": out["loss"], "acc": out["acc"]}, out["pred"]


def corruption_eval(
    s: Session,
    names: Sequence[str],
    severities: Sequence[int],
    seed: int = 0,
    checkpoint: str = "last",
    epoch: int | None = None,
    root: Path | None = None,
) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """corruptions.json content and per-example predictions for the session's model."""
    x, y = s.splits.test_x, s.splits.test_y
    if root is not None:
        check_npy_root(root, x, y)
    clean, pred = score_images(s, [x], y)
    predictions = {"labels": y, "clean": pred}
    results: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        results[name] = []
        for sev in severities:
            chunks = (
                [npy_images(root, name, sev, x)] if root is not None else memory_chunks(x, name, sev, seed)
            )
            metrics, predictions[f"{name}/{sev}"] = score_images(s, chunks, y)
            results[name].append({"severity": sev, **metrics})
    result = {
        "checkpoint": checkpoint,
        "epoch": epoch,
        "seed": None if root is not None else seed,  # the published files fix their own randomness
        "split": "test",
        "source": "npy" if root is not None else "memory",
        "root": str(root) if root is not None else None,
        "n": len(y),
        "clean": clean,
        "results": results,
    }
    return result, predictions


# --- run folders ------------------------------------------------------------------------------------

# results that may be merged: also from the same published folder (two CIFAR-10-C copies or versions in one
# file would mix sources under one name)
SAME = ("checkpoint", "epoch", "seed", "split", "source", "root", "n")


def save(run_dir: Path, result: dict[str, Any], predictions: dict[str, Tensor]) -> Path:
    """Write corruptions.json and corruption-predictions.npz atomically, merged with compatible old ones."""
    path = run_dir / runs.CORRUPTIONS
    merged = save_merged(path, result, SAME, "severity", int)
    pred_path = run_dir / runs.CORRUPTION_PREDICTIONS
    # Any: mypy would match **dict[str, ndarray] against savez_compressed's allow_pickle: bool
    arrays: dict[str, Any] = {}
    if merged is not result:  # merged with an old file: keep its predictions next to the new ones
        with contextlib.suppress(runs.RunError):
            arrays = runs.read_npz(pred_path)
    top = max((int(v.max()) for v in predictions.values() if v.numel()), default=0)
    dtype = np.uint8 if top < 256 else np.int16
    arrays |= {k: v.cpu().numpy().astype(dtype) for k, v in predictions.items()}
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    runs.atomic_write_bytes(pred_path, buf.getvalue())
    return path


def missing(
    run_dir: Path,
    names: Sequence[str],
    severities: Sequence[int],
    seed: int = 0,
    checkpoint: str = "last",
    root: Path | None = None,
) -> bool:  # the arguments of corruption_run, in its order
    """True unless corruptions.json already holds every (name, severity) for this checkpoint, at the epoch
    the run's summary.json gives it now (an extended run's older results are redone), source and folder."""
    try:
        old = runs.read_json(run_dir / runs.CORRUPTIONS)
        end = runs.read_json(run_dir / runs.SUMMARY).get(checkpoint)
    except runs.RunError:
        return True
    source = "npy" if root is not None else "memory"
    epoch = end.get("epoch") if isinstance(end, dict) else None  # None: not known, so never the same
    want = (checkpoint, epoch, None if root is not None else seed, source, str(root) if root else None)
    got = tuple(old.get(k) for k in ("checkpoint", "epoch", "seed", "source", "root"))
    if epoch is None or got != want:
        return True
    results = old.get("results")
    if not isinstance(results, dict):
        results = {}
    have = {
        (n, e.get("severity"))
        for n, es in results.items()
        if isinstance(es, list)
        for e in es
        if isinstance(e, dict)
    }
    return any((n, s) not in have for n in names for s in severities)


def corruption_run(
    run_dir: Path,
    names: Sequence[str],
    severities: Sequence[int],
    seed: int = 0,
    checkpoint: str = "last",
    root: Path | None = None,
) -> dict[str, Any]:
    """`actbench eval RUN --corruptions ...`: a fresh session on the run's config, evaluated and saved."""
    s, epoch = run_session(run_dir, checkpoint)
    result, predictions = corruption_eval(s, names, severities, seed, checkpoint, epoch, root)
    save(run_dir, result, predictions)
    return result


def corrupt_runs(
    run_dirs: Sequence[Path],
    names: Sequence[str],
    severities: Sequence[int],
    seed: int = 0,
    checkpoint: str = "last",
    root: Path | None = None,
) -> Iterator[tuple[Path, dict[str, Any] | None]]:
    """Evaluate each run under the corruptions, yielding (run, result) as each finishes; (run, None) for
    a run skipped because its corruptions.json already holds every cell asked for. One run is always
    evaluated (`eval RUN` means: do it); among several (a sweep's), those done before are skipped, so
    re-running a sweep with --corruptions costs nothing for the runs already evaluated."""
    for run_dir in run_dirs:
        if len(run_dirs) > 1 and not missing(run_dir, names, severities, seed, checkpoint, root):
            yield run_dir, None
            continue
        yield run_dir, corruption_run(run_dir, names, severities, seed, checkpoint, root)


def completed_runs(run_dirs: Sequence[Path]) -> list[Path]:
    """The run folders (of a sweep) whose training completed."""
    return [d for d in run_dirs if runs.read_status(d) == runs.COMPLETED]
