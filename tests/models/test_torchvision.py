"""torchvision:/timm: networks (issue 26): every activation module swapped for the activation under test,
one instance per module with its dotted name; functional calls counted; the CIFAR stem; config checks;
one training step per listed builder and activation; a whole tiny run's env.json, logs and report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from actbench import runs
from actbench import session as S
from actbench.config import ActivationConfig, ConfigError, ModelConfig, load_config
from actbench.models import build_model, learned_parameters, network_info, resolve_pool_first
from actbench.models.swap import dry_run, is_activation, swap_activations, unswappable
from actbench.pack.model import unpackable_reason
from actbench.report.build import build_report
from actbench.training import loop as T

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BUILDERS = ["resnet18", "mobilenet_v2", "vgg11_bn"]
ACTS = ["rational", "exponential", "custom_activation:Snake"]  # the last: a user activation by import path
# 6 synthetic 32x32 images: 4 to train on (one batch, so one optimizer step), 2 to validate, 2 to test
ONE_STEP = [
    "data.name=synthetic",
    "data.train_size=6",
    "data.val_size=2",
    "data.test_size=2",
    "train.batch_size=4",
    "train.eval_batch_size=4",
    "train.epochs=1",
    "train.device=cpu",
    "train.threads=1",
    "activation.fused=false",
]


def _torch_activations(builder: str) -> int:
    from torchvision import models

    net = models.get_model(builder, weights=None, num_classes=10)
    return sum(is_activation(m) for m in net.modules())


@pytest.fixture
def user_activation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))  # examples/custom_activation.py: Snake


def _one_step(name: str, act: str, skip: tuple[str, ...] = ()) -> S.Session:
    """One optimizer step; every activation's parameters must move (except the layers in `skip`)."""
    torch.manual_seed(0)
    cfg = load_config(None, [*ONE_STEP, f"model.name={name}", f"activation.name={act}"])
    s = S.make_session(cfg)
    before = {k: torch.tensor(v) for k, p in learned_parameters(s.model).items() for k2, v in p.items()}
    T.train_epoch(s, 1, T.Hooks())
    after = learned_parameters(s.model)
    assert set(after) == set(s.model.activations()) == set(before)  # every swapped module is logged
    for layer, params in after.items():
        for values in params.values() if layer not in skip else ():
            assert not torch.equal(torch.tensor(values), before[layer]), f"{layer} did not train"
    return s


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("builder", BUILDERS)
def test_each_builder_trains_one_step_with_the_swapped_activation(
    builder: str, act: str, user_activation: None
) -> None:
    s = _one_step(f"torchvision:{builder}", act)
    info = network_info(s.model)
    assert info is not None and info["swapped"] == _torch_activations(builder) == len(s.model.activations())
    assert not any(is_activation(m) for m in s.model.modules())  # no ReLU/ReLU6 left anywhere
    assert info["unswappable"] == [] and info["unswappable_count"] == 0
    kind = type(next(iter(s.model.activations().values()))).__name__
    assert kind == {"rational": "Rational", "exponential": "Exponential"}.get(act, "Snake")
    if builder == "resnet18":  # readable names: the modules' own, stem first
        assert list(s.model.activations())[:3] == ["relu", "layer1.0.relu", "layer1.1.relu"]


def test_timm_network_swaps_too() -> None:
    pytest.importorskip("timm")
    # timm zero-initialises each block's last BatchNorm: the first activation of a block gets no gradient
    skip = tuple(f"layer{i}.{j}.act1" for i in range(1, 5) for j in range(2))
    s = _one_step("timm:resnet18", "rational", skip)
    info = network_info(s.model)
    assert info["swapped"] == 17 == len(s.model.activations())  # timm names each use: act1, act2
    assert "layer1.0.act1" in s.model.activations()


def test_timm_is_an_optional_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from actbench.config import checks

    checks.external_networks.cache_clear()
    monkeypatch.setitem(__import__("sys").modules, "timm", None)  # as if not installed
    try:
        with pytest.raises(ConfigError, match=r"timm: networks need timm \(pip install 'actbench\[timm\]'\)"):
            load_config(None, ["model.name=timm:resnet18"])
    finally:
        checks.external_networks.cache_clear()


# --- a whole run ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def resnet_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    cfg = load_config(None, [*ONE_STEP, "model.name=torchvision:resnet18", "activation.name=rational"])
    run_dir = T.create_run(cfg, tmp_path_factory.mktemp("runs"), "tv-rational")
    return run_dir, T.run_training(run_dir)


def test_a_run_logs_every_swapped_module_and_records_the_swap(resnet_run: tuple[Path, dict]) -> None:
    run_dir, summary = resnet_run
    assert summary["status"] == runs.COMPLETED
    names = ["relu"] + [f"layer{i}.{j}.relu" for i in range(1, 5) for j in range(2)]
    assert list(summary["learned"]) == names and all(set(p) == {"a"} for p in summary["learned"].values())
    record = runs.read_metrics(run_dir)[0][0]
    assert list(record["act"]) == names
    env = runs.read_json(run_dir / runs.ENV)
    assert env["model"]["swapped"] == 9 and env["model"]["replaced"] == {"ReLU": 9}
    assert env["model"]["unswappable"] == [] and env["model"]["found_by"] == "torch.fx"
    assert env["model"]["input"].startswith("CIFAR stem: conv1 7x7 stride 2 -> 3x3 stride 1")
    assert {"python", "torch"} <= set(env)  # the other keys are still there
    assert summary["parameters"] > 11_000_000 and summary["macs_per_image"] > 0


def test_the_report_keeps_network_order(resnet_run: tuple[Path, dict]) -> None:
    run_dir, _ = resnet_run
    report = build_report([run_dir.parent], bootstrap=0)
    blocks = [f"layer{i}.{j}.relu" for i in range(1, 5) for j in (0, 1)]
    assert report.learned["layers"] == ["init", "relu", *blocks]


# --- the swap on small networks ---------------------------------------------------------------------


class Reused(nn.Module):
    """One ReLU module applied after two layers of different widths (as torchvision's Bottleneck)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(3, 4, 1), nn.Conv2d(4, 8, 1)
        self.relu = nn.ReLU(inplace=True)
        self.gelu = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gelu(self.relu(self.conv2(self.relu(self.conv1(x)))))


class Functional(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.act(self.conv(x))).relu_()


class Branching(Functional):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:  # data-dependent: torch.fx cannot trace this
            x = F.gelu(x)
        return self.act(self.conv(x))


def _swap(net: nn.Module, sharing: str) -> dict[str, nn.Module]:
    acts: dict[str, nn.Module] = {}
    cfg = ActivationConfig(name="rational", sharing=sharing)

    def new_act(name: str, channels: int) -> nn.Module:
        from actbench.models import make_act

        acts[name] = make_act(cfg, channels)
        return acts[name]

    swap_activations(net, dry_run(net, (2, 3, 4, 4)), sharing, new_act)
    return acts


def test_a_module_used_on_several_widths_gets_one_activation_per_width() -> None:
    acts = _swap(Reused(), "channel")
    assert {k: v.a.numel() for k, v in acts.items()} == {"relu@4": 4, "relu@8": 8, "gelu": 8}
    acts = _swap(net := Reused(), "layer")
    assert list(acts) == ["relu", "gelu"] and net.relu is acts["relu"]  # one instance, shared by both uses
    assert net(torch.randn(2, 3, 4, 4)).shape == (2, 8, 4, 4)


def test_channel_sharing_refuses_channels_last_inputs() -> None:
    net = nn.Sequential(nn.Flatten(2), nn.Linear(16, 6), nn.GELU())  # (N, 3, 6): tokens, channels last
    with pytest.raises(ValueError, match=r"channel needs the channels in dim 1, but 2 gets \(2, 3, 6\)"):
        _swap(net, "channel")
    assert list(_swap(net, "layer")) == ["2"]


@pytest.mark.filterwarnings("ignore:The default weight initialization of inception_v3")
def test_functional_activations_are_counted_not_swapped() -> None:
    calls = ["F.relu in Functional (top level)", "Tensor.relu_ in Functional (top level)"]
    assert unswappable(Functional()) == (calls, "torch.fx")
    assert unswappable(Branching()) == (["F.gelu in Branching (top level)"], "source scan")
    densenet = build_model(ModelConfig(name="torchvision:densenet121"), ActivationConfig(), 10)
    assert network_info(densenet)["unswappable"] == ["F.relu in DenseNet (top level)"]  # after the last norm
    with pytest.raises(ValueError, match=r"inception_v3 has no activation module to swap \(its 96 "):
        build_model(ModelConfig(name="torchvision:inception_v3"), ActivationConfig(), 10, 80)


# --- input layer: channels and the CIFAR stem -------------------------------------------------------


def test_cifar_stem_and_one_channel_inputs() -> None:
    act = ActivationConfig(name="rational")
    small = build_model(ModelConfig(name="torchvision:resnet18"), act, 10, 28, 1)  # null: auto, 28 <= 64
    assert small.net.conv1.kernel_size == (3, 3) and small.net.conv1.in_channels == 1
    assert isinstance(small.net.maxpool, nn.Identity)
    assert small.eval()(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    kept = build_model(ModelConfig(name="torchvision:resnet18", cifar_stem=False), act, 10)
    assert kept.net.conv1.kernel_size == (7, 7) and network_info(kept)["input"] is None
    mobile = build_model(ModelConfig(name="torchvision:mobilenet_v2"), act, 10)
    assert mobile.net.features[0][0].stride == (1, 1)
    with pytest.raises(ValueError, match=r"cifar_stem: torchvision:vgg11_bn has no downsampling stem"):
        build_model(ModelConfig(name="torchvision:vgg11_bn", cifar_stem=True), act, 10)


# --- config checks, and the paper_cnn-only paths ----------------------------------------------------


@pytest.mark.parametrize(
    "sets,message",
    [
        (["model.name=resnet18"], r"'resnet18' is not allowed .*e.g. torchvision:resnet18.*did you mean "
                                  r"torchvision:resnet18\?"),
        (["model.name=torchvision:resnet81"], r"torchvision has no network 'resnet81' \(did you mean "
                                              r"torchvision:resnet18"),
        (["model.name=torchvision:resnet18", "model.widths=[8]"], r"model.widths: does not apply to"),
        (["model.name=torchvision:resnet18", "model.pool_first=true"], r"model.pool_first: does not apply"),
        (["model.cifar_stem=true"], r"model.cifar_stem: applies to torchvision:/timm: networks only"),
    ],
)  # fmt: skip
def test_config_errors_are_one_line(sets: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        load_config(None, sets)
    assert "\n" not in str(err.value)


def test_packing_and_pool_first_do_not_apply() -> None:
    cfg = load_config(None, ["model.name=torchvision:resnet18", "activation.name=relu"])
    assert unpackable_reason(cfg) == (
        "model.name torchvision:resnet18: packing does not apply to torchvision/timm networks"
    )
    assert resolve_pool_first(cfg.model, cfg.activation) is False
    assert json.loads(json.dumps(cfg.model.cifar_stem)) is None
