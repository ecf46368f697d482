"""Run folders as pandas DataFrames, for notebooks: `load_runs`, `load_metrics`, `load_report`.

    import actbench
    runs = actbench.load_runs("docs/results/runs/cifar10-cpu")        # one row per run
    curves = actbench.load_metrics("docs/results/runs/cifar10-cpu")   # one row per run and epoch
    tables = actbench.load_report("docs/results/runs/cifar10-cpu", metric="best")  # the report's tables

Runs are found and read exactly as `actbench report` finds and reads them (`actbench.report.groups`):
any folder under the paths that holds config.yaml and summary.json or metrics.jsonl. **Accuracies are in
percent everywhere**, in columns whose names end in ``_pct`` (``last.test_acc_pct``, ``val_acc_pct``,
``test_acc_pct_mean``), as in every report; the run folders store fractions. The warnings the report
would print (broken or skipped folders) are in ``df.attrs["warnings"]``.

pandas is an optional extra: ``pip install 'actbench[analysis]'``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from actbench import runs as R

Paths = str | Path | Sequence[str | Path]
FINAL = ("epoch", "val_loss", "val_acc", "test_loss", "test_acc")  # summary.json's last/best entries
SUMMARY = ("epochs_done", "wall_time_s", "parameters", "macs_per_image", "error")


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise ImportError("actbench's DataFrames need pandas: pip install 'actbench[analysis]'") from None
    return pandas


def _paths(paths: Paths) -> list[str | Path]:
    return [paths] if isinstance(paths, (str, Path)) else list(paths)


def _runs(paths: Paths) -> tuple[list[Any], list[str]]:
    from actbench.report.groups import load_runs as read_runs  # local: `import actbench` stays light

    return read_runs(_paths(paths))


def _mean(values: Any) -> float | None:
    """A learned parameter's value: the value (layer sharing) or the mean over channels."""
    if isinstance(values, dict):  # metrics.jsonl's per-channel summary {"mean", "min", "max"}
        values = values.get("mean")
    values = values if isinstance(values, list) else [values]
    nums = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    return sum(nums) / len(nums) if nums else None


def _learned(prefix: str, learned: Any) -> dict[str, float | None]:
    """{"<prefix>.<layer>.<param>": value} from {layer: {param: values}}."""
    if not isinstance(learned, dict):
        return {}
    return {
        f"{prefix}.{layer}.{name}": _mean(values)
        for layer, params in learned.items()
        if isinstance(params, dict)
        for name, values in params.items()
    }


def _percent(row: dict[str, Any]) -> dict[str, Any]:
    """Accuracy columns (``*_acc``, fractions in the run folders) as ``*_acc_pct`` in percent: one unit
    across the pandas API, the report's."""
    out = {}
    for k, v in row.items():
        if k.endswith("_acc"):
            number = isinstance(v, int | float) and not isinstance(v, bool)
            out[f"{k}_pct"] = 100 * v if number else v  # a damaged value stays as read (a warning names it)
        else:
            out[k] = v
    return out


def _frame(rows: list[dict[str, Any]], warnings: list[str], first: Sequence[str]) -> Any:
    pd = _pandas()
    df = pd.DataFrame(rows)
    df = df[[*[c for c in first if c in df.columns], *[c for c in df.columns if c not in first]]]
    df.attrs["warnings"] = list(warnings)
    return df


def load_runs(paths: Paths) -> Any:
    """One row per run folder under `paths`: ``run`` (the folder), ``status``, every config key flattened
    (``activation.name``, ``train.seed``, ``model.name``, ...), the final and best-validation results
    (``last.test_acc_pct``, ``best.epoch``, ...), ``epochs_done``, ``wall_time_s``, ``steady_epoch_s``,
    ``parameters``, ``macs_per_image`` and the learned activation parameters at the end
    (``learned.<layer>.<param>``, the mean over channels with channel sharing)."""
    _pandas()  # before reading: the missing extra is the first thing to hear about
    runs, warnings = _runs(paths)
    rows = []
    for run in runs:
        s = run.summary if isinstance(run.summary, dict) else {}
        row: dict[str, Any] = {"run": str(run.path), "status": run.status, **run.flat}
        for part in R.CHECKPOINTS:
            entry = s.get(part)
            if not isinstance(entry, dict):
                entry = {}
            row |= {f"{part}.{k}": entry.get(k) for k in FINAL}
        row |= {k: s.get(k) for k in SUMMARY}
        timing = s.get("timing")
        if not isinstance(timing, dict):
            timing = {}
        row["steady_epoch_s"] = timing.get("steady_epoch_s")
        rows.append(_percent(row) | _learned("learned", s.get("learned")))
    return _frame(rows, warnings, ("run", "status", "activation.name", "train.seed"))


def load_metrics(paths: Paths) -> Any:
    """One row per run and epoch (metrics.jsonl): ``run``, ``activation.name``, ``train.seed``,
    ``epoch``, ``train_loss``, ``train_acc_pct``, ``val_loss``, ``val_acc_pct``, ``lr``, ``epoch_time_s``,
    ``images_per_s`` and the learned parameters after that epoch (``act.<layer>.<param>``, the mean over
    channels). Other config keys: merge with `load_runs` on ``run``."""
    _pandas()
    runs, warnings = _runs(paths)
    rows = []
    for run in runs:
        keys = {"run": str(run.path), **{k: run.flat.get(k) for k in ("activation.name", "train.seed")}}
        for rec in run.records:
            plain = {k: v for k, v in rec.items() if k != "act" and not isinstance(v, (dict, list))}
            rows.append(keys | _percent(plain) | _learned("act", rec.get("act")))
    return _frame(rows, warnings, ("run", "activation.name", "train.seed", "epoch"))


def load_report(paths: Paths, **options: Any) -> dict[str, Any]:
    """The tables of ``actbench report PATHS`` as DataFrames; `options` are the report's (baseline,
    metric, sort, where, paper, tests, bootstrap, mde; e.g. ``metric="best", where=["data.name=cifar10"]``).

    ``summary``: one row per group of seeds, the columns of ``actbench report --format csv`` (accuracy in
    %, comparisons with the baseline, cost, robustness); ``learned``: the learned-parameter table (rows:
    init and layers, columns: groups; means over seeds); ``runs``: one row per run of each group (path,
    seed, status, its accuracy in %). The report's warnings are in ``summary.attrs["warnings"]``."""
    pd = _pandas()
    from actbench.report.build import build_report  # local: statistics and tables load on demand
    from actbench.report.exports import flat_row

    report = build_report(_paths(paths), **options)
    summary = _frame([flat_row(r) for r in report.rows], report.warnings, ("group",))
    learned = report.learned
    cells = {
        col: {layer: (v or {}).get("mean") for layer, v in learned["cells"][col].items()}
        for col in learned["columns"]
    }
    learned_df = pd.DataFrame(cells, index=learned["layers"], columns=learned["columns"])
    learned_df.index.name = "layer"
    runs = [{"group": r["group"], "activation": r["activation"], **e} for r in report.rows for e in r["runs"]]
    return {"summary": summary, "learned": learned_df, "runs": _frame(runs, [], ("group", "activation"))}
