"""Packed runs (pack.model, pack.train): every member is the run it would have been alone."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml
from typer.testing import CliRunner

from actbench import runs
from actbench.cli import app
from actbench.config import ConfigError, load_run_config, replace
from actbench.data.pipeline import load_splits, train_batches
from actbench.evaluation import evaluate_run
from actbench.models import build_model
from actbench.pack import model as PK
from actbench.pack import plan as PP
from actbench.pack import train as P
from actbench.pack.optim import MergedOptimizer
from actbench.session import session_for
from actbench.sweep import plan as S
from actbench.sweep import state as SST
from actbench.training import loop as T
from tests.factories import REPO, TINY, tiny_config

runner = CliRunner()
VOLATILE = ("epoch_time_s", "images_per_s")
# A mixed pack: two learnable activations (one with channel sharing), a fixed one, two seeds.
TRIO = [("relu", 0, ()), ("rational", 1, ()), ("exponential", 0, ("activation.sharing=channel",))]


def _cfgs(*extra: str) -> list:
    return [
        tiny_config(f"activation.name={a}", f"train.seed={s}", f"run.name={a}-s{s}", *x, *extra)
        for a, s, x in TRIO
    ]


def _create(cfgs: list, out: Path) -> list[Path]:
    return [T.create_run(c, out, c.run.name) for c in cfgs]


def _metrics(run_dir: Path) -> list[dict]:
    records, warnings = runs.read_metrics(run_dir)
    assert not warnings
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in records]


def _close(a, b, rel: float = 1e-4, path: str = "") -> None:
    """Nested dicts/lists equal, floats within `rel` (relative, with a 1e-6 absolute floor)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), path
        for k in a:
            _close(a[k], b[k], rel, f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, rel, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(b, str):
        assert math.isclose(a, b, rel_tol=rel, abs_tol=1e-6), f"{path}: {a} vs {b}"
    else:
        assert a == b, f"{path}: {a!r} vs {b!r}"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], list[Path]]:
    """The TRIO trained alone (ordinary runs) and as one pack, 2 epochs each."""
    root = tmp_path_factory.mktemp("pack")
    alone = _create(_cfgs(), root / "alone")
    for d in alone:
        assert T.run_training(d)["status"] == "completed"
    packed = _create(_cfgs(), root / "packed")
    assert [s["status"] for s in P.run_pack(packed)] == ["completed"] * 3
    return alone, packed


def test_packed_steps_match_lone_steps() -> None:
    """20 optimizer steps, members with their own lr: per-batch losses as when each trains alone."""
    torch.set_num_threads(1)  # as TINY's train.threads (restored by conftest)
    cfgs = [replace(c, **{"optim.lr": lr}) for c, lr in zip(_cfgs(), (1e-3, 3e-3, 2e-3), strict=True)]
    splits, dev = load_splits(cfgs[0].data), torch.device("cpu")
    lone = [session_for(c, dev, splits) for c in cfgs]
    mates = [session_for(c, dev, splits) for c in cfgs]
    packed = P.build_packed(mates)

    def stream(seed: int):
        for epoch in range(1, 100):
            gen = torch.Generator().manual_seed(T.epoch_seed(seed, epoch))
            c = cfgs[0]
            yield from train_batches(
                splits.train_x, splits.train_y, c.train.batch_size, c.augment, splits.mean, splits.std, gen
            )

    streams = [stream(c.train.seed) for c in cfgs]
    for _ in range(20):
        batches = [next(s) for s in streams]
        want = []
        for s, (x, y) in zip(lone, batches, strict=True):
            loss = F.cross_entropy(s.model(x), y)
            s.opt.zero_grad()
            loss.backward()
            s.opt.step()
            want.append(loss.item())
        per = PK.member_losses(
            packed(PK.pack_inputs([b[0] for b in batches])), torch.stack([b[1] for b in batches])
        )
        opt = MergedOptimizer([s.opt for s in mates])  # as pack_train: one step for the whole pack
        opt.zero_grad()
        per.sum().backward()
        opt.step()
        for got, w in zip(per.tolist(), want, strict=True):
            assert math.isclose(got, w, rel_tol=1e-4)
    for a, b in zip(lone, mates, strict=True):
        for (name, p), q in zip(a.model.named_parameters(), b.model.parameters(), strict=True):
            assert torch.allclose(p, q, rtol=1e-4, atol=1e-6), name


def test_pack_members_equal_lone_runs(trained: tuple[list[Path], list[Path]]) -> None:
    alone, packed = trained
    for a, p in zip(alone, packed, strict=True):
        _close(_metrics(a), _metrics(p), path=a.name)  # losses, accuracies, learned `a` per epoch
        sa, sp = runs.read_json(a / runs.SUMMARY), runs.read_json(p / runs.SUMMARY)
        assert sp["status"] == "completed" and sp["epochs_done"] == 2
        # the pack's whole epoch (all members' validation and checkpoints) >= what it cost this member
        pack_times = sp[runs.PACK_EPOCH_TIMES]
        assert len(pack_times) == 2 and all(
            t >= e for t, e in zip(pack_times, sp["epoch_times"], strict=True)
        )
        assert runs.PACK_EPOCH_TIMES not in sa
        _close(
            {k: sa[k] for k in ("last", "best", "learned")}, {k: sp[k] for k in ("last", "best", "learned")}
        )
        others = sorted(o.name for o in packed if o != p)
        assert sorted(runs.read_json(p / runs.ENV)["packed_with"]) == others
        assert "packed_with" not in runs.read_json(a / runs.ENV)


def test_packed_and_lone_differ_in_float_rounding_only(trained: tuple[list[Path], list[Path]]) -> None:
    """What the README promises (issue 24): the same files, config.yaml, checkpoint layout (keys, shapes,
    dtypes, optimizer state); weights equal to float rounding of the grouped kernels, not bit for bit."""
    for a, p in zip(*trained, strict=True):
        assert sorted(f.name for f in a.iterdir()) == sorted(f.name for f in p.iterdir())
        assert (a / runs.CONFIG).read_text() == (p / runs.CONFIG).read_text()
        ca, cp = (runs.load_checkpoint(d / runs.CKPT_LAST) for d in (a, p))
        assert set(ca) == set(cp) and (ca["epoch"], ca["best"]["epoch"]) == (cp["epoch"], cp["best"]["epoch"])
        for key, t in ca["model"].items():
            u = cp["model"][key]
            assert (t.shape, t.dtype) == (u.shape, u.dtype), key
            torch.testing.assert_close(u, t, rtol=1e-3, atol=1e-4, msg=key)
        oa, op = ca["optimizer"], cp["optimizer"]
        assert oa["param_groups"] == op["param_groups"] and set(oa["state"]) == set(op["state"])
        for i, state in oa["state"].items():
            shapes = {k: v.shape for k, v in op["state"][i].items()}
            assert {k: v.shape for k, v in state.items()} == shapes


def test_member_checkpoint_is_an_ordinary_one(trained: tuple[list[Path], list[Path]]) -> None:
    _, packed = trained
    p = packed[1]
    cfg = load_run_config(p)
    model = build_model(cfg.model, cfg.activation, 10)
    model.load_state_dict(runs.load_checkpoint(p / runs.CKPT_LAST)["model"])  # strict: same keys/shapes
    r = evaluate_run(p, "last", "test")
    last = runs.read_json(p / runs.SUMMARY)["last"]
    assert (r["epoch"], r["acc"]) == (2, last["test_acc"])
    assert math.isclose(r["loss"], last["test_loss"], rel_tol=1e-6)


def test_compiled_pack_equals_lone_runs(trained: tuple[list[Path], list[Path]], tmp_path: Path) -> None:
    """torch.compile of the packed model (the CUDA default) trains the same runs, compiled once."""
    import torch._dynamo
    from torch._dynamo.utils import counters

    alone, _ = trained
    torch._dynamo.reset()  # nothing cached by earlier tests
    counters.clear()
    compiled = _create(_cfgs("train.compile=true"), tmp_path)
    assert [s["status"] for s in P.run_pack(compiled)] == ["completed"] * 3
    assert counters["stats"]["unique_graphs"] == 1  # not recompiled per epoch (a new PackedCNN each)
    for a, c in zip(alone, compiled, strict=True):
        _close(_metrics(a), _metrics(c), path=a.name)
        assert runs.read_json(c / runs.SUMMARY)["effective"]["compile"] is True


def test_pack_is_deterministic(trained: tuple[list[Path], list[Path]], tmp_path: Path) -> None:
    _, packed = trained
    again = _create(_cfgs(), tmp_path)
    P.run_pack(again)
    for a, b in zip(packed, again, strict=True):
        assert _metrics(a) == _metrics(b)
        assert runs.read_json(a / runs.SUMMARY)["last"] == runs.read_json(b / runs.SUMMARY)["last"]


def test_diverging_member_fails_alone(trained: tuple[list[Path], list[Path]], tmp_path: Path) -> None:
    alone, _ = trained
    relu, rational = _cfgs()[:2]
    wild = replace(rational, **{"optim.lr": 1e12})  # its own learning rate only
    dirs = _create([relu, wild], tmp_path)
    relu_summary, wild_summary = P.run_pack(dirs)
    assert wild_summary["status"] == "failed"
    assert "at epoch 1, batch" in wild_summary["error"]
    assert relu_summary["status"] == "completed"
    _close(_metrics(alone[0]), _metrics(dirs[0]))  # the survivor is unaffected


def test_member_behind_catches_up(trained: tuple[list[Path], list[Path]], tmp_path: Path) -> None:
    """A member interrupted after epoch 1 packed with two new ones: it waits for them, then all go on."""
    alone, _ = trained
    dirs = _create(_cfgs(), tmp_path)
    done = {"epochs": 0}

    def on_event(kind: str, data: dict) -> None:
        done["epochs"] += kind == "epoch"

    hooks = T.Hooks(on_event=on_event, should_stop=lambda: done["epochs"] >= 1)
    assert T.run_training(dirs[1], hooks=hooks)["status"] == "interrupted"
    P.run_pack(dirs)
    for a, p in zip(alone, dirs, strict=True):
        assert [r["epoch"] for r in _metrics(p)] == [1, 2]
        _close(_metrics(a), _metrics(p), path=p.name)
        assert runs.read_json(p / runs.SUMMARY)["status"] == "completed"


def test_kill_then_resume_pack(trained: tuple[list[Path], list[Path]], tmp_path: Path) -> None:
    """SIGKILL in the middle of epoch 2; running the pack again loses and repeats no epoch."""
    _, packed = trained
    dirs = _create(_cfgs(), tmp_path)
    cmd = [sys.executable, "-m", "actbench", "train-pack", *map(str, dirs), "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    killed = subprocess.run(cmd, env={**env, "ACTBENCH_FAULT": "batch:2:2"}, cwd=REPO, capture_output=True)
    assert killed.returncode == -9
    assert all([r["epoch"] for r in _metrics(d)] == [1] for d in dirs)
    resumed = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    for a, b in zip(packed, dirs, strict=True):
        assert _metrics(a) == _metrics(b)
        assert runs.read_json(b / runs.SUMMARY)["status"] == "completed"
        assert "epoch 2/2: train loss" in (b / "train.log").read_text()


def test_report_of_packed_equals_unpacked(trained: tuple[list[Path], list[Path]], tmp_path: Path) -> None:
    docs = []
    for i, folder in enumerate(d[0].parent for d in trained):
        out = tmp_path / f"{i}.json"
        result = runner.invoke(app, ["report", str(folder), "--format", "json", "--out", str(out)])
        assert result.exit_code == 0, result.output
        docs.append(json.loads(out.read_text()))
    alone, packed = docs
    # the one difference besides timing: the packed report says its timings are shares of a pack epoch
    extra = [w for w in packed["warnings"] if w not in alone["warnings"]]
    assert len(extra) == 1 and extra[0].startswith("3 run(s) were trained in packs")
    packed["warnings"] = alone["warnings"]
    for doc in docs:  # the rendered sections repeat the numbers as display strings, the cost table included
        del doc["sections"]
    _close(_drop_cost(alone), _drop_cost(packed))


def _drop_cost(doc):
    """Timing and memory differ by construction; paths name the folders."""
    if isinstance(doc, dict):
        return {
            k: _drop_cost(v)
            for k, v in doc.items()
            if not any(w in k for w in ("epoch_", "images_per_s", "memory", "wall", "path", "dir"))
        }
    if isinstance(doc, list):
        return [_drop_cost(x) for x in doc]
    return doc


def test_pack_mismatch_names_the_key() -> None:
    a, b = tiny_config("run.name=a"), tiny_config("run.name=b", "train.batch_size=40")
    assert "train.batch_size" in PK.pack_mismatch([a, b])
    assert PK.pack_mismatch([a, tiny_config("run.name=c", "optim.lr=0.1", "activation.name=elu")]) is None
    assert "batch_norm" in PK.pack_mismatch([a, tiny_config("run.name=d", "model.batch_norm=true")])


def test_run_pack_refuses_incompatible_runs(tmp_path: Path) -> None:
    dirs = _create([tiny_config("run.name=a"), tiny_config("run.name=b", "train.epochs=3")], tmp_path)
    with pytest.raises(ConfigError, match="train.epochs"):
        P.run_pack(dirs)


def _specs(*configs: list[str]) -> list:
    return [S.RunSpec(f"r{i}", {}, tiny_config(f"run.name=r{i}", *sets)) for i, sets in enumerate(configs)]


def test_assign_packs_groups_compatible_runs_in_plan_order() -> None:
    specs = _specs(
        ["activation.name=relu"],
        ["activation.name=elu", "train.seed=3"],
        ["train.batch_size=40"],  # other shapes: another pack
        ["model.batch_norm=true"],  # never packed
        ["activation.name=prelu", "optim.lr=0.01"],
        ["train.batch_size=40", "train.seed=1"],
    )
    assert PP.assign_packs(specs, 2) == [["r0", "r1"], ["r2", "r5"]]
    assert PP.assign_packs(specs, 8) == [["r0", "r1", "r4"], ["r2", "r5"]]
    assert [[r.name for r in u] for u in PP.units(specs, [["r0", "r1", "r4"]])] == [
        ["r0", "r1", "r4"],
        ["r2"],
        ["r3"],
        ["r5"],
    ]
    assert PP.auto_size(specs[:2], workers=1) == 2  # host memory holds both: capped by the runs
    with pytest.raises(ConfigError, match="--pack"):
        PP.parse_pack("0")


def _sweep_args(out: Path, *extra: str) -> list[str]:
    args = ["sweep", "--acts", "relu,rational", "--seeds", "0,1", "--out", str(out), "--name", "sw"]
    for item in [*TINY, "train.epochs=1"]:
        args += ["--set", item]
    return [*args, *extra]


def test_sweep_trains_a_pack_in_one_process(tmp_path: Path) -> None:
    dry = runner.invoke(app, _sweep_args(tmp_path, "--pack", "3", "--dry-run"))
    assert dry.exit_code == 0, dry.output
    assert "pack 1 (3 runs): relu-s0, relu-s1, rational-s0" in dry.output
    assert not (tmp_path / "sw").exists()
    result = runner.invoke(app, _sweep_args(tmp_path, "--pack", "4"))
    assert result.exit_code == 0, result.output
    sweep_dir = tmp_path / "sw"
    names = ["relu-s0", "relu-s1", "rational-s0", "rational-s1"]
    assert yaml.safe_load((sweep_dir / S.MANIFEST).read_text())["packs"] == [names]
    for name in names:
        assert runs.read_status(sweep_dir / name) == "completed"
        env = runs.read_json(sweep_dir / name / runs.ENV)
        assert sorted(env["packed_with"]) == sorted(n for n in names if n != name)
        assert "epoch 1/1: train loss" in (sweep_dir / name / SST.LOG).read_text()
    again = runner.invoke(app, _sweep_args(tmp_path, "--pack", "4"))
    assert again.exit_code == 0 and again.output.count("skipped (completed)") == 4


def _logged(run_dir: Path) -> bool:
    return run_dir.exists() and bool(runs.read_metrics(run_dir)[0])


def test_ctrl_c_stops_a_packed_sweep_and_rerun_resumes_every_member(tmp_path: Path) -> None:
    """SIGINT to a `sweep --pack` process: every member ends `interrupted` at a safe point with its
    checkpoint; the same command again resumes them all to what an uninterrupted pack gives."""
    import signal
    import time

    def args(out: Path) -> list[str]:
        a = [
            "sweep",
            "--acts",
            "relu,rational",
            "--seeds",
            "0",
            "--pack",
            "2",
            "--out",
            str(out),
            "--name",
            "sw",
        ]
        return a + [x for item in (*TINY, "train.epochs=30") for x in ("--set", item)]

    ref = runner.invoke(app, args(tmp_path / "ref"))
    assert ref.exit_code == 0, ref.output
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "actbench", *args(tmp_path / "cut")]
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    sweep_dir = tmp_path / "cut" / "sw"
    end = time.monotonic() + 120
    while not all(_logged(sweep_dir / n) for n in ("relu-s0", "rational-s0")):  # epoch 1 done
        assert time.monotonic() < end and proc.poll() is None, "the pack did not start"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    for name in ("relu-s0", "rational-s0"):
        summary = runs.read_json(sweep_dir / name / runs.SUMMARY)
        assert summary["status"] == "interrupted" and 1 <= summary["epochs_done"] < 30, summary
        assert not runs.is_locked(sweep_dir / name)
        assert runs.load_checkpoint(sweep_dir / name / runs.CKPT_LAST)["epoch"] == summary["epochs_done"]
    again = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    for name in ("relu-s0", "rational-s0"):
        assert runs.read_status(sweep_dir / name) == "completed"
        assert _metrics(sweep_dir / name) == _metrics(tmp_path / "ref" / "sw" / name)  # none lost or repeated


def test_pack_auto_packs_nothing_on_cpu(tmp_path: Path) -> None:
    """On CPU packing measured slower (benchmarks/results/cpu-pack.log): auto leaves every run alone,
    while an explicit --pack K still packs."""
    plan = S.plan_sweep(tiny_config(), ["relu", "elu"], [0, 1], {}, tmp_path / "sw")
    assert PP.plan_packs(plan.runs, PP.AUTO, workers=1) == []
    assert PP.plan_packs(plan.runs, 2, workers=1) == [["relu-s0", "relu-s1"], ["elu-s0", "elu-s1"]]
