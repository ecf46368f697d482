"""Training a pack: K run folders trained together as one `PackedCNN`, each still an ordinary run.

Every member is the run it would have been alone (`actbench.training.loop`):
  * its model is built and initialised from its own seed (`session_for`), its optimizer is the ordinary
    one over its own parameters (own lr, weight decay, gradient clipping, Adam state), stepped together
    with the others' in one call (`pack.optim.MergedOptimizer`: the same update, state shared);
  * each epoch draws its own batch order and augmentation from its own (seed, epoch) generator;
  * the packed loss is the sum of the members' mean losses, so each member's gradient is that of its own
    loss (the groups never mix);
  * it is a lone run's `training.state.RunState` (`Member` adds only what packing needs): it validates,
    logs metrics.jsonl (fsynced) and checkpoints (atomic) in its own folder through the same methods,
    keeps its own best epoch and final evaluation; its checkpoints are ordinary ones (`train --resume`,
    `eval` work on them unchanged), env.json names the other members.
Faults stay per member: a member whose loss turns NaN/Inf is marked failed (epoch and batch in its
summary) and leaves the pack; the others go on. A stop request (Ctrl-C) interrupts every member at the
next batch. Any other exception inside the pack (a user activation that breaks only when packed, out of
memory, a full disk) cannot be pinned on one member: every member still training ends `interrupted` at its
last checkpoint with the error in its summary (`runs.PACK_CRASH`), none `failed`; the sweep then resumes
them one by one, alone. A failure before the first epoch (a member folder that cannot be written,
unreadable data, a network that cannot be built for the data) ends every member `failed` with the reason,
as it ends a lone run (`lifecycle.failed_before_start`); the same command then runs again. After a kill,
members may be at different epochs (the kill landed between their checkpoint writes): the ones behind
train on their own (a smaller pack) until they catch up.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
from torch import Tensor, nn

from actbench import runs
from actbench.config import ConfigError, load_run_config
from actbench.data.pipeline import load_splits, num_batches, train_batches
from actbench.errors import exception_line
from actbench.models import resolve_pool_first
from actbench.pack.model import PackedCNN, act_group_key, member_losses, pack_inputs, pack_mismatch, paper_cnn
from actbench.pack.optim import MergedOptimizer
from actbench.session import Session, select_device, session_for
from actbench.training.checks import NoGradient, first_step
from actbench.training.lifecycle import (
    Hooks,
    epoch_record,
    failed_before_start,
    is_bug,
    unstarted_reason,
)
from actbench.training.loop import epoch_seed
from actbench.training.schedule import lr_at
from actbench.training.state import RunState, read_summary


@dataclass
class Member(RunState):
    """One run of the pack: the `RunState` a lone run has (its session `s`: own model, uncompiled, and
    optimizer; `splits` shared with the other members), plus what only training in a pack needs."""

    rng: Tensor | None = None  # the global CPU RNG state a lone run would hold (goes into checkpoints)
    checked: bool = False  # its first step in this process passed training.checks.first_step

    @property
    def name(self) -> str:
        return self.run_dir.name


class _Stop(Exception):
    """A stop was requested: every member still training ends `interrupted`."""


def run_pack(
    run_dirs: Sequence[Path],
    hooks_for: Callable[[Path], Hooks] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> list[dict[str, Any]]:
    """Train the runs in `run_dirs` (prepared folders, any mix of new and partly trained) as one pack,
    resuming each from its own checkpoints; completed members are left alone. Returns each summary."""
    run_dirs = [Path(d) for d in run_dirs]
    if len({d.resolve() for d in run_dirs}) != len(run_dirs):
        raise ConfigError("pack: the same run folder is given twice")
    cfgs = [load_run_config(d) for d in run_dirs]
    problem = pack_mismatch(cfgs, [d.name for d in run_dirs])
    if problem:  # refuses these folders as one pack, no run failed (each trains alone): none is touched
        raise ConfigError(problem)
    hooks_for = hooks_for or (lambda d: Hooks())
    with contextlib.ExitStack() as locks:
        held = _lock(run_dirs, locks)
        try:
            for d in run_dirs:
                runs.check_writable(d)  # before any work, as a lone run checks --out
                if d not in held:  # writable, yet no run.lock could be made there: never train unlocked
                    raise runs.RunError(f"{d}: cannot create {runs.LOCK}")
            members = _members(run_dirs, hooks_for)
        except Exception as exc:  # noqa: BLE001 - every member ends as a lone run would, one line
            raise _failed_before_start(run_dirs, held, exc) from None
        try:
            _train(members, should_stop)
        except Exception as exc:  # noqa: BLE001 - which member caused it is unknown: fail none
            _crashed(members, exc)
            if is_bug(exc):  # actbench's own code is wrong: shown in full (the members resume alone)
                raise
    return [m.summary for m in members]


def _lock(run_dirs: list[Path], locks: contextlib.ExitStack) -> list[Path]:
    """Take the members' run.lock; the folders where none can be made (read-only) are left out, for
    `runs.check_writable` to name. One held by another process raises RunError here, before anything is
    written: that process owns the run, so no member is marked."""
    held = []
    for d in run_dirs:
        with contextlib.suppress(OSError):
            locks.enter_context(runs.run_lock(d))
            held.append(d)
    return held


def _failed_before_start(run_dirs: list[Path], held: list[Path], exc: Exception) -> Exception:
    """A failure before the pack's first epoch (a member folder that cannot be written, unreadable data, a
    network that cannot be built for the data): each member whose lock this process holds ends as the same
    failure leaves a lone run (`lifecycle.failed_before_start`: `failed` with the reason, never `running`),
    a completed one is left alone. Returns one line naming the folders as the command does (a bug:
    itself, to keep its traceback)."""
    for d in held:
        try:
            summary = runs.read_json(d / runs.SUMMARY)
        except runs.RunError:  # missing or unreadable: it holds no settled status
            summary = {}
        if summary.get("status") != runs.COMPLETED:
            with contextlib.suppress(OSError):  # cannot be written either: the command's line says why
                failed_before_start(d, summary, exc)
    if is_bug(exc):
        return exc
    folders = " ".join(map(str, run_dirs))
    return runs.RunError(f"train-pack {folders}: failed before its first epoch: {unstarted_reason(exc)}")


def _crashed(members: list[Member], exc: Exception) -> None:
    """Every member still training ends `interrupted` at its last checkpoint, with what was raised."""
    what = exception_line(exc)
    for m in members:
        if m.status is None:
            m.summary[runs.PACK_CRASH] = what
            m.finish(runs.INTERRUPTED, f"the pack crashed ({what}); resuming continues from its checkpoint")


def _members(run_dirs: list[Path], hooks_for: Callable[[Path], Hooks]) -> list[Member]:
    """Load the data once, build and restore every member not yet completed, mark them running."""
    cfgs = [load_run_config(d) for d in run_dirs]
    t = cfgs[0].train
    if t.threads:
        torch.set_num_threads(t.threads)
    device = select_device(t.device)
    splits = load_splits(cfgs[0].data).to(device)
    members = []
    for d, cfg in zip(run_dirs, cfgs, strict=True):
        hooks = hooks_for(d)
        summary = read_summary(d, hooks)
        if summary.get("status") == runs.COMPLETED:
            continue
        summary.pop(runs.PACK_CRASH, None)  # an earlier pack's crash: this pack starts clean
        s = session_for(cfg, device, splits)
        s = dataclasses.replace(s, net=s.model)  # members evaluate uncompiled; the pack is what trains
        m = Member(d, s, hooks, summary)
        m.restore()
        m.rng = torch.get_rng_state()  # the member's own, as restored: each epoch's checkpoints hold it
        summary[runs.PACK_EPOCH_TIMES] = list(summary.get(runs.PACK_EPOCH_TIMES, []))[: m.start]
        members.append(m)
    try:
        for m in members:
            others = [os.path.relpath(o.run_dir, m.run_dir.parent) for o in members if o is not m]
            m.mark_running({"packed_with": others})
    except OSError as exc:  # a write (disk full), which lifecycle.unstarted_reason would call a read
        raise runs.RunError(runs.write_problem(exc)) from None
    return members


def _train(members: list[Member], should_stop: Callable[[], bool]) -> None:
    for m in members:
        others = [o.name for o in members if o is not m]
        m.announce(packed_with=others)
    try:
        while True:
            live = [m for m in members if m.status is None and m.epoch < m.s.cfg.train.epochs]
            if not live:
                break
            epoch = min(m.epoch for m in live) + 1
            _epoch([m for m in live if m.epoch + 1 == epoch], epoch, should_stop)
    except _Stop as exc:
        for m in members:
            if m.status is None:
                m.finish(runs.INTERRUPTED, str(exc))
    for m in members:
        if m.status is None:
            m.complete()
            m.finish(runs.COMPLETED, None)


def build_packed(sessions: Sequence[Session]) -> PackedCNN:
    """The packed model of the sessions' models, in the order given (see `order_members`)."""
    cfgs = [s.cfg for s in sessions]
    pool_first = [resolve_pool_first(c.model, c.activation) for c in cfgs]
    keys = [act_group_key(c, pf) for c, pf in zip(cfgs, pool_first, strict=True)]
    return PackedCNN([paper_cnn(s.model) for s in sessions], keys, cfgs[0].model.pool, pool_first)


def order_members(members: Sequence[Member]) -> list[Member]:
    """Members with the same activation next to each other (one activation call per distinct one)."""

    def key(m: Member) -> str:
        return act_group_key(m.s.cfg, resolve_pool_first(m.s.cfg.model, m.s.cfg.activation))

    first_seen: dict[str, int] = {}
    for i, m in enumerate(members):
        first_seen.setdefault(key(m), i)
    return sorted(members, key=lambda m: first_seen[key(m)])


def _net(members: list[Member]) -> nn.Module:
    packed = build_packed([m.s for m in members])
    speed = members[0].s.speed
    # torch.compile of a module returns an OptimizedModule (an nn.Module); its stub only says "a callable"
    return cast(nn.Module, torch.compile(packed, mode=speed["compile_mode"])) if speed["compile"] else packed


def _epoch(group: list[Member], epoch: int, should_stop: Callable[[], bool]) -> None:
    """Train `group` (all at `epoch` - 1 epochs done) for one epoch as one pack, then validate and persist
    each member. Members whose loss turns non-finite end `failed` and leave the pack."""
    e0 = time.perf_counter()
    alive = order_members(group)
    cfg0 = alive[0].s.cfg
    splits, device = alive[0].s.splits, alive[0].s.device
    n, bs = len(splits.train_y), cfg0.train.batch_size
    n_batch = num_batches(n, bs)
    batches: dict[int, Iterator[tuple[Tensor, Tensor]]] = {}
    # Per-batch losses and hit counts of all members in one tensor each (row = member's position in the
    # pack at the epoch's start): one launch per step for the bookkeeping, not one per member.
    row = {id(m): k for k, m in enumerate(alive)}
    losses = torch.zeros(len(alive), n_batch, device=device)  # rows contiguous: summed as a lone run sums
    correct = torch.zeros(len(alive), device=device, dtype=torch.long)
    rows = torch.arange(len(alive), device=device)
    for m in alive:
        for g in m.s.opt.param_groups:
            g["lr"] = lr_at(m.s.cfg, epoch)
        m.s.model.train()
        gen = torch.Generator(device=device).manual_seed(epoch_seed(m.s.cfg.train.seed, epoch))
        batches[id(m)] = train_batches(
            splits.train_x, splits.train_y, bs, cfg0.augment, splits.mean, splits.std, gen
        )
    net, opt = _net(alive), MergedOptimizer([m.s.opt for m in alive])
    for i in range(n_batch):
        xs, ys = zip(*(next(batches[id(m)]) for m in alive), strict=True)
        y = torch.stack(ys)  # (K, B)
        with alive[0].s.autocast():
            logits = net(alive[0].s.prep(pack_inputs(xs)))
        per = member_losses(logits, y)  # (K,)
        opt.zero_grad()
        per.sum().backward()  # member k's parameters only see per[k]: its own gradient
        losses[rows, i] = per.detach() * y.shape[1]
        correct[rows] += (logits.argmax(-1) == y).sum(1)
        for m in alive:  # clipping is per member (its own gradient norm), before the one merged step
            if m.s.cfg.train.grad_clip:
                nn.utils.clip_grad_norm_(m.s.model.parameters(), m.s.cfg.train.grad_clip)
        opt.step()
        for m in alive:
            m.hooks.on_event("batch", {"epoch": epoch, "batch": i + 1, "batches": n_batch})
        runs.maybe_fault("batch", epoch, i + 1)
        why: dict[int, str] = {}  # position in `alive` -> why that member fails now
        for k, m in enumerate(alive):  # as a lone run: its first step must reach the whole network
            if not m.checked:
                m.checked = True
                try:
                    if warning := first_step(m.s.model, m.s.speed):
                        m.hooks.on_event("warning", {"message": warning})
                except NoGradient as exc:
                    why[k] = str(exc)
        if device.type == "cpu":  # as a lone run on CPU: stop a diverged member at once
            values = per.tolist()
            why |= {k: f"loss became {v} at epoch {epoch}, batch {i + 1}" for k, v in enumerate(values)
                    if not math.isfinite(v)}  # fmt: skip
        if why:
            for k in sorted(why, reverse=True):
                alive[k].finish(runs.FAILED, why[k])
                del alive[k]
            if not alive:
                return
            net, opt = _net(alive), MergedOptimizer([m.s.opt for m in alive])
            rows = torch.tensor([row[id(m)] for m in alive], device=device)
        if should_stop():
            raise _Stop(f"stopped during epoch {epoch} (batch {i + 1}/{n_batch})")
    train_s = time.perf_counter() - e0
    for m in list(alive):
        bad = (~torch.isfinite(losses[row[id(m)]])).nonzero()
        if len(bad):  # GPU: checked once per epoch, as a lone run does
            m.finish(runs.FAILED, f"loss became non-finite at epoch {epoch}, batch {int(bad[0]) + 1}")
            alive.remove(m)
    for m in alive:
        k = row[id(m)]
        _close_epoch(m, epoch, losses[k].sum().item() / n, correct[k].item() / n, train_s)
    pack_s = time.perf_counter() - e0  # known once every member has logged: written now, a kill loses none
    for m in alive:
        m.summary[runs.PACK_EPOCH_TIMES].append(pack_s)
        runs.write_json(m.run_dir / runs.SUMMARY, m.summary)


def _close_epoch(m: Member, epoch: int, train_loss: float, train_acc: float, train_s: float) -> None:
    """Validate, log and checkpoint one member's epoch exactly as a lone run does (`RunState.log_epoch`)."""
    train = {"train_loss": train_loss, "train_acc": train_acc}
    rec = epoch_record(m.s, epoch, train, lr_at(m.s.cfg, epoch), train_s)  # + own validation time
    assert m.rng is not None  # set when the pack starts
    torch.set_rng_state(m.rng)  # checkpoints hold the global RNG: make it this member's
    m.log_epoch(rec)
