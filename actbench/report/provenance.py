"""Where a report's numbers come from: versions, devices, epochs and wall time, read from the run folders.

`actbench report --provenance` adds this section, so a published table carries the facts needed to judge
and repeat it. Everything is read from files (env.json, summary.json, config), never from the machine that
renders the report, so re-rendering the same folders anywhere gives the same text.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from typing import Any

from actbench import runs as R
from actbench.config import SYNTHETIC_ONLY
from actbench.report import fmt as F
from actbench.report.groups import Group, Run, as_dict

ENV_KEYS = (
    "actbench",
    "git_commit",
    "python",
    "torch",
    "torchvision",
    "cuda",
    "device",
    "device_name",
    "cpu_threads",
    "host",
)  # fmt: skip  env.json keys a report shows (provenance; the HTML page's environment table)


def _values(items: list[Any]) -> str:
    """'a' when all agree, else 'a (3), b (2)' by count; '?' where nothing is known."""
    counts = Counter("?" if v is None else str(v) for v in items)
    if len(counts) == 1:
        return next(iter(counts))
    return ", ".join(f"{v} ({n})" for v, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _short(key: str, value: Any) -> Any:
    return value[:12] if key == "git_commit" and isinstance(value, str) else value  # as `git log` shows it


def _footing(env: dict[str, Any]) -> str:
    """What a run's numbers could depend on besides its config: device, torch, compiled or not."""
    compiled = as_dict(env.get("effective")).get("compile")
    mode = "compiled" if compiled else "eager" if compiled is not None else "?"
    return f"{env.get('device_name') or env.get('device') or '?'}, torch {env.get('torch') or '?'}, {mode}"


def mixed_footing(groups: list[Group]) -> dict[str, str]:
    """{group label: 'footing (n), footing (n)'} for every group whose runs were trained on more than one
    device type, torch version or compile setting: one experiment, not one footing."""
    out = {}
    for g in groups:
        footings = [_footing(r.env) for r in g.runs]
        if len(set(footings)) > 1:
            out[g.label] = _values(footings)
    return out


def provenance(groups: list[Group]) -> dict[str, Any]:
    """Plain dict (JSON-ready) describing the runs behind a report."""
    runs = [r for g in groups for r in g.runs]
    envs = [r.env for r in runs]
    walls = [float(w) for r in runs if isinstance(w := r.summary.get("wall_time_s"), int | float)]
    # a run's first start: summary.json's started_at survives resumes; env.json's time is the latest start's
    firsts = [r.summary.get("started_at") or e.get("time") for r, e in zip(runs, envs, strict=True)]
    starts = sorted(str(t) for t in firsts if t)
    return {
        "runs": len(runs),
        "status": dict(sorted(Counter(r.status for r in runs).items())),
        "epochs": _values([r.flat.get("train.epochs") for r in runs]),
        "epochs_done": _values([r.summary.get("epochs_done") for r in runs]),
        "env": {k: _values([_short(k, e.get(k)) for e in envs]) for k in ENV_KEYS},
        "wall_time_s": {
            "total": sum(walls) if walls else None,
            "median_run": statistics.median(walls) if walls else None,
            "runs_timed": len(walls),
        },
        "first_started": starts[0] if starts else None,
        "starts": _starts(runs),
        "footings": _values([_footing(e) for e in envs]),
        "mixed_groups": mixed_footing(groups),
    }


def _starts(runs: list[Run]) -> dict[str, Any]:
    """Process starts per run (summary.json "starts"; runs written before it was recorded are counted
    apart): restarts after an interruption, and the commits that trained the runs."""
    known = [s for r in runs if isinstance(s := r.summary.get("starts"), list)]
    commits = sorted({str(_short("git_commit", e.get("git_commit"))) for s in known for e in s})
    return {
        "runs_recorded": len(known),
        "total": sum(len(s) for s in known),
        "resumed_runs": sum(len(s) > 1 for s in known),
        "git_commits": commits,
        "uncommitted": sum(bool(e.get("git_dirty")) for s in known for e in s),
    }


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    return f"{seconds / 3600:.2f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def provenance_items(p: dict[str, Any]) -> list[str]:
    """The provenance section's sentences, one fact each."""
    e, w = p["env"], p["wall_time_s"]
    status = ", ".join(f"{n} {s}" for s, n in p["status"].items())
    lines = [
        f"runs: {p['runs']} ({status}); epochs per run: {p['epochs']} (done: {p['epochs_done']})",
        f"actbench {e['actbench']} (git {e['git_commit']}), python {e['python']}, torch {e['torch']}, "
        f"torchvision {e['torchvision']}",
        f"device: {e['device']} ({e['device_name']}), CPU threads: {e['cpu_threads']}",
        f"footing (device, torch, compile): {p.get('footings', '?')}",
        f"wall time: {_hours(w['total'])} summed over {w['runs_timed']} runs "
        f"(median {_hours(w['median_run'])} per run); first run started {p['first_started'] or '?'}",
    ]
    st = p.get("starts") or {}
    if st.get("runs_recorded"):  # runs of older actbench versions have no record of their starts
        unknown = p["runs"] - st["runs_recorded"]
        lines.append(
            f"process starts: {st['total']} for {st['runs_recorded']} runs ({st['resumed_runs']} resumed "
            f"after an interruption; trained by git {', '.join(st['git_commits'])})"
            + (f"; {unknown} older runs did not record theirs" if unknown else "")
            + (
                f"; {st['uncommitted']} of the starts ran uncommitted changes"
                if st.get("uncommitted")
                else ""
            )
        )
    mixed = p.get("mixed_groups") or {}
    if mixed:
        lines.append(
            "not on one footing (device, torch, compile): "
            + "; ".join(f"{label}: {values}" for label, values in mixed.items())
        )
    return lines


# --- configuration and environment (the HTML page's own sections) ------------------------------


def config_differences(groups: list[Group]) -> tuple[list[str], list[list[str]], dict[str, Any]]:
    """Config keys whose value is not the same in every group (rows: key, one value per group), and the
    settings every group shares."""
    missing = object()
    synthetic = any(str(g.flat.get("data.name", "")).startswith("synthetic") for g in groups)
    inert = () if synthetic else SYNTHETIC_ONLY  # e.g. data.noise says nothing about folder data
    keys = sorted({k for g in groups for k in g.flat} - set(inert))
    differ = [k for k in keys if len({repr(g.flat.get(k, missing)) for g in groups}) > 1]
    shared = {k: groups[0].flat[k] for k in keys if k not in differ and k in groups[0].flat}
    rows = [[k, *(F.value(g.flat.get(k)) for g in groups)] for k in differ]
    return ["key", *(g.label for g in groups)], rows, shared


def environments(groups: list[Group]) -> tuple[list[str], list[list[str]]]:
    """Distinct software/device combinations in the runs' env.json, with how many runs used each."""
    counts: dict[tuple[str, ...], int] = {}
    for run in (r for g in groups for r in g.runs):
        try:
            env = json.loads((run.path / R.ENV).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            env = {}
        env = env if isinstance(env, dict) else {}
        combo = tuple(F.value(env.get(k)) for k in ENV_KEYS)
        counts[combo] = counts.get(combo, 0) + 1
    return ["runs", *ENV_KEYS], [[str(n), *combo] for combo, n in counts.items()]
