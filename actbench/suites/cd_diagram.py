"""Demšar's critical-difference diagram of a suite report (matplotlib, drawn only on demand)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def cd_diagram(rep: dict[str, Any], path: Path) -> Path | None:
    """Demšar's diagram: mean ranks on an axis (1 = best, left), one label per method, a bar joining
    methods not told apart (within the critical difference), the CD drawn to scale. None without ranks."""
    s = rep["summary"]
    if not s or not s["significance"]:
        return None  # no critical difference to draw without a significance verdict
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ranks, k, cd = s["mean_ranks"], len(s["methods"]), s["critical_difference"]
    order = sorted(ranks, key=ranks.get)
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.32 * k))
    ax.set_xlim(0.7, k + 0.3)  # rank 1 (best) on the left
    ax.set_ylim(0, k + 2)
    ax.axis("off")
    ax.hlines(k + 1, 1, k, color="k", lw=1)
    for r in range(1, k + 1):
        ax.vlines(r, k + 1, k + 1.2, color="k", lw=1)
        ax.text(r, k + 1.35, str(r), ha="center", va="bottom", fontsize=8)
    ax.plot([1, 1 + cd], [k + 1.8, k + 1.8], color="k", lw=2)
    ax.text(1 + cd / 2, k + 1.85, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=8)
    for i, m in enumerate(order):
        y = k - i
        ax.plot([ranks[m], ranks[m]], [k + 1, y], color="0.4", lw=0.8)
        ax.plot([ranks[m], k + 0.3 if i >= k / 2 else 0.7], [y, y], color="0.4", lw=0.8)
        right = i >= k / 2
        ax.text(k + 0.32 if right else 0.68, y, f"{m} ({ranks[m]:.2f})", ha="left" if right else "right",
                va="center", fontsize=9)  # fmt: skip
    for j, group in enumerate(s["cliques"]):
        lo, hi = min(ranks[m] for m in group), max(ranks[m] for m in group)
        ax.plot([lo - 0.03, hi + 0.03], [k + 0.6 - 0.25 * j] * 2, color="k", lw=3)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
