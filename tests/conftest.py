"""Shared fixtures: tiny synthetic configs that train in about a second on CPU."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


@pytest.fixture(autouse=True)
def _deterministic_threads():
    # Same thread count in every test so float reductions, hence results, are reproducible.
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    d = tmp_path / "runs"
    d.mkdir()
    return d
