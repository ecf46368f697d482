"""One document, every format: each section of the Markdown report (and of the suite report) is in the
LaTeX and HTML renderings too, with its rows; cells are never wrapped inside a value at 80 columns."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from actbench.cli import app
from actbench.report import render
from actbench.report.build import build_report
from actbench.report.model import Document, Figures, Items, Table, Text
from actbench.report.sections import document
from actbench.suites import page as SP
from actbench.suites import report as SR
from tests.factories import REPO

RUNS = REPO / "docs" / "results" / "runs"
PNG = (  # a 1x1 PNG: a figure to link and embed
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


def _md_titles(md: str) -> list[str]:
    return re.findall(r"^\*\*(.+)\*\*$", md, flags=re.M)


def _assert_parity(doc: Document) -> None:
    md, tex, page = render.markdown(doc), render.latex(doc), render.html_page(doc)
    titled = [b for b in doc.blocks if not isinstance(b, Text)]
    assert _md_titles(md) == [b.title for b in titled]  # every titled block, in order, once
    for b in doc.blocks:
        if isinstance(b, Table):
            assert render.tex(b.title) in tex and html.escape(b.title, quote=True) in page
            for row in b.rows:  # every row, in each format
                assert " & ".join(map(render.tex, row)) in tex
                assert "".join(f"<td>{html.escape(c, quote=True)}</td>" for c in row) in page
        elif isinstance(b, Items):
            for item in b.items:
                assert f"- {item}" in md and render.tex(item) in tex and html.escape(item, quote=True) in page
        elif isinstance(b, Text):
            assert b.text in md and render.tex(b.text) in tex and html.escape(b.text, quote=True) in page
        elif isinstance(b, Figures):
            assert all(f"({p})" in md and p in tex for p in b.paths)
            assert page.count("data:image/png;base64,") == len(b.paths)


@pytest.mark.skipif(not (RUNS / "cifar10-cpu").is_dir(), reason="published runs not in this checkout")
def test_every_section_of_the_report_is_in_every_format(tmp_path: Path) -> None:
    png = tmp_path / "curve.png"
    png.write_bytes(PNG)
    report = build_report(
        [RUNS / "cifar10-cpu"], paper="cifar10", tests="welch,paired,power", with_provenance=True
    )
    doc = document(report, figures=[str(png)])
    ids = [b.id for b in doc.blocks]
    for want in (
        "results",
        "cost",
        "decisions",
        "per-image",
        "verdicts",
        "learned",
        "corruptions",
        "figures",
    ):
        assert want in ids, want  # the published runs exercise every kind of section
    assert "provenance" in ids and "warnings" in ids and any(i.startswith("robust-") for i in ids)
    _assert_parity(doc)


@pytest.mark.skipif(not (RUNS / "suite-cifar10-nets").is_dir(), reason="published suite not in this checkout")
def test_suite_report_uses_the_same_renderers(tmp_path: Path) -> None:
    rep = SR.build_suite_report(RUNS / "suite-cifar10-nets", bootstrap=0)
    png = tmp_path / "cd.png"
    png.write_bytes(PNG)
    doc = SP.suite_document(rep, str(png))
    assert [b.id for b in doc.blocks] == ["tasks", "deltas", "ranks", "friedman", "cd", "warnings"]
    _assert_parity(doc)


@pytest.mark.skipif(not (RUNS / "suite-cifar10-nets").is_dir(), reason="published suite not in this checkout")
def test_suite_report_in_a_terminal_is_tables_not_markdown(tmp_path: Path) -> None:
    page = tmp_path / "s.html"
    res = CliRunner().invoke(
        app, ["suite", "report", str(RUNS / "suite-cifar10-nets"), "--html", str(page)], env={"COLUMNS": "80"}
    )
    assert res.exit_code == 0, res.output
    assert "|---|" not in res.stdout and "**" not in res.stdout  # it printed raw Markdown before
    assert "Across tasks" in res.stdout and max(map(len, res.stdout.splitlines())) <= 80
    assert f"wrote {page}" in res.stderr and page.is_file()  # it said nothing before
