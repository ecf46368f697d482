"""The network registry: resnet20, vgg_small, mlp (and paper_cnn), layer names, one-channel inputs, cost."""

from __future__ import annotations

import typing

import pytest
import torch

from actbench.activations import commutes_with_max_pool
from actbench.config import ActivationConfig, ConfigError, ModelConfig, ModelName, load_config
from actbench.errors import UserError
from actbench.models import MODELS, build_model, learned_parameters, macs_per_image, parameter_count

NAMES = {
    "paper_cnn": [f"conv{i}" for i in range(1, 4)],
    "resnet20": [f"conv{i}" for i in range(1, 20)],
    "vgg_small": [f"conv{i}" for i in range(1, 7)],
    "mlp": ["fc1", "fc2"],
}


def test_registry_matches_the_config_choices() -> None:
    assert set(MODELS) == set(typing.get_args(ModelName)) == set(NAMES)
    with pytest.raises(ConfigError, match="model.name: 'resnet18' is not allowed.*paper_cnn, resnet20"):
        load_config(None, ["model.name=resnet18"])
    with pytest.raises(ValueError, match="unknown network 'lenet'.*paper_cnn, resnet20, vgg_small, mlp"):
        build_model(ModelConfig(name="lenet"), ActivationConfig(), 10)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", list(NAMES))
@pytest.mark.parametrize("in_channels,size", [(3, 32), (1, 28)])
def test_every_nonlinearity_comes_from_the_factory(name: str, in_channels: int, size: int) -> None:
    torch.manual_seed(0)
    model = build_model(
        ModelConfig(name=name), ActivationConfig(name="rational", sharing="channel"), 7, size, in_channels
    )
    assert list(model.activations()) == NAMES[name]  # stable names, network order
    acts = list(model.activations().values())
    assert len({id(a) for a in acts}) == len(acts)
    assert set(learned_parameters(model)) == set(NAMES[name])
    # No other nonlinearity: every ReLU-like module in the network is one of the factory's.
    stray = [m for m in model.modules() if isinstance(m, (torch.nn.ReLU, torch.nn.ELU, torch.nn.PReLU))]
    assert not stray
    model.eval()
    assert model(torch.randn(2, in_channels, size, size)).shape == (2, 7)


def test_resnet20_is_he_et_al_size() -> None:
    """He et al. 2016, Table 6: ResNet-20 has 0.27 M parameters; ~41 M MACs per 32x32 image."""
    model = build_model(ModelConfig(name="resnet20"), ActivationConfig(), 10)
    assert 0.26e6 < parameter_count(model) < 0.28e6
    assert 40e6 < macs_per_image(model, (3, 32, 32)) < 42e6
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 19 and sum(isinstance(m, torch.nn.Linear) for m in model.modules()) == 1


def test_macs_count_conv_and_linear_and_keep_training_mode() -> None:
    cfg = ModelConfig(channels=(4, 6, 8), kernel_size=3)
    model = build_model(cfg, ActivationConfig(), 5, 32, 1)
    bn = build_model(ModelConfig(name="vgg_small", widths=(4,)), ActivationConfig(), 5, 8, 1)
    before = bn.features[1].running_mean.clone()
    # conv1: 4 x 32x32 outputs x (1*3*3); conv2: 6 x 16x16 x (4*9); conv3: 8 x 8x8 x (6*9); fc: 5 x 128
    expected = 4 * 1024 * 9 + 6 * 256 * 36 + 8 * 64 * 54 + 5 * 8 * 16
    assert macs_per_image(model, (1, 32, 32)) == expected
    assert model.training
    macs_per_image(bn, (1, 8, 8))
    assert bn.training and torch.equal(bn.features[1].running_mean, before)  # eval forward: stats untouched


@pytest.mark.parametrize("act", ["relu", "exponential"])
def test_vgg_pool_first_is_exact(act: str) -> None:
    assert commutes_with_max_pool(act)
    x = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    outs = []
    for pool_first in (False, True):
        torch.manual_seed(0)
        model = build_model(ModelConfig(name="vgg_small", widths=(4, 6), pool_first=pool_first),
                            ActivationConfig(name=act), 3, 16).double().eval()  # fmt: skip
        outs.append(model(x))
    torch.testing.assert_close(outs[1], outs[0])


def test_resnet20_presets() -> None:
    for act in ("relu", "elu", "prelu", "rational", "exp"):
        cfg = load_config(f"cifar10_resnet20_{act}")
        assert (cfg.model.name, cfg.data.name, cfg.optim.name, cfg.optim.lr) == (
            "resnet20",
            "cifar10",
            "sgd",
            0.1,
        )
        assert cfg.activation.name == {"exp": "exponential"}.get(act, act)


def test_widths_validation() -> None:
    with pytest.raises(ConfigError, match="model.widths: resnet20 has three stages"):
        load_config(None, ["model.name=resnet20", "model.widths=[8,8]"])
    with pytest.raises(ConfigError, match="model.widths"):
        load_config(None, ["model.name=mlp", "model.widths=[0]"])


def test_pool_first_only_where_there_is_a_pool() -> None:
    """resnet20 and mlp never pool after an activation, so pool-first (and its speed choices) never apply."""
    from actbench.models import resolve_pool_first

    for name in ("resnet20", "mlp"):
        assert not resolve_pool_first(ModelConfig(name=name), ActivationConfig(name="rational"))
    assert resolve_pool_first(ModelConfig(name="vgg_small"), ActivationConfig(name="rational"))


def test_resnet20_refuses_narrowing_widths_in_one_line() -> None:
    """Option A shortcuts (subsample, zero-pad) can add channels but not drop them: a narrower stage is a
    config mistake named at build time, not a tensor-size RuntimeError in the first forward pass."""
    with pytest.raises(UserError, match=r"model.widths: .*\(32, 16, 64\)") as exc:
        build_model(ModelConfig(name="resnet20", widths=(32, 16, 64)), ActivationConfig(), 10)
    assert "\n" not in str(exc.value)
    model = build_model(ModelConfig(name="resnet20", widths=(8, 8, 16)), ActivationConfig(), 10)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
