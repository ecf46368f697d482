"""TensorBoard event files, written live during training (`run.tensorboard: true`, in <run>/tensorboard)
or exported afterwards from run folders (`actbench export tensorboard`). Step = epoch everywhere.

Needs the `tensorboard` extra (torch's SummaryWriter writes the files with it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch.utils.tensorboard import SummaryWriter

from actbench import runs as R
from actbench.timing import finite
from actbench.trackers.scalars import epoch_scalars, run_label, summary_scalars

TB_DIR = "tensorboard"  # the live event files' folder inside a run folder
EVENTS_GLOB = "events.out.tfevents.*"


def write_epoch(writer: SummaryWriter, record: dict[str, Any], learned: dict[str, Any] | None) -> None:
    """Scalars of one epoch record; `learned` ({layer: {param: [values]}}) adds a histogram per layer
    and parameter wherever there is more than one value (channel sharing)."""
    epoch = int(record["epoch"])
    for tag, value in epoch_scalars(record).items():
        writer.add_scalar(tag, value, epoch)
    for layer, params in (learned or {}).items():
        for name, values in params.items():
            # a diverged run's values may all be NaN/inf: torch refuses a histogram without a finite one
            if isinstance(values, list) and len(values) > 1 and finite(values):
                writer.add_histogram(f"act/{layer}/{name}", torch.tensor(values, dtype=torch.float64), epoch)


def write_summary(writer: SummaryWriter, summary: dict[str, Any], step: int) -> None:
    for tag, value in summary_scalars(summary).items():
        writer.add_scalar(tag, value, step)


class TensorBoardObserver:
    """Event sink for `lifecycle.Hooks.on_event`: mirrors each finished epoch into <run>/tensorboard.

    Only observes events (never touches training). A resumed run re-does the epochs after its
    checkpoint, so their earlier events are purged (`purge_step`) instead of appearing twice."""

    dropped = "tensorboard: no more event files for this run"  # the warning when a write raises

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.writer: SummaryWriter | None = None

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "start":
            start = int(data.get("start_epoch") or 0)
            self.writer = SummaryWriter(str(self.run_dir / TB_DIR), purge_step=start + 1 if start else None)
        elif kind == "epoch" and self.writer is not None:
            write_epoch(self.writer, data, data.get("learned"))
            self.writer.flush()  # readable while the run trains
        elif kind == "end" and self.writer is not None:
            write_summary(self.writer, data, int(data.get("epochs_done") or 0))
            self.writer.close()
            self.writer = None


def export_run(run_dir: Path, target: Path) -> None:
    """Event files of one finished (or partial) run from its metrics.jsonl and summary.json into
    `target`, replacing an earlier export there (exporting twice gives the same files, not twice the
    events). Per-channel histograms exist only for the final epoch (summary.json's learned values)."""
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob(EVENTS_GLOB):
        old.unlink()
    records, _ = R.read_metrics(run_dir)
    try:
        summary = R.read_json(run_dir / R.SUMMARY)
    except R.RunError:
        summary = {}
    writer = SummaryWriter(str(target))
    try:
        for rec in records:
            write_epoch(writer, rec, None)
        last = max((int(r["epoch"]) for r in records), default=0)
        write_summary(writer, summary, last)
        learned = summary.get("learned") if isinstance(summary.get("learned"), dict) else {}
        write_epoch(writer, {"epoch": last}, learned)
        config = (run_dir / R.CONFIG).read_text(encoding="utf-8")
        writer.add_text("config", "    " + config.replace("\n", "\n    "), 0)  # indented: shown verbatim
    finally:
        writer.close()


def export_tensorboard(run_dirs: list[Path], to: Path, root: Path) -> list[Path]:
    """Each run into `to`/<its path below `root`>; returns the folders written."""
    targets = []
    for run_dir in run_dirs:
        target = to / run_label(run_dir, root)
        export_run(run_dir, target)
        targets.append(target)
    return targets
