"""Robust summaries of epoch timings: the median of the steady epochs, with their min and max.

Epoch 1 is warm-up (data moved to the device, allocator, torch.compile) and is left out. Of the rest, a
mean lets one epoch slowed by a busy machine move the whole figure; the median does not, and min–max
still shows that such an epoch happened.
Used by training (summary.json), the report's cost table and the benchmarks.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

WARMUP_EPOCHS = 1  # leading epochs left out of steady-state timings
STATISTIC = "median"  # what summary.json's timing.steady_epoch_s is (files before it was added: mean)


def finite(values: Iterable[Any]) -> list[float]:
    """The finite real numbers among `values` (None, strings, bools, NaN and inf dropped)."""
    return [
        float(v)
        for v in values
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    ]


def steady(times: Sequence[T]) -> list[T]:
    """Epoch seconds without the warm-up epoch; a run of a single epoch keeps it (nothing else to show)."""
    return list(times[WARMUP_EPOCHS:]) or list(times)


def robust(values: Iterable[Any]) -> dict[str, Any]:
    """{"median", "min", "max", "n"} of the finite numbers in `values` (None when there are none)."""
    nums = finite(values)
    if not nums:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": statistics.median(nums), "min": min(nums), "max": max(nums), "n": len(nums)}


def epoch_timing(times: Sequence[float]) -> dict[str, Any]:
    """summary.json's `timing` from the run's epoch seconds (epoch 1 first), all in seconds."""
    s = robust(steady(times))
    return {
        "first_epoch_s": times[0] if times else None,
        "steady_epoch_s": s["median"],  # median of the steady epochs
        "steady_epoch_min_s": s["min"],
        "steady_epoch_max_s": s["max"],
        "steady_epochs": s["n"],
        "statistic": STATISTIC,
        "warmup_s": times[0] - s["median"] if len(times) > WARMUP_EPOCHS else None,
    }


def fmt_range(lo: float | None, hi: float | None, spec: str = ".2f") -> str:
    """27.50–73.00 (en dash), or "—" when unknown."""
    return "—" if lo is None or hi is None else f"{lo:{spec}}–{hi:{spec}}"
