"""paper_cnn: layout, one activation instance per layer, and the exact pool-first reordering."""

from __future__ import annotations

import pytest
import torch

from actbench.activations import ACTIVATIONS, commutes_with_max_pool
from actbench.config import ActivationConfig, ConfigError, ModelConfig, load_config
from actbench.models import build_model, learned_parameters, resolve_pool_first


def _model(act: str, pool_first: bool | None, **model_kw) -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = ModelConfig(channels=(4, 6, 8), pool_first=pool_first, **model_kw)
    return build_model(cfg, ActivationConfig(name=act), num_classes=5).double()


@pytest.mark.parametrize("act", list(ACTIVATIONS))
def test_shapes_and_separate_activation_instances(act: str) -> None:
    model = _model(act, False, hidden=(7,))
    assert model(torch.randn(2, 3, 32, 32, dtype=torch.float64)).shape == (2, 5)
    acts = list(model.activations().values())
    assert len(acts) == 4 and len({id(a) for a in acts}) == 4  # never one module reused across layers
    if ACTIVATIONS[act].params:
        assert set(learned_parameters(model)) == {"conv1", "conv2", "conv3", "fc1"}


@pytest.mark.parametrize("act", [a for a in ACTIVATIONS if commutes_with_max_pool(a)])
def test_pool_first_is_exact_for_non_decreasing_activations(act: str) -> None:
    x = torch.randn(3, 3, 32, 32, dtype=torch.float64)
    ref, fast = _model(act, False), _model(act, True)
    out_ref, out_fast = ref(x), fast(x)
    torch.testing.assert_close(out_fast, out_ref)
    out_ref.square().sum().backward()
    out_fast.square().sum().backward()
    for (name, p_ref), p_fast in zip(ref.named_parameters(), fast.parameters(), strict=True):
        torch.testing.assert_close(p_fast.grad, p_ref.grad, msg=name)  # incl. the shared `a` of each layer


def test_pool_first_auto_and_refusals() -> None:
    assert resolve_pool_first(ModelConfig(), ActivationConfig(name="exponential"))
    assert not resolve_pool_first(ModelConfig(), ActivationConfig(name="prelu"))  # slope may turn negative
    assert not resolve_pool_first(ModelConfig(), ActivationConfig(name="gelu"))
    assert not resolve_pool_first(ModelConfig(pool="avg"), ActivationConfig(name="relu"))
    assert not commutes_with_max_pool("elu", {"alpha": -1.0})
    for bad in (["activation.name=gelu"], ["model.pool=avg"]):
        with pytest.raises(ConfigError, match="model.pool_first"):
            load_config(None, ["model.pool_first=true", *bad])


def test_hidden_act_fixes_the_hidden_layers_and_leaves_them_out_of_the_units() -> None:
    """model.hidden_act=relu: the unit under test follows the conv layers only; the hidden layers apply
    plain ReLU (no learned parameter, not listed by activations()/learned_parameters)."""
    model = _model("exponential", False, hidden=(7, 6), hidden_act="relu")
    assert list(model.activations()) == ["conv1", "conv2", "conv3"]
    assert set(learned_parameters(model)) == {"conv1", "conv2", "conv3"}
    fc_acts = [m for m in model.head if not isinstance(m, (torch.nn.Linear, torch.nn.Flatten))]
    assert [type(m) for m in fc_acts] == [torch.nn.ReLU, torch.nn.ReLU]
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    assert model(x).shape == (2, 5)
    same = _model("exponential", False, hidden=(7, 6))  # null: the unit in every layer
    assert list(same.activations()) == ["conv1", "conv2", "conv3", "fc1", "fc2"]


@pytest.mark.parametrize(
    ("sets", "match"),
    [
        (["model.hidden_act=prelu"], r"model.hidden_act: 'prelu' is not allowed \(allowed: null = .*relu"),
        (["model.hidden_act=nope"], "model.hidden_act: 'nope' is not allowed"),
        (["model.name=torchvision:resnet18", "model.hidden_act=relu"], "model.hidden_act: does not apply"),
    ],
)
def test_hidden_act_refusals(sets: list[str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_config(None, sets)


@pytest.mark.parametrize("kernel_size", [2, 3, 4, 5])
@pytest.mark.parametrize("size", [9, 28, 31, 32])
def test_classifier_is_sized_for_any_kernel_and_image_size(kernel_size: int, size: int) -> None:
    """An even kernel with padding k // 2 grows each conv output by one pixel (28 -> 29 -> 14 -> 15 -> 7 ->
    8 -> 4, not 28 -> 14 -> 7 -> 3): the classifier's input width must follow the real feature map."""
    cfg = ModelConfig(channels=(4, 6, 8), kernel_size=kernel_size)
    model = build_model(cfg, ActivationConfig(name="relu"), num_classes=5, image_size=size).double()
    assert model(torch.randn(2, 3, size, size, dtype=torch.float64)).shape == (2, 5)


def test_softplus_with_a_low_threshold_is_not_pooled_first() -> None:
    """torch's Softplus turns linear above threshold/β, dropping by log(1 + e^-threshold)/β there: with a low
    threshold it decreases (0.9 -> 1.24, 1.1 -> 1.1 at threshold 1), so pooling first changes the model."""
    sp, pool = torch.nn.Softplus(threshold=1.0), torch.nn.MaxPool2d((1, 2))
    x = torch.tensor([0.9, 1.1], dtype=torch.float64).view(1, 1, 1, 2)
    assert pool(sp(x)).item() > sp(pool(x)).item() + 0.1  # pool-first is not exact here
    assert not commutes_with_max_pool("softplus", {"threshold": 1.0})
    assert not resolve_pool_first(ModelConfig(), ActivationConfig(name="softplus", params={"threshold": 1.0}))
    assert commutes_with_max_pool("softplus") and commutes_with_max_pool("softplus", {"beta": 2.0})
