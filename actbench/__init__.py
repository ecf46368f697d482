"""actbench: benchmark activation functions for CNN image classifiers.

For notebooks: ``actbench.load_runs(paths)``, ``actbench.load_metrics(paths)`` and
``actbench.load_report(paths, **options)`` give run folders as pandas DataFrames (`actbench.analysis`;
``pip install 'actbench[analysis]'``). They load on first use, so ``import actbench`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "load_metrics", "load_report", "load_runs"]

_ANALYSIS = ("load_runs", "load_metrics", "load_report")


def __getattr__(name: str) -> Any:
    # By name, not an import statement: the package root sits below every module (they import its
    # __version__), while actbench.analysis sits above the report; this only forwards on first use.
    if name in _ANALYSIS:
        return getattr(importlib.import_module("actbench.analysis"), name)
    raise AttributeError(f"module 'actbench' has no attribute {name!r}")
