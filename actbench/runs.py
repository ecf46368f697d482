"""Run folders: layout, atomic writes, metrics log, summary, environment, locks.

runs/<name>/
  config.yaml            resolved config (written before training; the only input of training)
  metrics.jsonl          one JSON object per finished epoch, flushed + fsynced each epoch
  checkpoint-last.pt     model/optimizer/RNG/epoch (the learning rate is a function of the epoch),
                         written atomically (tmp + rename)
  checkpoint-best.pt     same, at the best validation accuracy so far
  summary.json           status running|completed|failed|interrupted, final metrics, timings
  env.json               python/torch/torchvision versions, device, git commit, host
  robustness.json        optional: test accuracy under input noise per kind and level (robustness.noise)
  predictions.npz        test-split predicted classes and softmax probabilities of the last and best
                         checkpoints (actbench.predictions); absent in runs made before it existed
  corruptions.json       optional: test accuracy under CIFAR-10-C corruptions (actbench.robustness.evaluate)
  corruption-predictions.npz  optional: the predicted class of each test image per corruption and severity
  run.lock               held (flock) by the process training this run
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import functools
import io
import json
import math
import os
import platform
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from actbench.errors import UserError

if TYPE_CHECKING:
    import torch

CONFIG, METRICS, SUMMARY, ENV, LOCK = "config.yaml", "metrics.jsonl", "summary.json", "env.json", "run.lock"
CKPT_LAST, CKPT_BEST = "checkpoint-last.pt", "checkpoint-best.pt"
ROBUSTNESS = "robustness.json"  # accuracy under input noise (actbench.robustness.noise), optional
PREDICTIONS = "predictions.npz"  # per-example test predictions (actbench.predictions), optional
CHECKPOINTS = ("last", "best")  # which checkpoint: the final epoch, the best-validation epoch
CORRUPTIONS = "corruptions.json"  # accuracy under CIFAR-10-C corruptions (robustness.evaluate), optional
CORRUPTION_PREDICTIONS = "corruption-predictions.npz"  # per-example predictions behind corruptions.json
PUBLISHED = (CONFIG, METRICS, SUMMARY, ENV, ROBUSTNESS, CORRUPTIONS)  # small files a results page keeps
STATUSES = ("running", "completed", "failed", "interrupted")
RUNNING, COMPLETED, FAILED, INTERRUPTED = STATUSES
FINAL = STATUSES[1:]  # a run in one of these wrote its own end
CKPT_FILES = {"last": CKPT_LAST, "best": CKPT_BEST}  # config.Checkpoint -> its file
# summary.json of a pack member (actbench.pack.train): per epoch, the pack's whole epoch in seconds
# (training, then every member's validation, metrics and checkpoints): what one epoch of the pack costs
# in wall time, where `epoch_times` holds this member's share (shared training + its own validation).
PACK_EPOCH_TIMES = "pack_epoch_times"
# summary.json of a pack member left `interrupted` because its pack's process raised: what was raised. The
# sweep then resumes each such member alone, so a crash fails at most the member that causes it.
PACK_CRASH = "pack_crash"


class RunError(UserError):
    """A problem with a run folder the user must resolve; the message is one readable line."""


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def new_summary() -> dict[str, Any]:
    """summary.json of a run folder that has not trained yet."""
    return {"status": RUNNING, "created_at": now(), "epochs_done": 0}


def is_run_dir(path: Path) -> bool:
    return (path / CONFIG).is_file() and ((path / SUMMARY).exists() or (path / METRICS).exists())


def check_folder_name(name: str, option: str = "--name") -> str:
    """A run or sweep folder name is one plain name: it must not lead outside the parent folder (--out)."""
    if not name or "/" in name or os.sep in name or name in (".", ".."):
        raise RunError(
            f"{option} {name!r}: not a plain folder name (no '/', not '.' or '..'); it must stay inside --out"
        )
    return name


def check_writable(folder: Path) -> None:
    """Fail up front (not after an epoch of training) when `folder` cannot hold run output."""
    probe = folder
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise RunError(f"{probe}: exists and is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise RunError(f"{probe}: output location is not writable")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise RunError(f"{folder}: cannot write run output ({exc.strerror})") from None


# what --plot files may be (matplotlib writes them)
FIGURE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


def check_output(path: Path, option: str, suffixes: tuple[str, ...] = (), folder: bool = False) -> Path:
    """Before any work: `path` (a file with one of `suffixes`, or a `folder`) can be written where it is
    named; RunError, one line naming `option`, otherwise. A folder is created; a file is not touched."""
    path = Path(path).expanduser()
    if suffixes and path.suffix.lower() not in suffixes:
        shown = repr(path.suffix) if path.suffix else "none"
        raise RunError(f"{option} {path}: extension {shown} is not allowed (allowed: {', '.join(suffixes)})")
    if folder:
        if path.exists() and not path.is_dir():
            raise RunError(f"{option} {path}: exists and is not a folder")
        try:
            check_writable(path)
        except RunError as exc:
            raise RunError(f"{option}: {exc}") from None
        return path
    if path.is_dir():
        raise RunError(f"{option} {path}: is a folder, not a file")
    probe = path.parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise RunError(f"{option} {path}: cannot be written, {probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise RunError(f"{option} {path}: not writable")
    return path


def prepare_run_dir(path: Path, force: bool = False) -> Path:
    """Create a fresh run folder; an existing non-empty one is refused unless `force`."""
    check_writable(path.parent)
    if path.exists() and any(path.iterdir()):
        if not force:
            raise RunError(
                f"{path}: run folder already exists (use --resume {path} to continue it, "
                "or --force to start over)"
            )
        for child in path.iterdir():
            if child.is_file() or child.is_symlink():
                child.unlink()
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- atomic file writes -----------------------------------------------------------------------------


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder + fsync + rename: readers see old or new, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600: give the file what open() would (0644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@functools.cache
def _umask() -> int:
    """The process umask (read once: os.umask can only be read by setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _jsonable(obj: Any) -> Any:
    """NaN and inf as null (a diverged run's losses, learned values): strict JSON, as jq or a browser read."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    return [_jsonable(v) for v in obj] if isinstance(obj, (list, tuple)) else obj


def write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(_jsonable(obj), indent=2, allow_nan=False) + "\n")


def read_json(path: Path) -> dict[str, Any]:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunError(f"{path}: unreadable ({type(exc).__name__}: {exc})") from None
    if not isinstance(obj, dict):
        raise RunError(f"{path}: expected a JSON object")
    return obj


def discard_unstarted(run_dir: Path | None) -> None:
    """A run folder created by `actbench train` whose run failed before its first epoch (bad data path,
    a network that cannot take the images, ...) is removed: nothing is left behind to resume, and the
    same command works again."""
    import shutil

    if run_dir is None or not run_dir.exists():
        return
    metrics = run_dir / METRICS  # may exist, empty: a run marked running writes it before epoch 1
    logged = metrics.exists() and metrics.read_text(encoding="utf-8", errors="replace").strip()
    if not logged and not any((run_dir / name).exists() for name in (CKPT_LAST, CKPT_BEST)):
        shutil.rmtree(run_dir, ignore_errors=True)


def read_npz(path: Path) -> dict[str, Any]:
    """Every array of an .npz file in the run folder (predictions.npz, corruption-predictions.npz), loaded
    without pickle; RunError (one line naming the file) when it is missing or unreadable."""
    import zipfile

    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise RunError(f"{path}: missing") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise RunError(f"{path}: unreadable ({type(exc).__name__})") from None


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Serialised in memory, then written by plain file writes (a full disk raises OSError ENOSPC, not
    torch's RuntimeError) to a temp file renamed into place; a failed write leaves no temp file."""
    import torch  # here: reading statuses and file names needs no torch (the CLI starts fast)

    buf = io.BytesIO()
    torch.save(state, buf)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(buf.getbuffer())
            f.flush()
            os.fsync(f.fileno())
        maybe_fault("checkpoint", int(state.get("epoch", 0)))
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None:  # a failed write() names no file
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        raise


# errno values that mean output could not be written where it goes: disk full, over quota, read-only,
# no permission (the advice "free space" fits these; another OSError is named as it is)
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}


def write_problem(exc: OSError) -> str:
    """One line for an OSError while training or saving a run: for a failed write (disk full, a folder
    gone read-only) what to do; else the error as it is. The last checkpoint stands either way."""
    what = exc.filename or "run output"
    if exc.errno in WRITE_ERRNOS or exc.errno is None:
        return (
            f"cannot write {what} ({exc.strerror or exc}); free space, then resume from the last checkpoint"
        )
    return f"{type(exc).__name__} on {what} ({exc.strerror or exc}); resume from the last checkpoint"


def maybe_fault(point: str, epoch: int, batch: int = 0) -> None:
    """Fault injection for the reliability tests: ACTBENCH_FAULT="<point>:<epoch>[:<batch>]" makes the
    process SIGKILL itself there (points: batch, after_metrics, checkpoint). Unset in normal use."""
    want = _fault_spec()
    if want and want[0] == point and int(want[1]) == epoch and (len(want) < 3 or int(want[2]) == batch):
        os.kill(os.getpid(), 9)


@functools.cache
def _fault_spec() -> list[str] | None:
    """Read once per process: maybe_fault sits on the per-batch hot path."""
    spec = os.environ.get("ACTBENCH_FAULT")
    return spec.split(":") if spec else None


def move_aside(path: Path) -> Path:
    """Rename an unreadable file to `<name>.corrupt-<time>` so nothing overwrites it; returns the new path."""
    aside = path.with_name(f"{path.name}.corrupt-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}")
    path.rename(aside)
    return aside


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    if not path.is_file():
        raise RunError(f"{path}: checkpoint missing")
    import torch

    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unpickling/zip error means a corrupt file
        raise RunError(f"{path}: corrupt or unreadable checkpoint ({type(exc).__name__})") from None
    if not isinstance(state, dict) or "model" not in state or "epoch" not in state:
        raise RunError(f"{path}: not an actbench checkpoint")
    return state


# --- metrics log ------------------------------------------------------------------------------------


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """One JSON line, on disk before returning (metrics.jsonl, a Ray run's attempts.jsonl)."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(_jsonable(record), allow_nan=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def append_metrics(run_dir: Path, record: dict[str, Any]) -> None:
    append_jsonl(run_dir / METRICS, record)


# metrics.jsonl's numeric fields (`lifecycle.epoch_record`); a record may lack one (older runs), never
# hold something else
METRIC_FIELDS = (
    "train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_time_s", "images_per_s"
)  # fmt: skip


def record_problem(rec: Any) -> str | None:
    """Why a parsed metrics.jsonl line is not an epoch record (None: it is one)."""
    if not isinstance(rec, dict) or "epoch" not in rec:
        return "not an epoch record"
    epoch = rec["epoch"]
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
        return f"epoch {epoch!r} is not a whole number >= 1"
    for key in METRIC_FIELDS:
        value = rec.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            return f"{key} {value!r} is not a number"
    if not isinstance(rec.get("act", {}), dict):
        return "act is not a mapping"
    return None


def read_metrics(run_dir: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Epoch records, and warnings (file and line named) for lines a crash left half-written or that
    do not hold an epoch record (both are skipped, so every record read has the types training wrote)."""
    path = run_dir / METRICS
    if not path.exists():
        return [], []
    records, warnings = [], []
    for i, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            warnings.append(f"{path}:{i}: skipped a corrupt line (half-written by a crash?)")
            continue
        if problem := record_problem(rec):
            warnings.append(f"{path}:{i}: skipped a malformed record ({problem})")
            continue
        records.append(rec)
    return records, warnings


def truncate_metrics(run_dir: Path, epochs: int) -> None:
    """Keep only good records of epochs 1..`epochs` (a resumed run re-does the later ones)."""
    records, _ = read_metrics(run_dir)
    kept, seen = [], set()
    for rec in records:
        if rec["epoch"] <= epochs and rec["epoch"] not in seen:
            kept.append(rec)
            seen.add(rec["epoch"])
    atomic_write_text(
        run_dir / METRICS, "".join(json.dumps(_jsonable(r), allow_nan=False) + "\n" for r in kept)
    )


# --- lock and status -------------------------------------------------------------------------------


# how long `run_lock` retries a held lock: an `is_locked` probe (not a run) lets go within it
LOCK_WAIT_S = 0.5


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Exclusive per-run lock; a second process on the same run gets RunError instead of racing."""
    f = open(run_dir / LOCK, "a+")  # noqa: SIM115 - held for the duration of the context
    try:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise RunError(f"{run_dir}: run is in use by another process (lock held)") from None
                time.sleep(0.01)
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()} {platform.node()}\n")
        f.flush()
        yield
    finally:
        f.close()


def is_locked(run_dir: Path) -> bool:
    """A process holds the run's lock. The probe holds it (shared) for an instant: `run_lock` waits it out."""
    if not (run_dir / LOCK).exists():
        return False
    with open(run_dir / LOCK, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
    return False


def read_status(run_dir: Path) -> str | None:
    try:
        return read_json(run_dir / SUMMARY).get("status")
    except RunError:
        return None


def settle_status(run_dir: Path, status: str, error: str) -> str:
    """Give a run whose process ended without writing a final status (killed, never started) `status`;
    returns the run's final status. An unreadable summary.json is replaced: it holds no final status."""
    current = read_status(run_dir)
    if current in FINAL:
        return current
    try:
        summary = read_json(run_dir / SUMMARY)
    except RunError:
        summary = {}
    summary.update(status=status, error=error, finished_at=now())
    write_json(run_dir / SUMMARY, summary)
    return status
