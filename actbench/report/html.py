"""`actbench report PATH --html FILE`: the whole report as one self-contained HTML page.

Tables (the same cells as the terminal and Markdown tables), the report figures embedded as base64 PNG
data URIs, the config keys that differ between groups (and the settings they share), the software
versions and devices the runs recorded in env.json, and the warnings. Inline CSS only: no scripts, no
fonts, no external URL, so the file reads the same offline, attached to an e-mail or in an archive.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from actbench import runs as R
from actbench.config import SYNTHETIC_ONLY
from actbench.report.comparison_tables import VERDICT_TITLE, comparison_table, decision_table, verdict_lines
from actbench.report.groups import Group, ReportError
from actbench.report.model import Report
from actbench.report.tables import (
    COST_HEADS,
    _columns,
    _titles,
    learned_cells,
    robustness_cells,
    robustness_kinds,
    robustness_title,
    summary_table,
)

ENV_KEYS = (
    "actbench",
    "git_commit",
    "python",
    "torch",
    "torchvision",
    "cuda",
    "device",
    "device_name",
    "host",
)
CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 78em; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
caption { text-align: left; font-weight: 600; padding-bottom: 0.4em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; vertical-align: top; }
th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; white-space: nowrap; }
figure { margin: 1em 0 2em; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; }
.warn { color: #8a5300; } .meta { color: #555; font-size: 0.9em; }
.scroll { overflow-x: auto; }
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def html_table(caption: str, heads: list[str], rows: list[list[str]], table_id: str = "") -> str:
    """One <table> with a caption; every cell escaped (group labels may hold <, & or quotes)."""
    ident = f' id="{_e(table_id)}"' if table_id else ""
    head = "".join(f"<th>{_e(h)}</th>" for h in heads)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return (
        f'<div class="scroll"><table{ident}><caption>{_e(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    return "[" + ", ".join(map(str, value)) + "]" if isinstance(value, tuple) else str(value)


def config_differences(groups: list[Group]) -> tuple[list[str], list[list[str]], dict[str, Any]]:
    """Config keys whose value is not the same in every group (rows: key, one value per group), and the
    settings every group shares."""
    missing = object()
    synthetic = any(str(g.flat.get("data.name", "")).startswith("synthetic") for g in groups)
    inert = () if synthetic else SYNTHETIC_ONLY  # e.g. data.noise says nothing about folder data
    keys = sorted({k for g in groups for k in g.flat} - set(inert))
    differ = [k for k in keys if len({repr(g.flat.get(k, missing)) for g in groups}) > 1]
    shared = {k: groups[0].flat[k] for k in keys if k not in differ and k in groups[0].flat}
    rows = [[k, *(_fmt(g.flat.get(k)) for g in groups)] for k in differ]
    return ["key", *(g.label for g in groups)], rows, shared


def environments(groups: list[Group]) -> tuple[list[str], list[list[str]]]:
    """Distinct software/device combinations in the runs' env.json, with how many runs used each."""
    counts: dict[tuple[str, ...], int] = {}
    for run in (r for g in groups for r in g.runs):
        try:
            env = json.loads((run.path / R.ENV).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            env = {}
        env = env if isinstance(env, dict) else {}
        combo = tuple(_fmt(env.get(k)) for k in ENV_KEYS)
        counts[combo] = counts.get(combo, 0) + 1
    return ["runs", *ENV_KEYS], [[str(n), *combo] for combo, n in counts.items()]


def _figure(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    name = path.stem.replace("_", " ")
    return (
        f'<figure><img alt="{_e(name)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{_e(path.name)}</figcaption></figure>"
    )


def html_document(report: Report, figures: list[Path], title: str = "actbench report") -> str:
    """The report as one HTML page; `figures`: PNG files to embed (their bytes go into the page)."""
    o = report.options
    results, learned = _titles(report)
    heads, rows = summary_table(report)
    parts = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">{len(report.rows)} groups, '
        f"{sum(len(g.runs) for g in report.groups)} runs; baseline {_e(o.baseline)}, metric "
        f"{_e(o.metric)}; generated {_e(dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds'))}"
        "</p>",
    ]
    if report.warnings:
        items = "".join(f"<li>{_e(w)}</li>" for w in report.warnings)
        parts.append(f'<h2>Warnings</h2><ul class="warn">{items}</ul>')
    parts.append("<h2>Results</h2>")
    parts.append(html_table(results, *_columns(heads, rows, lambda h: h not in COST_HEADS), "results"))
    parts.append(
        html_table(
            "Cost (steady epoch seconds, training images/s, peak memory)",
            *_columns(heads, rows, lambda h: h in COST_HEADS),
            "cost",
        )
    )
    for table, ident in ((decision_table(report), "decisions"), (comparison_table(report), "per-image")):
        if table:
            parts.append(html_table(*table, ident))
    if verdicts := verdict_lines(report):
        items = "".join(f"<li>{_e(v)}</li>" for v in verdicts)
        parts.append(f'<h2>Verdicts</h2><p>{_e(VERDICT_TITLE)}</p><ul id="verdicts">{items}</ul>')
    if report.learned["columns"]:
        parts.append(html_table(learned, *learned_cells(report), "learned"))
    for kind in robustness_kinds(report):
        parts.append(
            html_table(robustness_title(report, kind), *robustness_cells(report, kind), f"robust-{kind}")
        )
    if figures:
        parts.append("<h2>Figures</h2>" + "".join(_figure(f) for f in figures))
    cfg_heads, cfg_rows, shared = config_differences(report.groups)
    parts.append("<h2>Configuration</h2>")
    if cfg_rows:
        parts.append(html_table("Config keys that differ between groups", cfg_heads, cfg_rows, "config"))
    parts.append("<h2>Software and devices</h2>")
    parts.append(html_table("Versions and devices recorded in env.json", *environments(report.groups), "env"))
    parts.append("<h2>Shared settings</h2>")
    parts.append(
        html_table(
            "Settings shared by every group",
            ["key", "value"],
            [[k, _fmt(v)] for k, v in shared.items()],
            "shared",
        )
    )
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


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
