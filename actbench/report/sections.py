"""A report's `Document`: every section it shows, in order, as titled tables and lists of display strings.

The numbers come computed in the `Report` (report.build); each section here only picks and formats them
(report.fmt). The renderers (report.render) draw the same document in every format.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from actbench.report import fmt as F
from actbench.report.comparison_tables import comparison_table, decision_table, verdicts
from actbench.report.corruptions import corruption_cells, corruption_title
from actbench.report.model import MEMORY_KINDS, Block, Document, Figures, Items, Report, Table
from actbench.report.provenance import provenance_items
from actbench.report.reference import reference_table
from actbench.report.robustness import NOISE_UNITS
from actbench.timing import fmt_range

# Cost columns: epoch seconds are the median of the steady epochs of all the group's runs (epoch 1 left
# out), with their min-max (actbench.timing).
COST_HEADS = ["group", "params", "MACs/img", "median epoch s", "min–max epoch s", "img/s", "peak mem"]


def _results_cells(r: dict[str, Any], report: Report) -> list[str]:
    o, a, vs = report.options, r["test_acc_pct"], r["vs_baseline"] or {}
    ca, cl = vs.get("acc_pct") or {}, vs.get("loss") or {}
    # the comparison is the decision's (the report's one test per comparison); Welch only as labelled extra
    d = (r.get("endpoints") or {}).get(o.metric) or {}
    ci_lo, ci_hi = d.get("ci") or (None, None)
    extra = ", ".join(f"+{c} {s}" for s, c in r["excluded"].items())
    cells = [r["group"], f"{r['n']} ({extra})" if extra else str(r["n"])]
    if o.metric == "best":
        cells.append(F.num(r["epoch"], ".0f"))
    cells += [
        F.pm(r["test_loss"], ".4f"),
        F.pm(a, ".2f"),
        F.span(a["ci_low"], a["ci_high"]),
        "baseline" if r["activation"] == o.baseline else F.num(d.get("diff"), "+.2f"),
        F.span(ci_lo, ci_hi, "+.2f"),
        F.num(d.get("p_holm"), ".3g"),
    ]
    if "welch" in o.tests:
        cells += [F.num(ca.get("p"), ".3g"), F.num(ca.get("d"), "+.2f")]
        cells += [F.num(cl.get("diff"), "+.4f"), F.num(cl.get("p"), ".3g")]
    if o.paper:
        p = r["paper"] or {}
        cells += [F.num(p.get("test_loss"), ".3f"), F.num(p.get("test_acc_pct"), ".1f")]
    return cells


def epochs_note(report: Report) -> str:
    """The paper's table beside these runs, and how long these runs trained when not the paper's 200."""
    o = report.options
    table = {"cifar10": "Table 2", "cifar100": "Table 3"}.get(o.paper or "")
    if not table:
        return ""
    epochs = sorted({e for g in report.groups if isinstance(e := g.flat.get("train.epochs"), int)})
    ours = f"; these runs: {', '.join(map(str, epochs))}" if epochs and epochs != [200] else ""
    return f"; paper: {table} ({o.paper}, one run, 200 epochs{ours})"


def results_table(report: Report) -> Table:
    """One row per group: n, test loss and accuracy, and the decision's Δacc, interval and p (Holm)."""
    o = report.options
    heads = ["group", "n"] + (["best epoch"] if o.metric == "best" else [])
    heads += ["test loss", "test acc %", "95% CI acc %", f"Δacc vs {o.baseline}", "95% CI Δacc", "p (Holm)"]
    if "welch" in o.tests:
        heads += ["p (Welch)", "d", "Δloss", "p (loss, Welch)"]
    if o.paper:
        heads += ["paper loss", "paper acc %"]
    welch = (
        "; p (Welch), p (loss, Welch): Welch t-test, unadjusted; d: Cohen's d" if "welch" in o.tests else ""
    )
    title = (
        f"Test results at the {F.endpoint(o.metric)} (mean ± std over seeds; Δacc, its 95% CI and p (Holm): "
        f"the decision's test (see Decisions), Holm over the report's comparisons at this endpoint{welch}"
        f"{epochs_note(report)})"
    )
    return Table("results", title, heads, [_results_cells(r, report) for r in report.rows])


def cost_table(report: Report) -> Table:
    rows = []
    for r in report.rows:
        t, mem = r["timing"], r["timing"]["peak_memory_bytes"]
        mem_cell = (
            F.NONE if mem is None else f"{mem / 2**20:.0f} MiB {MEMORY_KINDS.get(t['peak_memory_kind'], '')}"
        )
        rows.append(
            [
                r["group"],
                F.count(t.get("parameters")),
                F.count(t.get("macs_per_image")),
                F.num(t["steady_epoch_s"], ".2f"),
                fmt_range(t.get("steady_epoch_min_s"), t.get("steady_epoch_max_s")),
                F.num(t["images_per_s"], ".0f"),
                mem_cell.strip(),
            ]
        )
    title = (
        "Cost (parameters, multiply-accumulates per image; training epoch s: median and min–max of all "
        f"seeds' epochs after the first; img/s: median; peak memory{load_note(report)})"
    )
    return Table("cost", title, list(COST_HEADS), rows)


def load_note(report: Report) -> str:
    """How far the per-run median epoch times differ within one group, the largest such ratio: the runs
    of a group train the same network with the same settings, so that spread is the machine's (its load
    while each ran), and the cost table cannot tell apart groups that differ by less."""
    spans = []
    for r in report.rows:
        medians = [m for m in r["timing"].get("run_median_epoch_s") or [] if m > 0]
        if len(medians) >= 2:
            spans.append((max(medians) / min(medians), min(medians), max(medians), r["group"]))
    if not spans:
        return ""
    ratio, lo, hi, group = max(spans)
    return (
        f"; the median epoch s of single runs within one group, the same network and settings, spans up "
        f"to ×{ratio:.2f} ({group}: {lo:.2f}–{hi:.2f} s): the machine's speed varied that much between "
        "runs, so groups whose times differ by less show no cost difference here"
    )


def learned_table(report: Report) -> Table:
    t = report.learned
    title = (
        "Learned activation parameters per layer (mean ± std over seeds; k: the negative saturation level, "
        "the unit tends to −k as v → −∞: Rational k = max(a, a_min), Exponential k = e^a, from each run's a; "
        "at the paper's initial values a = 1 and a = 0 the two units are the same function, k = 1)"
    )
    rows = [[layer, *(F.pm(t["cells"][c].get(layer), ".3f") for c in t["columns"])] for layer in t["layers"]]
    return Table("learned", title, ["layer", *t["columns"]], rows, whole_heads=True)


def robustness_kinds(report: Report) -> list[str]:
    """Noise kinds with data in some group (robustness.json of actbench.robustness.noise)."""
    return sorted({k for r in report.rows for k, st in (r.get("robustness") or {}).items() if st["n"]})


def robustness_table(report: Report, kind: str) -> Table:
    """One noise kind: accuracy % per level, its nAUC, and the nAUC difference and p vs the baseline."""
    o = report.options
    rows = [r for r in report.rows if ((r.get("robustness") or {}).get(kind) or {}).get("n")]
    levels = rows[0]["robustness"][kind]["levels"] if rows else [0.0]
    heads = ["group", "n", *(f"{lv:g}" for lv in levels), "nAUC acc %", f"ΔnAUC vs {o.baseline}", "p (nAUC)"]
    cells = []
    for r in rows:
        st = r["robustness"][kind]
        vs = st["vs_baseline"] or {}
        base = "baseline" if r["activation"] == o.baseline else F.num(vs.get("diff"), "+.2f")
        accs = [F.pm(d, ".2f") for d in st["acc_pct"]]
        cells.append(
            [r["group"], str(st["n"]), *accs, F.pm(st["auc_pct"], ".2f"), base, F.num(vs.get("p"), ".3g")]
        )
    checkpoints = "/".join(sorted({str(r["robustness"][kind]["checkpoint"]) for r in rows}))
    title = (
        f"Test accuracy % under {kind} noise by level ({NOISE_UNITS.get(kind, 'level')}; mean ± std over "
        f"seeds; nAUC: area under the accuracy–level curve (trapezoids) over levels {levels[0]:g}–"
        f"{levels[-1]:g}, divided by that range: a level-weighted mean accuracy; p (nAUC): Welch t-test of "
        f"the nAUC vs baseline, the unit is the training run (one nAUC per seed), unadjusted; "
        f"{checkpoints} checkpoint)"
    )
    return Table(f"robust-{kind}", title, heads, cells)


def document(
    report: Report,
    figures: list[str] | None = None,
    extra: Sequence[Block] = (),
    warnings: bool = True,
) -> Document:
    """Every section of the report, in the order every format shows them. `figures`: image paths to link
    (default: the report's --plots files, relative to the page); `extra`: sections added before the
    warnings (the HTML page's configuration and environment tables); `warnings`: end with the report's
    warnings (off where the caller prints them itself, as the terminal does on stderr)."""
    o = report.options
    blocks: list[Block] = [results_table(report), cost_table(report)]
    blocks += [t for t in (decision_table(report), comparison_table(report)) if t is not None]
    if (v := verdicts(report)) is not None:
        blocks.append(v)
    if report.reference is not None:
        blocks.append(reference_table(report))
    if report.learned["columns"]:
        blocks.append(learned_table(report))
    blocks += [robustness_table(report, kind) for kind in robustness_kinds(report)]
    if any(r.get("corruptions") for r in report.rows):
        title = corruption_title(report.rows, o.baseline)
        blocks.append(Table("corruptions", title, *corruption_cells(report.rows, o.baseline)))
    figures = report.figures if figures is None else figures
    if figures:
        blocks.append(Figures("figures", "Figures (written by --plots; min–max band over seeds)", figures))
    if report.provenance is not None:
        title = "Provenance (from the run folders' env.json and summary.json)"
        blocks.append(Items("provenance", title, provenance_items(report.provenance)))
    blocks += list(extra)
    if warnings and report.warnings:
        blocks.append(Items("warnings", "Warnings", list(report.warnings)))
    runs = sum(len(g.runs) for g in report.groups)
    meta = f"{len(report.rows)} groups, {runs} runs; baseline {o.baseline}, metric {o.metric}"
    return Document("actbench report", blocks, meta)
