"""`actbench report RUNS --reference OTHER`: the same groups in another sweep, side by side.

Made for "did the conclusions hold": the paper's protocol at 200 epochs next to the same presets at 20,
a re-run on another machine, a later version of an activation. Each side's decision is its own (made by
`report.comparisons` with the same options, the training run as the unit); this module only lines the
two up. The "same sign" column says whether both differences from the baseline point the same way: a
description, not a test of whether the two sweeps differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from actbench.report import fmt as F
from actbench.report.model import Report, Table


def reference_label(paths: Sequence[str | Path]) -> str:
    """How the reference is named in titles and columns: its folders' names."""
    return ", ".join(Path(p).resolve().name for p in paths)


def _side(row: dict[str, Any] | None) -> dict[str, Any] | None:
    """What one sweep says of one group: runs, epoch, accuracy, difference from the baseline, decision."""
    if row is None:
        return None
    diff = ((row.get("vs_baseline") or {}).get("acc_pct") or {}).get("diff")
    return {
        "n": row["n"],
        "epoch": row.get("epoch"),
        "acc_pct": row["test_acc_pct"],
        "diff": diff,
        "ci": row.get("decision_ci"),
        "decision": row.get("decision"),
    }


def _same_sign(a: float | None, b: float | None) -> bool | None:
    if a is None or b is None or a == 0 or b == 0:
        return None
    return (a > 0) == (b > 0)


def reference_rows(
    rows: list[dict[str, Any]], ref_rows: list[dict[str, Any]], label: str, baseline: str
) -> dict[str, Any]:
    """{"label", "rows": [{group, baseline, this, reference, same_sign}]} for this report's groups, in
    its order; a group the reference lacks has reference None (a reference-only group is left out)."""
    ref = {r["group"]: r for r in ref_rows}
    out = []
    for r in rows:
        this, other = _side(r), _side(ref.get(r["group"]))
        assert this is not None  # r is a row
        same = _same_sign(this["diff"], other["diff"]) if other else None
        base = r["activation"] == baseline
        out.append(
            {"group": r["group"], "baseline": base, "this": this, "reference": other, "same_sign": same}
        )
    return {"label": label, "rows": out}


def data_mismatch(groups: Sequence[Any], ref_groups: Sequence[Any], label: str) -> list[str]:
    """A warning when groups lined up by label were trained on different data sets (data.name): their
    rows then compare two tasks, not one task twice."""
    ref = {g.label: g for g in ref_groups}
    pairs = [(g.label, g.flat.get("data.name"), ref[g.label].flat.get("data.name")) for g in groups
             if g.label in ref]  # fmt: skip
    differ = [f"{name}: {a} here, {b} there" for name, a, b in pairs if a != b]
    if not differ:
        return []
    return [f"--reference {label}: groups lined up across different data sets ({'; '.join(differ)})"]


def _diff(side: dict[str, Any]) -> str:
    return F.NONE if side["diff"] is None else f"{side['diff']:+.2f}" + F.bracket(side["ci"])


def _cells(side: dict[str, Any] | None, baseline: bool) -> list[str]:
    if side is None:
        return ["—"] * 5
    epoch = "—" if side["epoch"] is None else f"{side['epoch']:g}"
    if baseline:
        return [str(side["n"]), epoch, F.pm(side["acc_pct"], ".2f"), "baseline", "—"]
    return [str(side["n"]), epoch, F.pm(side["acc_pct"], ".2f"), _diff(side), side["decision"] or "—"]


def reference_title(section: dict[str, Any], baseline: str, metric: str) -> str:
    return (
        f"Compared with {section['label']} (the same groups in another sweep; {F.endpoint(metric)}; "
        f"test accuracy % mean ± std over seeds; Δacc vs {baseline} with its 95% interval and each "
        "sweep's own decision, the training run as the unit (see Decisions); same sign: both differences "
        "point the same way, a description, not a test)"
    )


def reference_cells(section: dict[str, Any], baseline: str) -> tuple[list[str], list[list[str]]]:
    label = section["label"]
    heads = ["group", "runs", "epoch", "test acc %", f"Δacc vs {baseline}", "decision"]
    heads += [f"{h} ({label})" for h in heads[1:]] + ["same sign"]
    rows = []
    for r in section["rows"]:
        is_base = r["baseline"]
        same = {True: "yes", False: "no", None: "—"}[r["same_sign"]]
        rows.append(
            [r["group"], *_cells(r["this"], is_base), *_cells(r["reference"], is_base)]
            + ["—" if is_base else same]
        )
    return heads, rows


def reference_table(report: Report) -> Table:
    """The groups side by side with the same groups of the reference sweep."""
    o, section = report.options, report.reference or {"label": "", "rows": []}
    title = reference_title(section, o.baseline, o.metric)
    return Table("reference", title, *reference_cells(section, o.baseline))
