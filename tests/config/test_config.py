"""Config: YAML + overrides -> strict typed dataclasses; every shipped preset loads."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from actbench import config as C

PRESETS = C.shipped_configs()


def test_presets_are_shipped() -> None:
    expected = {
        f"{d}_{a}" for d in ("cifar10", "cifar100") for a in ("relu", "elu", "prelu", "rational", "exp")
    }
    assert expected | {"quickstart"} <= set(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
def test_every_shipped_config_loads(name: str) -> None:
    cfg = C.load_config(name)
    # The resolved dict round-trips through YAML to the same config.
    assert C.from_dict(yaml.safe_load(C.dump_yaml(cfg))) == cfg


@pytest.mark.parametrize("name", [p for p in PRESETS if p.startswith("cifar") and "resnet" not in p])
def test_paper_presets_match_the_paper(name: str) -> None:
    cfg = C.load_config(name)
    assert (cfg.train.batch_size, cfg.train.epochs, cfg.optim.name) == (100, 200, "adam")
    assert cfg.activation.sharing == "layer"
    width = 32 if name.startswith("cifar10_") else 64
    assert cfg.model.channels == (width,) * 3
    init = {"prelu": 0.25, "rational": 1.0, "exp": 0.0}.get(name.split("_")[1])
    assert cfg.activation.init == init
    assert cfg.data.name == name.split("_")[0]


def test_preset_name_forms_and_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # presets resolve from any directory
    a = C.load_config("cifar100_exp")
    assert a == C.load_config("cifar100_exp.yaml") == C.load_config("configs/cifar100_exp.yaml")
    assert a.activation.name == "exponential"


def test_overrides_are_typed() -> None:
    cfg = C.load_config(
        "quickstart",
        [
            "train.epochs=7",
            "optim.lr=3e-4",
            "model.channels=[8,8,8]",
            "activation.params.alpha=0.5",
            "activation.name=elu",
        ],
    )
    assert cfg.train.epochs == 7 and cfg.optim.lr == 3e-4 and cfg.model.channels == (8, 8, 8)
    assert cfg.activation.params == {"alpha": 0.5}


def test_int_accepted_for_float_but_not_reverse() -> None:
    assert C.load_config(None, ["optim.lr=1"]).optim.lr == 1.0
    with pytest.raises(C.ConfigError, match="train.epochs: expected int"):
        C.load_config(None, ["train.epochs=2.5"])


def test_frozen() -> None:
    cfg = C.load_config(None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.train.epochs = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("train.epochs=-1", "train.epochs"),
        ("train.epochs=0", "train.epochs"),
        ("train.batch_size=abc", "train.batch_size"),
        ("train.nope=1", "train.nope"),
        ("nosection.key=1", "nosection"),
        ("activation.sharing=kernel", "activation.sharing"),
        ("activation.name=swishy", "activation"),
        ("data.name=imagenet", "data.name"),
        ("model.channels=[8,8]", "model.channels"),
        ("model.name=resnet20 model.widths=[32,16,64]", "model.widths: resnet20's stage widths must not"),
        ("optim.lr=.nan", "optim.lr"),
        ("train.epochs=100000000000", "train.epochs"),
        ("train.device=tpu", "train.device"),
        ("train.device=cuda:x", "train.device"),  # torch.device raised RuntimeError when the run started
        ("train.device='cuda:'", "train.device"),
        ("train.device=cuda:-1", "train.device"),
        ("optim.lr=" + "9" * 400, "optim.lr"),  # an int too large for a float: OverflowError
        ("train.epochs=" + "9" * 5000, "train.epochs"),  # past int('...')'s digit limit: ValueError
        ("augment.contrast_low=2.0", "augment.contrast_low"),
        ("train.amp=fp8", "train.amp"),
        ("data.val_size=-5", "data.val_size"),
        ("data.val_size=5000", "data.val_size: 5000 must be smaller than data.train_size (5000)"),
        ("data.name=synthetic_mnist data.train_size=300 data.val_size=400", "data.train_size (300)"),
        ("data.name=folder data.limit_train=500 data.val_size=1000", "data.limit_train (500)"),
    ],
)
def test_bad_values_name_the_key(override: str, key: str) -> None:
    with pytest.raises(C.ConfigError) as err:
        C.load_config(None, override.split(" "))
    msg = str(err.value)
    assert key in msg and "\n" not in msg


def test_unknown_key_lists_valid_keys() -> None:
    with pytest.raises(
        C.ConfigError, match=r"train.epoch: unknown key \(did you mean train.epochs\? valid keys: epochs"
    ):
        C.load_config(None, ["train.epoch=3"])


def test_choice_error_lists_allowed_values() -> None:
    with pytest.raises(C.ConfigError, match="allowed: layer, channel"):
        C.load_config(None, ["activation.sharing=kernel"])


def test_set_without_equals() -> None:
    with pytest.raises(C.ConfigError, match="expected section.key=value"):
        C.load_config(None, ["train.epochs"])


def test_yaml_errors_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  epochs: 3\n  batch_size: [1,\n")
    with pytest.raises(C.ConfigError, match=r"bad.yaml:\d+:\d+: YAML syntax error"):
        C.load_config(bad)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "file is empty"),
        (b"\xff\xfe\x00bad", "not UTF-8"),
        (b"- 1\n- 2\n", "top level must be a mapping"),
        (b"train: 3\n", "train: expected a mapping"),
        (b"train:\n  epochs: " + b"9" * 5000 + b"\n", "c.yaml: .*4300 digits"),  # was a bare ValueError
    ],
)
def test_bad_files(tmp_path: Path, content: bytes, match: str) -> None:
    f = tmp_path / "c.yaml"
    f.write_bytes(content)
    with pytest.raises(C.ConfigError, match=match):
        C.load_config(f)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(C.ConfigError, match="no such config file or shipped preset"):
        C.load_config(tmp_path / "missing.yaml")
    with pytest.raises(C.ConfigError, match="is a directory"):
        C.load_config(tmp_path)


@pytest.mark.parametrize("value", ["runs #2", "#2", "[1, 2] # three"])
def test_a_set_value_with_a_yaml_comment_is_refused_not_cut(value: str) -> None:
    # `--set run.name=runs #2` read as YAML is "runs" (the rest a comment): a silent other name
    with pytest.raises(C.ConfigError, match=r"^--set run.name=.*: ' #' starts a YAML comment"):
        C.parse_override(f"run.name={value}")
    assert C.parse_override(f"run.name='{value}'") == ("run.name", value)  # quoted: kept whole
    assert C.parse_override("run.name=a#2") == ("run.name", "a#2")  # no comment without a space before


def test_an_error_inside_a_list_set_by_set_blames_the_set_option() -> None:
    # the error's key is model.channels[1]: it was blamed on the preset file, which holds no such value
    want = r"^--set model.channels=\[8,x,8\]: model.channels\[1\]: expected int"
    with pytest.raises(C.ConfigError, match=want):
        C.load_config("quickstart", ["model.channels=[8,x,8]"])


def test_a_missing_file_in_another_folder_is_not_a_preset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `mine/cifar100_exp.yaml` names the user's own file: loading the shipped preset of that name instead
    # would train something the user never wrote; only a bare name or `configs/NAME` means a preset
    monkeypatch.chdir(tmp_path)
    want = r"mine/cifar100_exp.yaml: no such config file .*shipped preset cifar100_exp"
    with pytest.raises(C.ConfigError, match=want):
        C.load_config("mine/cifar100_exp.yaml")


@pytest.mark.parametrize("section", ["train: 5\n", "train: [1, 2]\n", "train: text\n"])
def test_set_into_a_section_that_is_not_a_mapping_names_it(tmp_path: Path, section: str) -> None:
    f = tmp_path / "c.yaml"
    f.write_text(section)
    with pytest.raises(C.ConfigError, match=r"train: expected a mapping") as err:
        C.load_config(f, ["train.epochs=3"])
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        # YAML 1.1 reads `off`/`1` as a bool/an int: with a typo'd key beside it the sort raised TypeError
        (b"train:\n  off: 1\n  epochz: 2\n", r"train\.(False|epochz): unknown key"),
        (b"1: a\nfoo: b\n", r"(1|foo): unknown section"),
    ],
)
def test_unknown_keys_of_mixed_types_name_one(tmp_path: Path, content: bytes, match: str) -> None:
    f = tmp_path / "c.yaml"
    f.write_bytes(content)
    with pytest.raises(C.ConfigError, match=match):
        C.load_config(f)


@pytest.mark.parametrize("text", ["1e3", "2E5", "-2e-3", "1_0e3"])
def test_a_string_that_reads_as_a_float_round_trips_through_config_yaml(tmp_path: Path, text: str) -> None:
    # the loader reads 1e3 as a float (YAML 1.2); the dump wrote such a string unquoted, so the run
    # folder's config.yaml no longer loaded ("run.name: expected str, got float 1000.0")
    cfg = C.load_config(None, [f"run.name='{text}'", f"data.root='{text}'"])
    (tmp_path / "config.yaml").write_text(C.dump_yaml(cfg))
    assert C.load_run_config(tmp_path) == cfg
