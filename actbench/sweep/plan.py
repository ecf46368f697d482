"""Sweeps: expand activation x grid x seed into ordinary run folders and run them, N at a time.

    runs/<sweep>/sweep.yaml                      manifest: base config, axes, run list
    runs/<sweep>/<act>[-<grid values>]-s<seed>/  one ordinary run folder per run (+ train.log, claim.lock)

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
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from actbench import runs
from actbench.activations import ACTIVATIONS
from actbench.config import Config, ConfigError, from_dict, parse_override, replace, to_dict
from actbench.sweep.state import (  # noqa: F401 - per-run state, also used as sweep.<name>
    CLAIM,
    LOG,
    Claim,
    epochs_done,
    note_in_log,
    pack_crashed,
    prepare,
    record_crash,
    run_state,
    try_claim,
)

MANIFEST = "sweep.yaml"


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


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """["optim.lr=1e-3,1e-2", ...] -> {"optim.lr": [0.001, 0.01]} (values parsed as YAML)."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, raw = parse_override(item)
        text = item.partition("=")[2]
        values = [parse_override(f"{key}={v}")[1] for v in text.split(",")] if "," in text else [raw]
        if any(v in ("", None) for v in values):
            raise ConfigError(f"--grid {item!r}: empty value")
        grid[key] = values
    return grid


def parse_list(text: str, what: str, cast: Callable[[str], Any] = str) -> list[Any]:
    try:
        values = [cast(v.strip()) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--{what}: cannot parse {text!r}") from None
    if not values:
        raise ConfigError(f"--{what}: no values given")
    if len(set(values)) != len(values):
        raise ConfigError(f"--{what}: repeated value in {text!r}")
    return values


def _slug(value: Any) -> str:
    return str(value).replace("/", "_").replace(" ", "").replace("[", "").replace("]", "").replace(",", "_")


def plan_sweep(
    base: Config, acts: list[str], seeds: list[int], grid: dict[str, list[Any]], sweep_dir: Path
) -> Plan:
    """Cross product activation x grid x seed; each run's config is validated here, before anything runs."""
    keys = list(grid)
    specs = []
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
        name = f"{_slug(act).replace(':', '.')}{suffix}-s{seed}"  # "pkg.mod:Name" -> a plain folder name
        overrides["run.name"] = name
        try:
            cfg = replace(base, **overrides)
        except ConfigError as exc:
            raise ConfigError(f"run {name}: {exc}") from None
        specs.append(RunSpec(name, overrides, cfg))
    axes = {"activation.name": acts, **grid, "train.seed": seeds}
    return Plan(sweep_dir, base, axes, specs)


def write_manifest(plan: Plan) -> None:
    """sweep.yaml; a folder that already holds a different sweep is refused."""
    path = plan.sweep_dir / MANIFEST
    manifest = {
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
    runs.atomic_write_text(path, yaml.safe_dump(manifest, sort_keys=False))


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


# --- starting a run's process -----------------------------------------------------------------------


def worker_env(slot: int, workers: int, gpus: int, cpu_count: int, threads: int = 0) -> dict[str, str]:
    """Environment of the process in worker `slot`: one GPU per worker (round robin), CPU threads split
    unless the run sets `train.threads` (`threads`)."""
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(threads or max(1, cpu_count // workers))
    if gpus > 0:
        env["CUDA_VISIBLE_DEVICES"] = gpu_of(slot, gpus)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_threads(run_dir: Path) -> int:
    """`train.threads` of a prepared run folder (0: not set, the worker's share of the CPUs applies)."""
    try:
        raw = yaml.safe_load((run_dir / runs.CONFIG).read_text(encoding="utf-8"))
        return int(raw["train"].get("threads") or 0)
    except (OSError, yaml.YAMLError, TypeError, KeyError, ValueError, AttributeError):
        return 0


def gpu_of(slot: int, gpus: int) -> str:
    """CUDA_VISIBLE_DEVICES of worker `slot`: round robin over ACTBENCH_GPU_LIST, else 0..gpus-1."""
    return os.environ.get("ACTBENCH_GPU_LIST", ",".join(map(str, range(gpus)))).split(",")[slot % gpus]


def launch(
    run_dir: Path,
    env: dict[str, str],
    preexec_fn: Callable[[], Any] | None = None,
    members: list[Path] | None = None,
) -> subprocess.Popen[bytes]:
    log = open(run_dir / LOG, "ab")  # noqa: SIM115 - owned by the child process
    cmd = [sys.executable, "-m", "actbench", "train", "--resume", str(run_dir), "--no-progress"]
    if members:  # a pack: one process trains them all (its own output goes to the first one's log)
        cmd = [sys.executable, "-m", "actbench", "train-pack", *map(str, members), "--quiet"]
    # A new session: a terminal Ctrl-C reaches only the sweep process, which forwards exactly one SIGINT.
    return subprocess.Popen(
        cmd,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
        preexec_fn=preexec_fn,
    )


def count_gpus() -> int:
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return 0
    try:
        import torch

        return torch.cuda.device_count()
    except Exception:  # noqa: BLE001 - no usable CUDA means CPU workers
        return 0


# --- launchers --------------------------------------------------------------------------------------


class Launcher(Protocol):
    """Starts and watches the process of one prepared, claimed run; the sweep loop around it (claims,
    prepare, reaping, stop) is shared, so every launcher has the same skip/resume/retry semantics."""

    def start(self, run_dir: Path, slot: int) -> Any: ...

    def start_pack(self, run_dirs: list[Path], slot: int) -> Any: ...  # one process for a whole pack

    def poll(self, handle: Any) -> int | None: ...  # exit code once the run's process ended, else None

    def stop(self, handle: Any) -> None: ...  # ask the run to save and end `interrupted`


@dataclass
class LocalLauncher:
    """Each run in a child process of this machine (`workers` slots: GPUs round robin, threads split)."""

    workers: int
    gpus: int = field(default_factory=count_gpus)
    cpus: int = field(default_factory=lambda: os.cpu_count() or 1)
    threads: dict[int, int] = field(default_factory=dict)  # process id -> the run's train.threads

    def start(self, run_dir: Path, slot: int) -> subprocess.Popen[bytes]:
        return self.start_pack([run_dir], slot)

    def start_pack(self, run_dirs: list[Path], slot: int) -> subprocess.Popen[bytes]:
        threads = run_threads(run_dirs[0])  # equal within a pack (pack.pack_key)
        env = worker_env(slot, self.workers, self.gpus, self.cpus, threads)
        handle = launch(run_dirs[0], env, members=run_dirs if len(run_dirs) > 1 else None)
        self.threads[handle.pid] = threads
        return handle

    def poll(self, handle: subprocess.Popen[bytes]) -> int | None:
        return handle.poll()

    def stop(self, handle: subprocess.Popen[bytes]) -> None:
        handle.send_signal(2)  # SIGINT: the run saves and marks itself interrupted

    def where(self, handle: subprocess.Popen[bytes], slot: int) -> str:
        """Where the run trains, for progress logs: `worker 2/4, GPU 1` or `worker 1/2, cpu, 1 thread`."""
        threads = self.threads.get(getattr(handle, "pid", -1)) or max(1, self.cpus // self.workers)
        cpu = f"cpu, {threads} thread{'s' if threads > 1 else ''}"
        device = f"GPU {gpu_of(slot, self.gpus)}" if self.gpus > 0 else cpu
        return f"worker {slot + 1}/{self.workers}, {device}"


# --- execution --------------------------------------------------------------------------------------


@dataclass
class RunStatus:
    name: str
    state: str = "pending"  # pending | running | completed | failed | interrupted | skipped-* | busy
    action: str = ""  # start | resume | restart | skip
    epochs: int = 0
    total: int = 0
    where: str = ""  # worker / node running it, from the launcher's optional `where` (progress logs)


@dataclass
class _Active:
    handle: Any  # the launcher's handle of the process (one run, or one pack of runs)
    claims: list[Claim]
    slot: int


def execute(
    plan: Plan,
    workers: int = 1,
    retry_failed: bool = False,
    on_update: Callable[[list[RunStatus]], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    poll_s: float = 0.5,
    launcher: Launcher | None = None,
) -> list[RunStatus]:
    """Run every planned run, up to `workers` processes at a time (local by default); each process
    trains one run, or one pack of `plan.packs` (actbench.pack.train)."""
    from actbench.pack.plan import units

    statuses = {r.name: RunStatus(r.name, total=r.config.train.epochs) for r in plan.runs}
    pending, active = units(plan.runs, plan.packs), {}
    free = list(range(workers))
    launcher = launcher or LocalLauncher(workers)
    stopping = False
    while pending or active:
        if should_stop() and not stopping:
            stopping = True
            for a in active.values():
                launcher.stop(a.handle)  # each run saves and marks itself interrupted
        busy = []  # claimed by another sweep process: wait for it, then see what it left
        while pending and free and not stopping:
            unit = pending.pop(0)
            _start(plan, unit, statuses, free, active, retry_failed, launcher)
            waiting = [spec for spec in unit if statuses[spec.name].state == "busy"]
            if waiting:
                busy.append(waiting)
        pending += busy
        where = getattr(launcher, "where", None)
        for key, a in list(active.items()):
            for c in a.claims:
                statuses[c.run_dir.name].epochs = epochs_done(c.run_dir)
                statuses[c.run_dir.name].where = where(a.handle, a.slot) if where else ""
            returncode = launcher.poll(a.handle)
            if returncode is not None:
                for c in a.claims:
                    _reap(c, statuses[c.run_dir.name], returncode, packed=len(a.claims) > 1)
                free.append(a.slot)
                del active[key]
                if len(a.claims) > 1 and not stopping:
                    pending[:0] = _alone_after_crash(plan, [c.run_dir for c in a.claims])
        if stopping:
            for spec in (spec for unit in pending for spec in unit):
                statuses[spec.name].state = "not started"
            pending = []
        if on_update:
            on_update(list(statuses.values()))
        if active or busy:
            time.sleep(poll_s)
    return list(statuses.values())


def _start(
    plan: Plan,
    unit: list[RunSpec],
    statuses: dict[str, RunStatus],
    free: list[int],
    active: dict[str, _Active],
    retry_failed: bool,
    launcher: Launcher,
) -> None:
    """Claim and prepare the unit's runs; start one process for those that need training."""
    claims = []
    for spec in unit:
        run_dir, status = plan.sweep_dir / spec.name, statuses[spec.name]
        claim = try_claim(run_dir)
        if claim is None:
            status.state = "busy"  # another sweep process is running it (shown as such while we wait)
            continue
        action = prepare(spec, run_dir, retry_failed)
        status.action = action
        if action == "skip":
            status.state = f"skipped ({run_state(run_dir)})"
            status.epochs = epochs_done(run_dir)
            claim.release()
            continue
        claims.append(claim)
    if not claims:
        return
    slot = free.pop(0)
    dirs = [c.run_dir for c in claims]
    handle = launcher.start(dirs[0], slot) if len(dirs) == 1 else launcher.start_pack(dirs, slot)
    active[dirs[0].name] = _Active(handle, claims, slot)
    for d in dirs:
        statuses[d.name].state = runs.RUNNING


def _reap(claim: Claim, status: RunStatus, returncode: int, packed: bool = False) -> None:
    if returncode != 0:
        record_crash(claim.run_dir, returncode, packed)
    status.state = runs.read_status(claim.run_dir) or runs.FAILED
    claim.release()


def _alone_after_crash(plan: Plan, run_dirs: list[Path]) -> list[list[RunSpec]]:
    """Units of one run for the members a pack crash left interrupted: each resumes on its own, so only
    a run that also fails alone ends `failed`."""
    specs = {r.name: r for r in plan.runs}
    crashed = [d for d in run_dirs if d.name in specs and pack_crashed(d)]
    for d in crashed:
        note_in_log(d, "its pack crashed (see above); resuming it alone from its checkpoint")
    return [[specs[d.name]] for d in crashed]
