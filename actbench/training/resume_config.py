"""What a resume may change in a run's config.yaml: the config a run was trained with is kept (summary.json,
each checkpoint) and compared with config.yaml before a resume; a change to what is trained (model, data,
seed, optimisation) is refused in one line, the others are recorded in summary.json's starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from actbench import runs
from actbench.config import SPEED_KEYS, Config
from actbench.data.fingerprint import folder_fingerprint

# Keys a resume may change (a key, or a section/prefix ending in "."): how long and how fast the run
# trains, where it reads cached data from, what is evaluated or logged after it; never what is trained.
RESUMABLE = (
    "train.epochs",
    *SPEED_KEYS,
    "data.cache",
    "data.cache_dir",
    "data.download",
    "robustness.",
    "run.",
)


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix.rstrip("."): d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and v and prefix.count(".") < 1:  # sections, not activation.params values
            out |= _flat(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v
    return out


def config_changes(trained: dict[str, Any], now: Config) -> dict[str, list[Any]]:
    """Keys whose value differs between the config a run was trained with and `now`: key -> [old, new]
    (the old config is completed with today's defaults first: a key added since is no change)."""
    from actbench.config import ConfigError, from_dict, to_dict

    try:
        trained = to_dict(from_dict(trained))
    except (ConfigError, TypeError, ValueError):
        pass  # compared as it is: a key that no longer exists reads as a change
    old, new = _flat(trained), _flat(to_dict(now))
    return {k: [old.get(k), new.get(k)] for k in sorted(old.keys() | new.keys()) if old.get(k) != new.get(k)}


def check_resume_config(run_dir: Path, now: Config, trained: Any) -> dict[str, list[Any]]:
    """The allowed changes (`RESUMABLE`) of config.yaml since the run was trained with `trained` (the
    config summary.json or a checkpoint holds; None for runs made before it was kept: nothing to check);
    RunError, one line naming the keys, for a change to the model, data, seed or optimisation."""
    if not isinstance(trained, dict):
        return {}
    changes = config_changes(trained, now)
    refused = [k for k in changes if not any(k == a or (a[-1] == "." and k.startswith(a)) for a in RESUMABLE)]
    if "data.root" in refused and _same_data(run_dir, now):
        refused.remove("data.root")  # the same images elsewhere (another machine, a copy): recorded
    if refused:
        shown = ", ".join(f"{k} {changes[k][0]!r} -> {changes[k][1]!r}" for k in refused)
        raise runs.RunError(
            f"{run_dir}: cannot resume, {runs.CONFIG} changed what the run trains since it started "
            f"({shown}); put it back, or start a new run: actbench train --config {run_dir / runs.CONFIG} "
            "--name NEW_NAME"
        )
    return changes


def _same_data(run_dir: Path, now: Config) -> bool:
    """A moved data set is the same data: for folder data when the new root's content fingerprint is the
    one the run recorded (env.json); for the named data sets (cifar10, ...) data.root is only a location."""
    if now.data.name != "folder":
        return True
    try:
        recorded = runs.read_json(run_dir / runs.ENV).get("data_fingerprint")
    except runs.RunError:
        return False
    return recorded is not None and folder_fingerprint(now.data.root) == recorded
