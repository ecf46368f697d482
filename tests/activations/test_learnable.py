"""PAU (Molina et al. 2020) and Swish-β (Ramachandran et al. 2017): float64 references, gradcheck, sharing."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from actbench import activations as A
from actbench.activations.learnable import PAU_LEAKY_RELU_P, PAU_LEAKY_RELU_Q

F64 = torch.float64


def _pau_reference(x: torch.Tensor, p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Explicit sums of the safe PAU, one coefficient row per channel (dim 1) or one row for all."""
    shape = (-1, *([1] * (x.dim() - 2)))
    num = sum((p[:, j].view(shape) if len(p) > 1 else p[0, j]) * x**j for j in range(6))
    qs = [(q[:, k].view(shape) if len(q) > 1 else q[0, k]).abs() for k in range(4)]
    den = 1 + sum(qk * x.abs() ** (k + 1) for k, qk in enumerate(qs))
    return num / den


def _randomised(name: str, channels: int, sharing: str) -> torch.nn.Module:
    """The module in float64 with random (signed) parameters, so every term matters."""
    torch.manual_seed(1)
    m = A.make_activation(name, channels, sharing=sharing).double()
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn_like(p))
    return m


@pytest.mark.parametrize("sharing", ["layer", "channel"])
def test_pau_matches_float64_reference(sharing: str) -> None:
    m = _randomised("pau", 3, sharing)
    for x in (torch.randn(4, 3, 5, 5, dtype=F64) * 3, torch.randn(6, 3, dtype=F64) * 3):
        torch.testing.assert_close(m(x), _pau_reference(x, m.p, m.q))
    m32 = A.make_activation("pau", 3, sharing=sharing)
    m32.load_state_dict({k: v.float() for k, v in m.state_dict().items()})
    x = torch.randn(4, 3, 5, 5, dtype=F64)
    torch.testing.assert_close(m32(x.float()).double(), _pau_reference(x, m.p, m.q), rtol=1e-4, atol=1e-4)


def test_pau_default_init_is_the_published_leaky_relu_fit() -> None:
    m = A.make_activation("pau", 2)
    assert m.p.tolist() == [pytest.approx(list(PAU_LEAKY_RELU_P), rel=1e-6)]
    assert m.q.tolist() == [pytest.approx(list(PAU_LEAKY_RELU_Q), rel=1e-6)]
    x = torch.linspace(-3, 3, 121)
    err = (m(x.view(-1, 1)).flatten() - F.leaky_relu(x, 0.01)).abs().max()
    assert err < 0.05  # the fit approximates leaky ReLU on [-3, 3] (largest error near 0: p_0 = 0.034)
    with pytest.raises(ValueError, match="pau: init must be null"):
        A.validate_activation("pau", "layer", 0.5, {})


@pytest.mark.parametrize("name", ["pau", "swish_beta"])
@pytest.mark.parametrize("sharing", ["layer", "channel"])
def test_gradcheck_float64(name: str, sharing: str) -> None:
    m = _randomised(name, 2, sharing)
    names, params = zip(*m.named_parameters(), strict=True)

    def fn(x: torch.Tensor, *ps: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(m, dict(zip(names, ps, strict=True)), (x,))

    for shape in [(3, 2), (2, 2, 3, 3)]:
        x = (torch.randn(shape, dtype=F64) * 2).requires_grad_()
        assert torch.autograd.gradcheck(fn, (x, *(p.detach().requires_grad_() for p in params)))


@pytest.mark.parametrize("sharing", ["layer", "channel"])
def test_swish_beta_matches_float64_reference(sharing: str) -> None:
    m = _randomised("swish_beta", 3, sharing)
    x = torch.randn(4, 3, 5, 5, dtype=F64) * 4
    beta = m.beta.view(-1, 1, 1) if sharing == "channel" else m.beta
    torch.testing.assert_close(m(x), x * torch.sigmoid(beta * x))
    x2 = torch.randn(5, 3, dtype=F64)
    torch.testing.assert_close(A.make_activation("swish_beta", 3).double()(x2), F.silu(x2))  # β = 1 is SiLU


@pytest.mark.parametrize("name", ["pau", "swish_beta"])
def test_channel_sharing_gives_each_channel_its_own_gradient(name: str) -> None:
    """Only channel 1 receives a loss: channel 0's and 2's parameters get exactly zero gradient."""
    m = A.make_activation(name, 3, sharing="channel")
    x = torch.randn(4, 3, 5, 5)
    mask = torch.zeros(1, 3, 1, 1)
    mask[0, 1] = 1
    (m(x) * mask).sum().backward()
    for p in m.parameters():
        g = p.grad.reshape(3, -1)
        assert (g[[0, 2]] == 0).all() and (g[1] != 0).any()
    layer = A.make_activation(name, 3, sharing="layer")
    assert all(p.shape[0] == 1 for p in layer.parameters())


def test_not_pooled_first() -> None:
    """Neither is monotone in general, so max-pooling never moves before them."""
    assert not A.commutes_with_max_pool("pau") and not A.commutes_with_max_pool("swish_beta")
