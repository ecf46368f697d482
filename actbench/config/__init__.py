"""Experiment configuration: YAML -> `--set` overrides -> strict, frozen, typed dataclasses.

Unknown sections/keys, wrong types and bad values raise `ConfigError` with one line that names the
offending key and, where there is a fixed set, the allowed values. The resolved config (`to_dict`) is
written into each run folder and is the only thing training reads (`load_run_config`). `schema` holds the
dataclasses, `checks` turns plain data into them, `files` reads presets, YAML files, overrides and a run
folder's config.yaml.
"""

from actbench.config.checks import (
    MAX_INT,
    check_choice,
    check_resnet_widths,
    external_networks,
    from_dict,
    robustness_options,
    to_dict,
    validate,
)
from actbench.config.files import (
    dump_yaml,
    load_config,
    load_run_config,
    parse_override,
    read_yaml,
    replace,
    resolve_config_path,
    set_dotted,
    shipped_configs,
    yaml_dump,
    yaml_load,
)
from actbench.config.schema import (
    SECTIONS,
    SHIPPED_DIR,
    SPEED_KEYS,
    SYNTHETIC_ONLY,
    ActivationConfig,
    AugmentConfig,
    Checkpoint,
    Config,
    ConfigError,
    DataConfig,
    ModelConfig,
    ModelName,
    NoiseKind,
    OptimConfig,
    RobustnessConfig,
    RunConfig,
    Split,
    TrainConfig,
)

__all__ = [
    "SPEED_KEYS",
    "SYNTHETIC_ONLY",
    "ActivationConfig",
    "AugmentConfig",
    "Checkpoint",
    "Config",
    "ConfigError",
    "DataConfig",
    "MAX_INT",
    "ModelConfig",
    "ModelName",
    "NoiseKind",
    "OptimConfig",
    "RobustnessConfig",
    "RunConfig",
    "SECTIONS",
    "SHIPPED_DIR",
    "Split",
    "TrainConfig",
    "check_choice",
    "check_resnet_widths",
    "dump_yaml",
    "external_networks",
    "from_dict",
    "load_config",
    "load_run_config",
    "parse_override",
    "read_yaml",
    "replace",
    "resolve_config_path",
    "robustness_options",
    "set_dotted",
    "shipped_configs",
    "to_dict",
    "validate",
    "yaml_dump",
    "yaml_load",
]
