"""Building a Config from plain data: type coercion and the value checks, each error one line that names
the key (and the allowed values where there is a fixed set); and back to plain data (`to_dict`)."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import re
import types
import typing
from typing import Any, Literal

from actbench.config.schema import (
    EXTERNAL_SOURCES,
    SECTIONS,
    Config,
    ConfigError,
    ModelConfig,
    ModelName,
    NoiseKind,
    RobustnessConfig,
)
from actbench.errors import not_allowed

MAX_INT = 10**9  # "huge numbers" guard: sizes beyond this are typos, not experiments


# --- type coercion ----------------------------------------------------------------------------------


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    return getattr(tp, "__name__", str(tp)).replace("typing.", "")


def _coerce(key: str, value: Any, tp: Any) -> Any:
    """Check `value` against the annotation `tp`; return it in canonical form (tuples, floats)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(key, value, inner[0])
    if origin is Literal:
        if value not in args:
            raise not_allowed(key, value, args, cls=ConfigError)
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {type(value).__name__} {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(f"{key}[{i}]", v, args[0]) for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{key}: expected a list of {len(args)} values, got {len(value)}")
        return tuple(_coerce(f"{key}[{i}]", v, t) for i, (v, t) in enumerate(zip(value, args, strict=True)))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__} {value!r}")
        return {str(k): _coerce(f"{key}.{k}", v, args[1]) for k, v in value.items()}
    return _coerce_scalar(key, value, tp)


def _coerce_scalar(key: str, value: Any, tp: type) -> Any:
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
    }[tp]
    if not ok:
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {type(value).__name__} {value!r}")
    if tp is float:
        try:
            value = float(value)
        except OverflowError:  # an int beyond a float's range
            raise ConfigError(
                f"{key}: must be a finite number, got an integer too large for a float"
            ) from None
        if not math.isfinite(value):
            raise ConfigError(f"{key}: must be a finite number, got {value!r}")
    if tp is int and abs(value) > MAX_INT:
        raise ConfigError(f"{key}: {value} is unreasonably large (limit {MAX_INT})")
    return value


def _build_section(section: str, cls: type, raw: Any) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{section}: expected a mapping of keys, got {type(raw).__name__} {raw!r}")
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(raw) - set(hints), key=str)  # YAML keys may be ints or bools (`1:`, `off:`)
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), list(hints), n=1, cutoff=0.6)
        hint = f"did you mean {section}.{close[0]}? " if close else ""
        raise ConfigError(f"{section}.{unknown[0]}: unknown key ({hint}valid keys: {', '.join(hints)})")
    kwargs = {k: _coerce(f"{section}.{k}", v, hints[k]) for k, v in raw.items()}
    return cls(**kwargs)


# --- building and validating ------------------------------------------------------------------------


def from_dict(raw: Any, source: str = "config") -> Config:
    """Build a validated `Config` from a plain nested dict (missing keys take their defaults)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: top level must be a mapping of sections, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(SECTIONS), key=str)
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown section (valid sections: {', '.join(SECTIONS)})")
    sections = {name: _build_section(name, cls, raw.get(name)) for name, cls in SECTIONS.items()}
    cfg = Config(**sections)
    validate(cfg)
    return cfg


def _positive(key: str, value: float, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{key}: must be {bound}, got {value}")


def validate(cfg: Config) -> None:
    """Value checks that types alone cannot express; each error names its key."""
    _validate_sizes(cfg)
    _validate_model(cfg.model)
    _validate_ranges(cfg)
    _validate_robustness(cfg.robustness)
    _validate_activation(cfg)


def _validate_sizes(cfg: Config) -> None:
    d, a, m, o, t, r = cfg.data, cfg.augment, cfg.model, cfg.optim, cfg.train, cfg.run
    for key, value in [
        ("train.epochs", t.epochs),
        ("train.batch_size", t.batch_size),
        ("train.eval_batch_size", t.eval_batch_size),
        ("model.kernel_size", m.kernel_size),
        ("optim.lr", o.lr),
        ("data.num_classes", d.num_classes),
        ("data.train_size", d.train_size),
        ("data.test_size", d.test_size),
        ("run.checkpoint_every", r.checkpoint_every),
        ("optim.step_epochs", o.step_epochs),
    ]:
        _positive(key, value)
    for key, value in [
        ("data.val_size", d.val_size),
        ("data.noise", d.noise),
        ("augment.padding", a.padding),
        ("augment.brightness", a.brightness),
        ("optim.weight_decay", o.weight_decay),
        ("optim.momentum", o.momentum),
        ("optim.warmup_epochs", o.warmup_epochs),
        ("train.threads", t.threads),
        ("train.grad_clip", t.grad_clip),
        ("data.limit_train", d.limit_train),
        ("data.limit_test", d.limit_test),
        ("model.dropout", m.dropout),
        ("optim.gamma", o.gamma),
    ]:
        _positive(key, value, allow_zero=True)
    if d.num_classes < 2:
        raise ConfigError(f"data.num_classes: need at least 2 classes, got {d.num_classes}")
    # The validation images are carved from the training images, so a val_size at or above the images
    # kept fails every run at its start; refuse it here, where a sweep or suite checks once, before any
    # run starts. (A real data set's size is known only once it is read: pipeline.load_splits checks.)
    kept = [("data.limit_train", d.limit_train)] if d.limit_train > 0 else []
    if d.name.startswith("synthetic"):  # synthetic, synthetic_mnist: train_size is the training set
        kept.append(("data.train_size", d.train_size))
    for key, n in kept:
        if d.val_size >= n:
            raise ConfigError(
                f"data.val_size: {d.val_size} must be smaller than {key} ({n}): the validation images "
                "are carved from the training images"
            )


BUILTIN_MODELS: tuple[str, ...] = typing.get_args(ModelName)
# keys that shape actbench's own networks; a torchvision/timm network keeps its own layers
OWN_NETWORK_KEYS = (
    "channels", "kernel_size", "pool", "hidden", "hidden_act", "dropout", "batch_norm", "pool_first", "widths"
)  # fmt: skip


@functools.cache
def external_networks(source: str) -> tuple[str, ...]:
    """The network names `source` (torchvision | timm) builds: torchvision's classification builders
    (resnet18, mobilenet_v2, vgg11_bn, ...), timm's registered models. ConfigError without timm."""
    if source == "torchvision":
        from torchvision import models  # local: imports torch

        return tuple(models.list_models(module=models))
    try:
        import timm
    except ImportError:
        raise ConfigError("model.name: timm: networks need timm (pip install 'actbench[timm]')") from None
    return tuple(timm.list_models())


def check_resnet_widths(widths: tuple[int, ...]) -> None:
    """resnet20's stage widths must not decrease: its option-A shortcuts zero-pad new channels and never
    drop any (config validation, and models.resnet for a ModelConfig made in Python)."""
    if any(b < a for a, b in zip(widths[:-1], widths[1:], strict=True)):
        raise ConfigError(
            "model.widths: resnet20's stage widths must not decrease (its shortcuts only zero-pad new "
            f"channels), got {tuple(widths)}"
        )


def _validate_model(m: ModelConfig) -> None:
    if m.name not in BUILTIN_MODELS:
        _validate_external(m)
        return
    if m.cifar_stem is not None:
        raise ConfigError(
            f"model.cifar_stem: applies to torchvision:/timm: networks only, not {m.name}; use null"
        )
    if m.name == "resnet20" and m.widths and len(m.widths) != 3:
        raise ConfigError(f"model.widths: resnet20 has three stages, got {len(m.widths)} values")
    for w in m.widths:
        _positive("model.widths", w)
    if m.name == "resnet20":  # when the config loads, so a sweep refuses it before any run
        check_resnet_widths(m.widths)
    if m.name == "paper_cnn" and len(m.channels) != 3:
        raise ConfigError(f"model.channels: paper_cnn has three conv layers, got {len(m.channels)} values")
    for i, c in enumerate(m.channels + m.hidden):
        _positive(f"model.channels[{i}]" if i < len(m.channels) else "model.hidden", c)
    if m.dropout >= 1:
        raise ConfigError(f"model.dropout: must be < 1, got {m.dropout}")


def _validate_external(m: ModelConfig) -> None:
    """model.name torchvision:<builder> or timm:<name>: the library must build it, and the keys of
    actbench's own networks must be left at their defaults (they would silently do nothing)."""
    source, _, builder = m.name.partition(":")
    if source not in EXTERNAL_SOURCES or not builder:
        near = [] if ":" in m.name else [n for n in external_networks("torchvision") if n == m.name.lower()]
        hint = f"; did you mean torchvision:{near[0]}?" if near else ""
        raise ConfigError(
            f"model.name: {m.name!r} is not allowed (allowed: {', '.join(BUILTIN_MODELS)}, "
            f"torchvision:<builder> e.g. torchvision:resnet18, torchvision:mobilenet_v2, timm:<name>){hint}"
        )
    names = external_networks(source)
    if builder not in names:
        close = difflib.get_close_matches(builder, names, n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(f'{source}:{c}' for c in close)}?" if close else "no close match"
        raise ConfigError(f"model.name: {source} has no network {builder!r} ({hint})")
    defaults = ModelConfig()
    for key in OWN_NETWORK_KEYS:
        if getattr(m, key) != getattr(defaults, key):
            raise ConfigError(
                f"model.{key}: does not apply to torchvision/timm networks ({m.name} keeps its own layers; "
                "nothing is resized, reordered or packed); remove it"
            )


def _validate_ranges(cfg: Config) -> None:
    a, o, t, r = cfg.augment, cfg.optim, cfg.train, cfg.run
    if not 0 < a.crop_size <= 32:
        raise ConfigError(f"augment.crop_size: must be in 1..32, got {a.crop_size}")
    if not 0 <= a.contrast_low <= a.contrast_high:
        raise ConfigError(
            "augment.contrast_low: need 0 <= contrast_low <= contrast_high, "
            f"got {a.contrast_low} .. {a.contrast_high}"
        )
    if not all(0 <= b < 1 for b in o.betas):
        raise ConfigError(f"optim.betas: each must be in [0, 1), got {list(o.betas)}")
    # cuda:N as torch.device reads it (a bad index raised RuntimeError only when the run started)
    if not (t.device in ("auto", "cpu", "cuda", "mps") or re.fullmatch(r"cuda:(0|[1-9][0-9]*)", t.device)):
        raise ConfigError(
            f"train.device: {t.device!r} is not allowed (allowed: auto, cpu, cuda, cuda:N, mps)"
        )
    if r.name is not None and (not r.name or "/" in r.name or r.name in (".", "..")):
        raise ConfigError(f"run.name: {r.name!r} is not a valid folder name")


def _validate_activation(cfg: Config) -> None:
    from actbench.activations import (
        ACTIVATIONS,
        commutes_with_max_pool,
        validate_activation,
    )  # local: keeps config import light

    m, act = cfg.model, cfg.activation
    if m.pool_first and not (m.pool == "max" and commutes_with_max_pool(act.name, act.params)):
        raise ConfigError(
            f"model.pool_first: true changes the model for {act.name} with {m.pool} pooling "
            "(exact only for max pooling and a non-decreasing activation); use null or false"
        )
    spec = ACTIVATIONS.get(act.name)
    if spec is not None and act.sharing == "channel" and not spec.supports_sharing:
        learnable = ", ".join(n for n, sp in ACTIVATIONS.items() if sp.supports_sharing)
        raise ConfigError(
            f"activation.sharing: 'channel' needs a learnable activation ({learnable}); "
            f"{act.name} has no parameter to share (use sharing: layer)"
        )
    try:
        validate_activation(
            cfg.activation.name, cfg.activation.sharing, cfg.activation.init, dict(cfg.activation.params)
        )
    except ValueError as exc:
        raise ConfigError(f"activation: {exc}") from None
    if m.hidden_act is not None:
        fixed = [n for n, sp in ACTIVATIONS.items() if not sp.params]  # parameter-free built-ins
        if m.hidden_act not in fixed:
            raise ConfigError(
                f"model.hidden_act: {m.hidden_act!r} is not allowed (allowed: null = the activation under "
                f"test, or a fixed one: {', '.join(fixed)})"
            )


def _validate_robustness(r: RobustnessConfig) -> None:
    allowed = ", ".join(typing.get_args(NoiseKind))
    if not r.kinds or len(set(r.kinds)) != len(r.kinds):
        raise ConfigError(
            f"robustness.kinds: need one or more distinct kinds, got {list(r.kinds)} (allowed: {allowed})"
        )
    if not r.levels or len(set(r.levels)) != len(r.levels):
        raise ConfigError(f"robustness.levels: need one or more distinct levels, got {list(r.levels)}")
    bad = [x for x in r.levels if not 0 <= x <= 1]
    if bad:
        raise ConfigError(f"robustness.levels: each must be in [0, 1] ([0,1] pixel units), got {bad[0]}")


def check_choice(key: str, value: Any, choices: Any) -> Any:
    """`value` if it is one of the Literal type `choices` (e.g. Checkpoint), else ConfigError naming `key`
    and the allowed values: command-line options are checked with the config's own definitions."""
    return _coerce(key, value, choices)


def robustness_options(
    kinds: list[str],
    levels: list[float],
    seed: int = 0,
    checkpoint: str = "last",
    names: dict[str, str] | None = None,
) -> RobustnessConfig:
    """A validated RobustnessConfig for `actbench eval --noise`: the checks of the config file, with
    errors naming the command-line option (`names`: key -> option) instead of `robustness.<key>`."""
    raw = {"enabled": True, "kinds": kinds, "levels": levels, "seed": seed, "checkpoint": checkpoint}
    try:
        rc = _build_section("robustness", RobustnessConfig, raw)
        _validate_robustness(rc)
    except ConfigError as exc:
        message = str(exc)
        for key, option in (names or {}).items():
            message = re.sub(rf"^robustness\.{key}(\[\d+\])?", option, message)
        raise ConfigError(message) from None
    return rc


def to_dict(cfg: Config) -> dict[str, Any]:
    """Plain nested dict (lists instead of tuples) suitable for YAML/JSON."""

    def plain(v: Any) -> Any:
        if isinstance(v, (tuple, list)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(dataclasses.asdict(cfg))
