"""Per-example test predictions of a run: the data paired tests, seed ensembles and calibration need.

predictions.npz (numpy .npz in the run folder, test split in test-set order, written atomically):

    labels            int32 (N,)       true class of each test image, stored once
    <ckpt>_pred       int32 (N,)       predicted class: argmax of the float32 logits
    <ckpt>_prob       float16 (N, C)   softmax probabilities (float16: 2 bytes each, 4 MB for two
                                       checkpoints of CIFAR-100's 10,000 x 100)
    <ckpt>_epoch      int64 ()         the epoch that checkpoint holds

for <ckpt> in last (the final epoch) and best (the best-validation epoch). Training writes both at its
end; `actbench eval RUN --checkpoint last,best` writes them for any run, also one trained before this
file existed. Writing one checkpoint keeps the other's arrays when the labels agree (same test set).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from actbench import lists, runs
from actbench.data.pipeline import eval_batches
from actbench.errors import not_allowed
from actbench.evaluation import evaluate, load_weights, run_session, score_batches
from actbench.session import Session


@dataclass(frozen=True)
class Predictions:
    """One checkpoint's predictions on the test split (N images, C classes)."""

    checkpoint: str  # last | best
    epoch: int
    labels: np.ndarray = field(repr=False)  # int (N,)
    pred: np.ndarray = field(repr=False)  # int (N,)
    prob: np.ndarray | None = field(repr=False)  # float16 (N, C); None in a slim copy (`slim_copy`)

    @property
    def correct(self) -> np.ndarray:
        """bool (N,): whether each test image was classified correctly."""
        return self.pred == self.labels


# --- computing --------------------------------------------------------------------------------------


def predict(s: Session) -> dict[str, Any]:
    """Test loss/accuracy (exactly as `evaluation.evaluate(s, "test")`) plus per-image pred/prob/labels
    as numpy arrays (the layout of `save`)."""
    x, y = s.splits.test_x, s.splits.test_y
    batches = eval_batches(x, y, s.cfg.train.eval_batch_size, s.cfg.augment, s.splits.mean, s.splits.std)
    out = score_batches(s, batches, len(y), keep_pred=True, keep_prob=True)
    return {
        **out,
        "pred": out["pred"].cpu().numpy().astype(np.int32),
        "prob": out["prob"].cpu().numpy(),
        "labels": y.cpu().numpy().astype(np.int32),
    }


# --- the file ---------------------------------------------------------------------------------------


def save(run_dir: Path, checkpoint: str, epoch: int, result: dict[str, Any]) -> Path:
    """Write `checkpoint`'s predictions (a `predict` result) into predictions.npz, atomically, keeping
    the other checkpoint's when the labels agree. RunError (one line) when the folder is not writable."""
    path = run_dir / runs.PREDICTIONS
    labels = np.asarray(result["labels"], dtype=np.int32)
    # Any: mypy would match **dict[str, ndarray] against savez_compressed's allow_pickle: bool
    arrays: dict[str, Any] = {}
    if path.exists():
        try:
            old = runs.read_npz(path)
        except runs.RunError:
            old = {}  # unreadable: replaced by the new predictions
        if "labels" in old and np.array_equal(old["labels"], labels):
            arrays = {k: v for k, v in old.items() if not k.startswith(f"{checkpoint}_")}
    arrays |= {
        "labels": labels,
        f"{checkpoint}_pred": np.asarray(result["pred"], dtype=np.int32),
        f"{checkpoint}_prob": np.asarray(result["prob"], dtype=np.float16),
        f"{checkpoint}_epoch": np.asarray(epoch, dtype=np.int64),
    }
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    try:
        runs.atomic_write_bytes(path, buf.getvalue())
    except OSError as exc:
        raise runs.RunError(f"{path}: cannot write ({exc.strerror})") from None
    return path


def load(run_dir: Path, checkpoint: str) -> Predictions | None:
    """`checkpoint`'s predictions of the run; None when the run has none for it (older runs). `prob` is
    None in a slim copy. RunError when the file is unreadable or inconsistent."""
    path = run_dir / runs.PREDICTIONS
    if not path.exists():
        return None
    arrays = runs.read_npz(path)
    keys = ("labels", f"{checkpoint}_pred", f"{checkpoint}_epoch")
    if not all(k in arrays for k in keys):
        return None
    labels, pred, epoch = (arrays[k] for k in keys)
    prob = arrays.get(f"{checkpoint}_prob")
    if not (labels.ndim == pred.ndim == 1 and len(labels) == len(pred)) or (
        prob is not None and (prob.ndim != 2 or len(prob) != len(labels))
    ):
        raise runs.RunError(f"{path}: {checkpoint} arrays have inconsistent shapes")
    return Predictions(checkpoint, int(epoch), labels, pred, prob)


def slim_copy(run_dir: Path, dest_dir: Path) -> Path | None:
    """Write `dest_dir`/predictions.npz with the run's labels, predicted classes and epochs but without
    the softmax probabilities (about 11 KB instead of 380 KB for CIFAR-10's 10,000 test images): enough
    for the per-image comparisons, not for ensembles or calibration. None when the run has none."""
    path = run_dir / runs.PREDICTIONS
    if not path.exists():
        return None
    arrays = {k: v for k, v in runs.read_npz(path).items() if not k.endswith("_prob")}
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    dest = dest_dir / runs.PREDICTIONS
    runs.atomic_write_bytes(dest, buf.getvalue())
    return dest


# --- `actbench eval` --------------------------------------------------------------------------------


def parse_checkpoints(text: str, option: str = "--checkpoint") -> list[str]:
    """ "last", "best" or "last,best" -> checked list in the given order (repeats dropped)."""
    names = lists.parse(text, option, allow_empty=True)
    for name in names or [text]:
        if name not in runs.CHECKPOINTS:
            raise not_allowed(option, name, runs.CHECKPOINTS, ", or last,best")
    return names


def evaluate_checkpoints(
    run_dir: Path, checkpoints: Sequence[str] = ("last",), split: str = "test", write: bool = True
) -> list[dict[str, Any]]:
    """Evaluate each checkpoint (checked by parse_checkpoints) of a run on `split` with one session; on
    the test split, also write its predictions into predictions.npz (unless `write` is false). One dict
    per checkpoint: checkpoint, epoch, split, loss, acc, and `written` (the file) or `warning` (why it
    was not written)."""
    s, _ = run_session(run_dir)
    out = []
    for ckpt in checkpoints:
        epoch = load_weights(s, run_dir, ckpt)
        entry: dict[str, Any] = {"checkpoint": ckpt, "epoch": epoch, "split": split}
        if split != "test":
            out.append(entry | evaluate(s, split))
            continue
        result = predict(s)
        entry |= {"loss": result["loss"], "acc": result["acc"]}
        if write and runs.is_locked(run_dir):
            entry["warning"] = f"{run_dir}: in use by another process; {runs.PREDICTIONS} not written"
        elif write:
            try:
                entry["written"] = str(save(run_dir, ckpt, epoch, result))
            except runs.RunError as exc:
                entry["warning"] = str(exc)
        out.append(entry)
    return out
