"""Config files and overrides: shipped presets, YAML files, `--set section.key=value`, `replace`, and the
resolved YAML written into each run folder (`dump_yaml`) and read back from it (`load_run_config`)."""

from __future__ import annotations

import difflib
import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from actbench import runs
from actbench.config.checks import from_dict, to_dict
from actbench.config.schema import SECTIONS, SHIPPED_DIR, Config, ConfigError


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads `1e-3` as a float (YAML 1.2; PyYAML's 1.1 rules want `1.0e-3`)."""


class _Dumper(yaml.SafeDumper):
    """SafeDumper that quotes a string `_Loader` would read as a float (run.name '1e3')."""


for _cls in (_Loader, _Dumper):
    _cls.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
        list("-+0123456789"),
    )


def yaml_load(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def yaml_dump(data: Any) -> str:
    """YAML that `yaml_load` reads back as `data` (and yaml.safe_load too): every file actbench writes
    that holds config values (config.yaml, sweep.yaml, suite.yaml) goes through it."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False)


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
    # YAML drops a `#` after a space (or at the start) and the rest as a comment: `run.name=runs #2` would
    # silently be "runs" (quoted text aside, where `#` is literal)
    if re.search(r"(^|\s)#", re.sub(r"'[^']*'|\"[^\"]*\"", "", value)):
        raise ConfigError(
            f"--set {text}: ' #' starts a YAML comment, which would drop the rest; quote the value"
        )
    try:
        parsed = yaml_load(value) if value.strip() else ""
    except (yaml.YAMLError, ValueError):  # ValueError: an int past Python's 4300-digit limit
        parsed = value  # not YAML: keep the raw string, the type check will judge it
    return key, parsed


def set_dotted(raw: dict[str, Any], key: str, value: Any) -> None:
    section, _, rest = key.partition(".")
    if section not in SECTIONS:
        raise ConfigError(f"{section}: unknown section (valid sections: {', '.join(SECTIONS)})")
    node = raw.setdefault(section, {})
    if node is None:
        node = raw[section] = {}
    if not isinstance(node, dict):  # e.g. `train: 5` in the file: no key can be set in it
        raise ConfigError(f"{section}: expected a mapping of keys, got {type(node).__name__} {node!r}")
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
    # a bare name or `configs/NAME` (the repository's folder of the presets) means a preset; a missing
    # `mine/NAME.yaml` is the user's own file, and loading the preset of that name would train something
    # they never wrote
    means_preset = len(path.parts) == 1 or (len(path.parts) == 2 and path.parts[0] == SHIPPED_DIR)
    if means_preset and preset.is_file():
        return Path(str(preset))
    if preset.is_file():
        stem = Path(name).stem
        raise ConfigError(f"{spec}: no such config file (the shipped preset {stem} is `--config {stem}`)")
    presets = shipped_configs()
    # presets name Exponential "exp": cifar10_exponential -> cifar10_exp
    guess = Path(name).stem.replace("exponential", "exp")
    close = [guess] if guess in presets else difflib.get_close_matches(guess, presets, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}? " if close else ""
    raise ConfigError(f"{spec}: no such config file or shipped preset ({hint}presets: {', '.join(presets)})")


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
    except ValueError as exc:  # an int past Python's 4300-digit limit (int() of the YAML text)
        raise ConfigError(f"{path}: {str(exc).split(';')[0]}") from None
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
    given: dict[str, str] = {}  # dotted key -> the --set text that gave it
    for text in overrides:
        key, value = parse_override(text)
        set_dotted(raw, key, value)
        given[key] = text
    try:
        return from_dict(raw, source)
    except ConfigError as exc:
        # blame what set the key: the --set option, else the file (or the defaults)
        key = str(exc).split(":", 1)[0]
        inside = lambda k: key.startswith((f"{k}.", f"{k}["))  # noqa: E731 - a key below it, or an item
        blame = given.get(key) or next((t for k, t in given.items() if inside(k)), None)
        raise ConfigError(f"--set {blame}: {exc}" if blame else f"{source}: {exc}") from None


def load_run_config(run_dir: Path) -> Config:
    """The resolved config in a run folder's config.yaml (what training, `eval` and the trackers read)."""
    path = run_dir / runs.CONFIG
    raw = read_yaml(path)  # its errors name the file
    try:
        return from_dict(raw, str(path))
    except ConfigError as exc:  # a key's error names the key: add the file, once
        message = str(exc)
        raise ConfigError(message if message.startswith(f"{path}:") else f"{path}: {message}") from None


def dump_yaml(cfg: Config) -> str:
    return yaml_dump(to_dict(cfg))
