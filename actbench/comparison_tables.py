"""Rendering of the comparison part of a report (actbench.comparisons): the paired-comparison table,
the verdict sentences and their CSV columns. Pure formatting; `actbench.tables` places them."""

from __future__ import annotations

from typing import Any

from actbench.paired import ALPHA, ECE_BINS, MAX_SEEDS, POWER
from actbench.report_model import Report

WELCH_HEADS = ("p", "p (Holm)", "d", "p (loss)")  # summary-table columns that exist for --tests welch


def _f(x: float | None, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def _has_predictions(report: Report) -> bool:
    return any((r.get("paired") or {}).get("n") for r in report.rows)


def _power_cell(power: dict[str, Any] | None) -> str:
    if not power or power.get("sd") is None:
        return "—"  # baseline, or fewer than 2 seeds: no spread to plan with
    needed = power["seeds_needed"]
    if needed is None:
        return "—"  # no difference observed: nothing to detect
    return f">{MAX_SEEDS}" if needed > MAX_SEEDS else f"{needed} (have {power['n']})"


def _cells(r: dict[str, Any], o: dict[str, Any], preds: bool) -> list[str]:
    tests, p = o["tests"], r.get("paired") or {}
    vs = p.get("vs_baseline") or {}
    is_base = r["activation"] == o["baseline"]
    cells = [r["group"]]
    if "paired" in tests and preds:
        ci = f"{vs['ci_low']:+.2f} – {vs['ci_high']:+.2f}" if vs.get("ci_low") is not None else "—"
        bc = f"{vs['b']} / {vs['c']}" if "b" in vs else "—"
        diff = "baseline" if is_base else _f(vs.get("diff"), "+.2f")
        cells += [_f(vs.get("pairs"), "d"), diff, ci, bc, _f(vs.get("p"), ".3g"), _f(vs.get("p_holm"), ".3g")]
    if "power" in tests:
        cells.append(_power_cell(r.get("power")))
    if "ensemble" in tests and preds:
        diff = "baseline" if is_base else _f(vs.get("ensemble_diff"), "+.2f")
        cells += [_f(p.get("n") or None, "d"), _f(p.get("ensemble_acc_pct"), ".2f"), diff]
    if "calibration" in tests and preds:
        ece = p.get("ece_pct") or {}
        pm = "—" if ece.get("mean") is None else f"{ece['mean']:.2f}"
        if ece.get("std") is not None:
            pm += f" ± {ece['std']:.2f}"
        cells += [pm, _f(p.get("ensemble_ece_pct"), ".2f")]
    return cells


def comparison_table(report: Report) -> tuple[str, list[str], list[list[str]]] | None:
    """(title, header, cells) of the paired-comparison table; None when it would have no columns."""
    o, preds = report.options, _has_predictions(report)
    tests, heads, notes = o["tests"], ["group"], []
    if "paired" in tests and preds:
        heads += ["pairs", "Δacc (paired)", "95% CI", "b / c", "p (McNemar)", "p (Holm)"]
        notes.append(
            f"Δacc: mean over matched seeds; 95% CI: paired bootstrap over seeds and test images, "
            f"{o['bootstrap']} resamples; p: McNemar's exact test, b / c = images only the group / only "
            f"the baseline gets right, summed over matched seeds; p (Holm): over the report's comparisons"
        )
    if "power" in tests:
        heads.append("seeds for 80% power")
        notes.append(
            f"seeds per group for {POWER:.0%} power at two-sided α = {ALPHA} given the observed "
            "difference and seed spread"
        )
    if "ensemble" in tests and preds:
        heads += ["ensemble n", "ensemble acc %", "Δensemble"]
        notes.append("ensemble: mean softmax of the seeds")
    if "calibration" in tests and preds:
        heads += ["ECE %", "ensemble ECE %"]
        notes.append(f"ECE: {ECE_BINS} equal-width confidence bins, mean ± std over seeds")
    if len(heads) == 1:
        return None
    when = "final epoch" if o["metric"] == "last" else "best-validation epoch"
    title = f"Comparisons vs {o['baseline']} on the same test images ({when}; " + "; ".join(notes) + ")"
    return title, heads, [_cells(r, o, preds) for r in report.rows]


def verdict_lines(report: Report) -> list[str]:
    """One sentence per compared group (actbench.paired.verdict), in the report's row order."""
    return [r["verdict"] for r in report.rows if r.get("verdict")]


VERDICT_TITLE = (
    f"Verdicts (paired tests where predictions exist, else Welch; better/worse: p (Holm) < {ALPHA} and a "
    "95% CI that excludes 0)"
)


def comparison_flat(row: dict[str, Any]) -> dict[str, Any]:
    """CSV columns of the comparison part; the same keys for every row (None where not computed)."""
    p = row.get("paired") or {}
    vs, power = p.get("vs_baseline") or {}, row.get("power") or {}
    ece = p.get("ece_pct") or {}
    welch = ((row.get("vs_baseline") or {}).get("acc_pct")) or {}
    return {
        "acc_pct_p_holm_vs_baseline": welch.get("p_holm"),
        "paired_pairs": vs.get("pairs"),
        "paired_acc_pct_diff": vs.get("diff"),
        "paired_acc_pct_ci_low": vs.get("ci_low"),
        "paired_acc_pct_ci_high": vs.get("ci_high"),
        "mcnemar_b": vs.get("b"),
        "mcnemar_c": vs.get("c"),
        "mcnemar_p": vs.get("p"),
        "mcnemar_p_holm": vs.get("p_holm"),
        "seeds_needed_80pct_power": power.get("seeds_needed"),
        "power_basis": power.get("basis"),
        "ensemble_n": p.get("n"),
        "ensemble_acc_pct": p.get("ensemble_acc_pct"),
        "ensemble_acc_pct_diff_vs_baseline": vs.get("ensemble_diff"),
        "ece_pct_mean": ece.get("mean"),
        "ece_pct_std": ece.get("std"),
        "ensemble_ece_pct": p.get("ensemble_ece_pct"),
        "verdict": row.get("verdict"),
    }
