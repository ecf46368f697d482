"""docs/data.md against the data code: where the decoded cache lies, the per-image standardisation floor."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from actbench.config import AugmentConfig, DataConfig
from actbench.data.pipeline import eval_transform
from actbench.data.sources import cache_dir

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGE = (DOCS / "data.md").read_text()


def test_the_cache_location_is_the_one_the_code_uses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = DataConfig(name="folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir(data) == tmp_path / "xdg" / "actbench" and "`$XDG_CACHE_HOME/actbench`" in PAGE
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir(data) == tmp_path / "home" / ".cache" / "actbench" and "`~/.cache/actbench`" in PAGE


def test_the_per_image_floor_is_the_documented_one() -> None:
    """A low-contrast image (std 4/255) comes out with std (4/255)/(1/sqrt(N)) < 1, N counted in [0,1]
    units, as data.md and results/README.md say (TensorFlow, on [0,255] values, would give 1)."""
    g = torch.Generator().manual_seed(0)
    x = (128 + 4 * torch.randn(1, 3, 24, 24, generator=g)).round().clamp(0, 255).to(torch.uint8)
    out = eval_transform(x, AugmentConfig(crop="none", normalize="per_image"), (0,) * 3, (1,) * 3)
    std01 = (x.double() / 255).std(correction=0).item()
    floored = std01 * math.sqrt(x.numel())  # std / max(std, 1/sqrt(N)) with std < 1/sqrt(N)
    assert floored < 1 and out.std(correction=0).item() == pytest.approx(floored, rel=1e-4)
    assert "floored at 1/√N" in PAGE and "[0,1] pixel units" in PAGE
    assert "1/√N in [0,1] pixel units" in (DOCS / "results" / "README.md").read_text()
