"""`actbench suite report`: the activations compared per task (each task's own report: decisions with
the training run as the unit) and across tasks (mean ranks, Friedman, Nemenyi critical difference,
wins / ties / losses vs the baseline), as a `Document` drawn by the report's renderers (terminal,
Markdown, one HTML page with the critical-difference diagram) or exported as CSV and JSON.

A task is a sweep folder (it holds sweep.yaml) directly under the suite folder. Across tasks a method is
a report group label (the activation, for the usual sweep over `--acts`); only methods present in every
task are ranked (the Friedman test needs a complete table); the others are named in a warning.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from actbench import runs
from actbench.errors import not_allowed
from actbench.report import fmt as F
from actbench.report import render
from actbench.report.build import build_report, page_link, report_options
from actbench.report.groups import ReportError, act_name
from actbench.report.model import METRICS, Block, Document, Figures, Items, Table, Text
from actbench.stats.decisions import decide_family
from actbench.stats.ranks import MIN_TASKS, suite_summary
from actbench.suites.cd_diagram import cd_diagram
from actbench.suites.completeness import incomplete, incomplete_lines
from actbench.sweep.plan import MANIFEST

FORMATS = ("table", "md", "csv", "json")


def task_dirs(root: Path) -> list[Path]:
    """The task sweeps of a suite folder, in name order; ReportError when there are none."""
    root = Path(root)
    if not root.is_dir():
        raise ReportError(f"{root}: not a folder (a suite folder made by `actbench suite run`)")
    tasks = sorted(d for d in root.iterdir() if (d / MANIFEST).is_file())
    if not tasks:
        raise ReportError(f"{root}: no task sweeps in it (folders with {MANIFEST})")
    return tasks


def _task_rows(task: Path, baseline: str, metric: str, boot: int) -> tuple[dict[str, Any], list[str]]:
    # a task without the baseline has no decisions (a warning); the suite refuses a baseline in no task
    options = report_options(baseline=baseline, metric=metric, tests="welch,power", bootstrap=boot)
    report = build_report([task], dataclasses.replace(options, explicit_baseline=False))
    rows = {}
    for r in report.rows:
        acc = r["test_acc_pct"]
        rows[r["group"]] = {
            "activation": r["activation"],
            "n": r["n"],
            "acc_mean": acc["mean"],
            "acc_std": acc["std"],
            "decision": r["decision"],
            "decision_p": r["decision_p"],
            "decision_p_holm": r["decision_p_holm"],
            "decision_ci": r["decision_ci"],
            "diff": ((r.get("endpoints") or {}).get(metric) or {}).get("diff"),
            "df": ((r.get("endpoints") or {}).get(metric) or {}).get("df"),
        }
    return rows, [f"{task.name}: {w}" for w in report.warnings]


def _one_family(per_task: dict[str, dict[str, Any]]) -> int:
    """Holm over every decision the suite page prints (all tasks' comparisons with the baseline, not each
    task's apart), then each one's better / worse / inconclusive; returns the family size."""
    rows = [r for t in per_task for r in per_task[t].values() if r["decision"] is not None]
    family = [{"diff": r["diff"], "ci": r["decision_ci"], "p": r["decision_p"]} for r in rows]
    m = decide_family(family)
    for r, d in zip(rows, family, strict=True):
        r["decision_p_holm"], r["decision"] = d["p_holm"], d["decision"]
    return m


def _ranked(per_task: dict[str, dict[str, Any]]) -> tuple[list[str], dict[str, Any] | None]:
    """The methods with a result in every task, and their cross-task summary (None below 2 methods)."""
    tasks = list(per_task)
    everywhere = [m for m in per_task[tasks[0]] if all(m in per_task[t] for t in tasks)]
    methods = [m for m in everywhere if all(per_task[t][m]["acc_mean"] is not None for t in tasks)]
    if len(methods) < 2:
        return methods, None
    scores = np.array([[per_task[t][m]["acc_mean"] for m in methods] for t in tasks])
    return methods, suite_summary(scores, methods)


def _endpoint_note(s: dict[str, Any], alt: dict[str, Any] | None, metric: str) -> str | None:
    """A warning when the cross-task result at the other endpoint differs: the order of mean ranks, or
    (with enough tasks for a verdict) whether Friedman's p is below alpha."""
    if alt is None:
        return None
    order = lambda x: sorted(x["mean_ranks"], key=lambda m: (x["mean_ranks"][m], m))  # noqa: E731
    other = "best-validation epoch" if metric == "last" else "final epoch"
    parts = []
    if order(s) != order(alt):
        ranks = ", ".join(f"{m} {alt['mean_ranks'][m]:.2f}" for m in order(alt))
        parts.append(f"the mean ranks are {ranks}")
    below = lambda x: (x["friedman"].get("p") or 1.0) < x["alpha"]  # noqa: E731
    if s["significance"] and below(s) != below(alt):
        parts.append(f"Friedman p = {alt['friedman']['p']:.3g}")
    if not parts:
        return None
    head = f"the cross-task result depends on the endpoint: at the {other} (not the primary one) "
    return head + "; ".join(parts)


def build_suite_report(
    root: Path,
    baseline: str = "relu",
    metric: str = "last",
    bootstrap: int = 1000,
    allow_incomplete: bool = False,
) -> dict[str, Any]:
    """Everything the suite report shows, as plain data (accuracy in %). The methods are ranked at
    `metric`, the primary endpoint; the other endpoint is only checked for a different result. While
    planned runs or tasks are missing there is no cross-task verdict (ranks, Friedman, wins), unless
    `allow_incomplete`."""
    baseline = act_name(baseline)  # as each task's report reads it (aliases: exp -> exponential)
    per_task, other_task, warnings = {}, {}, []
    other = next(m for m in METRICS if m != metric)
    dirs = task_dirs(root)
    missing = incomplete(root, dirs)
    warnings += incomplete_lines(missing)
    warnings += [
        f"task {t}: skipped by `suite run` ({why}), not in this report"
        for t, why in missing["skipped"].items()
    ]
    for task in dirs:
        per_task[task.name], more = _task_rows(task, baseline, metric, bootstrap)
        other_task[task.name], _ = _task_rows(task, baseline, other, 0)
        warnings += more
    tasks = list(per_task)
    present = sorted({r["activation"] for t in tasks for r in per_task[t].values()})
    if baseline not in present:
        here = ", ".join(present)
        raise ReportError(f"--baseline {baseline}: no runs of that activation in any task ({here})")
    family = _one_family(per_task)
    methods, summary = _ranked(per_task)
    partial = sorted({m for t in tasks for m in per_task[t]} - set(methods))
    if partial:
        warnings.append(f"not in every task (or without a result), so not ranked: {', '.join(partial)}")
    if any(r["df"] == 1 for t in tasks for r in per_task[t].values()):
        warnings.append(
            "decisions marked 1 df rest on two seed pairs: a 95% t-interval with one degree of freedom "
            "reaches 12.7 standard errors either side of the mean, so only near-identical differences pass"
        )
    out: dict[str, Any] = {
        "suite": Path(root).name,
        "baseline": baseline,
        "metric": metric,
        "family": family,  # decisions Holm-adjusted together, over every task
        "tasks": tasks,
        "per_task": per_task,
        "methods": methods,
        "wins": _wins(per_task, methods, baseline),
        "summary": summary,
        "warnings": warnings,
        "incomplete": missing,
        "withheld": bool(missing["tasks"] or missing["runs"]) and not allow_incomplete,
    }
    if out["withheld"]:
        out["wins"], out["summary"] = {}, None
        warnings.append(
            "the suite is unfinished: no cross-task verdict (run `actbench suite run` again to finish it, "
            "or --allow-incomplete to rank what is there)"
        )
    elif summary is None:
        warnings.append("fewer than 2 methods in every task: no ranking")
    elif note := _endpoint_note(summary, _ranked(other_task)[1], metric):
        warnings.append(note)
    return out


def _wins(per_task: dict[str, dict[str, Any]], methods: list[str], baseline: str) -> dict[str, Any]:
    """Per method: tasks where its decision vs the baseline is better (win), inconclusive (tie), worse."""
    out = {}
    for m in methods:
        decisions = [per_task[t][m]["decision"] for t in per_task]
        if all(d is None for d in decisions):
            continue  # the baseline itself, or no baseline in the tasks
        out[m] = {k: sum(d == v for d in decisions) for k, v in (("win", "better"), ("tie", "inconclusive"),
                                                                  ("loss", "worse"))}  # fmt: skip
    return out


# --- the document: the same renderers as `actbench report` (report.render) ------------------------


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
    """Rows: ranked methods by mean rank; win / tie / loss vs the baseline over tasks."""
    s = rep["summary"] or {"mean_ranks": {}}
    heads = ["method", "mean rank", f"win / tie / loss vs {rep['baseline']}"]
    rows = []
    for m in sorted(s["mean_ranks"], key=s["mean_ranks"].get):
        w = rep["wins"].get(m)
        own = {r["activation"] for t in rep["tasks"] if (r := rep["per_task"][t].get(m))}
        wtl = f"{w['win']} / {w['tie']} / {w['loss']}" if w else F.NONE
        wtl = "baseline" if not w and own == {rep["baseline"]} else wtl
        rows.append([m, f"{s['mean_ranks'][m]:.2f}", wtl])
    return Table("ranks", "Across tasks (rank 1 = best accuracy in a task; Demšar 2006)", heads, rows)


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
        **{k: rep[k] for k in ("suite", "baseline", "metric", "family", "tasks", "per_task", "wins")},
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


def render_text(rep: dict[str, Any], fmt: str) -> str:
    """The export `fmt` (md | csv | json), or `table` as the terminal's text without colour."""
    if fmt not in FORMATS:
        raise not_allowed("--format", fmt, FORMATS, cls=ReportError)
    if fmt == "table":
        return render.plain_text(suite_document(rep))
    return {"md": lambda r: render.markdown(suite_document(r)), "csv": to_csv, "json": to_json}[fmt](rep)


def suite_report_main(
    root: Path,
    baseline: str = "relu",
    metric: str = "last",
    fmt: str = "table",
    out: Path | None = None,
    html_path: Path | None = None,
    plot: Path | None = None,
    allow_incomplete: bool = False,
) -> tuple[str | None, dict[str, Any]]:
    """`actbench suite report`: build, draw the CD diagram to `plot` (a Markdown export links it,
    relative to `out`), write the HTML page and the export; returns (export text, report). The text is
    None for the terminal (`table` without `out`): draw `suite_document(rep)` with report.render."""
    if metric not in METRICS:
        raise not_allowed("--metric", metric, METRICS, cls=ReportError)
    task_dirs(root)  # a wrong folder is the first thing to say
    if fmt not in FORMATS:
        raise not_allowed("--format", fmt, FORMATS, cls=ReportError)
    outputs = [(plot, "--plot", runs.FIGURE_SUFFIXES), (out, "--out", ()), (html_path, "--html", ())]
    for path, option, suffixes in outputs:  # every file it writes, checked before the work
        if path is not None:
            try:
                runs.check_output(Path(path), option, suffixes)
            except runs.RunError as exc:
                raise ReportError(str(exc)) from None
    rep = build_suite_report(root, baseline, metric, allow_incomplete=allow_incomplete)
    if plot is not None:
        try:
            Path(plot).parent.mkdir(parents=True, exist_ok=True)
            drawn = cd_diagram(rep, Path(plot))
        except OSError as exc:
            raise ReportError(f"{plot}: cannot write ({exc.strerror})") from None
        if drawn is not None:
            rep["figure"] = page_link(plot, out)
        else:
            note = f"--plot {plot}: no critical-difference diagram without a cross-task verdict"
            rep["warnings"].append(note)
    if fmt == "table" and out is not None:
        fmt = SUFFIXES.get(Path(out).suffix.lower(), "table")
    text = None if fmt == "table" and out is None else render_text(rep, fmt)  # None: the terminal's tables
    if html_path is not None:
        write_html(rep, html_path)
    if out is not None:
        assert text is not None  # only the terminal (no `out`) gets no text
        try:
            Path(out).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ReportError(f"{out}: cannot write ({exc.strerror})") from None
    return text, rep


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
