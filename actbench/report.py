"""`actbench report`: read run folders, group seeds of one experiment, statistics, tables and exports.

Only the folders are read (never the processes that made them). Computation returns plain dicts/lists;
rendering (rich tables, Markdown, CSV, LaTeX, JSON) lives in `actbench.tables`. Accuracies are in
percent from here on (run folders store fractions); losses are mean cross-entropy per image.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from actbench import runs as R


class ReportError(ValueError):
    """A user error (bad path, bad option); the message is one readable line."""


METRICS = ("last", "best")
SORTS = ("paper", "name", "acc", "loss", "p")
FORMATS = ("table", "md", "csv", "latex", "json")
# Runs differing only in these keys are seeds of one experiment: seed, bookkeeping, where the data lives.
IGNORED_KEYS = frozenset(
    {
        "train.seed",
        "run.name",
        "run.out",
        "run.checkpoint_every",
        "data.root",
        "data.download",
        "data.cache",
        "data.cache_dir",
        # evaluation after training (actbench.noise): never changes the trained model
        "robustness.enabled",
        "robustness.kinds",
        "robustness.levels",
        "robustness.seed",
        "robustness.checkpoint",
    }
)
RUN_FILES = frozenset({R.CONFIG, R.METRICS, R.SUMMARY, R.ENV, R.CKPT_LAST, R.CKPT_BEST, R.ROBUSTNESS})
ALIASES = {"exp": "exponential"}
# What a noise level means per kind (actbench.noise); for labels of tables and figures.
NOISE_UNITS = {
    "gaussian": "std in [0,1] pixel units",
    "uniform": "half-width in [0,1] pixel units",
    "salt_pepper": "fraction of pixels",
}
MEMORY_KINDS = {"max_rss": "rss", "cuda_max_allocated": "gpu"}  # peak_memory.kind -> short table label
PAPER_ORDER = ("relu", "elu", "prelu", "rational", "exponential")
# Paper Tables 2 (CIFAR-10) and 3 (CIFAR-100): test (loss, accuracy %), a single run each.
PAPER = {
    "cifar10": {
        "relu": (0.591, 77.7),
        "elu": (0.504, 80.4),
        "prelu": (0.547, 79.8),
        "rational": (0.389, 80.2),
        "exponential": (0.399, 80.8),
    },
    "cifar100": {
        "relu": (1.83, 55.0),
        "elu": (1.72, 56.1),
        "prelu": (1.81, 56.6),
        "rational": (1.66, 56.9),
        "exponential": (1.55, 56.5),
    },
}
# Paper Table 1: learned `a` per layer after CIFAR-10 training (shared per layer).
PAPER_LEARNED = {
    "prelu": {"init": 0.25, "conv1": 0.056, "conv2": 0.027, "conv3": 0.030},
    "rational": {"init": 1.0, "conv1": 0.118, "conv2": 0.103, "conv3": 0.206},
    "exponential": {"init": 0.0, "conv1": -2.11, "conv2": -2.03, "conv3": -1.66},
}


@dataclass
class Run:
    path: Path
    flat: dict[str, Any]  # resolved config with dotted keys ("optim.lr"); lists as tuples
    status: str  # completed | failed | interrupted | running | unknown (unreadable summary)
    summary: dict[str, Any]
    records: list[dict[str, Any]]  # metrics.jsonl, one per epoch
    robustness: dict[str, Any] | None = None  # robustness.json (actbench.noise), when the run has one


@dataclass
class Group:
    flat: dict[str, Any]  # the config every run shares (IGNORED_KEYS removed)
    runs: list[Run]
    label: str = ""

    @property
    def activation(self) -> str:
        return act_name(self.flat.get("activation.name"))

    @property
    def completed(self) -> list[Run]:
        return [r for r in self.runs if r.status == "completed"]


@dataclass
class Report:
    groups: list[Group]  # in display order, parallel to rows
    rows: list[dict[str, Any]]  # one plain dict per group (what JSON/CSV export)
    learned: dict[str, Any]  # Table-1 layout of learned activation parameters
    options: dict[str, Any]
    warnings: list[str]


def act_name(name: Any) -> str:
    text = str(name).lower() if name is not None else "?"
    return ALIASES.get(text, text)


# --- loading ----------------------------------------------------------------------------------------


def _walk(path: Path, found: dict[Path, Path], warnings: list[str]) -> None:
    for dirpath, dirnames, filenames in os.walk(
        path, onerror=lambda e: warnings.append(f"{e.filename}: unreadable ({e.strerror}), skipped")
    ):
        here = Path(dirpath)
        dirnames.sort()
        if R.is_run_dir(here):
            found.setdefault(here.resolve(), here)  # keyed by real path: overlapping PATHs list a run once
            dirnames.clear()  # a run folder holds no runs
        elif RUN_FILES & set(filenames):
            warnings.append(
                f"{here}: not a run (needs config.yaml and summary.json or metrics.jsonl), skipped"
            )


def find_run_dirs(paths: Sequence[str | Path]) -> tuple[list[Path], list[str]]:
    """Run folders under `paths` (recursively), and warnings for folders that look like broken runs."""
    if not paths:
        raise ReportError("no PATH given: pass run folders or folders that hold runs")
    found: dict[Path, Path] = {}
    warnings: list[str] = []
    for path in map(Path, paths):
        if not path.exists():
            raise ReportError(f"{path}: no such file or directory")
        if not path.is_dir():
            raise ReportError(f"{path}: not a directory (pass a run folder or a folder holding runs)")
        before = len(found)
        _walk(path, found, warnings)
        if len(found) == before:
            warnings.append(f"{path}: no run folders found")
    if not found:
        raise ReportError(
            f"no run folders under {', '.join(map(str, paths))} "
            "(a run folder holds config.yaml and summary.json or metrics.jsonl)"
        )
    return list(found.values()), warnings


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"optim": {"lr": 0.1}} -> {"optim.lr": 0.1}; lists become tuples so values compare and hash."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = tuple(value) if isinstance(value, list) else value
    return out


@functools.cache
def _defaults() -> dict[str, Any]:
    """Today's config defaults, so a run written before a key existed still groups with newer ones."""
    try:
        from actbench.config import Config, to_dict
    except ImportError:
        return {}
    return flatten(to_dict(Config()))


def _default_init(name: str) -> float | None:
    try:
        from actbench.activations import ACTIVATIONS
    except ImportError:
        return None
    spec = ACTIVATIONS.get(name)
    return spec.init if spec is not None else None


def _read_config(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    try:
        raw = yaml.safe_load((path / R.CONFIG).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return None, f"{path / R.CONFIG}: unreadable ({type(exc).__name__}), run skipped"
    if not isinstance(raw, dict):
        return None, f"{path / R.CONFIG}: not a mapping of config sections, run skipped"
    flat = {**_defaults(), **flatten(raw)}  # a copy: _defaults() is cached
    flat["activation.name"] = act_name(flat.get("activation.name"))
    if flat.get("activation.init") is None:  # null means the activation's default: name it
        flat["activation.init"] = _default_init(flat["activation.name"])
    return flat, None


def _read_summary(path: Path) -> tuple[dict[str, Any], str, list[str]]:
    if not (path / R.SUMMARY).exists():
        return {}, "unknown", [f"{path}: no summary.json, run marked unknown"]
    try:
        summary = R.read_json(path / R.SUMMARY)
    except R.RunError as exc:
        return {}, "unknown", [f"{exc}; run marked unknown"]
    status = summary.get("status")
    if status not in R.STATUSES:
        return summary, "unknown", [f"{path / R.SUMMARY}: unknown status {status!r}, run marked unknown"]
    if status == "completed" and not isinstance(summary.get("last"), dict):
        return (
            summary,
            "unknown",
            [f"{path / R.SUMMARY}: completed without final results, run marked unknown"],
        )
    return summary, status, []


def load_run(path: Path) -> tuple[Run | None, list[str]]:
    """One run folder; None (with a warning) when its config cannot be read."""
    flat, problem = _read_config(path)
    if flat is None:
        return None, [problem or f"{path}: unreadable"]
    try:
        records, warnings = R.read_metrics(path)
    except OSError as exc:
        records, warnings = [], [f"{path / R.METRICS}: unreadable ({exc.strerror}), curves skipped"]
    summary, status, more = _read_summary(path)
    robustness, problems = _read_robustness(path)
    return Run(path, flat, status, summary, records, robustness), warnings + more + problems


def _read_robustness(path: Path) -> tuple[dict[str, Any] | None, list[str]]:
    """robustness.json if present (most runs have none: no warning), with a `results` mapping."""
    if not (path / R.ROBUSTNESS).exists():
        return None, []
    try:
        data = R.read_json(path / R.ROBUSTNESS)
    except R.RunError as exc:
        return None, [f"{exc}; robustness skipped"]
    if not isinstance(data.get("results"), dict):
        return None, [f"{path / R.ROBUSTNESS}: no results, robustness skipped"]
    return data, []


def load_runs(paths: Sequence[str | Path]) -> tuple[list[Run], list[str]]:
    dirs, warnings = find_run_dirs(paths)
    loaded: list[Run] = []
    for path in dirs:
        run, more = load_run(path)
        warnings += more
        if run is not None:
            loaded.append(run)
    if not loaded:
        raise ReportError(f"no readable runs under {', '.join(map(str, paths))}")
    return loaded, warnings


# --- filtering and grouping -------------------------------------------------------------------------


def _matches(value: Any, wanted: str, key: str) -> bool:
    if key == "activation.name":
        return value == act_name(wanted)
    try:
        parsed = yaml.safe_load(wanted)  # typed like `--set`: 0.01, true, [32,32,32]
    except yaml.YAMLError:
        parsed = wanted
    parsed = tuple(parsed) if isinstance(parsed, list) else parsed
    if isinstance(value, float) and isinstance(parsed, str):  # PyYAML reads 1e-3 as a string
        with contextlib.suppress(ValueError):
            parsed = float(parsed)
    return value == parsed or str(value) == wanted


def filter_runs(runs: list[Run], where: Sequence[str]) -> list[Run]:
    """Keep runs matching every `key=value`; repeating a key means any of its values (OR)."""
    conds: dict[str, list[str]] = {}
    for text in where:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise ReportError(
                f"--where {text!r}: expected key=value with a dotted config key, e.g. data.name=cifar10"
            )
        conds.setdefault(key.strip(), []).append(value.strip())
    for key in conds:
        if not any(key in r.flat for r in runs):
            raise ReportError(f"--where {key}: no run has this config key (e.g. data.name, optim.lr)")
    kept = [r for r in runs if all(any(_matches(r.flat.get(k), w, k) for w in ws) for k, ws in conds.items())]
    if not kept:
        raise ReportError(f"no runs match {' '.join('--where ' + w for w in where)}")
    return kept


def group_runs(runs: list[Run]) -> list[Group]:
    """Runs whose configs agree except for IGNORED_KEYS (seed, name, ...) form one group."""
    groups: dict[str, Group] = {}
    for run in runs:
        # for a folder dataset the root *is* the data set; for cifar/synthetic it is only a location
        ignored = IGNORED_KEYS - {"data.root"} if run.flat.get("data.name") == "folder" else IGNORED_KEYS
        shared = {k: v for k, v in run.flat.items() if k not in ignored}
        key = json.dumps(sorted(shared.items()), default=str)
        groups.setdefault(key, Group(shared, [])).runs.append(run)
    out = list(groups.values())
    _label_groups(out)
    return out


def _varies(groups: list[Group], key: str) -> bool:
    """activation.* keys (init, params) differ by activation anyway: they count only within one name."""
    missing = object()
    by_act: dict[str, set[str]] = {}
    for g in groups:
        scope = g.activation if key.startswith("activation.") else ""
        by_act.setdefault(scope, set()).add(repr(g.flat.get(key, missing)))
    return any(len(values) > 1 for values in by_act.values())


def _fmt_value(value: Any) -> str:
    return "[" + ", ".join(map(str, value)) + "]" if isinstance(value, tuple) else str(value)


def _label_groups(groups: list[Group]) -> None:
    keys = sorted({k for g in groups for k in g.flat} - {"activation.name"})
    shown = [k for k in keys if _varies(groups, k)]
    for g in groups:
        extra = ", ".join(f"{k}={_fmt_value(g.flat[k])}" for k in shown if k in g.flat)
        g.label = f"{g.activation} ({extra})" if extra else g.activation


def find_baseline(group: Group, groups: list[Group], baseline: str) -> Group | None:
    """The `baseline` group with the same non-activation settings; ties: most alike, then most runs."""
    if group.activation == baseline:
        return None

    def rest(g: Group) -> dict[str, Any]:
        return {k: v for k, v in g.flat.items() if not k.startswith("activation.")}

    cands = [g for g in groups if g.activation == baseline and rest(g) == rest(group)]
    alike = lambda g: sum(g.flat.get(k) == v for k, v in group.flat.items())  # noqa: E731
    return max(cands, key=lambda g: (alike(g), len(g.completed)), default=None)


# --- statistics -------------------------------------------------------------------------------------


def describe(values: Sequence[float]) -> dict[str, Any]:
    """n, mean, sample std (ddof=1) and the t-based 95% confidence interval of the mean (None if n<2)."""
    from scipy import stats

    n = len(values)
    out: dict[str, Any] = {"n": n, "mean": None, "std": None, "ci_low": None, "ci_high": None}
    if n:
        out["mean"] = math.fsum(values) / n
    if n >= 2:
        std = statistics.stdev(values)
        half = float(stats.t.ppf(0.975, n - 1)) * std / math.sqrt(n)
        out.update(std=std, ci_low=out["mean"] - half, ci_high=out["mean"] + half)
    return out


def _finite(x: Any) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def compare(values: Sequence[float], base: Sequence[float]) -> dict[str, Any]:
    """mean(values) - mean(base); two-sided Welch t-test and Cohen's d (pooled sd) when both n >= 2."""
    from scipy import stats

    out: dict[str, Any] = {"diff": None, "t": None, "df": None, "p": None, "d": None}
    if not values or not base:
        return out
    na, nb = len(values), len(base)
    out["diff"] = math.fsum(values) / na - math.fsum(base) / nb
    if na < 2 or nb < 2:
        return out
    va, vb = statistics.variance(values), statistics.variance(base)
    pooled = math.sqrt(((na - 1) * va + (nb - 1) * vb) / (na + nb - 2))
    out["d"] = out["diff"] / pooled if pooled > 0 else None
    se2 = va / na + vb / nb
    if se2 > 0:  # no spread on either side: the test is undefined, leave t/df/p empty
        t = out["diff"] / math.sqrt(se2)
        df = se2**2 / ((va / na) ** 2 / (na - 1) + (vb / nb) ** 2 / (nb - 1))  # Welch-Satterthwaite
        out.update(t=t, df=df, p=_finite(2 * stats.t.sf(abs(t), df)))
    return out


def run_result(run: Run, metric: str) -> dict[str, float] | None:
    """Test accuracy (%), loss and epoch of a completed run at `metric` (last | best), if recorded."""
    part = run.summary.get(metric)
    try:
        acc, loss = float(part["test_acc"]), float(part["test_loss"])
    except (TypeError, KeyError, ValueError):
        return None
    if not (math.isfinite(acc) and math.isfinite(loss)):
        return None
    return {"acc": 100 * acc, "loss": loss, "epoch": part.get("epoch")}


def _dict(x: Any) -> dict[str, Any]:
    return x if isinstance(x, dict) else {}  # a damaged summary.json may hold anything


def _mean(values: Sequence[Any]) -> float | None:
    nums = [
        float(v)
        for v in values
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    ]
    return math.fsum(nums) / len(nums) if nums else None


def timing_stats(runs: list[Run]) -> dict[str, Any]:
    """Mean steady epoch seconds and images/s (epoch 1 is warm-up), largest peak memory of the runs."""
    ips = [_mean([r.get("images_per_s") for r in run.records[1:] or run.records]) for run in runs]
    steady = [_dict(run.summary.get("timing")).get("steady_epoch_s") for run in runs]
    mems = [_dict(run.summary.get("peak_memory")) for run in runs]
    mems = [m for m in mems if _mean([m.get("bytes")]) is not None]
    return {
        "steady_epoch_s": _mean(steady),
        "images_per_s": _mean(ips),
        "peak_memory_bytes": max((m["bytes"] for m in mems), default=None),
        "peak_memory_kind": "/".join(sorted({str(m.get("kind")) for m in mems})) or None,
    }


def learned_stats(runs: list[Run]) -> dict[str, dict[str, dict[str, Any]]]:
    """{layer: {param: describe(per-run values)}}; channel-shared values are averaged over channels first."""
    per: dict[str, dict[str, list[float]]] = {}
    for run in runs:
        for layer, params in _dict(run.summary.get("learned")).items():
            for name, values in _dict(params).items():
                value = _mean(values if isinstance(values, list) else [values])
                if value is not None:
                    per.setdefault(layer, {}).setdefault(name, []).append(value)
    return {layer: {n: describe(v) for n, v in params.items()} for layer, params in per.items()}


# --- robustness to input noise (robustness.json of actbench.noise) --------------------------------


def robustness_curve(run: Run, kind: str) -> dict[float, float]:
    """{noise level: test accuracy %} of one run under `kind` noise; {} when it has none."""
    entries = _dict(_dict(run.robustness).get("results")).get(kind)
    out: dict[float, float] = {}
    for e in entries if isinstance(entries, list) else []:
        level, acc = _mean([_dict(e).get("level")]), _mean([_dict(e).get("acc")])  # None unless a number
        if level is not None and acc is not None:
            out[round(level, 9)] = 100 * acc  # rounded: levels from JSON match as keys
    return out


def robustness_levels(runs: list[Run]) -> dict[str, list[float]]:
    """Per noise kind, the levels that every run measuring that kind has, so AUCs compare like with like."""
    kinds = sorted({k for r in runs for k in _dict(_dict(r.robustness).get("results"))})
    out: dict[str, list[float]] = {}
    for kind in kinds:
        curves = [set(c) for c in (robustness_curve(r, kind) for r in runs) if c]
        if curves:
            out[kind] = sorted(set.intersection(*curves))
    return out


def auc(levels: Sequence[float], accs: Sequence[float]) -> float:
    """Trapezoid area under accuracy vs level, divided by the level range: a mean accuracy over levels."""
    if len(levels) == 1:
        return accs[0]
    steps = range(len(levels) - 1)
    area = math.fsum((levels[i + 1] - levels[i]) * (accs[i] + accs[i + 1]) / 2 for i in steps)
    return area / (levels[-1] - levels[0])


def robustness_curves(runs: list[Run], kind: str, levels: list[float]) -> list[tuple[Run, list[float]]]:
    """(run, accuracy % at each of `levels`) for the runs that measured all of them."""
    pairs = [(r, robustness_curve(r, kind)) for r in runs]
    return [(r, [c[lv] for lv in levels]) for r, c in pairs if levels and all(lv in c for lv in levels)]


def robustness_stats(
    runs: list[Run], kind: str, levels: list[float], base_runs: list[Run] | None
) -> dict[str, Any]:
    """Accuracy % per level and its AUC (describe over seeds), and the AUC vs the baseline's (Welch)."""
    curves = robustness_curves(runs, kind, levels)
    aucs = [auc(levels, accs) for _, accs in curves]
    checkpoints = sorted({str(_dict(r.robustness).get("checkpoint")) for r, _ in curves})
    base = [auc(levels, accs) for _, accs in robustness_curves(base_runs or [], kind, levels)]
    return {
        "levels": levels,
        "n": len(curves),
        "checkpoint": "/".join(checkpoints) or None,
        "acc_pct": [describe([accs[i] for _, accs in curves]) for i in range(len(levels))],
        "auc_pct": describe(aucs),
        "vs_baseline": None if base_runs is None else compare(aucs, base),
    }


def _robustness_row(used: list[Run], base: Group | None, groups: list[Group]) -> dict[str, Any]:
    levels = robustness_levels([r for g in groups for r in g.completed])  # report-wide: one grid per kind
    base_runs = base.completed if base is not None else None
    return {kind: robustness_stats(used, kind, lv, base_runs) for kind, lv in levels.items() if lv}


def robustness_warnings(groups: list[Group]) -> list[str]:
    """One line per noise kind whose levels differ between runs (only the shared levels are compared)."""
    runs = [r for g in groups for r in g.completed]
    out = []
    for kind, levels in robustness_levels(runs).items():
        dropped = sorted(set().union(*(robustness_curve(r, kind) for r in runs)) - set(levels))
        if dropped:
            listed = ", ".join(f"{x:g}" for x in dropped)
            out.append(f"robustness {kind}: level(s) {listed} not measured in every run, left out")
    return out


def _excluded(group: Group, n_used: int) -> dict[str, int]:
    """Runs left out of the statistics, by reason: failed, interrupted, running, unknown, no result."""
    other = [r.status for r in group.runs if r.status != "completed"]
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


def group_row(group: Group, groups: list[Group], opts: dict[str, Any]) -> dict[str, Any]:
    """Everything reported about one group, as plain data (accuracy in %)."""
    results = {id(r): run_result(r, opts["metric"]) for r in group.completed}
    used = [r for r in group.completed if results[id(r)]]
    acc, loss = [results[id(r)]["acc"] for r in used], [results[id(r)]["loss"] for r in used]
    base = find_baseline(group, groups, opts["baseline"])
    paper = PAPER.get(opts["paper"] or "", {}).get(group.activation)
    return {
        "group": group.label,
        "activation": group.activation,
        "n": len(used),
        "excluded": _excluded(group, len(used)),
        "test_acc_pct": describe(acc),
        "test_loss": describe(loss),
        "epoch": _mean([results[id(r)]["epoch"] for r in used]),
        "baseline": base.label if base else None,
        "vs_baseline": _vs_baseline(acc, loss, base, opts["metric"]),
        "timing": timing_stats(used),
        "learned": learned_stats(used),
        "init": group.flat.get("activation.init"),
        "paper": {"test_loss": paper[0], "test_acc_pct": paper[1]} if paper else None,
        "robustness": _robustness_row(used, base, groups),
        "runs": [_run_entry(r, results.get(id(r))) for r in group.runs],
    }


# --- the report -------------------------------------------------------------------------------------


def layer_key(layer: str) -> tuple[int, int, str]:
    """conv1 < conv2 < conv10 < fc1 < anything else."""
    kind = next((i for i, p in enumerate(("conv", "fc")) if layer.startswith(p)), 2)
    digits = layer.lstrip("abcdefghijklmnopqrstuvwxyz_")
    return kind, int(digits) if digits.isdigit() else 0, layer


def learned_table(rows: list[dict[str, Any]], paper: str | None = None) -> dict[str, Any]:
    """Paper Table 1 layout: rows init + layers, one column per learnable group (describe() over seeds)."""
    cols = [r for r in rows if r["learned"]]
    layers = sorted({layer for r in cols for layer in r["learned"]}, key=layer_key)
    names = sorted({n for r in cols for params in r["learned"].values() for n in params})
    columns, cells = [], {}
    for r in cols:
        for name in [n for n in names if any(n in p for p in r["learned"].values())]:
            col = r["group"] if len(names) == 1 else f"{r['group']} {name}"
            columns.append(col)
            init = {"mean": r["init"], "std": None} if name == "a" and r["init"] is not None else None
            cells[col] = {"init": init, **{layer: r["learned"].get(layer, {}).get(name) for layer in layers}}
    for act, ref in PAPER_LEARNED.items() if paper == "cifar10" else ():
        if any(r["activation"] == act for r in cols):
            columns.append(f"{act} (paper)")
            cells[columns[-1]] = {k: {"mean": v, "std": None} for k, v in ref.items()}
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
            names = ", ".join(a for a in allowed if a)
            raise ReportError(f"{name}: {value!r} is not allowed (allowed: {names})")


def build_report(
    paths: Sequence[str | Path],
    baseline: str = "relu",
    metric: str = "last",
    sort: str = "paper",
    where: Sequence[str] = (),
    paper: str | None = None,
) -> Report:
    """Load, filter, group and summarise the runs under `paths`; raises ReportError on user errors."""
    _check_options(metric, sort, paper, "table")
    runs, warnings = load_runs(paths)
    groups = group_runs(filter_runs(runs, where))
    opts = {
        "baseline": act_name(baseline),
        "metric": metric,
        "sort": sort,
        "where": list(where),
        "paper": paper,
    }
    if not any(g.activation == opts["baseline"] for g in groups):
        warnings.append(f"--baseline {baseline}: no such runs, so no comparisons")
    datasets = sorted({str(g.flat.get("data.name")) for g in groups} - {str(paper), "folder"})
    if paper and datasets:
        warnings.append(
            f"--paper {paper}: the paper's numbers are for {paper}, runs have data.name={datasets[0]}"
        )
    rows = [group_row(g, groups, opts) for g in groups]
    warnings += robustness_warnings(groups)
    order = sorted(range(len(rows)), key=lambda i: _sort_key(rows[i], sort))
    rows, groups = [rows[i] for i in order], [groups[i] for i in order]
    return Report(groups, rows, learned_table(rows, paper), opts, warnings)


def report_main(
    paths: Sequence[str | Path],
    baseline: str = "relu",
    metric: str = "last",
    sort: str = "paper",
    where: Sequence[str] = (),
    paper: str | None = None,
    fmt: str = "table",
    out: Path | None = None,
    plots: Path | None = None,
    console: Any = None,
) -> list[str]:
    """`actbench report`: build the report, render it, write figures to `plots`; returns the warnings."""
    _check_options(metric, sort, paper, fmt)
    report = build_report(paths, baseline, metric, sort, where, paper)
    warnings, files = list(report.warnings), []
    if plots is not None:
        from actbench.figures import write_figures

        files, more = write_figures(report, Path(plots))
        warnings += more
    if console is None:
        from rich.console import Console

        console = Console()
    from actbench.tables import render_report

    render_report(report, fmt, console, out)
    if files and fmt == "table" and out is None:  # stdout carries nothing but an export otherwise
        console.print(f"{len(files)} figures written to {plots}", highlight=False)
    return warnings
