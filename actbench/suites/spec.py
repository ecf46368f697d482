"""Suites: one activation study over several tasks (networks x data sets), each task an ordinary sweep.

A suite is a YAML file (shipped ones in actbench/suites/, by name: `smoke`, `paper`, `cifar10-nets`,
`standard`) holding `name` and `tasks`, each task a `name`, a base `config` (path or preset name) and
optional `set` overrides:

    name: smoke
    tasks:
      - name: cnn-synth
        config: quickstart
        set: [model.name=paper_cnn, train.epochs=2]

`actbench suite run SUITE --acts ...` runs task t as the sweep `<out>/<suite>/<t>/`, so resume, retry,
packs, Ray and progress lines work as for `actbench sweep`; `actbench suite report <out>/<suite>` compares
the activations per task (`actbench.report.build`) and across tasks (`actbench.stats.ranks`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from actbench import config as C
from actbench.errors import UserError

SHIPPED_DIR = "suites"  # package folder of the shipped suites (actbench/suites/*.yaml)
TASK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # a task is a folder name under the suite folder


class SuiteError(UserError):
    """A suite file or name that cannot be used (one line, names the key)."""


@dataclass(frozen=True)
class Task:
    name: str
    config: str  # preset name or path of the base config
    set: list[str] = field(default_factory=list)  # overrides, as --set takes them


@dataclass(frozen=True)
class Suite:
    name: str
    tasks: list[Task]
    source: str  # the file it was read from


def shipped_suites() -> list[str]:
    folder = resources.files("actbench") / SHIPPED_DIR
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def _resolve(spec: str) -> Path:
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    shipped = resources.files("actbench") / SHIPPED_DIR / f"{spec}.yaml"
    if shipped.is_file():
        return Path(str(shipped))
    names = ", ".join(shipped_suites())
    raise SuiteError(f"suite {spec!r}: no such file or shipped suite (shipped: {names})")


def _task(raw: Any, i: int, source: str) -> Task:
    where = f"{source}: tasks[{i}]"
    if not isinstance(raw, dict):
        raise SuiteError(f"{where}: must be a mapping with name, config and optional set")
    unknown = sorted(set(raw) - {"name", "config", "set"})
    if unknown:
        raise SuiteError(f"{where}.{unknown[0]}: unknown key (allowed: name, config, set)")
    name, config, sets = raw.get("name"), raw.get("config"), raw.get("set", [])
    if not isinstance(name, str) or not TASK_NAME.match(name):
        raise SuiteError(f"{where}.name: {name!r} is not a plain folder name (letters, digits, . _ -)")
    if not isinstance(config, str) or not config:
        raise SuiteError(f"{where}.config: a preset name or config path is required")
    if not isinstance(sets, list) or not all(isinstance(s, str) for s in sets):
        raise SuiteError(f"{where}.set: must be a list of key=value strings")
    return Task(name, config, list(sets))


def load_suite(spec: str) -> Suite:
    """A shipped suite's name or a suite YAML path -> Suite; SuiteError names the bad key."""
    path = _resolve(spec)
    try:
        raw = C.read_yaml(path)
    except C.ConfigError as exc:
        raise SuiteError(str(exc)) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("tasks"), list) or not raw["tasks"]:
        raise SuiteError(f"{path}: tasks: a non-empty list of tasks is required")
    tasks = [_task(t, i, str(path)) for i, t in enumerate(raw["tasks"])]
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise SuiteError(f"{path}: tasks: the name {dup!r} is used twice")
    name = raw.get("name") or path.stem
    if not isinstance(name, str) or not TASK_NAME.match(name):
        raise SuiteError(f"{path}: name: {name!r} is not a plain folder name")
    return Suite(name, tasks, str(path))


# --- is a task's data here? ------------------------------------------------------------------------

_TV_FILES = {  # torchvision layouts under data.root (actbench.data.sources, actbench.data.datasets)
    "cifar10": ["cifar-10-batches-py"],
    "cifar100": ["cifar-100-python"],
    "mnist": ["MNIST/raw"],
    "fashion_mnist": ["FashionMNIST/raw"],
    "svhn": ["train_32x32.mat", "test_32x32.mat"],
}


def missing_data(cfg: C.Config) -> str | None:
    """One line saying what data a task lacks and where to put it; None when it is there (or generated,
    or allowed to download)."""
    data, root = cfg.data, Path(cfg.data.root).expanduser()
    if data.name == "folder" and not root.exists():
        return f"no images at {root} (an ImageFolder tree or its .tar.gz/.zip; set data.root)"
    wanted = _TV_FILES.get(data.name, [])
    absent = [w for w in wanted if not (root / w).exists()]
    if absent and not data.download:
        where = ", ".join(str(root / a) for a in absent)
        return f"{data.name}: {where} not found (put the data there or set data.root)"
    return None


def task_config(task: Task, sets: list[str]) -> C.Config:
    """The task's base config with the task's overrides, then the command's (`--set` wins)."""
    try:
        return C.load_config(task.config, [*task.set, *sets])
    except C.ConfigError as exc:
        raise SuiteError(f"task {task.name}: {exc}") from None


# --- what a suite folder was asked to hold --------------------------------------------------------

PLAN = "suite.yaml"  # in the suite folder: the suite's tasks, so a report can name those never started


def write_plan(root: Path, suite: Suite, skipped: dict[str, str]) -> None:
    """<root>/suite.yaml: the suite's name and tasks (with those skipped for missing data and why),
    merged with what an earlier `suite run` into the same folder planned."""

    from actbench import runs

    old = read_plan(root) or {}
    tasks = list(old.get("tasks") or [])
    tasks += [t.name for t in suite.tasks if t.name not in tasks]
    runs.check_writable(root)
    doc = {"suite": suite.name, "tasks": tasks, "skipped": skipped}
    runs.atomic_write_text(root / PLAN, C.yaml_dump(doc))


def read_plan(root: Path) -> dict[str, Any] | None:
    """suite.yaml of a suite folder; None when absent (suites run before it was written) or unreadable."""
    try:
        raw = C.read_yaml(Path(root) / PLAN)
    except (C.ConfigError, OSError):
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("tasks"), list):
        return None
    return raw
