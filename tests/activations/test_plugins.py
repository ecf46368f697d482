"""Custom activations: "pkg.module:Name", the entry-point group, validation at load, logging and reports."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from actbench.activations import activation_parameters, commutes_with_max_pool, get_spec, make_activation
from actbench.activations import plugins as plugins
from actbench.cli import app
from actbench.config import ActivationConfig, ConfigError, ModelConfig
from actbench.models import build_model, learned_parameters, resolve_pool_first
from actbench.report.build import build_report
from actbench.training import loop as T
from tests.factories import REPO, tiny_config

# The fixture's package also registers "relu", which must not take over the built-in (tested below).
pytestmark = pytest.mark.filterwarnings("ignore:actbench. entry point 'relu'")

PACKAGE = '''
import torch
from torch import nn


class Snake(nn.Module):
    """x + sin²(αx)/α (Ziyin et al. 2020), α per layer or per channel."""

    non_decreasing = True  # derivative 1 + sin(2αx) >= 0

    def __init__(self, channels, sharing="layer", init=1.0):
        super().__init__()
        self.alpha = nn.Parameter(torch.full((channels if sharing == "channel" else 1,), float(init)))

    def forward(self, x):
        a = self.alpha.view(-1, *([1] * (x.dim() - 2))) if self.alpha.numel() > 1 else self.alpha
        return x + torch.sin(a * x) ** 2 / a


class Wiggle(nn.Module):
    """x + 0.5·sin(x): no learnable parameter, not declared non-decreasing."""

    def __init__(self, scale=0.5):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        return x + self.scale * torch.sin(x)


def hard_tanh(channels):
    """A factory function."""
    return nn.Hardtanh()


class Shrinks(nn.Module):
    def forward(self, x):
        return x.mean(1)


class Detached(nn.Module):
    def forward(self, x):
        return x.detach().relu()


class Blows(nn.Module):
    def forward(self, x):
        return torch.log(x)


class Crashes(nn.Module):
    def __init__(self):
        raise RuntimeError("boom")


class Picky(nn.Module):
    def __init__(self, channels):
        raise ValueError("needs an even channel count\\n(multi-line message)")


def not_a_module(channels):
    return torch.relu


NUMBER = 3
'''

ENTRY_POINTS = "[actbench.activations]\nsnake = my_acts:Snake\nrelu = my_acts:Wiggle\n"


@pytest.fixture
def my_acts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed package `my-acts` 0.1 (module + dist-info with an entry point) on sys.path."""
    site = tmp_path / "site"
    (site / "my_acts").mkdir(parents=True)
    (site / "my_acts" / "__init__.py").write_text(textwrap.dedent(PACKAGE))
    dist = site / "my_acts-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-acts\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", f"{site}:{REPO}")
    plugins.refresh()
    yield site
    plugins.refresh()


def test_entry_point_registers_a_name(my_acts: Path) -> None:
    with pytest.warns(UserWarning, match="'relu'.*shadows a built-in"):
        assert plugins.entry_point_names() == ["snake"]  # a built-in name cannot be taken over
    spec = get_spec("snake")
    assert spec.origin == "entry point (my-acts 0.1)" and spec.ref == "my_acts:Snake"
    assert spec.non_decreasing and spec.supports_sharing
    m = make_activation("snake", 4, sharing="channel", init=0.5)
    assert m.alpha.tolist() == [0.5] * 4
    result = CliRunner().invoke(app, ["acts"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "snake" in result.output and "entry point (my-acts 0.1)" in result.output


def test_import_path_gets_what_built_ins_get(my_acts: Path) -> None:
    cfg = tiny_config("activation.name=my_acts:Snake", "activation.sharing=channel", "activation.init=2.0")
    model = build_model(cfg.model, cfg.activation, 10)
    acts = model.activations()
    assert [m.alpha.shape[0] for m in acts.values()] == [4, 4, 4]  # channels of each layer
    assert learned_parameters(model)["conv2"] == {"alpha": [2.0] * 4}
    wiggle = make_activation("my_acts:Wiggle", 7, sharing="layer", scale=0.25)
    assert wiggle.scale == 0.25 and activation_parameters(wiggle) == {}
    assert isinstance(make_activation("my_acts:hard_tanh", 3), torch.nn.Hardtanh)
    assert get_spec("my_acts:hard_tanh").formula == "A factory function."


@pytest.mark.parametrize(
    ("override", "pattern"),
    [
        ("activation.name=no_such_pkg.acts:Snake", "cannot import 'no_such_pkg.acts'.*ModuleNotFoundError"),
        ("activation.name=my_acts:Nope", "module 'my_acts' has no attribute 'Nope'"),
        ("activation.name=my_acts:NUMBER", "is a int, not a class or factory"),
        ("activation.name=my_acts:Crashes", "does not build.*RuntimeError: boom"),
        ("activation.name=my_acts:Picky", "'my_acts:Picky': does not build.*ValueError: needs an even"),
        ("activation.name=my_acts:not_a_module", "returned a builtin_function_or_method, not"),
        ("activation.name=my_acts:Shrinks", r"must return the same shape and dtype, got \(3, 5, 5\)"),
        ("activation.name=my_acts:Detached", "not differentiable"),
        ("activation.name=my_acts:Blows", "output is not finite"),
        ("activation.params={speed: 2}", r"unknown param 'speed' \(allowed: scale\)"),
        ("activation.sharing=channel", "sharing 'channel' needs a factory that takes `sharing`"),
        ("activation.init=0.3", "init must be null"),
        ("model.pool_first=true", "model.pool_first"),
    ],
)
def test_validation_fails_with_one_line(my_acts: Path, override: str, pattern: str) -> None:
    base = "activation.name=my_acts:Wiggle"
    with pytest.raises(ConfigError, match=pattern) as exc:
        tiny_config(base, override)
    assert "\n" not in str(exc.value)


def test_unknown_name_lists_built_ins_and_entry_points(my_acts: Path) -> None:
    pattern = r"unknown activation 'snak'.*relu, .*pau.*snake.*package.module:Name"
    with pytest.raises(ConfigError, match=pattern):
        tiny_config("activation.name=snak")


def test_pool_first_only_when_declared_non_decreasing(my_acts: Path) -> None:
    assert commutes_with_max_pool("my_acts:Snake") and not commutes_with_max_pool("my_acts:Wiggle")
    assert resolve_pool_first(ModelConfig(), ActivationConfig(name="snake"))
    assert not resolve_pool_first(ModelConfig(), ActivationConfig(name="my_acts:Wiggle"))
    models = []
    for pool_first in (False, True):
        torch.manual_seed(0)
        cfg = ModelConfig(channels=(4, 6, 8), pool_first=pool_first)
        models.append(build_model(cfg, ActivationConfig(name="snake"), 5).double())
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    torch.testing.assert_close(models[1](x), models[0](x))  # the declaration is true for Snake


def test_custom_parameters_logged_reported_and_plotted(my_acts: Path, runs_dir: Path, tmp_path: Path) -> None:
    cfg = tiny_config("activation.name=my_acts:Snake", "activation.sharing=channel")
    run_dir = T.create_run(cfg, runs_dir, "snake")
    summary = T.run_training(run_dir)
    assert summary["status"] == "completed"
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [set(r["act"]["conv1"]["alpha"]) for r in records] == [{"mean", "min", "max"}] * 2
    assert len(summary["learned"]["conv3"]["alpha"]) == 4
    report = build_report([runs_dir])
    assert report.learned["columns"] == ["my_acts:Snake"]
    assert set(report.learned["cells"]["my_acts:Snake"]) >= {"conv1", "conv2", "conv3"}
    from actbench.report.figures import write_figures

    files, _ = write_figures(report, tmp_path / "plots")
    assert tmp_path / "plots" / "learned_a.png" in files


def test_sweep_accepts_a_custom_name(my_acts: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["sweep", "--acts", "relu,my_acts:Snake", "--seeds", "0", "--dry-run", "--out", str(tmp_path)]
        + [x for s in ["model.channels=[4,4,4]"] for x in ("--set", s)],
    )
    assert result.exit_code == 0, result.output
    assert "my_acts.Snake-s0" in result.output


def test_example_activation_validates_and_pools_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(REPO / "examples"))
    plugins.refresh()
    cfg = tiny_config("activation.name=custom_activation:Snake", "activation.sharing=channel")
    assert resolve_pool_first(cfg.model, cfg.activation)
    assert learned_parameters(build_model(cfg.model, cfg.activation, 10))["conv1"] == {"alpha": [1.0] * 4}
