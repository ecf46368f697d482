"""`actbench report`: summarise the groups of seeds found in run folders into tables and exports.

Runs are found, loaded and grouped by `report.groups`; statistics come from `stats.summary`, the
robustness section from `actbench.report.robustness`. Computation returns plain dicts/lists; report.sections
makes the document, report.render and report.exports draw and write it. Accuracies are in percent from
here on (run folders store fractions); losses are mean cross-entropy per image.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from actbench import runs as R
from actbench.activations import RATIONAL_A_MIN, saturation_level
from actbench.errors import not_allowed
from actbench.report.comparisons import comparison_row, finish, parse_tests
from actbench.report.corruptions import corruption_row, corruption_warnings
from actbench.report.exports import render_report
from actbench.report.groups import (
    Group,
    ReportError,
    Run,
    act_name,
    as_dict,
    drop_duplicates,
    filter_runs,
    find_baseline,
    group_runs,
    load_runs,
)
from actbench.report.model import (
    BOOTSTRAP,
    FORMATS,
    METRICS,
    PAPER,
    PAPER_LEARNED,
    PAPER_ORDER,
    SORTS,
    TESTS,
    Report,
    ReportOptions,
    layer_key,
)
from actbench.report.provenance import provenance
from actbench.report.reference import data_mismatch, reference_label, reference_rows
from actbench.report.robustness import robustness_row, robustness_warnings
from actbench.stats.summary import compare, describe, finite_mean
from actbench.timing import finite, robust, steady

# --- one row per group ------------------------------------------------------------------------------


def run_result(run: Run, metric: str) -> dict[str, Any] | None:
    """Test accuracy (%), loss and epoch of a completed run at `metric` (last | best), if recorded."""
    part = run.summary.get(metric)
    if not isinstance(part, dict):
        return None
    try:
        acc, loss = float(part["test_acc"]), float(part["test_loss"])
    except (TypeError, KeyError, ValueError):
        return None
    if not (math.isfinite(acc) and math.isfinite(loss)):
        return None
    return {"acc": 100 * acc, "loss": loss, "epoch": part.get("epoch")}


def steady_epoch_times(run: Run) -> list[float]:
    """A run's steady epoch seconds (epoch 1 is warm-up): metrics.jsonl, else summary.json's epoch_times;
    an old or foreign summary with only an aggregate `timing.steady_epoch_s` gives that one value."""
    for times in ([r.get("epoch_time_s") for r in run.records], run.summary.get("epoch_times") or []):
        nums = finite(times)
        if nums and len(nums) == len(times):  # every epoch timed: a partial list would skew the median
            return steady(nums)
    return finite([as_dict(run.summary.get("timing")).get("steady_epoch_s")])


def timing_stats(runs: list[Run]) -> dict[str, Any]:
    """Median and min-max of the steady epoch seconds of all the runs' epochs together, median images/s
    of those epochs, largest peak memory of the runs (robust: one slow epoch hardly moves a median)."""
    per_run = [steady_epoch_times(run) for run in runs]
    epoch_s = robust(t for times in per_run for t in times)
    # per run: the runs of one group train the same network with the same settings, so how far their
    # medians differ measures the machine (its load while each ran), not the unit (report.sections)
    run_medians = [m for m in (robust(times)["median"] for times in per_run) if m is not None]
    ips = robust(x for run in runs for x in steady([r.get("images_per_s") for r in run.records]))
    mems = [as_dict(run.summary.get("peak_memory")) for run in runs]
    mems = [m for m in mems if finite_mean([m.get("bytes")]) is not None]
    return {
        "parameters": finite_mean([run.summary.get("parameters") for run in runs]),
        "macs_per_image": finite_mean([run.summary.get("macs_per_image") for run in runs]),
        "steady_epoch_s": epoch_s["median"],
        "steady_epoch_min_s": epoch_s["min"],
        "steady_epoch_max_s": epoch_s["max"],
        "run_median_epoch_s": run_medians,
        "images_per_s": ips["median"],
        "peak_memory_bytes": max((m["bytes"] for m in mems), default=None),
        "peak_memory_kind": "/".join(sorted({str(m.get("kind")) for m in mems})) or None,
    }


def learned_stats(runs: list[Run]) -> dict[str, dict[str, dict[str, Any]]]:
    """{layer: {param: describe(per-run values)}}; channel-shared values are averaged over channels first."""
    per: dict[str, dict[str, list[float]]] = {}
    for run in runs:
        for layer, params in as_dict(run.summary.get("learned")).items():
            for name, values in as_dict(params).items():
                value = finite_mean(values if isinstance(values, list) else [values])
                if value is not None:
                    per.setdefault(layer, {}).setdefault(name, []).append(value)
    return {layer: {n: describe(v) for n, v in params.items()} for layer, params in per.items()}


def saturation_stats(runs: list[Run], activation: str, a_min: float) -> dict[str, dict[str, Any]]:
    """{layer: describe(per-run k)} for Rational/Exponential: each run's negative saturation level k
    (activations.saturation_level; channel-shared: the mean over channels of each channel's k); {} else."""
    per: dict[str, list[float]] = {}
    for run in runs:
        for layer, params in as_dict(run.summary.get("learned")).items():
            values = as_dict(params).get("a")
            ks = [saturation_level(activation, float(a), a_min) for a in as_list(values)]
            k = finite_mean([x for x in ks if x is not None])
            if k is not None:
                per.setdefault(layer, []).append(k)
    return {layer: describe(v) for layer, v in per.items()}


def as_list(values: Any) -> list[float]:
    """A learned value as summary.json holds it (a list per channel, or one number) -> finite numbers."""
    items = values if isinstance(values, list) else [values]
    return [float(x) for x in items if isinstance(x, int | float) and math.isfinite(x)]


def _excluded(group: Group, n_used: int) -> dict[str, int]:
    """Runs left out of the statistics, by reason: failed, interrupted, running, unknown, no result."""
    other = [r.status for r in group.runs if r.status != R.COMPLETED]
    other += ["no result"] * (len(group.completed) - n_used)
    return {s: other.count(s) for s in sorted(set(other))}


def _vs_baseline(
    acc: list[float], loss: list[float], base: Group | None, metric: str
) -> dict[str, Any] | None:
    if base is None:
        return None
    results = [x for x in (run_result(r, metric) for r in base.completed) if x]
    return {
        "acc_pct": compare(acc, [x["acc"] for x in results]),
        "loss": compare(loss, [x["loss"] for x in results]),
    }


def _run_entry(run: Run, result: dict[str, Any] | None) -> dict[str, Any]:
    return {"path": str(run.path), "seed": run.flat.get("train.seed"), "status": run.status, **(result or {})}


def group_row(group: Group, groups: list[Group], opts: ReportOptions) -> dict[str, Any]:
    """Everything reported about one group, as plain data (accuracy in %)."""
    results = {id(r): res for r in group.completed if (res := run_result(r, opts.metric))}
    used = [r for r in group.completed if id(r) in results]
    acc, loss = [results[id(r)]["acc"] for r in used], [results[id(r)]["loss"] for r in used]
    base = find_baseline(group, groups, opts.baseline)
    paper = PAPER.get(opts.paper or "", {}).get(group.activation)
    return {
        "group": group.label,
        "activation": group.activation,
        "n": len(used),
        "excluded": _excluded(group, len(used)),
        "test_acc_pct": describe(acc),
        "test_loss": describe(loss),
        "epoch": finite_mean([results[id(r)]["epoch"] for r in used]),
        "baseline": base.label if base else None,
        "vs_baseline": _vs_baseline(acc, loss, base, opts.metric),
        "timing": timing_stats(used),
        "learned": learned_stats(used),
        "saturation": saturation_stats(
            used, group.activation, float(group.flat.get("activation.params.a_min", RATIONAL_A_MIN))
        ),
        "init": group.flat.get("activation.init"),
        "paper": {"test_loss": paper[0], "test_acc_pct": paper[1]} if paper else None,
        "robustness": robustness_row(used, base, groups),
        "corruptions": corruption_row(group, used, base, groups, opts.baseline, "paired" in opts.tests),
        "runs": [_run_entry(r, results.get(id(r))) for r in group.runs],
        **comparison_row(group, used, base, opts, run_result),  # decision, endpoints, paired, power, verdict
    }


# --- the report -------------------------------------------------------------------------------------


def learned_table(
    rows: list[dict[str, Any]],
    paper: str | None = None,
    ref_rows: Sequence[dict[str, Any]] = (),
    ref_label: str = "",
) -> dict[str, Any]:
    """Paper Table 1 layout: rows init + layers, one column per learnable group (describe() over seeds),
    then the same groups of a reference sweep ("group (label)") and the paper's values."""
    cols = [r for r in rows if r["learned"]]
    ours = {r["group"] for r in cols}
    cols += [
        r | {"group": f"{r['group']} ({ref_label})"} for r in ref_rows if r["learned"] and r["group"] in ours
    ]
    layers = sorted(dict.fromkeys(layer for r in cols for layer in r["learned"]), key=layer_key)
    names = sorted({n for r in cols for params in r["learned"].values() for n in params})
    columns, cells = [], {}
    for r in cols:
        for name in [n for n in names if any(n in p for p in r["learned"].values())]:
            col = r["group"] if len(names) == 1 else f"{r['group']} {name}"
            columns.append(col)
            init = {"mean": r["init"], "std": None} if name == "a" and r["init"] is not None else None
            cells[col] = {"init": init, **{layer: r["learned"].get(layer, {}).get(name) for layer in layers}}
    papers = [act for act in PAPER_LEARNED if any(r["activation"] == act for r in rows if r["learned"])]
    papers = papers if paper == "cifar10" else []
    for act in papers:
        columns.append(f"{act} (paper)")
        cells[columns[-1]] = {k: {"mean": v, "std": None} for k, v in PAPER_LEARNED[act].items()}
    # Table 1 in the units' own terms: the negative saturation level k (Rational, Exponential)
    for r in cols:
        if r.get("saturation"):
            columns.append(f"{r['group']} k")
            k0 = saturation_level(r["activation"], r["init"]) if r["init"] is not None else None
            cells[columns[-1]] = {"init": {"mean": k0, "std": None} if k0 is not None else None}
            cells[columns[-1]] |= {layer: r["saturation"].get(layer) for layer in layers}
    for act in papers:
        if saturation_level(act, 0.0) is not None:
            columns.append(f"{act} k (paper)")
            ks = {layer: saturation_level(act, a) for layer, a in PAPER_LEARNED[act].items()}
            cells[columns[-1]] = {layer: {"mean": k, "std": None} for layer, k in ks.items()}
    return {"layers": ["init", *layers] if columns else [], "columns": columns, "cells": cells}


def _sort_key(row: dict[str, Any], key: str) -> tuple[Any, ...]:
    """None (no data) sorts last; ties by group label."""
    if key == "paper":
        act = row["activation"]
        return PAPER_ORDER.index(act) if act in PAPER_ORDER else len(PAPER_ORDER), row["group"]
    value = {
        "name": None,
        "acc": row["test_acc_pct"]["mean"],
        "loss": row["test_loss"]["mean"],
        "p": ((row["vs_baseline"] or {}).get("acc_pct") or {}).get("p"),
    }[key]
    if key == "acc" and value is not None:
        value = -value  # best accuracy first
    return value is None, value or 0.0, row["group"]


def _check_options(metric: str, sort: str, paper: str | None, fmt: str) -> None:
    for name, value, allowed in (
        ("--metric", metric, METRICS),
        ("--sort", sort, SORTS),
        ("--paper", paper, (None, *PAPER)),
        ("--format", fmt, FORMATS),
    ):
        if value not in allowed:
            raise not_allowed(name, value, [a for a in allowed if a], cls=ReportError)


def packed_warnings(groups: Sequence[Group]) -> list[str]:
    """Runs trained in packs report each member's share of a shared epoch as their speed."""
    packed = sum(bool(r.summary.get(R.PACK_EPOCH_TIMES)) for g in groups for r in g.completed)
    if not packed:
        return []
    return [
        f"{packed} run(s) were trained in packs: their epoch seconds and images/s are a member's share of "
        f"a shared pack epoch, not the activation's own speed (the pack's: summary.json {R.PACK_EPOCH_TIMES})"
    ]


def recorded_warnings(groups: Sequence[Group]) -> list[str]:
    """What a run warned of while it trained (summary.json `warnings`: a corrupt checkpoint moved aside,
    epochs redone, a network part without a gradient), one line per run, so a page never hides it."""
    out = []
    for r in (r for g in groups for r in g.runs if r.summary.get("warnings")):
        first = r.summary["warnings"][0]
        what = first.get("message") if isinstance(first, dict) else first
        n = len(r.summary["warnings"])
        out.append(f"{r.path.name}: {n} warning(s) while training (summary.json warnings); first: {what}")
    return out


def report_options(
    baseline: str | None = None,
    metric: str = "last",
    sort: str = "paper",
    where: Sequence[str] = (),
    paper: str | None = None,
    tests: str | Sequence[str] | None = None,
    bootstrap: int | None = None,
    mde: float | None = None,
    reference: Sequence[str | Path] = (),
) -> ReportOptions:
    """The report's options, checked (ReportError names the option) and normalised: the baseline's alias
    resolved, `tests` parsed ("welch,paired" or names; all when None), defaults filled in."""
    _check_options(metric, sort, paper, "table")
    bootstrap = BOOTSTRAP if bootstrap is None else bootstrap
    if bootstrap < 0:
        raise ReportError(f"--bootstrap: {bootstrap} is not allowed (resamples: 0 = no CI, or e.g. 2000)")
    if mde is not None and not (math.isfinite(mde) and 0 < mde <= 100):
        raise ReportError(
            f"--mde: {mde} is not allowed (a difference in accuracy points, > 0 and at most 100, e.g. 1.0)"
        )
    chosen = parse_tests(TESTS if tests is None else tests)
    for path in reference:
        if not Path(path).is_dir():
            raise ReportError(
                f"--reference: {path} is not a folder (a sweep or folder of runs to compare with)"
            )
    chosen, ref = tuple(chosen), tuple(str(p) for p in reference)
    base = act_name(baseline or "relu")
    given = baseline is not None
    return ReportOptions(base, metric, sort, tuple(where), paper, chosen, bootstrap, mde, ref, given)


def build_report(
    paths: Sequence[str | Path],
    options: ReportOptions | None = None,
    with_provenance: bool = False,
    **fields: Any,
) -> Report:
    """Load, filter, group and summarise the runs under `paths`; raises ReportError on user errors.
    `options` (or its fields as keywords, checked by `report_options`): what to compare and how;
    `with_provenance`: add versions, device, epochs and wall time read from the runs."""
    if options is None:
        options = report_options(**fields)
    elif fields:
        raise TypeError("build_report: give `options` or its fields, not both")
    o = options
    runs, warnings = load_runs(paths)
    runs, repeated = drop_duplicates(filter_runs(runs, o.where))
    warnings += repeated
    groups = group_runs(runs)
    if not any(g.activation == o.baseline for g in groups):
        here = ", ".join(sorted({g.activation for g in groups}))
        if o.explicit_baseline:
            raise ReportError(f"--baseline {o.baseline}: no runs of that activation here ({here})")
        warnings.append(f"no {o.baseline} runs, so no comparisons (--baseline picks one of: {here})")
    epochs = sorted({int(e) for g in groups if isinstance(e := g.flat.get("train.epochs"), int)})
    if o.paper and epochs and epochs != [200]:
        warnings.append(
            f"--paper {o.paper}: the paper's numbers are after 200 epochs, these runs trained "
            f"{', '.join(map(str, epochs))}: compare the ordering, not the levels"
        )
    datasets = sorted({str(g.flat.get("data.name")) for g in groups} - {str(o.paper), "folder"})
    if o.paper and datasets:
        warnings.append(
            f"--paper {o.paper}: the paper's numbers are for {o.paper}, runs have data.name={datasets[0]}"
        )
    rows = [group_row(g, groups, o) for g in groups]
    warnings += finish(rows, o)  # one Holm family at the primary endpoint, decisions, power, verdicts
    warnings += robustness_warnings(groups) + corruption_warnings(groups) + packed_warnings(groups)
    warnings += recorded_warnings(groups)
    order = sorted(range(len(rows)), key=lambda i: _sort_key(rows[i], o.sort))
    rows, groups = [rows[i] for i in order], [groups[i] for i in order]
    used = provenance(groups) if with_provenance else None
    if not o.reference:
        return Report(groups, rows, learned_table(rows, o.paper), o, warnings, used)
    # the reference is summarised with the same options (its own decisions), without the paper's columns
    ref = build_report(o.reference, dataclasses.replace(o, reference=(), paper=None))
    label = reference_label(o.reference)
    warnings += [f"--reference {label}: {w}" for w in ref.warnings] + data_mismatch(groups, ref.groups, label)
    learned = learned_table(rows, o.paper, ref.rows, label)
    return Report(groups, rows, learned, o, warnings, used, reference_rows(rows, ref.rows, label, o.baseline))


def page_link(target: str | Path, page: str | Path | None) -> str:
    """How a Markdown page written to `page` (stdout: the working folder) links the file `target`: its
    path relative to the page's folder."""
    base = Path(page).resolve().parent if page is not None else Path.cwd()
    return Path(os.path.relpath(Path(target).resolve(), base)).as_posix()


def report_main(
    paths: Sequence[str | Path],
    options: ReportOptions,
    fmt: str = "table",
    out: Path | None = None,
    plots: Path | None = None,
    console: Any = None,
    with_provenance: bool = False,
    html: Path | None = None,
) -> list[str]:
    """`actbench report`: build the report, render it, write figures to `plots` and a self-contained
    page to `html`; returns the warnings."""
    _check_options(options.metric, options.sort, options.paper, fmt)
    report = build_report(paths, options, with_provenance)
    warnings = list(report.warnings)
    files: list[Path] = []
    if plots is not None:
        from actbench.report.figures import (
            write_figures,  # local: loads matplotlib only when plots are asked for
        )

        files, more = write_figures(report, Path(plots))
        warnings += more
        report.figures = [page_link(f, out) for f in files]
    if console is None:
        from rich.console import Console

        console = Console()
    if html is not None:
        from actbench.report.exports import write_html  # local: draws figures (matplotlib)

        warnings += [w for w in write_html(report, Path(html)) if w not in warnings]
    render_report(report, fmt, console, out)
    if files and fmt == "table" and out is None:  # stdout carries nothing but an export otherwise
        console.print(f"{len(files)} figures written to {plots}", highlight=False)
    if html is not None and fmt == "table" and out is None:
        console.print(f"wrote {html}", highlight=False, soft_wrap=True)
    return warnings
