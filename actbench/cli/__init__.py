"""Typer command-line interface: one module per command group, each only parses arguments, calls library
functions and prints. Importing this package registers every command on `app`, in the order `--help` lists.
"""

# ruff: noqa: I001, F401 - the imports register the commands, in this order
from actbench.cli.app import app
from actbench.cli import acts
from actbench.cli import train
from actbench.cli import pack
from actbench.cli import eval
from actbench.cli import sweep
from actbench.cli import report
from actbench.cli import suite

__all__ = ["app"]
