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
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from actbench.activations import activation_parameters
from actbench.config import Config, to_dict

# Config keys a member may set on its own; every other key must be equal within a pack.
MEMBER_KEYS = ("activation", "train.seed", "optim.lr", "optim.weight_decay", "run", "robustness")


def unpackable_reason(cfg: Config) -> str | None:
    """Why a run cannot be packed (it then trains alone), or None."""
    if cfg.model.batch_norm:
        return "model.batch_norm: true (per-member running statistics)"
    if cfg.model.dropout > 0:
        return "model.dropout > 0 (per-member random masks)"
    return None


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


def pack_mismatch(cfgs: Sequence[Config]) -> str | None:
    """None when `cfgs` can train as one pack, else one line naming the first key that differs."""
    for cfg in cfgs:
        reason = unpackable_reason(cfg)
        if reason:
            return f"run {cfg.run.name}: cannot be packed, {reason}"
    first = json.loads(pack_key(cfgs[0]))
    for cfg in cfgs[1:]:
        other = json.loads(pack_key(cfg))
        for section, values in first.items():
            for name, value in values.items():
                if other[section][name] != value:
                    return (
                        f"{section}.{name}: differs between {cfgs[0].run.name} ({value!r}) and "
                        f"{cfg.run.name} ({other[section][name]!r}); only "
                        f"{', '.join(MEMBER_KEYS)} may differ within a pack"
                    )
    return None


def act_group_key(cfg: Config, pool_first: bool) -> str:
    """Members with equal keys apply their activation in one call (`a` values may differ)."""
    a = cfg.activation
    return json.dumps([a.name, sorted(a.params.items()), pool_first])


class PackedCNN(nn.Module):
    """The forward pass of K `PaperCNN` members (same shapes) as one grouped model; see the module doc.

    `members` should be ordered so that members with equal `act_group_key` are adjacent (each run of
    equal keys costs one activation call per layer). The members' own modules hold all parameters.
    """

    def __init__(
        self, members: Sequence[nn.Module], keys: Sequence[str], pool: str, pool_first: Sequence[bool]
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
        self.acts = [mem.activations() for mem in members]
        self.padding = self.convs[0][0].padding
        self.n_conv, self.n_fc = len(self.convs[0]), len(self.linears[0]) - 1
        if any(isinstance(m, (nn.BatchNorm2d, nn.Dropout)) for m in first.modules()):
            raise ValueError("PackedCNN: batch norm and dropout are not packed")

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, K*3, S, S), member k's images in channels [3k, 3k+3) -> logits (K, B, classes)."""
        for i in range(self.n_conv):
            convs = [c[i] for c in self.convs]
            w = torch.cat([c.weight for c in convs])
            b = torch.cat([c.bias for c in convs]) if convs[0].bias is not None else None
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
        names = list(activation_parameters(template))
        if not names:
            return template(part)
        # Layer sharing: a (1,) -> repeated per channel; channel sharing: (C,) as is. Concatenated over the
        # slice's members, this is a channel-shared `a` of the slice; autograd sums each back to its owner.
        params = {
            n: torch.cat([activation_parameters(self.acts[k][layer])[n].expand(per) for k in range(lo, hi)])
            for n in names
        }
        return functional_call(template, params, (part,))


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
