"""Experiment configuration: YAML -> `--set` overrides -> strict, frozen, typed dataclasses.

Unknown sections/keys, wrong types and bad values raise `ConfigError` with one line that names the
offending key and, where there is a fixed set, the allowed values. The resolved config (`to_dict`) is
written into each run folder and is the only thing training reads.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

SHIPPED_DIR = "configs"  # presets live in the package (actbench/configs) so they survive `pip install`


class ConfigError(ValueError):
    """A user error in a config file or override; its message is one readable line."""


@dataclass(frozen=True)
class DataConfig:
    # mnist, fashion_mnist (1x28x28), svhn: actbench.data.datasets; synthetic_mnist: synthetic at 1x28x28
    name: Literal[
        "synthetic", "cifar10", "cifar100", "folder", "mnist", "fashion_mnist", "svhn", "synthetic_mnist"
    ] = "synthetic"
    root: str = "data"  # cifar: torchvision root; folder: dir holding train/ and test/
    download: bool = False  # cifar only: fetch from the internet when missing
    cache: bool = True  # folder only: cache the decoded uint8 tensors (decode the JPEGs once)
    cache_dir: str | None = None  # folder cache location; None -> $XDG_CACHE_HOME/actbench (~/.cache)
    num_classes: int = 10  # synthetic only (cifar/folder take it from the data)
    train_size: int = 5000  # synthetic only: images in the train split (before val is carved out)
    test_size: int = 1000  # synthetic only
    noise: float = 0.35  # synthetic only: std of pixel noise in [0,1] units (task difficulty)
    data_seed: int = 0  # which synthetic dataset, and which images form the val split (not train.seed)
    val_size: int = 5000  # images carved from train (seeded); 0 = validate on the test split (as the paper)
    limit_train: int = 0  # >0: use only the first N training images (quick experiments)
    limit_test: int = 0  # >0: use only the first N test images


@dataclass(frozen=True)
class AugmentConfig:
    enabled: bool = True
    crop: Literal["pad", "resize", "none"] = "pad"  # pad-and-crop | crop to crop_size (TF tutorial) | off
    padding: int = 4  # pixels, "pad" mode
    crop_size: int = 24  # pixels, "resize" mode: random crop train, centre crop eval (TF CIFAR-10 tutorial)
    flip: bool = True
    brightness: float = 0.25  # max |delta| in [0,1] pixel units (TF tutorial: 63/255)
    contrast_low: float = 0.2  # contrast factor range (TF tutorial: 0.2 .. 1.8); 1.0..1.0 disables
    contrast_high: float = 1.8
    normalize: Literal["dataset", "per_image", "none"] = "dataset"  # channel mean/std | per-image standardize


ModelName = Literal["paper_cnn", "resnet20", "vgg_small", "mlp"]  # networks of actbench.models.MODELS


@dataclass(frozen=True)
class ModelConfig:
    name: ModelName = "paper_cnn"
    channels: tuple[int, ...] = (32, 32, 32)  # paper_cnn: output channels of the three conv layers
    kernel_size: int = 5
    pool: Literal["max", "avg"] = "max"
    hidden: tuple[int, ...] = ()  # sizes of hidden fully-connected layers (each followed by the activation)
    dropout: float = 0.0
    batch_norm: bool = False
    # Max-pool before the activation: exact for non-decreasing activations (same outputs and gradients) and
    # 4x less activation work. null = auto: whenever exact. true for any other activation is refused.
    pool_first: bool | None = None
    # resnet20: three stage widths (16, 32, 64); vgg_small: one width per stage (64, 128, 256); mlp: hidden
    # layer sizes (512, 256). Empty = the network's default; paper_cnn uses channels and hidden instead.
    widths: tuple[int, ...] = ()


@dataclass(frozen=True)
class ActivationConfig:
    name: str = "relu"
    sharing: Literal["layer", "channel"] = "layer"
    init: float | None = None  # None -> the activation's default (prelu 0.25, rational 1.0, exponential 0.0)
    params: dict[str, float] = field(default_factory=dict)  # extra constructor args, e.g. {alpha: 1.0}
    # Compiled elementwise kernel for rational/exponential. null = auto: only on CPU when the model is not
    # compiled and the activation runs before pooling (where it was measured to help).
    fused: bool | None = None


@dataclass(frozen=True)
class OptimConfig:
    name: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9  # sgd only
    betas: tuple[float, float] = (0.9, 0.999)  # adam only
    schedule: Literal["constant", "cosine", "step"] = "constant"
    step_epochs: int = 50  # "step" schedule: multiply lr by gamma every step_epochs
    gamma: float = 0.1
    warmup_epochs: int = 0
    act_weight_decay: bool = False  # apply weight decay to learnable activation parameters too


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 200
    batch_size: int = 100
    eval_batch_size: int = 1000
    seed: int = 0
    device: str = "auto"  # auto (cuda, then mps, then cpu) | cpu | cuda | cuda:N | mps
    compile: bool | None = None  # torch.compile the whole model; null = auto: on for CUDA, off elsewhere
    # auto: reduce-overhead (CUDA graphs) on CUDA, default elsewhere
    compile_mode: Literal["auto", "default", "reduce-overhead", "max-autotune-no-cudagraphs"] = "auto"
    channels_last: bool = False
    amp: Literal["none", "bf16"] = "none"  # bf16 autocast (GPU); activation `a` stays float32
    threads: int = 0  # torch CPU threads; 0 = torch default
    grad_clip: float = 0.0  # 0 = off


@dataclass(frozen=True)
class RunConfig:
    name: str | None = None  # run folder name; None -> <dataset>-<activation>-s<seed>-<timestamp>
    out: str = "runs"
    checkpoint_every: int = 1  # epochs between checkpoint-last.pt writes
    tensorboard: bool = False  # also write TensorBoard event files into <run>/tensorboard (an extra)


NoiseKind = Literal["gaussian", "uniform", "salt_pepper"]  # input corruptions of actbench.robustness.noise
Checkpoint = Literal["last", "best"]  # a run's final epoch | its best-validation epoch (runs.CKPT_*)
Split = Literal["test", "val"]  # evaluation splits


@dataclass(frozen=True)
class RobustnessConfig:
    """Accuracy under input noise after training (robustness.noise); does not change training itself."""

    enabled: bool = False  # evaluate at the end of a completed run, into robustness.json
    kinds: tuple[NoiseKind, ...] = ("gaussian",)
    levels: tuple[float, ...] = (0.0, 0.02, 0.05, 0.1, 0.2)  # noise strength in [0,1] pixel units
    seed: int = 0  # seeds the noise (per kind and level), independent of train.seed
    checkpoint: Checkpoint = "last"


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    activation: ActivationConfig = field(default_factory=ActivationConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    run: RunConfig = field(default_factory=RunConfig)
    robustness: RobustnessConfig = field(default_factory=RobustnessConfig)


SECTIONS: dict[str, type] = typing.get_type_hints(Config)


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads `1e-3` as a float (YAML 1.2; PyYAML's 1.1 rules want `1.0e-3`)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def yaml_load(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


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
            allowed = ", ".join(str(a) for a in args)
            raise ConfigError(f"{key}: {value!r} is not allowed (allowed: {allowed})")
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
        value = float(value)
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
    unknown = sorted(set(raw) - set(hints))
    if unknown:
        raise ConfigError(f"{section}.{unknown[0]}: unknown key (valid keys: {', '.join(hints)})")
    kwargs = {k: _coerce(f"{section}.{k}", v, hints[k]) for k, v in raw.items()}
    return cls(**kwargs)


# --- building and validating ------------------------------------------------------------------------


def from_dict(raw: Any, source: str = "config") -> Config:
    """Build a validated `Config` from a plain nested dict (missing keys take their defaults)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: top level must be a mapping of sections, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(SECTIONS))
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


def _validate_model(m: ModelConfig) -> None:
    if m.name == "resnet20" and m.widths and len(m.widths) != 3:
        raise ConfigError(f"model.widths: resnet20 has three stages, got {len(m.widths)} values")
    for w in m.widths:
        _positive("model.widths", w)
    if m.name == "paper_cnn" and len(m.channels) != 3:
        raise ConfigError(f"model.channels: paper_cnn has three conv layers, got {len(m.channels)} values")
    for i, c in enumerate(m.channels + m.hidden):
        _positive(f"model.channels[{i}]" if i < len(m.channels) else "model.hidden", c)
    if m.dropout >= 1:
        raise ConfigError(f"model.dropout: must be < 1, got {m.dropout}")


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
    if not (t.device in ("auto", "cpu", "cuda", "mps") or t.device.startswith("cuda:")):
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


def replace(cfg: Config, **overrides: Any) -> Config:
    """Return a validated copy with dotted-key overrides, e.g. replace(cfg, **{"train.seed": 3})."""
    raw = to_dict(cfg)
    for key, value in overrides.items():
        set_dotted(raw, key, value)
    return from_dict(raw)


# --- overrides and files ----------------------------------------------------------------------------


def parse_override(text: str) -> tuple[str, Any]:
    """`section.key=value` -> (key, value); the value is parsed as YAML (so 1e-3, true, [1,2] work)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected section.key=value")
    key, _, value = text.partition("=")
    key = key.strip()
    if key.count(".") < 1 or not all(key.split(".")):
        raise ConfigError(f"--set {text!r}: key must look like section.key (e.g. train.epochs=5)")
    try:
        parsed = yaml_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value  # not YAML: keep the raw string, the type check will judge it
    return key, parsed


def set_dotted(raw: dict[str, Any], key: str, value: Any) -> None:
    section, _, rest = key.partition(".")
    if section not in SECTIONS:
        raise ConfigError(f"{section}: unknown section (valid sections: {', '.join(SECTIONS)})")
    node = raw.setdefault(section, {})
    if node is None:
        node = raw[section] = {}
    parts = rest.split(".")
    for part in parts[:-1]:  # only activation.params.<name> nests deeper
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{key}: {part} is not a mapping")
    node[parts[-1]] = value


def resolve_config_path(spec: str | Path) -> Path:
    """A path, or the name of a shipped preset (`cifar100_exp`, `cifar100_exp.yaml`)."""
    path = Path(spec)
    if path.exists():
        if path.is_dir():
            raise ConfigError(f"{path}: is a directory, expected a YAML config file")
        return path
    name = path.name if path.suffix in (".yaml", ".yml") else f"{path.name}.yaml"
    preset = resources.files("actbench") / SHIPPED_DIR / name
    if str(spec) == path.name or str(spec) == path.stem or len(path.parts) <= 2:
        if preset.is_file():
            return Path(str(preset))
    names = ", ".join(shipped_configs())
    raise ConfigError(f"{spec}: no such config file or shipped preset (presets: {names})")


def shipped_configs() -> list[str]:
    folder = resources.files("actbench") / SHIPPED_DIR
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; errors name the file and line."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        raw = yaml_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}{where}: YAML syntax error: {problem}") from None
    if raw is None:
        raise ConfigError(f"{path}: file is empty")
    return raw


def load_config(spec: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """YAML file (or preset name, or defaults when None) + `--set` overrides -> validated Config."""
    raw: Any = {}
    source = "defaults"
    if spec is not None:
        path = resolve_config_path(spec)
        raw, source = read_yaml(path), str(path)
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: top level must be a mapping of sections, got {type(raw).__name__}")
    for text in overrides:
        key, value = parse_override(text)
        set_dotted(raw, key, value)
    try:
        return from_dict(raw, source)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def dump_yaml(cfg: Config) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)
