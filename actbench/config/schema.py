"""The config schema: one frozen, typed dataclass per section (data, augment, model, activation, optim,
train, run, robustness) with its defaults. (YAML -> `--set` overrides -> these dataclasses.)

Unknown sections/keys, wrong types and bad values raise `ConfigError` with one line that names the
offending key and, where there is a fixed set, the allowed values. The resolved config (`to_dict`) is
written into each run folder and is the only thing training reads.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import Literal

from actbench.errors import UserError

SHIPPED_DIR = "configs"  # presets live in the package (actbench/configs) so they survive `pip install`


class ConfigError(UserError):
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
    val_size: int = 500  # images carved from train (seeded; 10% of the synthetic default, as the presets'
    # 5,000 of CIFAR's 50,000); 0 = validate on the test split (as the paper)
    limit_train: int = 0  # >0: use only the first N training images (quick experiments)
    limit_test: int = 0  # >0: use only the first N test images


# settings that change how fast a model trains, not which model: a report groups runs across them and a
# resume may change them (report.groups, training.resume_config)
SPEED_KEYS = (
    "train.threads",
    "train.eval_batch_size",
    "train.device",
    "train.compile",
    "train.compile_mode",
    "train.channels_last",
    "activation.fused",
)
# data keys that only synthetic data uses (the others take them from the data): inert for any other data
SYNTHETIC_ONLY = ("data.num_classes", "data.train_size", "data.test_size", "data.noise")


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
# model.name may also be "torchvision:<builder>" or "timm:<name>": a network built by that library with its
# activation modules swapped for the activation under test (actbench.models.external)
EXTERNAL_SOURCES = ("torchvision", "timm")


@dataclass(frozen=True)
class ModelConfig:
    name: str = "paper_cnn"  # a ModelName, or torchvision:<builder> / timm:<name> (checks.validate)
    channels: tuple[int, ...] = (32, 32, 32)  # paper_cnn: output channels of the three conv layers
    kernel_size: int = 5
    pool: Literal["max", "avg"] = "max"
    hidden: tuple[int, ...] = ()  # sizes of hidden fully-connected layers (each followed by an activation)
    # The activation of paper_cnn's hidden layers (other networks have none; like `hidden`, it does nothing
    # there). null = the activation under test (activation.*); a parameter-free name (relu, elu, ...) =
    # that fixed function, so the unit under test follows the conv layers only (the paper's Table 1 lists
    # a learned `a` for conv1-conv3 alone).
    hidden_act: str | None = None
    dropout: float = 0.0
    batch_norm: bool = False
    # Max-pool before the activation: exact for non-decreasing activations (same outputs and gradients) and
    # 4x less activation work. null = auto: whenever exact. true for any other activation is refused.
    pool_first: bool | None = None
    # resnet20: three stage widths (16, 32, 64); vgg_small: one width per stage (64, 128, 256); mlp: hidden
    # layer sizes (512, 256). Empty = the network's default; paper_cnn uses channels and hidden instead.
    widths: tuple[int, ...] = ()
    # torchvision:/timm: networks only: a CIFAR stem for small images (the first strided conv becomes 3x3
    # stride 1, the max-pool right after it is dropped). null = auto: when the image size is <= 64.
    cifar_stem: bool | None = None


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
