"""What a run holds in memory: config, data on the device, model and optimizer (a `Session`).

Building one resolves the device and the `auto` speed settings (compile, fused activation, pool-first)
for it; the training loop (`actbench.training.loop`) and evaluation (`actbench.evaluation`) only use what
the session holds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, cast

import torch
from torch import nn

from actbench.activations import has_fused_path
from actbench.config import Config, ConfigError
from actbench.data.pipeline import Splits, load_splits, output_size
from actbench.models import build_model, resolve_pool_first
from actbench.models.common import Network


def select_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"train.device: {name!r} requested but CUDA is not available (use auto or cpu)")
    return torch.device(name)


def build_optimizer(cfg: Config, model: Network) -> torch.optim.Optimizer:
    o = cfg.optim
    act_ids = {id(p) for m in model.activations().values() for p in m.parameters()}
    act = [p for p in model.parameters() if id(p) in act_ids]
    rest = [p for p in model.parameters() if id(p) not in act_ids]
    groups = [{"params": rest, "weight_decay": o.weight_decay}]
    if act:
        groups.append({"params": act, "weight_decay": o.weight_decay if o.act_weight_decay else 0.0})
    if o.name == "sgd":
        return torch.optim.SGD(groups, lr=o.lr, momentum=o.momentum)
    cls = torch.optim.AdamW if o.name == "adamw" else torch.optim.Adam
    # One fused kernel for the whole update on CUDA: a small model at batch 100 is launch-bound there.
    fused = all(p.is_cuda for p in model.parameters())
    return cls(groups, lr=o.lr, betas=o.betas, fused=fused or None)


@dataclass
class Session:
    """Everything a run needs in memory: config, data on the device, model, optimizer."""

    cfg: Config
    device: torch.device
    splits: Splits
    model: Network
    net: nn.Module  # `model`, possibly torch.compile'd (same parameters)
    opt: torch.optim.Optimizer
    speed: dict[str, Any] = field(default_factory=dict)  # effective compile/fused choices (auto resolved)

    def autocast(self) -> Any:
        """The forward pass's autocast context: bf16 when train.amp is bf16, else disabled."""
        enabled = self.cfg.train.amp == "bf16"
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=enabled)

    def image_shape(self) -> tuple[int, int, int]:
        return image_shape(self.cfg, self.splits)

    def prep(self, x: torch.Tensor) -> torch.Tensor:
        """A batch in the memory format the model runs in (channels_last when train.channels_last)."""
        return x.contiguous(memory_format=torch.channels_last) if self.cfg.train.channels_last else x


def image_shape(cfg: Config, splits: Splits) -> tuple[int, int, int]:
    """(C, S, S) of one model input: the data's channels (3, or 1 for MNIST-like), the size the model sees."""
    size = output_size(cfg.augment, splits.train_x.shape[-1])
    return splits.train_x.shape[1], size, size


def make_session(cfg: Config) -> Session:
    t = cfg.train
    if t.threads:
        torch.set_num_threads(t.threads)
    device = select_device(t.device)
    return session_for(cfg, device, load_splits(cfg.data).to(device))


def session_for(cfg: Config, device: torch.device, splits: Splits) -> Session:
    """A session on data already loaded (several runs on one dataset share `splits`): the model is
    initialised from `train.seed` exactly as a run alone initialises it."""
    t = cfg.train
    torch.manual_seed(t.seed)
    speed = effective_speed(cfg, device)
    act = dataclasses.replace(cfg.activation, fused=speed["fused"])
    channels, size, _ = image_shape(cfg, splits)
    model = build_model(cfg.model, act, splits.num_classes, size, channels).to(device)
    if t.channels_last:
        model = model.to(memory_format=torch.channels_last)
    # torch.compile of a module returns an OptimizedModule (an nn.Module); its stub only says "a callable"
    net = cast(nn.Module, torch.compile(model, mode=speed["compile_mode"])) if speed["compile"] else model
    return Session(cfg, device, splits, model, net, build_optimizer(cfg, model), speed)


def effective_speed(cfg: Config, device: torch.device) -> dict[str, Any]:
    """Resolve the `auto` (null) speed settings for `device`; the choices follow benchmarks/results:
    on an H200, whole-model compile with CUDA graphs took a 50k-image epoch from 1.2-2.5 s to 0.7-1.0 s;
    on 2 CPU cores, pooling first brought Rational/Exponential epochs to 1.02-1.07x ReLU's (1.4x without),
    and the compiled activation kernel only pays when the activation runs before the pool."""
    t, cuda = cfg.train, device.type == "cuda"
    compile_ = cuda if t.compile is None else t.compile
    mode = t.compile_mode if t.compile_mode != "auto" else ("reduce-overhead" if cuda else "default")
    fused, pool_first = cfg.activation.fused, resolve_pool_first(cfg.model, cfg.activation)
    if fused is None:  # pool-first already makes the activation cheap; compiling it then buys nothing
        fused = device.type == "cpu" and not compile_ and not pool_first
    fused = bool(fused) and has_fused_path(cfg.activation.name)  # what the run really uses, for env.json
    return {
        "device": str(device),
        "compile": compile_,
        "compile_mode": mode if compile_ else None,
        "fused": fused,
        "pool_first": pool_first,
    }
