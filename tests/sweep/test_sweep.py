"""Sweeps through the CLI: expansion, manifest, skip/resume/retry, failure isolation."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from actbench import config as C
from actbench import runs
from actbench.cli import app
from actbench.config import ConfigError
from actbench.sweep import local as SL
from actbench.sweep import plan as S
from actbench.sweep import state as SST
from actbench.training import loop as T
from tests.factories import TINY, tiny_config

runner = CliRunner()


def _sweep_args(out: Path, *extra: str, seeds: str = "0,1") -> list[str]:
    args = ["sweep", "--acts", "relu,exponential", "--seeds", seeds, "--out", str(out), "--name", "sw"]
    for item in TINY:
        args += ["--set", item]
    return [*args, *extra]


def test_plan_expands_cross_product(tmp_path: Path) -> None:
    plan = S.plan_sweep(
        tiny_config(), ["relu", "prelu"], [0, 1, 2], S.parse_grid(["optim.lr=0.001,0.01"]), tmp_path / "sw"
    )
    names = [r.name for r in plan.runs]
    assert len(names) == 2 * 3 * 2 == len(set(names))
    assert "prelu-lr0.01-s2" in names
    spec = plan.runs[names.index("prelu-lr0.01-s2")]
    assert (spec.config.activation.name, spec.config.optim.lr, spec.config.train.seed) == ("prelu", 0.01, 2)


def test_plan_rejects_bad_axis_values(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="run nope-s0: activation"):
        S.plan_sweep(tiny_config(), ["nope"], [0], {}, tmp_path)
    with pytest.raises(ConfigError, match="train.epochs"):
        S.plan_sweep(tiny_config(), ["relu"], [0], S.parse_grid(["train.epochs=1,-1"]), tmp_path)
    with pytest.raises(ConfigError, match="repeated"):
        S.parse_list("0,0", "seeds", int)
    for bad in ("", "epochs=3", "train.epochs"):  # a malformed --grid item is blamed on --grid, not --set
        with pytest.raises(ConfigError, match=r"^--grid "):
            S.parse_grid([bad])


def test_plan_refuses_two_runs_with_one_folder_name(tmp_path: Path) -> None:
    """Folder names drop '/', ' ', '[', ']' and ',' of a value: two values that differ only there named
    two runs alike, and the second was skipped as the first one's completed run (its results reported as
    its own). Refused, naming the option and both values."""
    with pytest.raises(ConfigError, match=r"^--grid data.root: 'data/a' and 'data_a' .* relu-rootdata_a-s0"):
        S.plan_sweep(tiny_config(), ["relu"], [0], S.parse_grid(["data.root=data/a,data_a"]), tmp_path)
    with pytest.raises(ConfigError, match="^run relu-s0: planned twice"):  # from Python: repeats not refused
        S.plan_sweep(tiny_config(), ["relu"], [0, 0], {}, tmp_path)


def test_dry_run_prints_plan_and_runs_nothing(tmp_path: Path) -> None:
    res = runner.invoke(app, _sweep_args(tmp_path, "--dry-run"))
    assert res.exit_code == 0, res.output
    assert "relu-s0" in res.output and "exponential-s1" in res.output
    assert not (tmp_path / "sw").exists()


def test_sweep_runs_skips_and_resumes(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sw"
    # One run pre-exists, interrupted after epoch 1 of 2 (as if killed mid-way).
    cfg = tiny_config("activation.name=exponential", "train.seed=1", "run.name=exponential-s1")
    part = T.create_run(cfg, sweep_dir, "exponential-s1")
    T.run_training(part, hooks=T.Hooks(should_stop=lambda: bool(runs.read_metrics(part)[0])))
    assert runs.read_status(part) == "interrupted"

    res = runner.invoke(app, _sweep_args(tmp_path, "--workers", "2"))
    assert res.exit_code == 0, res.output
    manifest = yaml.safe_load((sweep_dir / "sweep.yaml").read_text())
    assert [r["name"] for r in manifest["runs"]] == ["relu-s0", "relu-s1", "exponential-s0", "exponential-s1"]
    for name in ("relu-s0", "relu-s1", "exponential-s0", "exponential-s1"):
        assert runs.read_status(sweep_dir / name) == "completed", name
        assert [r["epoch"] for r in runs.read_metrics(sweep_dir / name)[0]] == [1, 2]
    assert runs.read_json(part / runs.SUMMARY)["resumed_from"] == 1  # resumed, not restarted

    mtimes = {p: p.stat().st_mtime for p in sweep_dir.glob("*/summary.json")}
    res = runner.invoke(app, _sweep_args(tmp_path))
    assert res.exit_code == 0, res.output
    assert res.output.count("skipped (completed)") == 4
    assert mtimes == {p: p.stat().st_mtime for p in sweep_dir.glob("*/summary.json")}


def test_failing_run_does_not_stop_sweep_and_retry(tmp_path: Path) -> None:
    # lr so large that SGD diverges: every run fails, the sweep still visits all of them.
    diverge = ["--set", "optim.name=sgd", "--set", "optim.lr=1e30", "--set", "optim.momentum=0"]
    args = _sweep_args(tmp_path, *diverge, seeds="0")
    res = runner.invoke(app, args)
    assert res.exit_code == 1
    sweep_dir = tmp_path / "sw"
    assert {runs.read_status(sweep_dir / n) for n in ("relu-s0", "exponential-s0")} == {"failed"}
    res = runner.invoke(app, args)
    assert "skipped (failed)" in res.output  # not retried unless asked
    res = runner.invoke(app, [*args, "--retry-failed"])
    assert res.output.count("failed") >= 2 and "skipped" not in res.output


def test_claimed_run_waits_for_the_other_sweep(tmp_path: Path) -> None:
    import threading

    plan = S.plan_sweep(tiny_config("train.epochs=1"), ["relu"], [0], {}, tmp_path / "sw")
    claim = SST.try_claim(plan.sweep_dir / "relu-s0")  # another sweep process holds it
    assert claim is not None and SST.try_claim(plan.sweep_dir / "relu-s0") is None
    seen: list[str] = []

    def release_later() -> None:
        time.sleep(1.0)
        seen.append(SST.run_state(plan.sweep_dir / "relu-s0"))  # still untouched while claimed
        claim.release()

    threading.Thread(target=release_later).start()
    statuses = SL.execute(plan, workers=1, poll_s=0.1)
    assert seen == ["new"]
    assert statuses[0].state == "completed"


def test_finished_runs_are_skipped_before_the_first_update(tmp_path: Path) -> None:
    """A completed run behind a training one is counted done (with its epochs) from the first tally on,
    not pending until a worker slot frees up (the 200-epoch sweep's log said "8 pending" of which one was
    complete, and its ETA counted that run's epochs as still to train)."""
    plan = S.plan_sweep(tiny_config("train.epochs=1"), ["relu", "prelu"], [0], {}, tmp_path / "sw")
    done = T.create_run(plan.runs[1].config, plan.sweep_dir, "prelu-s0")
    T.run_training(done)
    first: list[list[tuple]] = []  # the first update's statuses, as they were then
    seen = lambda ss: first or first.append([(s.state, s.reason, s.epochs) for s in ss])  # noqa: E731
    statuses = SL.execute(plan, workers=1, poll_s=0.1, on_update=seen)
    assert first[0] == [("running", "", 0), ("skipped", "completed", 1)]
    assert [(s.state, s.reason) for s in statuses] == [("completed", ""), ("skipped", "completed")]


def test_manifest_refuses_different_base(tmp_path: Path) -> None:
    S.write_manifest(S.plan_sweep(tiny_config(), ["relu"], [0], {}, tmp_path / "sw"))
    other = S.plan_sweep(tiny_config("optim.lr=0.5"), ["relu"], [0], {}, tmp_path / "sw")
    with pytest.raises(runs.RunError, match="different base config"):
        S.write_manifest(other)


def test_manifest_from_an_older_actbench_still_matches(tmp_path: Path) -> None:
    """A manifest written before a config key existed lacks it; today's default fills it in."""
    plan = S.plan_sweep(tiny_config(), ["relu"], [0], {}, tmp_path / "sw")
    S.write_manifest(plan)
    path = plan.sweep_dir / S.MANIFEST
    doc = yaml.safe_load(path.read_text())
    del doc["base"]["train"]["grad_clip"]  # as if written by an actbench before grad_clip existed
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    S.write_manifest(S.plan_sweep(tiny_config(), ["relu"], [1], {}, tmp_path / "sw"))
    assert [r["name"] for r in yaml.safe_load(path.read_text())["runs"]] == ["relu-s0", "relu-s1"]
    S.write_manifest(plan)  # the same base config is accepted, a changed one still refused
    with pytest.raises(runs.RunError, match="different base config"):
        S.write_manifest(S.plan_sweep(tiny_config("train.grad_clip=1.0"), ["relu"], [0], {}, tmp_path / "sw"))


def test_manifest_base_loads_back_as_the_config_it_records(tmp_path: Path) -> None:
    """sweep.yaml's base is a config that `--config` can load again (benchmarks/footing_check.py re-runs
    it): a string that the config loader reads as a float (data.root '1e3') is written quoted, as in a
    run's config.yaml; yaml.safe_dump wrote it bare and the base came back with root 1000.0."""
    plan = S.plan_sweep(tiny_config("data.root='1e3'"), ["relu"], [0], {}, tmp_path / "sw")
    S.write_manifest(plan)
    doc = C.yaml_load((plan.sweep_dir / S.MANIFEST).read_text())
    assert doc["base"]["data"]["root"] == "1e3"
    assert C.from_dict(doc["base"]) == plan.base


def test_local_launcher_says_where_each_run_trains(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SL.LocalLauncher(2, gpus=0, cpus=4).where(None, 1) == "worker 2/2, cpu, 2 threads"
    monkeypatch.setenv("ACTBENCH_GPU_LIST", "5,7")
    assert SL.LocalLauncher(3, gpus=2, cpus=4).where(None, 1) == "worker 2/3, GPU 7"
    assert SL.worker_env(1, 3, 2, 4)["CUDA_VISIBLE_DEVICES"] == "7"  # the GPU the worker really gets


def test_activation_grid_applies_to_every_activation(tmp_path: Path) -> None:
    """An activation.* axis is not dropped for activations other than the config's (issue 24)."""
    grid = S.parse_grid(["activation.init=0.1,0.5"])
    plan = S.plan_sweep(tiny_config(), ["prelu", "rational"], [0], grid, tmp_path / "sw")
    got = {r.name: r.config.activation.init for r in plan.runs}
    assert got == {
        "prelu-init0.1-s0": 0.1,
        "prelu-init0.5-s0": 0.5,
        "rational-init0.1-s0": 0.1,
        "rational-init0.5-s0": 0.5,
    }
    alpha = S.parse_grid(["activation.params.alpha=0.5,2.0"])
    plan = S.plan_sweep(tiny_config(), ["elu"], [0], alpha, tmp_path / "sw")
    assert [r.config.activation.params["alpha"] for r in plan.runs] == [0.5, 2.0]
    with pytest.raises(ConfigError, match="run relu-init0.1-s0: .*init must be null") as err:
        S.plan_sweep(tiny_config(), ["prelu", "relu"], [0], grid, tmp_path / "sw")
    assert "\n" not in str(err.value)


def test_local_launcher_states_the_runs_own_threads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """train.threads=1 on 2 CPUs and 1 worker: the log says 1 thread (it said 2), and the worker gets 1."""
    from types import SimpleNamespace

    run_dir = T.create_run(tiny_config(), tmp_path, "r")  # TINY sets train.threads=1
    envs = []
    monkeypatch.setattr(SL, "launch", lambda d, env, **kw: envs.append(env) or SimpleNamespace(pid=4242))
    launcher = SL.LocalLauncher(1, gpus=0, cpus=2)
    handle = launcher.start(run_dir, 0)
    assert launcher.where(handle, 0) == "worker 1/1, cpu, 1 thread"
    assert envs[0]["OMP_NUM_THREADS"] == "1"
    unset = T.create_run(tiny_config("train.threads=0"), tmp_path, "u")
    assert launcher.where(launcher.start_pack([unset, run_dir], 0), 0) == "worker 1/1, cpu, 2 threads"


def _names(plan: S.Plan) -> list[str]:
    assert all(r.config.run.name == r.name for r in plan.runs)
    return [r.name for r in plan.runs]


def test_run_names_name_a_network_set_over_the_configs(tmp_path: Path) -> None:
    """Issue 36: `--set model.name=...` runs read `<network>-<act>-s<seed>`; the config's own network, a
    model.name grid axis (named among the grid values) and a suite task (its folder names it) keep theirs."""

    def names(*sets: str, config: str | None = None, grid: list[str] | None = None) -> list[str]:
        return _names(S.plan_from_options(config, [*TINY, *sets], "relu,elu", "0", grid, out=tmp_path))

    assert names("model.name=mlp") == ["mlp-relu-s0", "mlp-elu-s0"]
    resnet = S.plan_from_options(None, ["model.name=torchvision:resnet18"], "relu", "0", out=tmp_path)
    assert _names(resnet) == ["torchvision.resnet18-relu-s0"]  # ":" made "." as in an --acts import path
    assert names() == names("model.name=paper_cnn") == ["relu-s0", "elu-s0"]  # quickstart's own network
    assert names(config="cifar10_resnet20_relu")[0] == "relu-s0"  # a preset's own network (resnet20)
    assert names("model.name=paper_cnn", config="cifar10_resnet20_relu")[0] == "paper_cnn-relu-s0"
    assert names(grid=["model.name=mlp,paper_cnn"])[:2] == ["relu-namemlp-s0", "relu-namepaper_cnn-s0"]
    base = S.plan_from_options(None, [*TINY, "model.name=mlp"], "relu", "0", out=tmp_path, name_network=False)
    assert _names(base) == ["relu-s0"]  # without name_network: what a suite plans (from Python as the CLI)
    sweep = runner.invoke(app, _sweep_args(tmp_path, "--set", "model.name=mlp", "--dry-run", seeds="0"))
    assert sweep.exit_code == 0 and "mlp-relu-s0" in sweep.output, sweep.output
    suite = {
        "name": "n",
        "tasks": [{"name": "mlp", "config": "quickstart", "set": [*TINY, "model.name=mlp"]}],
    }
    (tmp_path / "n.yaml").write_text(yaml.safe_dump(suite))
    res = runner.invoke(app, ["suite", "run", str(tmp_path / "n.yaml"), "--acts", "relu", "--seeds", "0",
                              "--out", str(tmp_path), "--dry-run"])  # fmt: skip
    assert res.exit_code == 0 and "relu-s0" in res.output and "mlp-relu" not in res.output, res.output


def test_a_sweep_planned_before_runs_named_the_network_keeps_its_names(tmp_path: Path) -> None:
    """Re-running the command of a sweep folder whose runs were named without their network resumes those
    runs (sweep.yaml lists them) instead of training them again under new names; new runs get new names."""
    sets = [*TINY, "model.name=mlp"]
    old = S.plan_from_options(None, sets, "relu", "0", name="sw", out=tmp_path, name_network=False)
    S.write_manifest(old)
    again = S.plan_from_options(None, sets, "relu", "0,1", name="sw", out=tmp_path)
    assert _names(again) == ["relu-s0", "mlp-relu-s1"]
    assert again.runs[0].config == old.runs[0].config
    other = S.plan_from_options(None, [*TINY, "model.name=vgg_small"], "relu", "0", name="sw", out=tmp_path)
    assert _names(other) == ["vgg_small-relu-s0"]  # another sweep's folder: write_manifest refuses it
