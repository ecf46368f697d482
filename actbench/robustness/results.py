"""The results files a run's evaluations keep (robustness.json, corruptions.json): a new evaluation
merged into what an earlier one wrote, entry by entry, when both measured the same thing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from actbench import runs


def merge_results(
    old: Any, new: dict[str, Any], same: tuple[str, ...], key: str, kind: type
) -> dict[str, Any]:
    """An evaluation file's results (robustness.json: kind -> entries per "level"; corruptions.json:
    corruption -> entries per "severity") with `new` over `old` entry by entry, when both measure the
    same thing (equal `same` fields); otherwise `new` alone. Old entries whose `key` is not a `kind` are
    dropped (a damaged file cannot poison the merge)."""
    if not isinstance(old, dict) or any(old.get(k) != new.get(k) for k in same):
        return new
    if not isinstance(old.get("results"), dict):
        return new
    results = dict(old["results"])
    for name, entries in new["results"].items():
        entries_old = results.get(name)
        entries_old = entries_old if isinstance(entries_old, list) else []  # damaged: dropped
        kept = [e for e in entries_old if isinstance(e, dict) and isinstance(e.get(key), kind)]
        by_key = {e[key]: e for e in kept} | {e[key]: e for e in entries}
        results[name] = [by_key[k] for k in sorted(by_key)]
    return {**new, "results": results}


def save_merged(
    path: Path, new: dict[str, Any], same: tuple[str, ...], key: str, kind: type
) -> dict[str, Any]:
    """Merge `new` into the evaluation file at `path` (`merge_results`; an unreadable old file is replaced)
    and write it atomically; returns what was written."""
    try:
        old: Any = runs.read_json(path) if path.exists() else {}
    except runs.RunError:
        old = {}
    merged = merge_results(old, new, same, key, kind)
    runs.write_json(path, merged)
    return merged
