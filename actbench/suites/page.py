"""The suite report drawn: its sections as a `Document` for the report's renderers (terminal, Markdown,
one HTML page with the critical-difference diagram) and its CSV and JSON exports. `report` builds the
numbers (`build_suite_report`); this module only lays them out.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actbench.errors import not_allowed
from actbench.report import fmt as F
from actbench.report import render
from actbench.report.groups import ReportError
from actbench.report.model import Block, Document, Figures, Items, Table, Text
from actbench.stats.ranks import MIN_TASKS
from actbench.suites.cd_diagram import cd_diagram
from actbench.suites.completeness import incomplete_lines

FORMATS = ("table", "md", "csv", "json")


def _per_task(rep: dict[str, Any], cell: Callable[[dict[str, Any]], str | None]) -> list[list[str]]:
    """Rows: method; columns: one cell per task from the method's row there (None or no row: "—");
    methods with no cell in any task are left out."""
    rows = []
    for m in sorted({m for t in rep["tasks"] for m in rep["per_task"][t]}):
        cells = [None if (r := rep["per_task"][t].get(m)) is None else cell(r) for t in rep["tasks"]]
        if any(c is not None for c in cells):
            rows.append([m, *(F.NONE if c is None else c for c in cells)])
    return rows


def task_table(rep: dict[str, Any]) -> Table:
    """Rows: method; columns: per task, mean accuracy % and the decision vs the baseline."""

    def cell(r: dict[str, Any]) -> str:
        base = r["activation"] == rep["baseline"]
        verdict = "baseline" if base else (r["decision"] or F.NONE)
        one_df = ", 1 df" if r.get("df") == 1 and not base else ""
        return f"{F.num(r['acc_mean'], '.2f')} (n={r['n']}, {verdict}{one_df})"

    when = F.endpoint(rep["metric"]) + ", the primary endpoint: it decides each task and ranks the methods"
    title = (
        f"Suite {rep['suite']}: test accuracy % per task ({when}; mean over seeds; decision vs "
        f"{rep['baseline']}: paired t over matched seeds, Holm over all {rep['family']} comparisons of the "
        "suite, see actbench report)"
    )
    return Table("tasks", title, ["method", *rep["tasks"]], _per_task(rep, cell))


def decision_table(rep: dict[str, Any]) -> Table:
    """Rows: method but the baseline; per task, the difference from the baseline in accuracy points with
    its 95% interval and p(Holm): the numbers behind each task's decision."""

    def cell(r: dict[str, Any]) -> str | None:
        if r["activation"] == rep["baseline"] or r["diff"] is None:
            return None
        one_df = ", 1 df" if r.get("df") == 1 else ""
        p_holm = F.num(r["decision_p_holm"], ".2g")
        return f"{r['diff']:+.2f}{F.bracket(r['decision_ci'])}, p(Holm) = {p_holm}{one_df}"

    title = (
        f"Per task, Δacc vs {rep['baseline']} in points [95% interval over seeds], p(Holm) over the "
        f"suite's {rep['family']} comparisons (the numbers behind each decision; better/worse: p(Holm) < "
        "0.05 and an interval that excludes 0; 1 df: two seed pairs)"
    )
    return Table("deltas", title, ["method", *rep["tasks"]], _per_task(rep, cell))


def rank_table(rep: dict[str, Any]) -> Table:
    """Rows: ranked methods by mean rank; in how many tasks the decision vs the baseline is better /
    inconclusive / worse."""
    s = rep["summary"] or {"mean_ranks": {}}
    heads = ["method", "mean rank", f"better / inconclusive / worse vs {rep['baseline']}"]
    rows = []
    for m in sorted(s["mean_ranks"], key=s["mean_ranks"].get):
        w = rep["decision_counts"].get(m)
        own = {r["activation"] for t in rep["tasks"] if (r := rep["per_task"][t].get(m))}
        counts = " / ".join(str(w[k]) for k in ("better", "inconclusive", "worse")) if w else F.NONE
        counts = "baseline" if not w and own == {rep["baseline"]} else counts
        rows.append([m, f"{s['mean_ranks'][m]:.2f}", counts])
    title = (
        "Across tasks (rank 1 = best accuracy in a task; Demšar 2006; better / inconclusive / worse: the "
        "number of tasks with each decision; inconclusive: no difference established, which does not "
        "mean equal)"
    )
    return Table("ranks", title, heads, rows)


def summary_line(rep: dict[str, Any]) -> str:
    s = rep["summary"]
    if rep.get("withheld"):
        return (
            "No cross-task verdict: the suite is unfinished ("
            + "; ".join(incomplete_lines(rep["incomplete"]))
            + ")."
        )
    if not s:
        return "No cross-task ranking (fewer than 2 methods in every task)."
    if not s["significance"]:
        return (
            f"{s['tasks']} tasks, {len(s['methods'])} methods: mean ranks only. With fewer than {MIN_TASKS} "
            "tasks no significance test across tasks is made (autorank's convention: Friedman's test and "
            "the Nemenyi critical difference need more tasks to mean anything)."
        )
    f = s["friedman"]
    iman = (
        f"F = {F.num(f['f'], '.2f')}, p = {F.num(f['f_p'], '.3g')}"
        if f.get("f_note") is None
        else f["f_note"]
    )
    cliques = "; ".join(", ".join(c) for c in s["cliques"]) or "none"
    return (
        f"{s['tasks']} tasks, {len(s['methods'])} methods: Friedman chi2 = {F.num(f['chi2'], '.2f')} "
        f"(df {f['df']}), p = {F.num(f['p'], '.3g')}; Iman-Davenport {iman}; Nemenyi critical difference "
        f"{F.num(s['critical_difference'], '.2f')} of mean rank at α = {s['alpha']} "
        f"(groups not told apart: {cliques})"
    )


def suite_document(rep: dict[str, Any], figure: str | None = None, warnings: bool = True) -> Document:
    """The suite report's sections, in order; `figure`: the CD diagram's path (Markdown: relative to the
    page; HTML: the file to embed); `warnings`: end with them (off where the caller prints them)."""
    blocks: list[Block] = [task_table(rep), decision_table(rep), rank_table(rep)]
    blocks.append(Text("friedman", summary_line(rep)))
    figure = figure or rep.get("figure")
    if figure:
        blocks.append(Figures("cd", "Critical-difference diagram", [figure]))
    if warnings and rep["warnings"]:
        blocks.append(Items("warnings", "Warnings", list(rep["warnings"])))
    return Document(f"actbench suite {rep['suite']} vs {rep['baseline']}", blocks)


def to_csv(rep: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["task", "method", "activation", "n", "acc_mean", "acc_std", "decision", "decision_p_holm"])
    for t in rep["tasks"]:
        for m, r in rep["per_task"][t].items():
            w.writerow([t, m, r["activation"], r["n"], r["acc_mean"], r["acc_std"], r["decision"],
                        r["decision_p_holm"]])  # fmt: skip
    return buf.getvalue()


def to_json(rep: dict[str, Any]) -> str:
    s = rep["summary"] or {}
    doc = {
        **{k: rep[k] for k in ("suite", "baseline", "metric", "family", "tasks", "per_task")},
        "decision_counts": rep["decision_counts"],
        "warnings": rep["warnings"],
        "incomplete": rep["incomplete"],
        "verdict_withheld": rep["withheld"],
        "mean_ranks": s.get("mean_ranks"),
        "friedman": s.get("friedman"),
        "critical_difference": s.get("critical_difference"),
        "cliques": s.get("cliques"),
        "significance": s.get("significance"),
    }
    return json.dumps(doc, indent=2, default=str) + "\n"


SUFFIXES = {".md": "md", ".csv": "csv", ".json": "json"}


def written_format(fmt: str, out: str | Path | None) -> str:
    """The format a report is written in: `fmt`, or for `table` into a file the one its suffix names."""
    if fmt == "table" and out is not None:
        return SUFFIXES.get(Path(out).suffix.lower(), "table")
    return fmt


def render_text(rep: dict[str, Any], fmt: str) -> str:
    """The export `fmt` (md | csv | json), or `table` as the terminal's text without colour."""
    if fmt not in FORMATS:
        raise not_allowed("--format", fmt, FORMATS, cls=ReportError)
    if fmt == "table":
        return render.plain_text(suite_document(rep))
    return {"md": lambda r: render.markdown(suite_document(r)), "csv": to_csv, "json": to_json}[fmt](rep)


def write_html(rep: dict[str, Any], path: Path) -> None:
    """One self-contained page: the same sections as the Markdown, the CD diagram embedded."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="actbench-suite-") as tmp:
        png = cd_diagram(rep, Path(tmp) / "cd.png")
        doc = suite_document(rep, str(png) if png is not None else "")
        if png is None:
            doc.blocks = [b for b in doc.blocks if b.id != "cd"]
        text = render.html_page(doc)
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"{path}: cannot write ({exc.strerror})") from None
