"""How a report writes numbers: one function per kind of cell, so every table and format agrees.

"—" stands for a number that does not exist (no runs, no baseline, no spread); a cell never says "nan".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

NONE = "—"


def num(x: float | None, spec: str) -> str:
    """`x` with a format spec (".2f", "+.2f", ".3g"), or "—"."""
    return NONE if x is None else format(x, spec)


def pm(d: dict[str, Any] | None, spec: str) -> str:
    """A describe() dict as "mean ± std" ("mean" alone without a spread; "—" without a mean)."""
    if not d or d.get("mean") is None:
        return NONE
    if d.get("std") is None:
        return format(d["mean"], spec)
    return f"{d['mean']:{spec}} ± {d['std']:{spec}}"


def span(lo: float | None, hi: float | None, spec: str = ".2f") -> str:
    """A confidence interval or range: "27.50 – 73.00" (spaced en dash), or "—"."""
    return NONE if lo is None or hi is None else f"{lo:{spec}} – {hi:{spec}}"


def bracket(ci: Sequence[float] | None, spec: str = "+.2f") -> str:
    """An interval after a number: " [-0.31, +1.20]", or "" without one."""
    return f" [{ci[0]:{spec}}, {ci[1]:{spec}}]" if ci else ""


def count(x: float | None) -> str:
    """12345678 -> "12.3M": parameter and MAC counts."""
    if x is None:
        return NONE
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= div:
            return f"{x / div:.3g}{unit}"
    return f"{x:.0f}"


def value(x: Any) -> str:
    """A config or env value: a tuple or list as "[a, b]", nothing as "—"."""
    if x is None:
        return NONE
    return "[" + ", ".join(map(str, x)) + "]" if isinstance(x, tuple | list) else str(x)


def endpoint(metric: str) -> str:
    """The words for a report's endpoint (--metric)."""
    return "final epoch" if metric == "last" else "best-validation epoch"
