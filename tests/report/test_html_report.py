"""`actbench report --html`: one self-contained page, checked by parsing it and by a real browser."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from actbench.report import build as RP
from actbench.report.figures import write_figures
from actbench.report.provenance import config_differences
from tests.factories import PNG, write_run

runner = CliRunner()
ENV = {"actbench": "0.1.0", "python": "3.11.2", "torch": "2.14.1", "device_name": "Test GPU 9000"}


class Page(HTMLParser):
    """Tables (id -> rows of cell texts), images (src) and every attribute value of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[str] = []
        self.attrs: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        self.attrs += [v or "" for v in a.values()]
        if tag == "table":
            self._table = a.get("id") or f"table{len(self.tables)}"
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(a.get("src") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """relu x2, exponential x2 (learned a), prelu x2 at another lr, one group whose label needs escaping."""
    root = tmp_path / "runs"
    for s in range(2):
        write_run(root, f"relu-s{s}", "relu", s, 0.70 + 0.02 * s, 0.9)
        learned = {"conv1": -2.0 + 0.1 * s, "conv2": -1.5, "conv3": -1.0}
        write_run(
            root, f"exp-s{s}", "exponential", s, 0.8 + 0.01 * s, 0.6, learned=learned, activation__init=0.0
        )
        write_run(root, f"prelu-s{s}", "prelu", s, 0.75, 0.7, learned={"conv1": 0.05}, optim__lr=0.01)
        write_run(root, f"odd-s{s}", "elu", s, 0.72, 0.8, data__name="folder", data__root="<b>x&y</b>")
    (root / "relu-s0" / "env.json").write_text(json.dumps(ENV))
    return root


def _page(runs: Path, tmp_path: Path) -> tuple[Page, str]:
    out = tmp_path / "report.html"
    res = runner.invoke(app_(), ["report", str(runs), "--html", str(out)], env={"COLUMNS": "120"})
    assert res.exit_code == 0, res.output
    assert f"wrote {out}" in res.output
    text = out.read_text(encoding="utf-8")
    page = Page()
    page.feed(text)
    return page, text


def app_() -> Any:
    from actbench.cli import app

    return app


def test_page_holds_every_table_and_figure(runs: Path, tmp_path: Path) -> None:
    page, _ = _page(runs, tmp_path)
    assert {"results", "cost", "decisions", "learned", "config", "shared", "env"} <= set(page.tables)
    report = RP.build_report([runs])
    decisions = page.tables["decisions"]  # the same decisions as the other formats
    assert [row[0] for row in decisions[1:]] == [r["group"] for r in report.rows]
    decided = {r["group"]: r["decision"] or "—" for r in report.rows if r["activation"] != "relu"}
    assert {row[0]: row[9] for row in decisions[1:] if row[1] != "baseline"} == decided
    results = page.tables["results"]
    assert [row[0] for row in results[1:]] == [r["group"] for r in report.rows]
    config = " ".join(" ".join(row) for row in page.tables["config"])
    assert "<b>x&y</b>" in config  # escaped text, not markup (the parser saw it as data)
    assert "b" not in page.tags
    relu = next(row for row in results if row[0].startswith("relu"))
    assert "71.00 ± 1.41" in relu  # mean ± std of 70 and 72
    learned = page.tables["learned"]
    assert learned[0][1:] == report.learned["columns"] and learned[2][0] == "conv1"
    figures, _ = write_figures(report, tmp_path / "figs")
    assert len(page.images) == len(figures) >= 5
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == PNG


def test_config_differences_and_environment(runs: Path, tmp_path: Path) -> None:
    page, _ = _page(runs, tmp_path)
    config = {row[0]: row[1:] for row in page.tables["config"][1:]}
    assert {"activation.name", "optim.lr", "data.name"} <= set(config)
    assert "model.kernel_size" not in config
    shared = {row[0]: row[1] for row in page.tables["shared"][1:]}
    assert shared["model.kernel_size"] == "5" and "optim.lr" not in shared
    env = page.tables["env"]
    assert "Test GPU 9000" in env[1] + env[2] and {"1", "7"} == {env[1][0], env[2][0]}  # 1 of 8 runs has one
    heads, rows, _ = config_differences(RP.build_report([runs]).groups)
    assert len(heads) == 5 and len(rows) == len(config)


def test_page_is_self_contained(runs: Path, tmp_path: Path) -> None:
    page, text = _page(runs, tmp_path)
    lowered = text.lower()
    assert "http://" not in lowered and "https://" not in lowered
    assert not {"script", "link", "iframe", "object", "embed"} & set(page.tags)
    assert "@import" not in lowered and "url(" not in lowered and "@font-face" not in lowered
    assert all(a.startswith("data:") or "://" not in a for a in page.attrs)


def test_unwritable_html_path_is_one_line(runs: Path, tmp_path: Path) -> None:
    res = runner.invoke(app_(), ["report", str(runs), "--html", str(tmp_path / "no" / "dir" / "r.html")])
    assert res.exit_code == 2 and "cannot write" in res.output and res.output.strip().count("\n") == 0


@pytest.mark.skipif(shutil.which("chromium") is None, reason="no chromium browser installed")
def test_page_renders_in_headless_chromium(runs: Path, tmp_path: Path) -> None:
    from matplotlib.image import imread

    _page(runs, tmp_path)
    shot = tmp_path / "shot.png"
    cmd = [
        "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--screenshot={shot}",
        "--window-size=1280,3000",
        (tmp_path / "report.html").as_uri(),
    ]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    pixels = imread(shot)[..., :3]  # float RGB in [0, 1]
    assert pixels.shape[:2] == (3000, 1280)
    ink = (pixels.mean(axis=2) < 0.9).mean()
    colour = (pixels.max(axis=2) - pixels.min(axis=2) > 0.3).mean()  # plot lines are coloured
    assert ink > 0.01 and colour > 0.0005, (ink, colour)


def test_shared_settings_leave_out_synthetic_only_keys_for_folder_data(tmp_path: Path) -> None:
    """data.noise, data.train_size, ... say nothing about image-folder data: not listed as its settings."""
    from actbench.report.provenance import config_differences
    from tests.factories import write_run

    for act in ("relu", "elu"):
        write_run(tmp_path / "f", f"{act}-s0", act, 0, data__name="folder", data__root="imgs")
        write_run(tmp_path / "s", f"{act}-s0", act, 0)
    _, _, folder = config_differences(RP.build_report([tmp_path / "f"]).groups)
    _, _, synthetic = config_differences(RP.build_report([tmp_path / "s"]).groups)
    assert "data.noise" not in folder and "data.train_size" not in folder and "data.val_size" in folder
    assert "data.noise" in synthetic and "data.train_size" in synthetic
