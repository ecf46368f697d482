"""One rule for comma-separated option values (actbench.lists) and the options that use it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from actbench import lists
from actbench.cli import app
from actbench.config import ConfigError
from actbench.robustness.noise import parse_levels
from actbench.sweep.plan import parse_grid, parse_list

runner = CliRunner()


def test_split_strips_and_skips_empty_items() -> None:
    assert lists.split(" a, b,,c ,") == ["a", "b", "c"]
    assert lists.split("") == []


def test_parse_drops_or_refuses_repeats() -> None:
    assert lists.parse("relu,elu,relu", "--names") == ["relu", "elu"]
    assert lists.parse("3,1,3", "--seeds", int) == [3, 1]
    with pytest.raises(ValueError, match=r"--seeds: repeated value in '0,1,0'"):
        lists.parse("0,1,0", "--seeds", int, lists.REFUSE)


def test_parse_errors_name_the_option_and_use_the_given_type() -> None:
    with pytest.raises(ConfigError, match=r"^--seeds: cannot parse '0,x' \(expected e.g. --seeds 0,1\)$"):
        lists.parse("0,x", "--seeds", int, example="0,1", error=ConfigError)
    with pytest.raises(ValueError, match="--acts: no values given"):
        lists.parse(" , ", "--acts")
    assert lists.parse("", "--noise", allow_empty=True) == []


def test_axes_refuse_repeats_selections_drop_them() -> None:
    with pytest.raises(ConfigError, match="--seeds: repeated value"):
        parse_list("0,0", "seeds", int)
    with pytest.raises(ConfigError, match="repeated value"):
        parse_grid(["optim.lr=0.1,0.1"])
    assert parse_grid(["optim.lr=0.1,0.01"]) == {"optim.lr": [0.1, 0.01]}
    assert parse_levels("0.1,0,0.1") == [0.0, 0.1]


def test_cli_list_errors_are_one_line() -> None:
    res = runner.invoke(app, ["acts", "--plot", "x.png", "--a", "1,x"])
    assert res.exit_code == 2 and "--a: cannot parse '1,x'" in res.output
    res = runner.invoke(app, ["sweep", "--acts", "relu,relu", "--dry-run"])
    assert res.exit_code == 2 and "--acts: repeated value in 'relu,relu'" in res.output
