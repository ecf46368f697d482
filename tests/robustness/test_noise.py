"""Robustness to input noise (robustness.noise): corruption, evaluation, robustness.json, CLI, sweep."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from actbench import config as C
from actbench import evaluation as E
from actbench import runs
from actbench import session as S
from actbench.cli import app
from actbench.robustness import noise as N
from actbench.training import lifecycle as lifecycle
from actbench.training import loop as T
from tests.factories import LEARNABLE, TINY, tiny_config

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small trained synthetic model shared by this module's tests (~3 s)."""
    run_dir = T.create_run(tiny_config(*LEARNABLE), tmp_path_factory.mktemp("runs"), "trained")
    assert T.run_training(run_dir)["status"] == "completed"
    return run_dir


@pytest.fixture
def session(trained: Path) -> S.Session:
    s = S.make_session(C.load_run_config(trained))
    E.load_weights(s, trained, "last")
    return s


def _images(n: int = 8, value: int | None = None) -> torch.Tensor:
    if value is not None:
        return torch.full((n, 3, 32, 32), value, dtype=torch.uint8)
    return torch.randint(
        0, 256, (n, 3, 32, 32), generator=torch.Generator().manual_seed(1), dtype=torch.uint8
    )


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- corruption -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", N.KINDS)
def test_corruption_is_deterministic_given_the_seed(kind: str) -> None:
    x = _images()
    a, b = N.corrupt(x, kind, 0.2, _gen(5)), N.corrupt(x, kind, 0.2, _gen(5))
    assert a.dtype == torch.float32 and a.shape == x.shape
    assert torch.equal(a, b)
    assert not torch.equal(a, N.corrupt(x, kind, 0.2, _gen(6)))  # another seed, other noise
    assert 0 <= a.min() and a.max() <= 1
    assert torch.equal(N.corrupt(x, kind, 0.0, _gen(5)), x.float() / 255)  # level 0: the image itself


def test_noise_strength_matches_the_level() -> None:
    gray = _images(16, 128)  # mid-gray: clamping to [0,1] is negligible at these levels
    base = gray.float() / 255
    diff = N.corrupt(gray, "gaussian", 0.1, _gen(0)) - base
    assert diff.std().item() == pytest.approx(0.1, rel=0.03) and abs(diff.mean().item()) < 0.005
    diff = N.corrupt(gray, "uniform", 0.1, _gen(0)) - base
    assert diff.abs().max().item() <= 0.1 + 1e-6
    assert diff.std().item() == pytest.approx(0.1 / math.sqrt(3), rel=0.03)  # U(-a, a): std a/sqrt(3)


def test_salt_pepper_fraction_roughly_matches_the_level() -> None:
    gray = _images(16, 128)
    out = N.corrupt(gray, "salt_pepper", 0.3, _gen(0))
    changed = (out != gray.float() / 255).any(1)  # (B, H, W): pixel locations hit
    assert changed.float().mean().item() == pytest.approx(0.3, abs=0.02)
    hit = out.permute(0, 2, 3, 1)[changed]  # (hits, 3): a hit pixel is black or white in all channels
    assert ((hit == 0).all(1) | (hit == 1).all(1)).all()
    assert (hit[:, 0] == 1).float().mean().item() == pytest.approx(0.5, abs=0.03)


def test_unknown_kind_and_bad_levels_are_rejected() -> None:
    names = {"kinds": "--noise", "levels": "--levels"}
    with pytest.raises(ValueError, match=r"--noise: 'speckle' is not allowed \(allowed: gaussian"):
        C.robustness_options(N.parse_kinds("gaussian,speckle"), [0.0], names=names)
    with pytest.raises(ValueError, match=r"--levels: each must be in \[0, 1\].*got 1.5"):
        C.robustness_options(["gaussian"], N.parse_levels("0,1.5"), names=names)
    with pytest.raises(
        ValueError, match=r"robustness.checkpoint: 'middle' is not allowed \(allowed: last, best"
    ):
        C.robustness_options(["gaussian"], [0.0], checkpoint="middle")
    with pytest.raises(ValueError, match="cannot parse"):
        N.parse_levels("0,low")
    assert N.parse_levels("0.1, 0,0.1") == [0.0, 0.1] and N.parse_kinds("uniform,gaussian") == [
        "uniform",
        "gaussian",
    ]


# --- evaluation -------------------------------------------------------------------------------------


def test_level_zero_reproduces_the_plain_evaluation_exactly(trained: Path, session: S.Session) -> None:
    result = N.robustness_eval(session, ["gaussian", "salt_pepper"], [0.0, 0.1], seed=0)
    plain = E.evaluate(session, "test")
    summary = runs.read_json(trained / runs.SUMMARY)["last"]
    for kind in ("gaussian", "salt_pepper"):
        zero, noisy = result["results"][kind]
        assert zero == {"level": 0.0, **plain}  # bit for bit: no noise op at all
        assert (zero["loss"], zero["acc"]) == (summary["test_loss"], summary["test_acc"])
        assert noisy["loss"] != zero["loss"]


def test_results_do_not_depend_on_evaluation_order(session: S.Session) -> None:
    a = N.robustness_eval(session, ["gaussian", "uniform"], [0.3, 0.1], seed=7)
    b = N.robustness_eval(session, ["uniform"], [0.3], seed=7)
    assert a["results"]["uniform"][1] == b["results"]["uniform"][0]  # levels come back ascending
    c = N.robustness_eval(session, ["uniform"], [0.3], seed=8)
    assert c["results"]["uniform"][0]["loss"] != b["results"]["uniform"][0]["loss"]


def test_accuracy_falls_as_noise_rises(session: S.Session) -> None:
    result = N.robustness_eval(session, list(N.KINDS), [0.0, 0.3, 0.6], seed=0)
    for kind, entries in result["results"].items():
        acc = [e["acc"] for e in entries]
        assert acc[0] > 0.5, "the model should be clearly above chance (0.25)"
        assert acc[-1] < acc[0] - 0.05 and acc[-1] <= min(acc), (kind, acc)


# --- robustness.json, CLI ---------------------------------------------------------------------------


def _one_line_error(args: list[str], needle: str) -> None:
    res = runner.invoke(app, args)
    assert res.exit_code != 0 and needle in res.output, res.output
    assert res.output.strip().count("\n") == 0, res.output


def test_cli_eval_noise_writes_json_and_prints_a_table(trained: Path) -> None:
    path = trained / runs.ROBUSTNESS
    path.unlink(missing_ok=True)
    res = runner.invoke(
        app, ["eval", str(trained), "--noise", "gaussian,uniform", "--levels", "0,0.2", "--seed", "3"]
    )
    assert res.exit_code == 0, res.output
    assert "gaussian acc %" in res.output and "uniform acc %" in res.output and "0.2" in res.output
    doc = json.loads(path.read_text())
    assert (doc["checkpoint"], doc["epoch"], doc["seed"], doc["split"]) == ("last", 4, 3, "test")
    assert [e["level"] for e in doc["results"]["gaussian"]] == [0.0, 0.2]
    assert all(set(e) == {"level", "loss", "acc"} for es in doc["results"].values() for e in es)
    acc = doc["results"]["uniform"][1]["acc"]
    assert f"{100 * acc:.2f}" in res.output

    # Another kind with the same checkpoint and seed is merged in; rerunning is deterministic.
    assert (
        runner.invoke(
            app, ["eval", str(trained), "--noise", "salt_pepper", "--levels", "0.1", "--seed", "3"]
        ).exit_code
        == 0
    )
    merged = json.loads(path.read_text())
    assert set(merged["results"]) == {"gaussian", "uniform", "salt_pepper"}
    assert merged["results"]["uniform"] == doc["results"]["uniform"]
    runner.invoke(
        app, ["eval", str(trained), "--noise", "gaussian,uniform", "--levels", "0,0.2", "--seed", "3"]
    )
    assert json.loads(path.read_text()) == merged
    # A different seed measures something else: it replaces the file.
    assert runner.invoke(app, ["eval", str(trained), "--noise", "gaussian", "--levels", "0.2"]).exit_code == 0
    assert set(json.loads(path.read_text())["results"]) == {"gaussian"}


def test_cli_eval_noise_without_levels_takes_the_runs_own(runs_dir: Path) -> None:
    """--levels' help says "default: robustness.levels of the config": the run's config.yaml, not the
    built-in default (a run trained with other levels was evaluated at the built-in ones)."""
    run_dir = T.create_run(tiny_config("train.epochs=1", "robustness.levels=[0,0.3]"), runs_dir, "own")
    assert T.run_training(run_dir)["status"] == runs.COMPLETED
    res = runner.invoke(app, ["eval", str(run_dir), "--noise", "gaussian"])
    assert res.exit_code == 0, res.output
    doc = json.loads((run_dir / runs.ROBUSTNESS).read_text())
    assert [e["level"] for e in doc["results"]["gaussian"]] == [0.0, 0.3]


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (
            ["--noise", "speckle"],
            "--noise: 'speckle' is not allowed (allowed: gaussian, uniform, salt_pepper)",
        ),
        (
            ["--noise", "gaussian", "--levels", "0,2"],
            "--levels: each must be in [0, 1] ([0,1] pixel units), got 2.0",
        ),
        (["--noise", "gaussian", "--levels", "0,x"], "--levels: cannot parse"),
        (["--noise", "gaussian", "--levels", "nan"], "--levels: must be a finite number, got nan"),
        (
            ["--noise", "gaussian", "--checkpoint", "mid"],
            "--checkpoint: 'mid' is not allowed (allowed: last, best, or last,best)",
        ),
        (["--levels", "0.1"], "--levels only applies with --noise KINDS"),
        (["--corruptions", "contrast", "--levels", "0.1"], "--levels only applies with --noise KINDS"),
        (["--seed", "1"], "--seed only applies with --noise KINDS or --corruptions NAMES"),
        (["--noise", "gaussian", "--split", "val"], "--noise evaluates the test split"),
    ],
)
def test_cli_bad_noise_options_are_one_line_errors(trained: Path, extra: list[str], needle: str) -> None:
    _one_line_error(["eval", str(trained), *extra], needle)


# --- config, training, sweep ------------------------------------------------------------------------


def test_robustness_config_is_validated() -> None:
    with pytest.raises(
        C.ConfigError, match=r"robustness.kinds\[1\]: 'blur' is not allowed \(allowed: gaussian"
    ):
        tiny_config("robustness.kinds=[gaussian,blur]")
    with pytest.raises(C.ConfigError, match=r"robustness.levels: each must be in \[0, 1\]"):
        tiny_config("robustness.levels=[0,-0.1]")
    with pytest.raises(C.ConfigError, match="robustness.levels: need one or more distinct"):
        tiny_config("robustness.levels=[]")
    cfg = tiny_config("robustness.kinds=[uniform]", "robustness.levels=[0,0.5]")
    assert C.from_dict(yaml.safe_load(C.dump_yaml(cfg))) == cfg


def test_training_with_robustness_enabled_writes_it_and_changes_nothing_else(runs_dir: Path) -> None:
    summaries = {}
    for name, on in (("plain", "false"), ("robust", "true")):
        cfg = tiny_config(
            "activation.name=prelu",  # learned `a` in the summary: must be the same with robustness on
            f"robustness.enabled={on}",
            "robustness.kinds=[salt_pepper]",
            "robustness.levels=[0,0.1]",
        )
        summaries[name] = T.run_training(T.create_run(cfg, runs_dir, name))
    doc = runs.read_json(runs_dir / "robust" / runs.ROBUSTNESS)
    assert (doc["checkpoint"], doc["epoch"]) == ("last", 2)
    assert doc["results"]["salt_pepper"][0]["acc"] == summaries["robust"]["last"]["test_acc"]
    assert not (runs_dir / "plain" / runs.ROBUSTNESS).exists()
    assert summaries["plain"]["learned"]
    for key in ("last", "best", "learned", "status"):  # the model's weights were put back
        assert summaries["robust"][key] == summaries["plain"][key], key


def test_sweep_robustness_flag_evaluates_every_run(tmp_path: Path) -> None:
    args = ["sweep", "--acts", "relu", "--seeds", "0", "--out", str(tmp_path), "--name", "sw"]
    for item in (*TINY, "train.epochs=1"):
        args += ["--set", item]
    res = runner.invoke(app, [*args, "--robustness"])
    assert res.exit_code == 0, res.output
    doc = runs.read_json(tmp_path / "sw" / "relu-s0" / runs.ROBUSTNESS)
    assert list(doc["results"]) == ["gaussian"] and len(doc["results"]["gaussian"]) == 5
    res = runner.invoke(app, args)  # same sweep without the flag: same training, so not refused
    assert res.exit_code == 0 and "skipped (completed)" in res.output, res.output


def test_end_of_training_evaluation_puts_the_weights_back(trained: Path, session: S.Session) -> None:
    with torch.no_grad():
        for p in session.model.parameters():
            p.add_(0.5)  # weights that differ from the checkpoint robustness.json measures
    before = {k: v.clone() for k, v in session.model.state_dict().items()}
    lifecycle.robustness(session, trained, lifecycle.Hooks())
    after = session.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
