"""What a resume may change in a run's config.yaml: the config a run was trained with is kept (summary.json,
each checkpoint) and compared with config.yaml before a resume; a change to what is trained (model, data,
seed, optimisation) is refused in one line, the others are recorded in summary.json's starts.

`train --resume RUN --set k=v` edits config.yaml for the resume (`resume_sets`): only train.epochs, up,
which extends a run, even a completed one, and the speed settings. A new train.epochs is refused where it
would change the learning rate of an epoch already trained (a cosine schedule past its warm-up): the run
would no longer be the one its config.yaml describes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from actbench import runs
from actbench.config import SPEED_KEYS, Config, ConfigError, from_dict, load_config, parse_override
from actbench.data.fingerprint import folder_fingerprint
from actbench.training.schedule import lr_at

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
# What `train --resume --set` may set: how long and how fast the run trains. The rest of RESUMABLE (cache,
# robustness, run.*) is for an edited config.yaml; other settings are a new run (`--config ... --name`).
SETTABLE = ("train.epochs", *SPEED_KEYS)


def _outside(keys: Any, allowed: tuple[str, ...]) -> list[str]:
    """The keys (sorted) that no entry of `allowed` (a key, or a prefix ending in ".") covers."""
    return sorted(k for k in keys if not any(k == a or (a[-1] == "." and k.startswith(a)) for a in allowed))


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


def check_resume_config(run_dir: Path, now: Config, trained: Any, done: int = 0) -> dict[str, list[Any]]:
    """The allowed changes (`RESUMABLE`) of config.yaml since the run was trained with `trained` (the
    config summary.json or a checkpoint holds; None for runs made before it was kept: nothing to check);
    RunError, one line naming the keys, for a change to the model, data, seed or optimisation, and for a
    train.epochs below the `done` epochs trained or one that changes their learning rates."""
    if now.train.epochs < done:  # those weights would be evaluated as an earlier epoch's
        raise runs.RunError(
            f"{run_dir}: cannot resume, train.epochs {now.train.epochs} is below the {done} epochs the run "
            f"has trained; set it to {done} or more in {run_dir / runs.CONFIG}"
        )
    if not isinstance(trained, dict):
        return {}
    changes = config_changes(trained, now)
    refused = _outside(changes, RESUMABLE)
    if "data.root" in refused and _same_data(run_dir, now):
        refused.remove("data.root")  # the same images elsewhere (another machine, a copy): recorded
    if refused:
        shown = ", ".join(f"{k} {changes[k][0]!r} -> {changes[k][1]!r}" for k in refused)
        raise runs.RunError(
            f"{run_dir}: cannot resume, {runs.CONFIG} changed what the run trains since it started "
            f"({shown}); put it back, or start a new run: actbench train --config {run_dir / runs.CONFIG} "
            "--name NEW_NAME"
        )
    if "train.epochs" in changes and done:
        _check_schedule(run_dir, trained, now, done)
    return changes


def _check_schedule(run_dir: Path, trained: dict[str, Any], now: Config, done: int) -> None:
    """Epochs 1..done must have the learning rates the new train.epochs gives them, so the run continues
    into what a run trained to the new total from the start is (constant, step, warm-up: always; cosine:
    not past its warm-up, where it is stretched over the new total): refused, not warned, since config.yaml
    would then describe a schedule the run never had."""
    try:
        before = from_dict(trained)
    except (ConfigError, TypeError, ValueError):
        return  # a config of an older actbench: nothing to compare with
    changed = next((e for e in range(1, done + 1) if lr_at(before, e) != lr_at(now, e)), None)
    if changed is not None:
        raise runs.RunError(
            f"{run_dir}: cannot resume, train.epochs {before.train.epochs} -> {now.train.epochs} changes the "
            f"learning rate of epochs already trained ({now.optim.schedule} schedule: epoch {changed} "
            f"{lr_at(before, changed):.4g} -> {lr_at(now, changed):.4g}); a {now.optim.schedule} run of "
            f"{now.train.epochs} epochs is a new run: actbench train --config {run_dir / runs.CONFIG} "
            f"--set train.epochs={now.train.epochs} --name NEW_NAME"
        )


def resume_sets(run_dir: Path, sets: list[str], done: int) -> Config:
    """The run's config.yaml with `train --resume --set` overrides applied, validated; ConfigError (one line,
    naming the key) for a key outside `SETTABLE`, or a train.epochs not above the `done` epochs trained.
    What this changes is then checked and recorded as any edit of config.yaml (`check_resume_config`)."""
    keys = {parse_override(text)[0]: text for text in sets}
    new = load_config(run_dir / runs.CONFIG, sets)  # a mistyped key is named with the closest valid one
    if refused := _outside(keys, SETTABLE):
        raise ConfigError(
            f"--set {keys[refused[0]]}: a resume may set only train.epochs (more, to extend the run) and "
            f"the speed settings ({', '.join(SPEED_KEYS)}); other changes are a new run: actbench train "
            f"--config {run_dir / runs.CONFIG} --set {keys[refused[0]]} --name NEW_NAME"
        )
    if "train.epochs" in keys and new.train.epochs <= done:
        raise ConfigError(
            f"--set {keys['train.epochs']}: the run has trained {done} epochs; extending it takes more "
            f"(train.epochs > {done})"
        )
    return new


def earlier_results(run_dir: Path, now: Config, done: int) -> list[str]:
    """Warnings for a completed run being extended: the evaluations made after its earlier end that its
    new end does not redo (`eval --corruptions`; `eval --noise` unless robustness.enabled) still describe
    epoch `done`, and a report does not tell them from the new end's."""
    redone = {runs.ROBUSTNESS} if now.robustness.enabled else set()
    return [
        f"{name} holds results of epoch {done}, the run's earlier end: redo them once it ends "
        f"(actbench eval {run_dir} {how})"
        for name, how in ((runs.CORRUPTIONS, "--corruptions ..."), (runs.ROBUSTNESS, "--noise ..."))
        if (run_dir / name).exists() and name not in redone
    ]


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
