"""Steady-state epoch timings: median of the steady epochs with min-max, robust to one slow epoch."""

from __future__ import annotations

import math

import pytest

from actbench import timing as TM


def test_one_slow_epoch_barely_moves_the_median_but_shows_in_the_max() -> None:
    # Warm-up epoch 40 s, steady epochs ~28 s, one epoch slowed to 73 s by a busy machine.
    times = [40.0, 28.0, 27.5, 73.0, 28.4, 28.1]
    t = TM.epoch_timing(times)
    assert t["steady_epoch_s"] == pytest.approx(28.1)  # the mean of the same epochs would be 37.0
    assert (t["steady_epoch_min_s"], t["steady_epoch_max_s"]) == (27.5, 73.0)
    assert t["steady_epochs"] == 5 and t["statistic"] == "median"
    assert t["first_epoch_s"] == 40.0 and t["warmup_s"] == pytest.approx(40.0 - 28.1)


@pytest.mark.parametrize(
    ("times", "median", "warmup"),
    [([], None, None), ([5.0], 5.0, None), ([5.0, 2.0], 2.0, 3.0), ([9.0, 1.0, 3.0, 2.0, 4.0], 2.5, 6.5)],
)
def test_short_runs(times: list[float], median: float | None, warmup: float | None) -> None:
    t = TM.epoch_timing(times)
    assert t["steady_epoch_s"] == median
    assert t["warmup_s"] == warmup


def test_robust_ignores_what_is_not_a_finite_number() -> None:
    r = TM.robust([3.0, None, "x", math.nan, math.inf, True, 1, 2.0])
    assert r == {"median": 2.0, "min": 1.0, "max": 3.0, "n": 3}
    assert TM.robust([]) == {"median": None, "min": None, "max": None, "n": 0}
    assert TM.fmt_range(1.234, 70.0) == "1.23–70.00" and TM.fmt_range(None, 1.0) == "—"
