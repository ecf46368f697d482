"""A pack killed between epochs and trained on: every member's summary.json still has one pack epoch time
per epoch (`runs.PACK_EPOCH_TIMES`), as a pack that was never stopped."""

from __future__ import annotations

from pathlib import Path

import pytest

from actbench import runs
from actbench.pack import train as P
from actbench.training import loop as T
from tests.factories import tiny_config


class Killed(BaseException):
    """Stands for SIGKILL: nothing in actbench catches it, the members stay `running`."""


def test_pack_epoch_times_survive_a_kill(runs_dir: Path, monkeypatch) -> None:
    """The pack's time of an epoch was kept only in memory until the next summary.json write (the next
    epoch's): a kill lost it, and the resume, which keeps the first `epochs done` entries, then shifted
    every later one onto the wrong epoch."""
    cfgs = [tiny_config("train.epochs=3", "activation.name=prelu", f"train.seed={s}") for s in (0, 1)]
    dirs = [T.create_run(c, runs_dir, f"s{c.train.seed}") for c in cfgs]

    def die(point: str, epoch: int, batch: int = 0) -> None:
        if (point, epoch, batch) == ("batch", 3, 1):
            raise Killed

    monkeypatch.setattr(runs, "maybe_fault", die)
    with pytest.raises(Killed):
        P.run_pack(dirs)
    monkeypatch.undo()
    assert [runs.read_json(d / runs.SUMMARY)["epochs_done"] for d in dirs] == [2, 2]
    assert [s["status"] for s in P.run_pack(dirs)] == [runs.COMPLETED] * 2
    for d in dirs:
        summary = runs.read_json(d / runs.SUMMARY)
        assert len(summary[runs.PACK_EPOCH_TIMES]) == len(summary["epoch_times"]) == 3, d.name
