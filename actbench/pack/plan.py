"""Which runs of a sweep share a pack (`actbench sweep --pack K|auto`).

Runs with equal `pack.model.pack_key` (same data, shapes, schedule; seed, activation, lr, weight decay free)
are packed together in plan order (activation-major, so a pack usually holds one or two activations),
at most K per pack; runs that cannot be packed (batch norm, dropout) stay alone. `auto` picks K from
the free memory of the device the runs train on, split between the sweep's workers; on a CPU it packs
nothing, since there packing was measured slower than training the runs one after another. `why_alone`
gives the sweep one line per reason runs were left alone (unpackable model or activation, other shapes,
left over, `auto` on a CPU).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from actbench.config import Config, ConfigError
from actbench.data.pipeline import GROUP_IMAGES, output_size
from actbench.pack.model import first_difference, pack_key, unpackable_reason

AUTO = "auto"
MEMORY_SHARE = 0.8  # of the free device memory a sweep's packs may plan to use


def parse_pack(text: str | None) -> int | str | None:
    """--pack: None (no packing), a positive integer K, or "auto"."""
    if text is None:
        return None
    if text.strip() == AUTO:
        return AUTO
    try:
        k = int(text)
    except ValueError:
        k = 0
    if k < 1:
        raise ConfigError(f"--pack: {text!r} is not allowed (allowed: a positive integer, or auto)")
    return k


def assign_packs(runs: Sequence[Any], size: int) -> list[list[str]]:
    """Names of the runs (RunSpec: .name, .config) per pack of 2..`size` members, in plan order."""
    groups: dict[str, list[str]] = {}
    for r in runs:
        if unpackable_reason(r.config) is None:
            groups.setdefault(pack_key(r.config), []).append(r.name)
    packs = []
    for names in groups.values():
        packs += [names[i : i + size] for i in range(0, len(names), size)]
    return [p for p in packs if len(p) > 1]


def units(runs: Sequence[Any], packs: Sequence[Sequence[str]]) -> list[list[Any]]:
    """The sweep's units of work in plan order: each pack as one, every other run on its own."""
    by_name = {r.name: r for r in runs}
    packed = {name: i for i, p in enumerate(packs) for name in p}
    out: list[list[Any]] = []
    seen: set[int] = set()
    for r in runs:
        i = packed.get(r.name)
        if i is None:
            out.append([r])
        elif i not in seen:
            seen.add(i)
            out.append([by_name[n] for n in packs[i] if n in by_name])
    return out


def member_bytes(cfg: Config) -> int:
    """Rough training memory of one member (float32): weights with grads and Adam state, one batch's
    saved activations (conv output, activation, pool per layer, forward and backward) and its share of
    the augmented image group. An over-estimate on purpose: `auto` must not run out of memory."""
    s, c_in, b = output_size(cfg.augment), 3, cfg.train.batch_size
    params = acts = 0
    for c in cfg.model.channels:
        params += c * c_in * cfg.model.kernel_size**2 + c
        acts += 3 * b * c * s * s
        c_in, s = c, s // 2
    width = c_in * s * s
    for h in (*cfg.model.hidden, cfg.data.num_classes):
        params += width * h + h
        acts += 2 * b * h
        width = h
    images = 2 * GROUP_IMAGES * 3 * output_size(cfg.augment) ** 2
    return 4 * (4 * params + 2 * acts + images)


def free_bytes(device: str) -> int:
    """Free memory of the device runs of this config train on (CUDA: the card; else host RAM)."""
    import torch

    from actbench.session import select_device

    dev = select_device(device)
    if dev.type == "cuda":
        return int(torch.cuda.mem_get_info(dev)[0])
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return 8 * 2**30


def auto_size(runs: Sequence[Any], workers: int) -> int:
    """K for `--pack auto`: as many members as fit in each worker's share of the free memory, and no
    more than the runs divided between the workers."""
    packable = [r for r in runs if unpackable_reason(r.config) is None]
    if not packable:  # e.g. torchvision/timm networks: packing does not apply, nothing to size
        return 1
    cfg = packable[0].config
    share = MEMORY_SHARE * free_bytes(cfg.train.device) / max(1, workers)
    per_worker = -(-len(runs) // max(1, workers))  # one pack per worker process keeps every worker busy
    return max(1, min(per_worker, int(share // member_bytes(cfg))))


def plan_packs(runs: Sequence[Any], pack: int | str | None, workers: int) -> list[list[str]]:
    """The packs of a sweep for --pack (None: no packs)."""
    if pack is None:
        return []
    if pack == AUTO and runs and _on_cpu(runs[0].config):
        return []  # measured slower than one run after another on CPU (benchmarks/results/cpu-pack.log)
    size = auto_size(runs, workers) if pack == AUTO else int(pack)
    return assign_packs(runs, size) if size > 1 else []


def why_alone(
    runs: Sequence[Any], pack: int | str | None, packs: Sequence[Sequence[str]], workers: int
) -> list[str]:
    """With --pack: one line per reason runs of the plan train alone ("not packed (why): a, b")."""
    if pack is None or not runs:
        return []
    if pack == AUTO and _on_cpu(runs[0].config):
        return [
            f"--pack auto: nothing packed, train.device {runs[0].config.train.device} is the CPU here, where "
            "packing was measured slower than one run after another (--pack K packs anyway)"
        ]
    packed = {name for p in packs for name in p}
    size = auto_size(runs, workers) if pack == AUTO else int(pack)
    reason = {r.name: unpackable_reason(r.config) for r in runs}
    keys = {r.name: pack_key(r.config) for r in runs if reason[r.name] is None}
    by_reason: dict[str, list[str]] = {}
    for r in runs:
        if r.name not in packed:
            why = reason[r.name] or _alone_reason(r, runs, keys, size, pack)
            by_reason.setdefault(why, []).append(r.name)
    return [f"not packed ({why}): {', '.join(names)}" for why, names in by_reason.items()]


def _alone_reason(run: Any, runs: Sequence[Any], keys: dict[str, str], size: int, pack: int | str) -> str:
    """Why a packable run (its pack key in `keys`) was left alone."""
    if size < 2:
        if pack == AUTO:
            return "--pack auto: the free memory holds one member per worker"
        return "--pack 1: one run per pack"
    mates = [r for r in runs if r is not run and r.name in keys]
    if any(keys[r.name] == keys[run.name] for r in mates):
        return f"the one left over after packs of {size}"
    if not mates:
        return "no other run can be packed"
    return f"no other run has its shapes, data and schedule: {first_difference(mates[0].config, run.config)}"


def _on_cpu(cfg: Config) -> bool:
    from actbench.session import select_device  # local: imports torch

    return select_device(cfg.train.device).type == "cpu"


def pack_sweep(plan: Any, pack: str | None, workers: int | None) -> list[str]:
    """`sweep --pack K|auto`: set `plan.packs` (run names trained together) and return one line per reason
    other runs train alone."""
    k = parse_pack(pack)
    plan.packs = plan_packs(plan.runs, k, workers or 1)
    return why_alone(plan.runs, k, plan.packs, workers or 1)


def pack_lines(plan: Any) -> list[str]:
    """What `--dry-run` prints about the packs: one line per pack, then the count."""
    from actbench.pack.model import describe

    lines = describe(plan.packs)
    return lines and [*lines, f"{sum(map(len, plan.packs))} runs in {len(plan.packs)} packs"]
