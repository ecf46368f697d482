"""The comparison sections of a report (numbers from report.comparisons): the decision table (the
training run as the unit), the per-image table (predictions), the verdict sentences, and their CSV
columns. Pure formatting; `report.sections` places them."""

from __future__ import annotations

from typing import Any

from actbench import runs as R
from actbench.report import fmt as F
from actbench.report.comparisons import mcnemar_pairs
from actbench.report.model import Items, Report, ReportOptions, Table
from actbench.stats.decisions import ALPHA, MAX_EXACT, MAX_SEEDS, MIN_BOOT_RUNS
from actbench.stats.paired import ECE_BINS, POWER

METHOD_LABELS = {"paired-t": "paired t", "welch-t": "Welch t"}


def _seeds_cell(needed: int | None, have: int | None = None) -> str:
    if needed is None:
        return "—"  # no difference to detect, or no spread to plan with
    if needed > MAX_SEEDS:
        return f">{MAX_SEEDS}"
    return f"{needed} (have {have})" if have is not None else str(needed)


def _other(metric: str) -> str:
    return next(m for m in R.CHECKPOINTS if m != metric)


def _decision_cells(r: dict[str, Any], o: ReportOptions) -> list[str]:
    ends = r.get("endpoints") or {}
    d, other = ends.get(o.metric) or {}, ends.get(_other(o.metric)) or {}
    if r["activation"] == o.baseline:
        return [r["group"], "baseline"] + ["—"] * (len(_decision_heads(o)) - 2)
    runs = (
        f"{d['n']} pairs" if d.get("method") == "paired-t" else f"{d.get('n_group')} / {d.get('n_baseline')}"
    )
    lo, hi = d.get("ci") or (None, None)
    ci = F.span(lo, hi, "+.2f")
    pi = d.get("prob_improvement") or {}
    pi_cell = F.num(pi.get("p"), ".2f") + F.bracket(pi.get("ci"), ".2f")
    cells = [
        r["group"],
        runs if d else "—",
        F.num(d.get("diff"), "+.2f"),
        ci,
        METHOD_LABELS.get(d.get("method", ""), "—") if d.get("sd") is not None else "—",  # None: no test
    ]
    cells += [
        F.num(d.get("p"), ".3g"),
        F.num(d.get("p_holm"), ".3g"),
        F.num(d.get("p_signflip"), ".3g"),
        pi_cell,
    ]
    cells.append(d.get("decision") or "—")
    cells.append(
        F.num(other.get("diff"), "+.2f") + F.bracket(other.get("ci"))
        if other.get("diff") is not None
        else "—"
    )
    if "power" in o.tests:
        power = r.get("power") or {}
        cells.append(_seeds_cell(power.get("seeds_needed"), power.get("n")))
        if o.mde:
            cells.append(_seeds_cell(power.get("seeds_for_mde")))
    return cells


def _decision_heads(o: ReportOptions) -> list[str]:
    heads = ["group", "runs", "Δacc", "95% CI", "test", "p", "p (Holm)", "p (sign-flip)", "P(better)"]
    heads += [f"decision ({o.metric})", f"Δacc ({_other(o.metric)}, sensitivity)"]
    if "power" in o.tests:
        heads.append("seeds for 80% power if Δ were true")
        if o.mde:
            heads.append(f"seeds for Δ = {o.mde:g}")
    return heads


def decision_table(report: Report) -> Table | None:
    """The decisions vs the baseline; None when nothing was compared."""
    o = report.options
    if not any(r.get("endpoints") for r in report.rows):
        return None
    when, other = F.endpoint(o.metric), F.endpoint(_other(o.metric))
    m = sum(((r.get("endpoints") or {}).get(o.metric) or {}).get("p") is not None for r in report.rows)
    notes = [
        f"the unit is the training run; primary endpoint: the {when} (declared with --metric before the "
        f"runs are read); Δacc = mean accuracy difference in points; paired t over matched seeds (else Welch "
        f"t over runs) with its 95% t-interval; p (Holm): over the report's {m} comparisons at the primary "
        f"endpoint, the only decisions it makes; p (sign-flip): exact permutation test of the seed-pair "
        f"differences, n ≤ {MAX_EXACT} (smallest possible: 2/2^n); P(better): chance a run beats a baseline "
        f"run (none with one run on a side), bootstrap 95% interval (not shown below {MIN_BOOT_RUNS} runs "
        "a side); test —: fewer than 2 runs on a side, no test; better/worse: p (Holm) "
        f"< {ALPHA} and the interval excludes 0; the {other}'s Δacc [95% CI] is a sensitivity analysis, "
        "without a decision"
    ]
    if "power" in o.tests:
        notes.append(
            f"seeds per group for {POWER:.0%} power at two-sided α = {ALPHA}/{max(m, 1)} (Holm's first step, "
            "so covered power also passes Holm), post hoc: if the observed Δ were the true difference, at "
            "the observed seed spread, on the decision's basis"
        )
    title = f"Decisions vs {o.baseline} (" + "; ".join(notes) + ")"
    return Table("decisions", title, _decision_heads(o), [_decision_cells(r, o) for r in report.rows])


def _shown(report: Report) -> list[str]:
    """Which per-image parts have numbers: paired (McNemar), ensemble and calibration need
    probabilities, which slim copies of predictions do not hold."""
    o, ps = report.options, [r.get("paired") or {} for r in report.rows]
    has = {
        "paired": any("pairs" in (p.get("vs_baseline") or {}) for p in ps),
        "ensemble": any(p.get("ensemble_acc_pct") is not None for p in ps),
        "calibration": any(p.get("ece_pct") for p in ps),
    }
    return [t for t in ("paired", "ensemble", "calibration") if t in o.tests and has[t]]


def _cells(r: dict[str, Any], o: ReportOptions, tests: list[str]) -> list[str]:
    p = r.get("paired") or {}
    vs = p.get("vs_baseline") or {}
    is_base = r["activation"] == o.baseline
    cells = [r["group"]]
    if "paired" in tests:
        differ = f"{vs['pairs_differ']} of {vs['pairs']}" if "pairs_differ" in vs else "—"
        bc = f"{vs['b']} / {vs['c']}" if "b" in vs else "—"
        cells += ["baseline" if is_base else differ, "—" if is_base else bc]
    if "ensemble" in tests:
        diff = "baseline" if is_base else F.num(vs.get("ensemble_diff"), "+.2f")
        cells += [F.num(p.get("n") or None, "d"), F.num(p.get("ensemble_acc_pct"), ".2f"), diff]
    if "calibration" in tests:
        ece = p.get("ece_pct") or {}
        cells += [F.pm(ece, ".2f"), F.num(p.get("ensemble_ece_pct"), ".2f")]
    return cells


def comparison_table(report: Report) -> Table | None:
    """The per-image table from predictions.npz; None without predictions."""
    o = report.options
    tests, heads, notes = _shown(report), ["group"], []
    if "paired" in tests:
        k = len(mcnemar_pairs(report.rows))
        heads += [f"seed pairs differing (McNemar p (Holm) < {ALPHA})", "b / c"]
        notes.append(
            "McNemar's exact test per matched seed pair: do these two trained networks differ on these "
            f"images (the unit is the test image; not a test of the activation, never a decision); p (Holm): "
            f"Holm over the {k} seed pairs this table prints, all groups together; b / c = images only the "
            "group / only the baseline gets right, summed over the pairs"
        )
    if "ensemble" in tests:
        heads += ["ensemble n", "ensemble acc %", "Δensemble"]
        notes.append("ensemble: mean softmax of the seeds")
    if "calibration" in tests:
        heads += ["ECE %", "ensemble ECE %"]
        notes.append(f"ECE: {ECE_BINS} equal-width confidence bins, mean ± std over seeds")
    if len(heads) == 1:
        return None
    title = (
        f"Per-image comparisons vs {o.baseline} on the same test images ({F.endpoint(o.metric)}; "
        + "; ".join(notes)
        + ")"
    )
    return Table("per-image", title, heads, [_cells(r, o, tests) for r in report.rows])


def verdicts(report: Report) -> Items | None:
    """One sentence per compared group (actbench.stats.decisions.verdict), in the report's row order."""
    lines = [r["verdict"] for r in report.rows if r.get("verdict")]
    return Items("verdicts", VERDICT_TITLE, lines) if lines else None


VERDICT_TITLE = (
    f"Verdicts (the training run is the unit: paired t over matched seeds, else Welch; better/worse: "
    f"p (Holm) < {ALPHA} and a 95% interval that excludes 0; inconclusive otherwise)"
)


def comparison_flat(row: dict[str, Any]) -> dict[str, Any]:
    """CSV columns of the comparison part; the same keys for every row (None where not computed)."""
    p = row.get("paired") or {}
    vs, power = p.get("vs_baseline") or {}, row.get("power") or {}
    ece = p.get("ece_pct") or {}
    welch = ((row.get("vs_baseline") or {}).get("acc_pct")) or {}
    ci = row.get("decision_ci") or [None, None]
    ends = row.get("endpoints") or {}
    pi = (ends.get(row.get("decision_metric")) or {}).get("prob_improvement") or {}
    return {
        "acc_pct_p_welch_vs_baseline": welch.get("p"),
        "decision": row.get("decision"),
        "decision_method": row.get("decision_method"),
        "decision_p": row.get("decision_p"),
        "decision_p_holm": row.get("decision_p_holm"),
        "decision_ci_low": ci[0],
        "decision_ci_high": ci[1],
        **{f"diff_{m}": (ends.get(m) or {}).get("diff") for m in R.CHECKPOINTS},
        "prob_improvement": pi.get("p"),
        "seeds_needed_80pct_power_post_hoc": power.get("seeds_needed"),
        "seeds_needed_for_mde": power.get("seeds_for_mde"),
        "power_basis": power.get("basis"),
        "mcnemar_pairs": vs.get("pairs"),
        "mcnemar_pairs_differ": vs.get("pairs_differ"),
        "mcnemar_b": vs.get("b"),
        "mcnemar_c": vs.get("c"),
        "ensemble_n": p.get("n"),
        "ensemble_acc_pct": p.get("ensemble_acc_pct"),
        "ensemble_acc_pct_diff_vs_baseline": vs.get("ensemble_diff"),
        "ece_pct_mean": ece.get("mean"),
        "ece_pct_std": ece.get("std"),
        "ensemble_ece_pct": p.get("ensemble_ece_pct"),
        "verdict": row.get("verdict"),
    }
