"""Rendering of a report: rich tables for the terminal, and Markdown, CSV, LaTeX and JSON exports.

Pure formatting of the `Report` that `actbench.report.build` computes; no statistics here.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path
from typing import Any

from actbench.report.comparison_tables import (
    VERDICT_TITLE,
    WELCH_HEADS,
    comparison_flat,
    comparison_table,
    decision_table,
    verdict_lines,
)
from actbench.report.comparisons import family
from actbench.report.corruptions import corruption_cells, corruption_title
from actbench.report.groups import ReportError
from actbench.report.model import MEMORY_KINDS, Report
from actbench.report.provenance import provenance_markdown
from actbench.report.reference import reference_table
from actbench.report.robustness import NOISE_UNITS
from actbench.timing import fmt_range

# --- rendering --------------------------------------------------------------------------------------


def _f(x: float | None, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def _pm(d: dict[str, Any] | None, spec: str) -> str:
    if not d or d["mean"] is None:
        return "—"
    return f"{d['mean']:{spec}} ± {d['std']:{spec}}" if d.get("std") is not None else format(d["mean"], spec)


def _count(x: float | None) -> str:
    """12345678 -> "12.3M": parameter and MAC counts."""
    if x is None:
        return "—"
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= div:
            return f"{x / div:.3g}{unit}"
    return f"{x:.0f}"


def _summary_cells(r: dict[str, Any], o: dict[str, Any]) -> list[str]:
    a, t, vs = r["test_acc_pct"], r["timing"], r["vs_baseline"] or {}
    ca, cl = vs.get("acc_pct") or {}, vs.get("loss") or {}
    # the comparison is the decision's (the report's one test per comparison); Welch only as labelled extra
    d = (r.get("endpoints") or {}).get(o.metric) or {}
    ci = d.get("ci")
    extra = ", ".join(f"+{c} {s}" for s, c in r["excluded"].items())
    mem = t["peak_memory_bytes"]
    cells = [
        r["group"],
        f"{r['n']} ({extra})" if extra else str(r["n"]),
        _pm(r["test_loss"], ".4f"),
        _pm(a, ".2f"),
        f"{a['ci_low']:.2f} – {a['ci_high']:.2f}" if a["ci_low"] is not None else "—",
        "baseline" if r["activation"] == o.baseline else _f(d.get("diff"), "+.2f"),
        f"{ci[0]:+.2f} – {ci[1]:+.2f}" if ci else "—",
        _f(d.get("p_holm"), ".3g"),
        _f(ca.get("p"), ".3g"),
        _f(ca.get("d"), "+.2f"),
        _f(cl.get("diff"), "+.4f"),
        _f(cl.get("p"), ".3g"),
        _count(t.get("parameters")),
        _count(t.get("macs_per_image")),
        _f(t["steady_epoch_s"], ".2f"),
        fmt_range(t.get("steady_epoch_min_s"), t.get("steady_epoch_max_s")),
        _f(t["images_per_s"], ".0f"),
        "—"
        if mem is None
        else f"{mem / 2**20:.0f} MiB {MEMORY_KINDS.get(t['peak_memory_kind'], '')}".strip(),
    ]
    if o.metric == "best":
        cells.insert(2, _f(r["epoch"], ".0f"))
    if o.paper:
        p = r["paper"] or {}
        cells += [_f(p.get("test_loss"), ".3f"), _f(p.get("test_acc_pct"), ".1f")]
    return cells


def summary_table(report: Report) -> tuple[list[str], list[list[str]]]:
    """Header and formatted cells of the per-group results table."""
    o = report.options
    heads = ["group", "n", "test loss", "test acc %", "95% CI acc %", f"Δacc vs {o.baseline}", "95% CI Δacc"]
    heads += ["p (Holm)", "p (Welch)", "d", "Δloss", "p (loss, Welch)", *COST_HEADS]
    if o.metric == "best":
        heads.insert(2, "best epoch")
    if o.paper:
        heads += ["paper loss", "paper acc %"]
    welch = "welch" in o.tests  # without it, the Welch columns go
    cells = [_summary_cells(r, o) for r in report.rows]
    return _columns(heads, cells, lambda h: welch or h not in WELCH_HEADS)


def learned_cells(report: Report) -> tuple[list[str], list[list[str]]]:
    t = report.learned
    return ["layer", *t["columns"]], [
        [layer, *(_pm(t["cells"][c].get(layer), ".3f") for c in t["columns"])] for layer in t["layers"]
    ]


def robustness_kinds(report: Report) -> list[str]:
    """Noise kinds with data in some group (robustness.json of actbench.robustness.noise)."""
    return sorted({k for r in report.rows for k, st in (r.get("robustness") or {}).items() if st["n"]})


def _robust_rows(report: Report, kind: str) -> list[dict[str, Any]]:
    return [r for r in report.rows if ((r.get("robustness") or {}).get(kind) or {}).get("n")]


def robustness_cells(report: Report, kind: str) -> tuple[list[str], list[list[str]]]:
    """One noise kind: accuracy % per level, its nAUC, and the nAUC difference and p vs the baseline."""
    o, rows = report.options, _robust_rows(report, kind)
    levels = rows[0]["robustness"][kind]["levels"] if rows else []
    heads = ["group", "n", *(f"{lv:g}" for lv in levels), "nAUC acc %", f"ΔnAUC vs {o.baseline}"]
    heads.append("p (nAUC)")
    cells = []
    for r in rows:
        st = r["robustness"][kind]
        vs = st["vs_baseline"] or {}
        base = "baseline" if r["activation"] == o.baseline else _f(vs.get("diff"), "+.2f")
        accs = [_pm(d, ".2f") for d in st["acc_pct"]]
        auc, p = _pm(st["auc_pct"], ".2f"), _f(vs.get("p"), ".3g")
        cells.append([r["group"], str(st["n"]), *accs, auc, base, p])
    return heads, cells


def robustness_title(report: Report, kind: str) -> str:
    rows = _robust_rows(report, kind)
    levels = rows[0]["robustness"][kind]["levels"] if rows else [0.0]
    checkpoints = "/".join(sorted({str(r["robustness"][kind]["checkpoint"]) for r in rows}))
    units = NOISE_UNITS.get(kind, "level")
    return (
        f"Test accuracy % under {kind} noise by level ({units}; mean ± std over seeds; "
        f"nAUC: area under the accuracy–level curve (trapezoids) over levels {levels[0]:g}–{levels[-1]:g}, "
        f"divided by that range: a level-weighted mean accuracy; p: Welch t-test of the nAUC vs baseline; "
        f"{checkpoints} checkpoint)"
    )


def _titles(report: Report) -> tuple[str, str]:
    o = report.options
    when = "final epoch" if o.metric == "last" else "best-validation epoch"
    table = {"cifar10": "Table 2", "cifar100": "Table 3"}.get(o.paper or "")
    epochs = sorted({e for g in report.groups if isinstance(e := g.flat.get("train.epochs"), int)})
    ours = f"; these runs: {', '.join(map(str, epochs))}" if epochs and epochs != [200] else ""
    paper = f"; paper: {table} ({o.paper}, one run, 200 epochs{ours})" if table else ""
    welch = "; p (Welch), p (loss, Welch): Welch t-test, unadjusted; d: Cohen's d"
    welch = welch if "welch" in o.tests else ""
    return (
        f"Test results at the {when} (mean ± std over seeds; Δacc, its 95% CI and p (Holm): the decision's "
        f"test (see Decisions), Holm over the report's comparisons at this endpoint{welch}{paper})",
        "Learned activation parameters per layer (mean ± std over seeds; k: the negative saturation level, "
        "the unit tends to −k as v → −∞: Rational k = max(a, a_min), Exponential k = e^a, from each run's a; "
        "at the paper's initial values a = 1 and a = 0 the two units are the same function, k = 1)",
    )


def _md_table(heads: list[str], rows: list[list[str]]) -> str:
    esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(map(esc, heads)) + " |", "|" + "|".join("---" for _ in heads) + "|"]
    return "\n".join(lines + ["| " + " | ".join(map(esc, r)) + " |" for r in rows])


def to_markdown(report: Report) -> str:
    titles = _titles(report)
    parts = [f"**{titles[0]}**\n\n{_md_table(*summary_table(report))}"]
    for table in (decision_table(report), comparison_table(report)):
        if table:
            parts.append(f"**{table[0]}**\n\n{_md_table(*table[1:])}")
    if verdicts := verdict_lines(report):
        parts.append(f"**{VERDICT_TITLE}**\n\n" + "\n".join(f"- {v}" for v in verdicts))
    if report.reference is not None:
        title, *cells = reference_table(report)
        parts.append(f"**{title}**\n\n{_md_table(*cells)}")
    if report.learned["columns"]:
        parts.append(f"**{titles[1]}**\n\n{_md_table(*learned_cells(report))}")
    for kind in robustness_kinds(report):
        parts.append(f"**{robustness_title(report, kind)}**\n\n{_md_table(*robustness_cells(report, kind))}")
    if any(r.get("corruptions") for r in report.rows):
        b = report.options.baseline
        title, cells = corruption_title(report.rows, b), corruption_cells(report.rows, b)
        parts.append(f"**{title}**\n\n{_md_table(*cells)}")
    if report.figures:
        links = "\n\n".join(f"![{Path(f).stem}]({f})" for f in report.figures)
        parts.append(f"**Figures (written by --plots; min–max band over seeds)**\n\n{links}")
    if report.provenance is not None:
        parts.append(provenance_markdown(report.provenance))
    return "\n\n".join(parts) + "\n"


_TEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "Δ": r"$\Delta$",
    "—": "--",
    "–": "--",
    "≤": r"$\le$",
    "≥": r"$\ge$",
    "α": r"$\alpha$",
    "χ": r"$\chi$",
    "²": r"$^2$",
    "−": "-",
    "×": r"$\times$",
    "→": r"$\to$",
    "√": r"$\surd$",
    "…": r"\ldots{}",
    "’": "'",
}


def tex(text: Any) -> str:
    """Plain text as LaTeX: specials escaped, the symbols the report writes spelled as LaTeX; any other
    non-ASCII letter as its closest ASCII form (accents dropped), so the output is pure ASCII."""
    import unicodedata

    out = "".join(_TEX.get(c, c) for c in str(text))
    if out.isascii():
        return out
    return unicodedata.normalize("NFKD", out).encode("ascii", "ignore").decode("ascii")


def _tex_table(heads: list[str], rows: list[list[str]], caption: str) -> str:
    body = [" & ".join(map(tex, r)) + r" \\" for r in rows]
    return "\n".join(
        [
            r"\begin{table}[ht]",
            r"\centering",
            rf"\caption{{{tex(caption)}}}",
            r"\begin{tabular}{l" + "r" * (len(heads) - 1) + "}",
            r"\hline",
            " & ".join(map(tex, heads)) + r" \\",
            r"\hline",
            *body,
            r"\hline",
            r"\end{tabular}",
            r"\end{table}",
        ]
    )


def to_latex(report: Report) -> str:
    titles = _titles(report)
    parts = [_tex_table(*summary_table(report), titles[0])]
    for table in (decision_table(report), comparison_table(report)):
        if table:
            parts.append(_tex_table(*table[1:], table[0]))
    if verdicts := verdict_lines(report):
        items = [rf"\item {tex(v)}" for v in verdicts]
        parts.append("\n".join([tex(VERDICT_TITLE) + ":", r"\begin{itemize}", *items, r"\end{itemize}"]))
    if report.reference is not None:
        title, *cells = reference_table(report)
        parts.append(_tex_table(*cells, title))
    if report.learned["columns"]:
        parts.append(_tex_table(*learned_cells(report), titles[1]))
    for kind in robustness_kinds(report):
        parts.append(_tex_table(*robustness_cells(report, kind), robustness_title(report, kind)))
    if any(r.get("corruptions") for r in report.rows):
        b = report.options.baseline
        parts.append(_tex_table(*corruption_cells(report.rows, b), corruption_title(report.rows, b)))
    return "\n\n".join(parts) + "\n"


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
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
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
    return json.dumps(doc, indent=2, default=str) + "\n"


# terminal: size, timing and memory go to a table of their own. Epoch seconds: median of the steady epochs
# of all the group's runs (epoch 1 left out), with their min-max (actbench.timing).
COST_HEADS = ("params", "MACs/img", "median epoch s", "min–max epoch s", "img/s", "peak mem")


def _columns(heads: list[str], rows: list[list[str]], keep: Any) -> tuple[list[str], list[list[str]]]:
    idx = [i for i, h in enumerate(heads) if i == 0 or keep(h)]
    return [heads[i] for i in idx], [[row[i] for i in idx] for row in rows]


def _rich_tables(
    title: str, heads: list[str], rows: list[list[str]], width: int | None, **kw: Any
) -> list[Any]:
    """Group (or layer) names whole in the first column; numbers never cut, continued tables when narrow."""
    from actbench.report.terminal import fitted_tables

    return fitted_tables(title, heads, rows, width, justify="right", **kw)


def rich_tables(report: Report, width: int | None = None) -> list[Any]:
    """Results, cost (timing, memory) and, when there are learnable activations, the parameter table,
    each split into continued tables that fit a terminal `width` columns wide (None: no limit)."""
    heads, rows = summary_table(report)
    results, learned = _titles(report)
    tables = _rich_tables(results, *_columns(heads, rows, lambda h: h not in COST_HEADS), width)
    for table in (decision_table(report), comparison_table(report)):
        if table:
            tables += _rich_tables(*table, width)
    if verdicts := verdict_lines(report):
        from rich.text import Text

        tables.append(Text("\n".join([VERDICT_TITLE + ":", *verdicts, ""])))
    if report.reference is not None:
        tables += _rich_tables(*reference_table(report), width)
    tables += _rich_tables(
        "Cost (parameters, multiply-accumulates per image; training epoch s: median and min–max of all "
        "seeds' epochs after the first; img/s: median; peak memory)",
        *_columns(heads, rows, lambda h: h in COST_HEADS),
        width,
    )
    if report.learned["columns"]:
        tables += _rich_tables(learned, *learned_cells(report), width, whole_heads=True)
    for kind in robustness_kinds(report):
        tables += _rich_tables(robustness_title(report, kind), *robustness_cells(report, kind), width)
    if any(r.get("corruptions") for r in report.rows):
        b = report.options.baseline
        tables += _rich_tables(corruption_title(report.rows, b), *corruption_cells(report.rows, b), width)
    return tables


EXPORTERS = {"md": to_markdown, "csv": to_csv, "latex": to_latex, "json": to_json}
SUFFIXES = {".md": "md", ".csv": "csv", ".tex": "latex", ".json": "json"}


def _plain_text(report: Report) -> str:
    from rich.console import Console

    console = Console(file=io.StringIO(), width=250, color_system=None, force_terminal=False)
    for table in rich_tables(report):
        console.print(table)
    return console.file.getvalue()


def render_report(report: Report, fmt: str = "table", console: Any = None, out: Path | None = None) -> None:
    """Print rich tables (`table`) or an export to `console`, or write it to `out` (format from suffix)."""
    if fmt == "table" and out is not None:
        fmt = SUFFIXES.get(Path(out).suffix.lower(), "table")
    text = EXPORTERS[fmt](report) if fmt in EXPORTERS else None
    if out is not None:
        try:
            Path(out).write_text(text if text is not None else _plain_text(report), encoding="utf-8")
        except OSError as exc:
            raise ReportError(f"{out}: cannot write ({exc.strerror})") from None
        return
    if console is None:
        from rich.console import Console

        console = Console()
    if text is not None:  # exports go out verbatim: no markup, no wrapping
        console.print(text, markup=False, highlight=False, emoji=False, soft_wrap=True, end="")
        return
    for table in rich_tables(report, console.width):
        console.print(table)
