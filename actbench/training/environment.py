"""What a run records of the machine and code that trained it (env.json): versions, device, git commit."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from actbench import runs

PACKAGE = Path(__file__).resolve().parents[1]  # the actbench/ folder this process imported


def _git(*args: str, where: Path = PACKAGE) -> str | None:
    """stdout of `git ARGS` in `where`; None outside git (an installed package) or on error."""
    try:
        out = subprocess.run(["git", *args], cwd=where, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def git_commit() -> str | None:
    """HEAD of the checkout actbench runs from; None outside git (an installed package)."""
    out = _git("rev-parse", "HEAD")
    return out.strip() or None if out is not None else None


def git_dirty(package: Path = PACKAGE) -> bool | None:
    """True when the package this process imported differs from HEAD (changed, staged or new files under
    actbench/): the commit alone then does not say what code trained the run. None outside git."""
    out = _git("status", "--porcelain", "--", str(package), where=package)
    return bool(out.strip()) if out is not None else None


def environment(device: torch.device) -> dict[str, Any]:
    """env.json's content for a run training on `device` (the latest start's; summary.json keeps every
    start's git commit)."""
    import torchvision  # local: only a training process needs its version

    from actbench import __version__

    name = str(device)
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    return {
        "actbench": __version__,
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "cuda": torch.version.cuda,
        "device": str(device),
        "device_name": name,
        "cpu_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "host": platform.node(),
        "argv": sys.argv,
        "time": runs.now(),
    }
