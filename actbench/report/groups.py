"""Run folders on disk -> groups of seeds: loading, filtering and grouping for `actbench report`.

Only the folders are read (never the processes that made them). A `Group` is the runs of one experiment:
their configs agree except for IGNORED_KEYS (seed, bookkeeping, where the data lives). The statistics
of a group are computed in `actbench.report.build`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from actbench import runs as R
from actbench.config import SPEED_KEYS
from actbench.data.fingerprint import folder_fingerprint
from actbench.errors import UserError
from actbench.report import fmt as F


class ReportError(UserError):
    """A user error (bad path, bad option); the message is one readable line."""


# Runs differing only in these keys are seeds of one experiment: seed, bookkeeping, where the data lives,
# speed settings.
IGNORED_KEYS = frozenset(
    {
        "train.seed",
        "run.name",
        "run.out",
        "run.checkpoint_every",
        "run.tensorboard",
        "data.root",
        "data.download",
        "data.cache",
        "data.cache_dir",
        # evaluation after training (actbench.robustness.noise): never changes the trained model
        "robustness.enabled",
        "robustness.kinds",
        "robustness.levels",
        "robustness.seed",
        "robustness.checkpoint",
        # an exact reordering (pool before a non-decreasing activation): the same model, faster
        "model.pool_first",
    }
    | set(SPEED_KEYS)  # provenance shows which were used
)
DATA_ID = "data.fingerprint"  # a folder data set's content (data.fingerprint), in place of data.root
RUN_FILES = frozenset(
    {R.CONFIG, R.METRICS, R.SUMMARY, R.ENV, R.CKPT_LAST, R.CKPT_BEST, R.ROBUSTNESS, R.PREDICTIONS}
    | {R.CORRUPTIONS}
)
ALIASES = {"exp": "exponential"}


@dataclass
class Run:
    path: Path
    flat: dict[str, Any]  # resolved config with dotted keys ("optim.lr"); lists as tuples
    status: str  # completed | failed | interrupted | running | unknown (unreadable summary)
    summary: dict[str, Any]
    records: list[dict[str, Any]]  # metrics.jsonl, one per epoch
    robustness: dict[str, Any] | None = None  # robustness.json (robustness.noise), when the run has one
    corruptions: dict[str, Any] | None = None  # corruptions.json (actbench.robustness.evaluate), if any
    env: dict[str, Any] = field(default_factory=dict)  # env.json (versions, device, data_fingerprint)
    data_id: str | None = None  # folder data: the content fingerprint (recorded, or computed from data.root)


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
        return [r for r in self.runs if r.status == R.COMPLETED]


def act_name(name: Any) -> str:
    text = str(name) if name is not None else "?"
    text = text if ":" in text else text.lower()  # "pkg.module:Name" is case-sensitive
    return ALIASES.get(text, text)


def as_dict(x: Any) -> dict[str, Any]:
    return x if isinstance(x, dict) else {}  # a damaged summary.json may hold anything


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
    from actbench.config import Config, to_dict

    return flatten(to_dict(Config()))


def _default_init(name: str) -> float | None:
    from actbench.activations import ACTIVATIONS

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
    if status == R.COMPLETED and not isinstance(summary.get("last"), dict):
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
    robustness, problems = _read_results(path, "robustness")
    corruptions, problems2 = _read_results(path, "corruptions")
    env = _read_env(path)
    run = Run(path, flat, status, summary, records, robustness, corruptions, env, env.get("data_fingerprint"))
    return run, warnings + more + problems + problems2


def _read_env(path: Path) -> dict[str, Any]:
    """env.json, {} when absent or unreadable (provenance then shows '?')."""
    try:
        return R.read_json(path / R.ENV)
    except R.RunError:
        return {}


def identify_data(runs: list[Run]) -> list[str]:
    """Fill in `data_id` of folder-data runs that recorded none (actbench before data_fingerprint) from
    their data.root, where it still exists; one warning line for those whose data is not here (they
    stay grouped by data.root)."""
    missing: list[Run] = []
    for run in runs:
        if run.flat.get("data.name") == "folder" and run.data_id is None:
            run.data_id = folder_fingerprint(str(run.flat.get("data.root")))
            if run.data_id is None:
                missing.append(run)
    if not missing:
        return []
    roots = sorted({str(r.flat.get("data.root")) for r in missing})
    return [
        f"{len(missing)} run(s) recorded no data fingerprint and their data.root is not here "
        f"({', '.join(roots)}): grouped by data.root, so copies of one data set at other paths stay apart"
    ]


def _read_results(path: Path, what: str) -> tuple[dict[str, Any] | None, list[str]]:
    """An optional evaluation file of the run (robustness.json, corruptions.json) with a `results`
    mapping; None without a warning when absent (most runs have none), with one when unusable."""
    file = path / (R.ROBUSTNESS if what == "robustness" else R.CORRUPTIONS)
    if not file.exists():
        return None, []
    try:
        data = R.read_json(file)
    except R.RunError as exc:
        return None, [f"{exc}; {what} skipped"]
    if not isinstance(data.get("results"), dict):
        return None, [f"{file}: no results, {what} skipped"]
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
    return loaded, warnings + identify_data(loaded)


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


def _shared(run: Run) -> dict[str, Any]:
    """The run's config minus IGNORED_KEYS: what its group shares. For a folder data set the data is its
    content (data_id) where known, else its root; for cifar/synthetic data.root is only a location."""
    shared = {k: v for k, v in run.flat.items() if k not in IGNORED_KEYS}
    if run.flat.get("data.name") == "folder":
        shared |= {DATA_ID: run.data_id} if run.data_id else {"data.root": run.flat.get("data.root")}
    return shared


def _dup_key(run: Run) -> str:
    """Equal for runs of one experiment with one seed: copies of each other."""
    return json.dumps([sorted(_shared(run).items()), run.flat.get("train.seed")], default=str)


def drop_duplicates(runs: list[Run]) -> tuple[list[Run], list[str]]:
    """A run copied to another folder (same config and seed) is one seed, not two: counting it twice makes
    n and the p-values wrong. Keep one per (config, seed), a completed one first, else the first found;
    one warning line names the runs left out."""
    kept: dict[str, Run] = {}
    for run in runs:
        old = kept.get(_dup_key(run))
        if old is None or (run.status == R.COMPLETED and old.status != R.COMPLETED):
            kept[_dup_key(run)] = run
    ids = {id(r) for r in kept.values()}
    pairs = [f"{r.path} (= {kept[_dup_key(r)].path})" for r in runs if id(r) not in ids]
    if not pairs:
        return runs, []
    shown = ", ".join(pairs[:5]) + (f" and {len(pairs) - 5} more" if len(pairs) > 5 else "")
    warning = f"{len(pairs)} run(s) repeat another run's config and seed, counted once: {shown}"
    return [r for r in runs if id(r) in ids], [warning]


def group_runs(runs: list[Run]) -> list[Group]:
    """Runs whose configs agree except for IGNORED_KEYS (seed, name, ...) form one group."""
    groups: dict[str, Group] = {}
    for run in runs:
        shared = _shared(run)
        key = json.dumps(sorted(shared.items()), default=str)
        groups.setdefault(key, Group(shared, [])).runs.append(run)
    out = list(groups.values())
    _label_groups(out)
    return out


def label_keys(groups: list[Group]) -> list[str]:
    """The fewest config keys (greedy set cover) that tell every two groups apart: two sweeps that differ
    in a dozen settings that move together are named by one of them. Groups of different activations
    whose other settings agree are told apart by the name; activation.* keys (init, params) differ by
    activation anyway, so they only ever tell apart groups of one activation."""
    missing = object()
    value = lambda g, k: repr(g.flat.get(k, missing))  # noqa: E731
    keys = sorted({k for g in groups for k in g.flat} - {"activation.name"})

    def splits(a: Group, b: Group, k: str) -> bool:
        own = a.activation == b.activation or not k.startswith("activation.")
        return own and value(a, k) != value(b, k)

    pairs = [(a, b) for i, a in enumerate(groups) for b in groups[i + 1 :]]
    pairs = [(a, b) for a, b in pairs if a.activation == b.activation or any(splits(a, b, k) for k in keys)]
    chosen: list[str] = []
    while pairs:
        apart = {k: sum(splits(a, b, k) for a, b in pairs) for k in keys if k not in chosen}
        best = max(apart, key=lambda k: (apart[k], -keys.index(k)), default=None)
        if best is None or apart[best] == 0:
            break  # configs alike but for IGNORED_KEYS: no key tells them apart
        chosen.append(best)
        pairs = [(a, b) for a, b in pairs if not splits(a, b, best)]
    return sorted(chosen)


def _label_groups(groups: list[Group]) -> None:
    shown = label_keys(groups)
    for g in groups:
        short = {DATA_ID: str(g.flat.get(DATA_ID))[:19]}  # "sha256:" + 12 hex digits, as git shortens
        extra = ", ".join(f"{k}={short.get(k) or F.value(g.flat[k])}" for k in shown if k in g.flat)
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
