"""A report's files: the data exports (CSV: one flat row of raw numbers per group; JSON: the whole
report as data) and the rendered formats (terminal, Markdown, LaTeX: report.render over the report's
`Document`), written to a console or a file; and `--html FILE`, one self-contained page.

The HTML page holds every section of the Markdown report, the figures embedded as base64 PNG data URIs,
and three sections of its own: the config keys that differ between groups, the settings they share, and
the software versions and devices the runs recorded in env.json. Inline CSS only: no scripts, no fonts,
no external URL, so the file reads the same offline, attached to an e-mail or in an archive.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from actbench.report import fmt as F
from actbench.report import render
from actbench.report.comparison_tables import comparison_flat
from actbench.report.comparisons import family
from actbench.report.groups import ReportError
from actbench.report.model import Block, Report, Table
from actbench.report.provenance import config_differences, environments
from actbench.report.sections import document


def flat_row(row: dict[str, Any]) -> dict[str, Any]:
    """One CSV row of raw numbers (accuracy in %, memory in bytes); the same columns for every group."""
    vs = row["vs_baseline"] or {}
    out = {
        "group": row["group"],
        "activation": row["activation"],
        "n": row["n"],
        "excluded": "; ".join(f"{s}={c}" for s, c in row["excluded"].items()),
    }
    for name in ("test_acc_pct", "test_loss"):
        out |= {f"{name}_{k}": row[name][k] for k in ("mean", "std", "ci_low", "ci_high")}
    out |= {"epoch": row["epoch"], "baseline": row["baseline"]}
    for name in ("acc_pct", "loss"):
        out |= {f"{name}_{k}_vs_baseline": (vs.get(name) or {}).get(k) for k in ("diff", "p", "d")}
    paper = row["paper"] or {}
    return (
        out
        | row["timing"]
        | {"paper_test_loss": paper.get("test_loss"), "paper_test_acc_pct": paper.get("test_acc_pct")}
        | _robust_flat(row)
        | comparison_flat(row)
        | _corruption_flat(row)
    )


def _corruption_flat(row: dict[str, Any]) -> dict[str, Any]:
    """corrupt_* CSV columns: mCE, relative mCE (mean, std), error % per corruption (mean)."""
    st = row.get("corruptions")
    if not st:
        return {}
    out = {f"corrupt_{k}_{s}": st[k][s] for k in ("mce_pct", "rel_mce_pct") for s in ("mean", "std")}
    out["corrupt_mce_pct_p_vs_baseline"] = (st["vs_baseline"]["mce_pct"] or {}).get("p")
    paired = st.get("paired") or {}
    out |= {f"corrupt_paired_acc_pct_{k}": paired.get(k) for k in ("diff", "ci_low", "ci_high")}
    return out | {f"corrupt_error_pct_{n}": d["mean"] for n, d in st["error_pct"].items()}


def _robust_flat(row: dict[str, Any]) -> dict[str, Any]:
    """robust_<kind>_* CSV columns: n, accuracy % per level, nAUC (`auc_pct`: the normalised area under
    the accuracy-level curve), nAUC vs baseline (same levels per kind)."""
    out: dict[str, Any] = {}
    for kind, st in (row.get("robustness") or {}).items():
        pre, vs = f"robust_{kind}_", st["vs_baseline"] or {}
        out[f"{pre}n"] = st["n"]
        for level, d in zip(st["levels"], st["acc_pct"], strict=True):
            out |= {f"{pre}acc_pct_at_{level:g}_{k}": d[k] for k in ("mean", "std")}
        out |= {f"{pre}auc_pct_{k}": st["auc_pct"][k] for k in ("mean", "std", "ci_low", "ci_high")}
        out |= {f"{pre}auc_pct_{k}_vs_baseline": vs.get(k) for k in ("diff", "p", "d")}
    return out


def to_csv(report: Report) -> str:
    rows = [flat_row(r) for r in report.rows]
    # every row's columns, in first-seen order: a group measured under corruptions or noise that an
    # earlier group was not has columns of its own (blank in the others' rows)
    heads = list(dict.fromkeys(k for row in rows for k in row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=heads, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def to_json(report: Report) -> str:
    doc = {
        "options": dataclasses.asdict(report.options),
        "family": family(report.rows, report.options),  # what the decisions are corrected over
        "groups": report.rows,
        "learned": report.learned,
        "warnings": report.warnings,
    }
    if report.provenance is not None:
        doc["provenance"] = report.provenance
    if report.reference is not None:
        doc["reference"] = report.reference
    # the same sections as every rendered format, as display strings (the numbers above are the raw ones)
    doc["sections"] = [
        {"kind": type(b).__name__.lower(), **dataclasses.asdict(b)} for b in document(report).blocks
    ]
    return json.dumps(doc, indent=2, default=str) + "\n"


def to_markdown(report: Report) -> str:
    return render.markdown(document(report))


def to_latex(report: Report) -> str:
    return render.latex(document(report))


EXPORTERS = {"md": to_markdown, "csv": to_csv, "latex": to_latex, "json": to_json}
SUFFIXES = {".md": "md", ".csv": "csv", ".tex": "latex", ".json": "json"}


def render_report(report: Report, fmt: str = "table", console: Any = None, out: Path | None = None) -> None:
    """Print terminal tables (`table`) or an export to `console`, or write it to `out` (format from the
    suffix; a `table` written to a file is the terminal text without colour)."""
    if fmt == "table" and out is not None:
        fmt = SUFFIXES.get(Path(out).suffix.lower(), "table")
    text = EXPORTERS[fmt](report) if fmt in EXPORTERS else None
    if out is not None:
        try:
            Path(out).write_text(
                text if text is not None else render.plain_text(document(report)), encoding="utf-8"
            )
        except OSError as exc:
            raise ReportError(f"{out}: cannot write ({exc.strerror})") from None
        return
    if console is None:
        from rich.console import Console

        console = Console()
    if text is not None:  # exports go out verbatim: no markup, no wrapping
        console.print(text, markup=False, highlight=False, emoji=False, soft_wrap=True, end="")
        return
    for item in render.terminal(document(report, warnings=False), console.width):  # warnings: on stderr
        console.print(item)


# --- the HTML page: every section, the figures embedded, and the configuration and environment -----


def html_sections(report: Report) -> list[Block]:
    """What only the HTML page adds: the config keys that differ between groups, the software and devices
    the runs recorded, and the settings every group shares."""
    cfg_heads, cfg_rows, shared = config_differences(report.groups)
    blocks: list[Block] = []
    if cfg_rows:
        blocks.append(Table("config", "Config keys that differ between groups", cfg_heads, cfg_rows))
    blocks.append(Table("env", "Versions and devices recorded in env.json", *environments(report.groups)))
    rows = [[k, F.value(v)] for k, v in shared.items()]
    blocks.append(Table("shared", "Settings shared by every group", ["key", "value"], rows))
    return blocks


def html_document(report: Report, figures: list[Path], title: str = "actbench report") -> str:
    """The report as one HTML page; `figures`: PNG files to embed (their bytes go into the page)."""
    doc = document(report, [str(f) for f in figures], html_sections(report))
    doc.title = title
    doc.meta += f"; generated {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}"
    return render.html_page(doc)


def write_html(report: Report, path: Path, band: str = "minmax") -> list[str]:
    """Draw the report figures (in a temporary folder), write the page to `path`; returns warnings."""
    from actbench.report.figures import write_figures  # matplotlib only when a page is asked for

    with tempfile.TemporaryDirectory(prefix="actbench-html-") as tmp:
        files, warnings = write_figures(report, Path(tmp), band)
        text = html_document(report, files, f"actbench report: {_folder(report)}")
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"{path}: cannot write ({exc.strerror})") from None
    return [w for w in warnings if "no epoch records" not in w]


def _folder(report: Report) -> str:
    """The folder holding all the runs (for the page title)."""
    paths = [str(r.path.resolve()) for g in report.groups for r in g.runs]
    return Path(os.path.commonpath(paths)).name if paths else "no runs"
