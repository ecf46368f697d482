"""Packs that must not train the wrong model or lose work (issue 24): which activations are packed, what a
crash or a killed worker inside a pack leaves behind, and why runs were not packed."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from actbench import runs
from actbench.activations import ACTIVATIONS
from actbench.activations import plugins as plugins
from actbench.cli import app
from actbench.config import ConfigError
from actbench.pack import model as PK
from actbench.pack import plan as PP
from actbench.pack import train as P
from actbench.sweep import plan as S
from actbench.sweep import state as SST
from actbench.training import loop as T
from tests.factories import REPO, TINY, tiny_config

runner = CliRunner()

USER_ACTS = '''
import torch
from torch import nn


class Broadcast(nn.Module):
    """relu(x) * a with a layer-shared a of shape (1,): plain broadcasting (the issue's activation)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.ones(1))

    def forward(self, x):
        return torch.relu(x) * self.a


class MeanScale(nn.Module):
    """relu(x) * mean(a): packed, the mean runs over every member's a; no shape error shows it."""

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.ones(1))

    def forward(self, x):
        return torch.relu(x) * self.a.mean()


class ChannelView(nn.Module):
    """relu(x) * a, a viewed over dim 1: packs exactly, without saying so."""

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(torch.ones(1))

    def forward(self, x):
        return torch.relu(x) * self.a.view(-1, *[1] * (x.dim() - 2))


class Declared(Broadcast):
    """Declares pack_by_channel although its forward broadcasts plainly: trusted, and crashes in a pack."""

    pack_by_channel = True
'''


@pytest.fixture
def user_acts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The module `packacts` (USER_ACTS) importable here and in worker processes."""
    folder = tmp_path / "mods"
    folder.mkdir()
    (folder / "packacts.py").write_text(textwrap.dedent(USER_ACTS))
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(folder), str(REPO)]))
    plugins.refresh()
    PK._PROBED.clear()
    return "packacts"


def test_every_builtin_activation_packs_exactly() -> None:
    """The built-ins are packed without a probe: the probe confirms it for each, with a hidden fc layer
    (PAU's (1, 6) coefficients crashed the packed call before)."""
    for name, spec in ACTIVATIONS.items():
        for sharing in ("layer", "channel") if spec.supports_sharing else ("layer",):
            cfg = tiny_config(f"activation.name={name}", f"activation.sharing={sharing}", "model.hidden=[6]")
            assert PK._probe(cfg) is None, (name, sharing)
    # fixed hidden-layer activation (model.hidden_act): the packed model finds it in each member's head
    for name in ("exponential", "rational"):
        cfg = tiny_config(f"activation.name={name}", "model.hidden=[6,5]", "model.hidden_act=relu")
        assert PK._probe(cfg) is None, name


def test_user_activation_packs_only_when_proven(user_acts: str) -> None:
    reason = {
        act: PK.unpackable_reason(tiny_config(f"activation.name={user_acts}:{act}", "model.channels=[8,8,8]"))
        for act in ("Broadcast", "MeanScale", "ChannelView", "Declared")
    }
    assert "its packed form fails on a probe batch (RuntimeError" in reason["Broadcast"]
    assert "its packed form differs from the lone one" in reason["MeanScale"]
    assert reason["ChannelView"] is None and reason["Declared"] is None
    assert len(PK._PROBED) == 3  # the declared one is trusted, not probed


def test_sweep_trains_an_unproven_activation_alone(user_acts: str, tmp_path: Path) -> None:
    plan = S.plan_sweep(tiny_config(), ["relu", f"{user_acts}:Broadcast"], [0, 1], {}, tmp_path / "sw")
    packs = PP.plan_packs(plan.runs, 4, workers=1)
    assert packs == [["relu-s0", "relu-s1"]]
    (line,) = PP.why_alone(plan.runs, 4, packs, workers=1)
    assert line.startswith("not packed (activation packacts:Broadcast: its packed form fails on a probe")
    assert line.endswith("packacts.Broadcast-s0, packacts.Broadcast-s1")


def test_train_pack_refuses_an_activation_that_packs_wrongly(user_acts: str, tmp_path: Path) -> None:
    """`train-pack` directly: the members' losses would all be the same mixed value; refused in one line."""
    cfgs = [tiny_config(f"activation.name={user_acts}:MeanScale", f"train.seed={s}") for s in (0, 1)]
    dirs = [T.create_run(c, tmp_path, f"m{s}") for s, c in enumerate(cfgs)]
    with pytest.raises(ConfigError, match="run m0: cannot be packed, activation packacts:MeanScale: its"):
        P.run_pack(dirs)


def _pack_raising_in_epoch_2(out: Path, monkeypatch: pytest.MonkeyPatch, exc: Exception) -> list[Path]:
    """A ReLU and an ELU member whose pack raises `exc` in its second epoch (monkeypatched)."""
    cfgs = [tiny_config(f"activation.name={a}", f"run.name={a}") for a in ("relu", "elu")]
    dirs = [T.create_run(c, out, c.run.name) for c in cfgs]
    real_epoch = P._epoch

    def epoch(group, n, should_stop):  # noqa: ANN001, ANN202
        if n == 2:
            raise exc
        return real_epoch(group, n, should_stop)

    monkeypatch.setattr(P, "_epoch", epoch)
    return dirs


def test_crash_inside_a_pack_marks_no_member_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception in epoch 2 of a pack: every member `interrupted` at its epoch-1 checkpoint with the
    error, none `failed`; running the pack again finishes them."""
    dirs = _pack_raising_in_epoch_2(tmp_path, monkeypatch, RuntimeError("CUDA out of memory (simulated)"))
    summaries = P.run_pack(dirs)
    assert [s["status"] for s in summaries] == [runs.INTERRUPTED] * 2
    for d, s in zip(dirs, summaries, strict=True):
        assert s[runs.PACK_CRASH] == "RuntimeError: CUDA out of memory (simulated)"
        assert "pack crashed" in s["error"]
        assert runs.load_checkpoint(d / runs.CKPT_LAST)["epoch"] == 1
        assert SST.pack_crashed(d)
    monkeypatch.undo()
    assert [s["status"] for s in P.run_pack(dirs)] == [runs.COMPLETED] * 2
    for d in dirs:
        assert [r["epoch"] for r in runs.read_metrics(d)[0]] == [1, 2]
        assert runs.PACK_CRASH not in runs.read_json(d / runs.SUMMARY)


def test_a_bug_inside_a_pack_keeps_its_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception that says actbench's code is wrong (`lifecycle.BUGS`) inside a pack was reduced to the
    members' one-line `pack_crash` and `train-pack` ended as if stopped (exit 130): a bug in the pack's own
    code was never shown, since the members then completed alone. It is raised (with its traceback); the
    members still end `interrupted`, for the sweep to resume them alone."""
    bug = AttributeError("'PackedCNN' object has no attribute 'slices2'")
    dirs = _pack_raising_in_epoch_2(tmp_path, monkeypatch, bug)
    with pytest.raises(AttributeError, match="slices2"):
        P.run_pack(dirs)
    for d in dirs:
        summary = runs.read_json(d / runs.SUMMARY)
        assert summary["status"] == runs.INTERRUPTED and summary[runs.PACK_CRASH].startswith("AttributeError")


def _sweep(out: Path, acts: str, *extra: str, seeds: str = "0") -> list[str]:
    args = ["sweep", "--acts", acts, "--seeds", seeds, "--pack", "2", "--out", str(out), "--name", "sw"]
    return [*args, *[a for item in (*TINY, *extra) for a in ("--set", item)]]


def test_sweep_resumes_the_members_of_a_crashed_pack_alone(user_acts: str, tmp_path: Path) -> None:
    """A pack that crashes (an activation declared packable that is not): its members go on alone in the
    same sweep; the healthy relu member is never marked failed."""
    res = runner.invoke(app, _sweep(tmp_path, f"relu,{user_acts}:Declared", "train.epochs=1"))
    assert res.exit_code == 0, res.output
    for name in ("relu-s0", "packacts.Declared-s0"):
        run_dir = tmp_path / "sw" / name
        summary = runs.read_json(run_dir / runs.SUMMARY)
        assert summary["status"] == runs.COMPLETED and summary[runs.PACK_CRASH].startswith("RuntimeError")
        assert "its pack crashed (see above); resuming it alone" in (run_dir / SST.LOG).read_text()


def test_killed_pack_worker_leaves_members_resumable(tmp_path: Path) -> None:
    """kill -9 of `train-pack` while the sweep lives: members `interrupted` with their checkpoints (they
    were `failed`, and a plain re-run skipped them); the next sweep resumes them, losing no epoch."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "actbench", *_sweep(tmp_path, "relu,elu", "train.epochs=2")]
    killed = subprocess.run(cmd, cwd=REPO, env={**env, "ACTBENCH_FAULT": "batch:2:1"}, capture_output=True,
                            text=True, timeout=900)  # fmt: skip
    assert killed.returncode == 130, killed.stdout + killed.stderr
    for name in ("relu-s0", "elu-s0"):
        summary = runs.read_json(tmp_path / "sw" / name / runs.SUMMARY)
        assert summary["status"] == runs.INTERRUPTED and "exited with code -9" in summary["error"], summary
        assert runs.load_checkpoint(tmp_path / "sw" / name / runs.CKPT_LAST)["epoch"] == 1
    again = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stdout + again.stderr
    for name in ("relu-s0", "elu-s0"):
        summary = runs.read_json(tmp_path / "sw" / name / runs.SUMMARY)
        assert summary["status"] == runs.COMPLETED and summary["resumed_from"] == 1
        assert [r["epoch"] for r in runs.read_metrics(tmp_path / "sw" / name)[0]] == [1, 2]


def test_retry_failed_resumes_from_the_last_checkpoint(tmp_path: Path) -> None:
    plan = S.plan_sweep(tiny_config("train.epochs=3"), ["relu", "elu"], [0], {}, tmp_path / "sw")
    with_ckpt, without = (plan.sweep_dir / r.name for r in plan.runs)
    T.create_run(plan.runs[0].config, plan.sweep_dir, with_ckpt.name)
    stop = T.Hooks(should_stop=lambda: bool(runs.read_metrics(with_ckpt)[0]))
    T.run_training(with_ckpt, hooks=stop)
    T.create_run(plan.runs[1].config, plan.sweep_dir, without.name)
    for d in (with_ckpt, without):
        runs.write_json(d / runs.SUMMARY, {**runs.read_json(d / runs.SUMMARY), "status": runs.FAILED})
    assert SST.prepare(plan.runs[0], with_ckpt, retry_failed=False) == "skip"
    assert SST.prepare(plan.runs[0], with_ckpt, retry_failed=True) == "resume"
    assert runs.load_checkpoint(with_ckpt / runs.CKPT_LAST)["epoch"] == 1  # kept, not deleted
    assert SST.prepare(plan.runs[1], without, retry_failed=True) == "restart"  # nothing to resume from


def test_why_runs_were_not_packed(tmp_path: Path) -> None:
    plan = S.plan_sweep(tiny_config(), ["relu", "elu"], [0, 1], {}, tmp_path / "sw")
    (auto,) = PP.why_alone(plan.runs, PP.AUTO, PP.plan_packs(plan.runs, PP.AUTO, 1), 1)
    assert auto.startswith("--pack auto: nothing packed, train.device cpu is the CPU here")
    bn = S.plan_sweep(tiny_config("model.batch_norm=true"), ["relu"], [0, 1], {}, tmp_path / "bn")
    assert PP.why_alone(bn.runs, 2, [], 1) == [
        "not packed (model.batch_norm: true (per-member running statistics)): relu-s0, relu-s1"
    ]
    mixed = [S.RunSpec(f"{c}-s{s}", {}, tiny_config(f"model.channels=[{c},{c},{c}]", f"train.seed={s}"))
             for c in (4, 8) for s in (0, 1, 2)]  # fmt: skip
    assert PP.why_alone(mixed, 2, PP.plan_packs(mixed, 2, 1), 1) == [
        "not packed (the one left over after packs of 2): 4-s2, 8-s2"
    ]
    one = mixed[:4]
    assert PP.why_alone(one, 4, PP.plan_packs(one, 4, 1), 1) == [
        "not packed (no other run has its shapes, data and schedule: "
        "model.channels ([4, 4, 4] vs [8, 8, 8])): 8-s0"
    ]
    dry = runner.invoke(app, [*_sweep(tmp_path, "relu", "model.batch_norm=true", seeds="0,1"), "--dry-run"])
    assert dry.exit_code == 0 and "not packed (model.batch_norm: true" in dry.output, dry.output
