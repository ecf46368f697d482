"""Sweeps: expand activation x grid x seed into ordinary run folders and run them, N at a time.

    runs/<sweep>/sweep.yaml                                 manifest: base config, axes, run list
    runs/<sweep>/[<network>-]<act>[-<grid values>]-s<seed>/  one ordinary run folder per run (+ train.log,
                                                            claim.lock); <network>: see `plan_sweep`

Each run trains in its own process (`python -m actbench train --resume RUN_DIR`; with `--pack`, one
process per pack of runs: `actbench.pack.plan`, `actbench train-pack`), so a crash, a diverging
run or a killed worker never takes the sweep down; it is recorded as failed. A pack's process is not one
run: when it is killed its members are left `interrupted` (each resumes from its own checkpoint on the
next sweep), and when it crashes (`runs.PACK_CRASH`) this sweep resumes each member alone, so only a
member that fails on its own ends `failed`. A per-run claim lock keeps two sweeps on the same folder
from running the same run twice. The folder is the single source of truth: re-running a sweep skips
completed runs, resumes partial ones and retries failed ones on request (from their last checkpoint).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from actbench import lists, runs
from actbench.activations import ACTIVATIONS
from actbench.config import (
    Config,
    ConfigError,
    from_dict,
    load_config,
    parse_override,
    replace,
    to_dict,
    yaml_dump,
)

MANIFEST = "sweep.yaml"
DEFAULT_CONFIG = "quickstart"  # the config a sweep (and `actbench train`) uses when none is given


@dataclass(frozen=True)
class RunSpec:
    name: str  # folder name inside the sweep folder
    overrides: dict[str, Any]  # dotted key -> value applied to the base config
    config: Config


@dataclass
class Plan:
    sweep_dir: Path
    base: Config
    axes: dict[str, list[Any]]
    runs: list[RunSpec]
    packs: list[list[str]] = field(default_factory=list)  # run names trained together (sweep --pack)


# Keys another sweep option sets for every run: a --grid axis on one would override that option (or
# be overridden by it) and give runs whose folder names lie about what they train.
OWNED = {"activation.name": "--acts", "train.seed": "--seeds", "run.name": "--name"}


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """["optim.lr=1e-3,1e-2", ...] -> {"optim.lr": [0.001, 0.01]} (values parsed as YAML). A key another
    option owns (`OWNED`) or given twice is refused: one axis per key, never silently dropped."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        try:
            key, raw = parse_override(item)
        except ConfigError as exc:  # its message names --set, the option it was written for
            raise ConfigError(str(exc).replace("--set ", "--grid ", 1)) from None
        if key in OWNED:
            raise ConfigError(f"--grid {item!r}: {key} is set by {OWNED[key]}; use {OWNED[key]} instead")
        if key in grid:
            raise ConfigError(
                f"--grid {item!r}: {key} given twice; give all its values in one --grid {key}=v1,v2"
            )
        text = item.partition("=")[2]
        values = [parse_override(f"{key}={v}")[1] for v in text.split(",")] if "," in text else [raw]
        if any(v in ("", None) for v in values):
            raise ConfigError(f"--grid {item!r}: empty value")
        if len(set(map(repr, values))) != len(values):  # an axis of runs, as --acts/--seeds (lists.REFUSE)
            raise ConfigError(f"--grid {item!r}: repeated value")
        grid[key] = values
    return grid


def parse_list(text: str, what: str, cast: Callable[[str], Any] = str) -> list[Any]:
    """--acts / --seeds: an axis of runs, so a repeat is refused (it would plan the same run twice)."""
    example = "0,1,2 or 0-4" if cast is int else "relu,elu,rational"
    return lists.parse(text, f"--{what}", cast, lists.REFUSE, example=example, error=ConfigError)


def _slug(value: Any) -> str:
    return str(value).replace("/", "_").replace(" ", "").replace("[", "").replace("]", "").replace(",", "_")


def _plain(name: str) -> str:
    return _slug(name).replace(":", ".")  # "pkg.mod:Name", "torchvision:resnet18" -> a plain folder name


def plan_sweep(
    base: Config,
    acts: list[str],
    seeds: list[int],
    grid: dict[str, list[Any]],
    sweep_dir: Path,
    preset_model: str | None = None,
) -> Plan:
    """Cross product activation x grid x seed; each run's config is validated here, before anything runs.
    `preset_model`: the network of the sweep's config file before its --set overrides; when `base` trains
    another one (and no --grid axis names it), each run's name starts with it (`resnet20-relu-s0`), so runs
    of two networks never read alike. None: run names never name the network (a suite's task folder does;
    the config's own network keeps today's names)."""
    keys = list(grid)
    named = preset_model is not None and base.model.name != preset_model and "model.name" not in grid
    network = f"{_plain(base.model.name)}-" if named else ""
    specs: list[RunSpec] = []
    for act, values, seed in itertools.product(acts, itertools.product(*grid.values()), seeds):
        overrides: dict[str, Any] = {"activation.name": act}
        if act != base.activation.name:  # another activation: its own default init and params
            overrides |= {"activation.init": None, "activation.params": {}}
            if act in ACTIVATIONS and not ACTIVATIONS[act].supports_sharing:
                overrides["activation.sharing"] = "layer"  # channel sharing has no meaning without `a`
        # Grid values last: an `activation.*` axis applies to every activation (and is refused by the
        # config check, one line, where it means nothing, e.g. an init for relu).
        overrides |= {**dict(zip(keys, values, strict=True)), "train.seed": seed}
        suffix = "".join(f"-{k.rsplit('.', 1)[-1]}{_slug(v)}" for k, v in zip(keys, values, strict=True))
        name = f"{network}{_plain(act)}{suffix}-s{seed}"
        overrides["run.name"] = name
        try:
            cfg = replace(base, **overrides)
        except ConfigError as exc:
            raise ConfigError(f"run {name}: {exc}") from None
        _check_unique(specs, name, overrides)
        specs.append(RunSpec(name, overrides, cfg))
    axes = {"activation.name": acts, **grid, "train.seed": seeds}
    return Plan(sweep_dir, base, axes, specs)


def _check_unique(specs: list[RunSpec], name: str, overrides: dict[str, Any]) -> None:
    """Two runs must never share a folder (the second would be skipped as the first one's run): values
    that differ only in what a folder name drops ('/', ' ', '[', ']', ',') are refused."""
    other = next((s for s in specs if s.name == name), None)
    if other is None:
        return
    differ = (k for k in overrides if k != "run.name" and other.overrides.get(k) != overrides[k])
    key = next(differ, None)
    if key is None:  # plan_sweep from Python with a value given twice (the options refuse repeats)
        raise ConfigError(f"run {name}: planned twice (a value of acts, seeds or grid given twice)")
    option = OWNED.get(key, f"--grid {key}")
    raise ConfigError(
        f"{option}: {other.overrides.get(key)!r} and {overrides[key]!r} give runs the same folder name "
        f"{name} (use values that differ in more than '/', ' ', '[', ']', ',' or ':')"
    )


def default_name(config: str | Path) -> str:
    """The sweep folder's name when --name is not given: sweep-<config name>."""
    return f"sweep-{Path(config).stem}"


def plan_from_options(
    config: str | None,
    sets: list[str],
    acts: str,
    seeds: str,
    grid: list[str] | None = None,
    name: str | None = None,
    out: Path | None = None,
    name_network: bool = True,
) -> Plan:
    """What `actbench sweep` plans from its options: the config (a preset name or file, then `sets`),
    the comma-separated activations and seeds, `--grid key=v1,v2` axes, the folder `<out>/<name>`
    (out: the config's run.out; name: `default_name`). `name_network` (as `actbench sweep`; a suite's
    task folder names its network instead): run names start with a network `sets` chose over the config's
    (`plan_sweep`); runs an earlier plan of the same sweep folder named
    otherwise keep their names (`keep_earlier_names`). User errors raise ConfigError/RunError."""
    spec = config if config is not None else DEFAULT_CONFIG
    base = load_config(spec, sets)
    sweep_name = runs.check_folder_name(name) if name is not None else default_name(spec)
    axes = parse_grid(grid or [])
    act_list, seed_list = parse_list(acts, "acts"), parse_list(seeds, "seeds", int)
    preset = _preset_model(spec) if name_network else None
    plan = plan_sweep(base, act_list, seed_list, axes, Path(out or base.run.out) / sweep_name, preset)
    return keep_earlier_names(plan)


def _preset_model(spec: str | Path) -> str | None:
    """The network of the config file alone; None when it is not valid without its --set overrides."""
    try:
        return load_config(spec).model.name
    except ConfigError:
        return None


def keep_earlier_names(plan: Plan) -> Plan:
    """A run that the folder's sweep.yaml already lists under another name (planned before run names
    named the network) keeps that name, so re-running the sweep resumes it instead of training it again
    beside the old folder. Runs are the same when the base configs are and their overrides, but for
    run.name, are (another sweep's runs are left to `write_manifest`, which refuses the folder)."""
    try:
        old = yaml.safe_load((plan.sweep_dir / MANIFEST).read_text(encoding="utf-8")) or {}
        known = [(r["name"], r["overrides"]) for r in old.get("runs", [])]
    except (OSError, yaml.YAMLError, AttributeError, KeyError, TypeError):
        return plan  # no manifest yet, or one write_manifest will judge
    if _trained(old.get("base")) != _trained(to_dict(plan.base)):
        return plan
    for i, spec in enumerate(plan.runs):
        mine = _without_name(spec.overrides)
        earlier = next((n for n, o in known if isinstance(o, dict) and _without_name(o) == mine), None)
        if earlier is not None and earlier != spec.name:
            overrides = {**spec.overrides, "run.name": earlier}
            plan.runs[i] = RunSpec(earlier, overrides, replace(spec.config, **{"run.name": earlier}))
    return plan


def _without_name(overrides: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in overrides.items() if k != "run.name"}


def write_manifest(plan: Plan) -> None:
    """sweep.yaml; a folder that already holds a different sweep is refused."""
    path = plan.sweep_dir / MANIFEST
    manifest: dict[str, Any] = {
        "base": to_dict(plan.base),
        "axes": plan.axes,
        "runs": [{"name": r.name, "overrides": r.overrides} for r in plan.runs],
    }
    if plan.packs:  # this invocation's packing (actbench.pack.plan); a later one may pack differently
        manifest["packs"] = plan.packs
    if path.exists():
        try:
            old = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            old = {}
        if _trained(old.get("base")) != _trained(manifest["base"]):
            raise runs.RunError(
                f"{plan.sweep_dir}: holds a sweep with a different base config "
                "(use another --name, or the same config and overrides)"
            )
        known = {r["name"]: r for r in old.get("runs", [])}
        manifest["runs"] = list(known.values()) + [r for r in manifest["runs"] if r["name"] not in known]
        manifest["axes"] = {k: _union(old.get("axes", {}).get(k, []), v) for k, v in plan.axes.items()}
    runs.check_writable(plan.sweep_dir)
    runs.atomic_write_text(path, yaml_dump(manifest))


def _trained(base: Any) -> Any:
    """A manifest's base config with today's defaults filled in, minus `robustness` and `run.tensorboard`:
    evaluation and logging settings never change what is trained, and a manifest written before a key
    existed lacks it (so a sweep started by an older actbench still resumes)."""
    if not isinstance(base, dict):
        return base
    with contextlib.suppress(ConfigError):
        base = to_dict(from_dict(base))
    out = {k: v for k, v in base.items() if k != "robustness"}
    if isinstance(out.get("run"), dict):
        out["run"] = {k: v for k, v in out["run"].items() if k != "tensorboard"}
    return out


def _union(a: list[Any], b: list[Any]) -> list[Any]:
    return a + [x for x in b if x not in a]
