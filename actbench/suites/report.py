"""`actbench suite report`: the activations compared per task (each task's own report: decisions with
the training run as the unit) and across tasks (mean ranks, Friedman, Nemenyi critical difference, and
per method how many tasks' decisions vs the baseline are better / inconclusive / worse), built here as
numbers; `page` lays them out as a `Document` for the report's renderers (terminal, Markdown, one HTML
page with the critical-difference diagram) and as CSV and JSON.

A task is a sweep folder (it holds sweep.yaml) directly under the suite folder. Across tasks a method is
a report group label (the activation, for the usual sweep over `--acts`); only methods present in every
task are ranked (the Friedman test needs a complete table); the others are named in a warning.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from actbench import runs
from actbench.errors import not_allowed
from actbench.report.build import build_report, page_link, report_options
from actbench.report.groups import ReportError, act_name
from actbench.report.model import METRICS
from actbench.stats.decisions import decide_family
from actbench.stats.ranks import suite_summary
from actbench.suites.cd_diagram import cd_diagram
from actbench.suites.completeness import incomplete, incomplete_lines
from actbench.suites.page import FORMATS, render_text, write_html, written_format
from actbench.sweep.plan import MANIFEST


def task_dirs(root: Path) -> list[Path]:
    """The task sweeps of a suite folder, in name order; ReportError when there are none."""
    root = Path(root)
    if not root.is_dir():
        raise ReportError(f"{root}: not a folder (a suite folder made by `actbench suite run`)")
    tasks = sorted(d for d in root.iterdir() if (d / MANIFEST).is_file())
    if not tasks:
        raise ReportError(f"{root}: no task sweeps in it (folders with {MANIFEST})")
    return tasks


def _has_runs(task: Path) -> bool:
    return any(runs.is_run_dir(Path(d)) for d, _, _ in os.walk(task))


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
    planned runs or tasks are missing there is no cross-task verdict (ranks, Friedman, decision counts),
    unless `allow_incomplete`."""
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
    # a task whose planned runs never started (sweep.yaml only) has nothing to report: its runs are listed
    # as missing, and it is left out as a task not started is (unless no task has runs: the error says so)
    dirs = [t for t in dirs if t.name not in missing["runs"] or _has_runs(t)] or dirs
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
        "decision_counts": _decision_counts(per_task, methods),
        "summary": summary,
        "warnings": warnings,
        "incomplete": missing,
        "withheld": bool(missing["tasks"] or missing["runs"]) and not allow_incomplete,
    }
    if out["withheld"]:
        out["decision_counts"], out["summary"] = {}, None
        warnings.append(
            "the suite is unfinished: no cross-task verdict (run `actbench suite run` again to finish it, "
            "or --allow-incomplete to rank what is there)"
        )
    elif summary is None:
        warnings.append("fewer than 2 methods in every task: no ranking")
    elif note := _endpoint_note(summary, _ranked(other_task)[1], metric):
        warnings.append(note)
    return out


DECISIONS = ("better", "inconclusive", "worse")


def _decision_counts(per_task: dict[str, dict[str, Any]], methods: list[str]) -> dict[str, Any]:
    """Per method: in how many tasks its decision vs the baseline is better, inconclusive, worse (the
    decision words of every report: inconclusive is no difference established, not a tie)."""
    out = {}
    for m in methods:
        decisions = [per_task[t][m]["decision"] for t in per_task]
        if all(d is None for d in decisions):
            continue  # the baseline itself, or no baseline in the tasks
        out[m] = {word: sum(d == word for d in decisions) for word in DECISIONS}
    return out


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
    fmt = written_format(fmt, out)
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
