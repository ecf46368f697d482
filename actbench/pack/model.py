"""Packed runs: K compatible runs of paper_cnn computed as one model (one grouped conv per layer).

Each member keeps its own ordinary `PaperCNN` (its parameters, its optimizer, its checkpoints); the
packed forward concatenates the members' weights on the fly and runs each layer once for all of them:

    input   (B, K*3, S, S)       member k's batch in channels [3k, 3k+3)
    conv_i  F.conv2d(groups=K)   weight (K*C_i, C_{i-1}, k, k) = cat of the members' weights
    act_i   one call per run of consecutive members with the same activation, on their channel slice;
            a learnable `a` becomes a per-channel vector (layer sharing: each member's value repeated
            C_i times), so the autograd sums route each member's gradient back to its own `a`
    head    (K, B, F) batched matmul with the stacked Linear weights -> logits (K, B, classes)

Grouped convolution rather than torch.func (`stack_module_state` + `functional_call` + `vmap`): on 2 CPU
cores (K=5 ReLU CNNs, batch 100, 32 channels, forward + backward; benchmarks/results/cpu-pack.log) one
step took 1.23 s as K separate models, 1.49 s grouped and 2.39 s with vmap, so vmap was the slowest; and
vmap cannot run actbench's Rational/Exponential at all: their autograd Function has the classic
`forward(ctx, ...)` form, which functorch transforms refuse ("must override the setup_context
staticmethod"). Grouped convolution also keeps every member an ordinary module, so its state_dict is
exactly that of a run trained alone. (On CPU packing is slower than separate models; it is meant for GPUs,
where a small model's step is launch-bound.)

Which runs can share a pack: everything that fixes tensor shapes, the data and the training schedule
must be equal (`pack_key`); seed, activation (name, sharing, init, params), learning rate and weight
decay may differ (each member has its own optimizer, so those are exact). Batch norm and dropout are not
packed (`unpackable_reason`): their per-member running statistics / random masks would need
per-member state the packed forward does not keep.

Which activations: the packed call hands an activation its members' parameters concatenated along the
channel dim (dim 0 of each parameter: its sharing group, 1 per layer or C per channel, repeated or kept),
which is exact only for a module that broadcasts dim 0 of its parameters over the channels (dim 1 of
its input). The built-ins do (tests/pack/test_safety.py checks every one). A user activation either
declares it (`pack_by_channel = True`, activations.plugins) or is probed (`probe_reason`): three members with
different parameter values, one probe batch forward and backward through the packed and the lone models,
outputs and gradients compared; one that differs or fails trains alone, with the reason. Plain
broadcasting such as `torch.relu(x) * self.a` with `a` of shape (1,) fails that probe: packed, `a`
becomes (K*C,) and broadcasts over the last dim (width), mixing the members' values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from actbench.activations import (
    Exponential,
    PReLU,
    Rational,
    activation_parameters,
    exponential,
    get_spec,
    rational,
)
from actbench.config import Config, to_dict
from actbench.models.common import Network
from actbench.models.paper_cnn import PaperCNN

# Config keys a member may set on its own; every other key must be equal within a pack.
MEMBER_KEYS = ("activation", "train.seed", "optim.lr", "optim.weight_decay", "run", "robustness")
PACKED_MODEL = "paper_cnn"  # the network `PackedCNN` computes
PROBE_MEMBERS = 3  # members of a probe pack: one slice sits in the middle of the packed channels
PROBE_TOLERANCE = 1e-3  # relative; a grouped conv rounds ~1e-6 differently, mixed parameters differ O(1)


def unpackable_reason(cfg: Config) -> str | None:
    """Why a run cannot be packed (it then trains alone), or None."""
    if ":" in cfg.model.name:
        return f"model.name {cfg.model.name}: packing does not apply to torchvision/timm networks"
    if cfg.model.name != PACKED_MODEL:
        return f"model.name {cfg.model.name} (only {PACKED_MODEL} is packed)"
    if cfg.model.batch_norm:
        return "model.batch_norm: true (per-member running statistics)"
    if cfg.model.dropout > 0:
        return "model.dropout > 0 (per-member random masks)"
    spec = get_spec(cfg.activation.name)
    if spec.checked or spec.packs_by_channel:  # built-in, or declared by its author
        return None
    return probe_reason(cfg)


_PROBED: dict[str, str | None] = {}  # probe results per (activation, model, input) of this process


def probe_reason(cfg: Config) -> str | None:
    """Why the packed form of the run's (user) activation is not proven equal to the lone one, or None."""
    raw = to_dict(cfg)
    key = json.dumps([raw["activation"], raw["model"], raw["augment"], cfg.data.name], sort_keys=True)
    if key not in _PROBED:
        _PROBED[key] = _probe(cfg)
    return _PROBED[key]


def _probe(cfg: Config) -> str | None:
    from actbench.activations.plugins import USER_FAULTS, why

    name = f"activation {cfg.activation.name}"
    with torch.random.fork_rng(devices=[]):  # the caller's RNG (a seeded run) stays untouched
        torch.manual_seed(0)
        try:
            got, want = _probe_pack(cfg)
        except USER_FAULTS as exc:
            return f"{name}: its packed form fails on a probe batch ({why(exc)})"
    if not all(torch.isfinite(t).all() for t in want):
        return f"{name}: not finite on the probe batch, so its packed form is unproven"
    worst = max(_rel(a, b) for a, b in zip(got, want, strict=True))
    if worst > PROBE_TOLERANCE:
        return (
            f"{name}: its packed form differs from the lone one on a probe batch (relative difference "
            f"{worst:.2g}), e.g. a layer-shared parameter broadcast without a channel view (declare "
            "pack_by_channel = True only if dim 0 of every parameter broadcasts over dim 1)"
        )
    return None


def _probe_pack(cfg: Config) -> tuple[list[Tensor], list[Tensor]]:
    """Logits and gradients of PROBE_MEMBERS models of `cfg` (activation parameters spread apart) on one
    random batch: packed, and each member alone."""
    from actbench.data.pipeline import output_size
    from actbench.models import build_model, resolve_pool_first

    channels = 1 if "mnist" in cfg.data.name else 3  # the input layer only; the activations' widths are exact
    k, classes = PROBE_MEMBERS, cfg.data.num_classes
    size = output_size(cfg.augment, 28 if channels == 1 else 32)
    members = [paper_cnn(build_model(cfg.model, cfg.activation, classes, size, channels)) for _ in range(k)]
    _spread(members)
    x = torch.randn(2, k * channels, size, size)
    direction = torch.randn(k, 2, classes)  # a random loss per member
    pool_first = [resolve_pool_first(cfg.model, cfg.activation)] * k
    packed = PackedCNN(members, ["probe"] * k, cfg.model.pool, pool_first)

    def lone() -> Tensor:
        return torch.stack([m(x[:, i * channels : (i + 1) * channels]) for i, m in enumerate(members)])

    return _run(members, lambda: packed(x), direction), _run(members, lone, direction)


def _spread(members: Sequence[Network]) -> None:
    """Different activation parameter values per member, so that a mixed-up packed form shows."""
    with torch.no_grad():
        for i, m in enumerate(members):
            for act in m.activations().values():
                for p in activation_parameters(act).values():
                    p.mul_(1 + 0.3 * i).add_(0.05 * i)


def _run(members: Sequence[nn.Module], forward: Callable[[], Tensor], direction: Tensor) -> list[Tensor]:
    """Logits (K, B, classes) of `forward` and every member parameter's gradient of <logits, direction>."""
    for m in members:
        m.zero_grad(set_to_none=True)
    logits = forward()
    (logits * direction).sum().backward()
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for m in members for p in m.parameters()]
    return [logits.detach(), *(g.detach().clone() for g in grads)]


def _rel(a: Tensor, b: Tensor) -> float:
    return float((a - b).norm() / b.norm().clamp_min(1e-12)) if a.shape == b.shape else float("inf")


def pack_key(cfg: Config) -> str:
    """Equal for runs that may share a pack: the config minus MEMBER_KEYS, as canonical JSON."""
    raw = to_dict(cfg)
    for key in MEMBER_KEYS:
        section, _, name = key.partition(".")
        if name:
            raw[section].pop(name, None)
        else:
            raw.pop(section, None)
    return json.dumps(raw, sort_keys=True)


def first_difference(a: Config, b: Config) -> str | None:
    """ "key (value in a vs value in b)" of the first key outside MEMBER_KEYS that differs, or None."""
    first, other = json.loads(pack_key(a)), json.loads(pack_key(b))
    for section, values in first.items():
        for name, value in values.items():
            if other[section][name] != value:
                return f"{section}.{name} ({value!r} vs {other[section][name]!r})"
    return None


def pack_mismatch(cfgs: Sequence[Config], names: Sequence[str] | None = None) -> str | None:
    """None when `cfgs` can train as one pack, else one line naming the first key that differs (runs named
    by `names`, default their run.name)."""
    names = list(names or [str(c.run.name) for c in cfgs])
    for cfg, name in zip(cfgs, names, strict=True):
        reason = unpackable_reason(cfg)
        if reason:
            return f"run {name}: cannot be packed, {reason}"
    for cfg, name in zip(cfgs[1:], names[1:], strict=True):
        diff = first_difference(cfgs[0], cfg)
        if diff:
            return (
                f"{diff}: differs between {names[0]} and {name}; only "
                f"{', '.join(MEMBER_KEYS)} may differ within a pack"
            )
    return None


def act_group_key(cfg: Config, pool_first: bool) -> str:
    """Members with equal keys apply their activation in one call (`a` values may differ)."""
    a = cfg.activation
    return json.dumps([a.name, sorted(a.params.items()), pool_first])


def paper_cnn(model: nn.Module) -> PaperCNN:
    """`model` as the PaperCNN a pack member is (unpackable_reason admits only PACKED_MODEL runs)."""
    assert isinstance(model, PaperCNN), type(model)
    return model


class PackedCNN(nn.Module):
    """The forward pass of K `PaperCNN` members (same shapes) as one grouped model; see the module doc.

    `members` should be ordered so that members with equal `act_group_key` are adjacent (each run of
    equal keys costs one activation call per layer). The members' own modules hold all parameters.
    """

    def __init__(
        self, members: Sequence[PaperCNN], keys: Sequence[str], pool: str, pool_first: Sequence[bool]
    ):
        super().__init__()
        self.members = nn.ModuleList(members)
        self.k = len(members)
        self.pool = F.max_pool2d if pool == "max" else F.avg_pool2d
        # (first member, end member, pool first?) of each run of equal activation keys
        self.slices: list[tuple[int, int, bool]] = []
        for i, key in enumerate(keys):
            if i and key == keys[i - 1]:
                lo, _, pf = self.slices[-1]
                self.slices[-1] = (lo, i + 1, pf)
            else:
                self.slices.append((i, i + 1, pool_first[i]))
        first = members[0]
        self.convs = [[m for m in mem.features if isinstance(m, nn.Conv2d)] for mem in members]
        self.linears = [[m for m in mem.head if isinstance(m, nn.Linear)] for mem in members]
        self.acts = [_layer_acts(mem) for mem in members]
        # Each slice's activation parameters per layer, gathered once (the forward only concatenates them):
        # {(layer, first member): {name: [member's parameter, ...]}}. Live references, so a loaded
        # state_dict or an optimizer step (both in place) is seen.
        self.act_params: dict[tuple[str, int], dict[str, list[Tensor]]] = {}
        for layer in self.acts[0]:
            for lo, hi, _ in self.slices:
                own = [activation_parameters(self.acts[k][layer]) for k in range(lo, hi)]
                self.act_params[layer, lo] = {n: [p[n] for p in own] for n in own[0]}
        self.padding = self.convs[0][0].padding
        self.n_conv, self.n_fc = len(self.convs[0]), len(self.linears[0]) - 1
        if any(isinstance(m, (nn.BatchNorm2d, nn.Dropout)) for m in first.modules()):
            raise ValueError("PackedCNN: batch norm and dropout are not packed")

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, K*3, S, S), member k's images in channels [3k, 3k+3) -> logits (K, B, classes)."""
        for i in range(self.n_conv):
            convs = [c[i] for c in self.convs]
            w = torch.cat([c.weight for c in convs])
            # the members share model.batch_norm, so all of them have a bias or none does
            b = torch.cat([cast(Tensor, c.bias) for c in convs]) if convs[0].bias is not None else None
            y = F.conv2d(x, w, b, padding=self.padding, groups=self.k)
            x = self._activate(y, f"conv{i + 1}", pooled=True)
        batch = x.shape[0]
        h = x.reshape(batch, self.k, -1).transpose(0, 1)  # (K, B, C*s*s): each member's flatten order
        for j in range(self.n_fc + 1):
            lin = [lin_[j] for lin_ in self.linears]
            w = torch.stack([m.weight for m in lin])  # (K, out, in)
            b = torch.stack([m.bias for m in lin])  # (K, out)
            h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))  # (K, B, out)
            if j < self.n_fc:  # hidden layer: activation on (B, K*out), channel dim 1 like a lone run
                flat = h.transpose(0, 1).reshape(batch, -1)
                h = (
                    self._activate(flat, f"fc{j + 1}", pooled=False)
                    .reshape(batch, self.k, -1)
                    .transpose(0, 1)
                )
        return h

    def _activate(self, y: Tensor, layer: str, pooled: bool) -> Tensor:
        """Each slice's activation (and, for conv layers, the 2x2 pool in that member's order)."""
        per = y.shape[1] // self.k  # channels per member
        outs = []
        for lo, hi, pool_first in self.slices:
            part = y if (lo, hi) == (0, self.k) else y[:, lo * per : hi * per]
            if pooled and pool_first:
                part = self.pool(part, 2)
            part = self._call_act(part, layer, lo, hi, per)
            if pooled and not pool_first:
                part = self.pool(part, 2)
            outs.append(part)
        return outs[0] if len(outs) == 1 else torch.cat(outs, 1)

    def _call_act(self, part: Tensor, layer: str, lo: int, hi: int, per: int) -> Tensor:
        template = self.acts[lo][layer]
        own = self.act_params[layer, lo]
        if not own:
            return template(part)
        # Layer sharing: a (1, ...) -> repeated per channel; channel sharing: (C, ...) as is. Concatenated
        # over the slice's members, this is a channel-shared parameter of the slice; autograd sums each
        # repeat back to its owner.
        params = {n: _slice_parameter(ps, per) for n, ps in own.items()}
        if type(template) in _UNITS and set(params) == {"a"}:  # the paper's units: no module swap needed
            return _UNITS[type(template)](template, part, params["a"])
        return functional_call(template, params, (part,))


def _layer_acts(member: PaperCNN) -> dict[str, nn.Module]:
    """{layer name: activation module} of a PaperCNN member: its activations(), plus the fixed hidden-layer
    activations (model.hidden_act) that activations() leaves out, found after each hidden Linear."""
    acts = dict(member.activations())
    mods = list(member.head)
    fc = [i for i, m in enumerate(mods) if isinstance(m, nn.Linear)][:-1]  # hidden layers: all but the last
    for j, i in enumerate(fc, start=1):
        acts.setdefault(f"fc{j}", mods[i + 1])
    return acts


# The built-in learnable units called on a slice with its concatenated (K*C,) `a` (what functional_call of
# the module computes, without swapping the module's parameters for every call). Each is called with a module
# of its key's class (hence Any: Rational's a_min, fused).
_UNITS: dict[type, Callable[[Any, Tensor, Tensor], Tensor]] = {
    Rational: lambda m, x, a: rational(x, a, m.a_min, m.fused),
    Exponential: lambda m, x, a: exponential(x, a, m.fused),
    PReLU: lambda m, x, a: F.prelu(x, a.to(x.dtype)),
}


def _slice_parameter(ps: Sequence[Tensor], per: int) -> Tensor:
    """The members' parameters as one per-channel parameter of the slice (len(ps) * per, *rest): one cat
    (channel sharing), one cat and one repeat (layer sharing), or one expand per member (mixed)."""
    if all(p.dim() >= 1 and p.shape[0] == per for p in ps):
        return torch.cat(list(ps))
    if all(p.dim() >= 1 and p.shape[0] == 1 for p in ps):
        return torch.cat(list(ps)).repeat_interleave(per, 0)
    return torch.cat([_per_channel(p, per) for p in ps])


def _per_channel(p: Tensor, channels: int) -> Tensor:
    """A parameter whose dim 0 is its sharing group (1, or one per channel; 0-dim: one value) as one entry
    per channel: (channels, *rest)."""
    if p.dim() == 0:
        return p.expand(channels)
    return p if p.shape[0] == channels else p.expand(channels, *p.shape[1:])


def pack_inputs(xs: Sequence[Tensor]) -> Tensor:
    """K batches (B, 3, S, S) -> (B, K*3, S, S), member k in channels [3k, 3k+3)."""
    x = torch.stack(list(xs), 1)
    return x.reshape(x.shape[0], -1, *x.shape[3:])


def member_losses(logits: Tensor, ys: Tensor) -> Tensor:
    """Mean cross-entropy per member: logits (K, B, classes), labels (K, B) -> (K,) float32."""
    k, b, c = logits.shape
    per = F.cross_entropy(logits.float().reshape(k * b, c), ys.reshape(k * b), reduction="none")
    return per.view(k, b).mean(1)


def describe(packs: Sequence[Sequence[str]]) -> list[str]:
    """One line per pack of run names: 'pack 1 (3 runs): a, b, c'."""
    return [f"pack {i} ({len(p)} runs): {', '.join(p)}" for i, p in enumerate(packs, start=1)]
