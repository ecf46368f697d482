"""The Typer app, its consoles and what every command shares: one-line errors, progress logs.

User errors are printed in one place: the app's group catches `actbench.errors.UserError` around every
command (sub-apps included) and prints its message as one line, exit 2. Nothing else is caught there, so
any other exception (a bug) keeps its traceback.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from actbench.cli.progress import PROGRESS_EVERY_S, SUMMARY_EVERY_S  # light: no torch
from actbench.errors import UserError

if TYPE_CHECKING:  # annotations only: commands import the library lazily
    from actbench.cli.progress import ProgressLog


class _Commands(TyperGroup):
    """The command group: the one place a UserError (or a usage error: an unknown option, a value that does
    not parse) becomes one line on stderr and an exit code."""

    # ctx: click's Context (Typer >= 0.2x vendors click as typer._click; older Typer uses the click package)
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            _error_line(str(exc))
            raise typer.Exit(exc.exit_code) from None

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **kwargs: Any,
    ) -> Any:
        """Click's usage errors as the same one line as every other error (Typer draws a boxed panel)."""
        click = _click_exceptions()
        if not standalone_mode:
            return super().main(
                args,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **kwargs,
            )
        try:
            code = super().main(
                args,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **kwargs,
            )
        except click.UsageError as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # `actbench` alone: the help, as Typer shows it
                exc.show()
                sys.exit(exc.exit_code)
            path = exc.ctx.command_path if exc.ctx is not None else self._path(args, prog_name)
            where = f" (see: {path} --help)"
            _error_line(exc.format_message() + where)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            _error_line(exc.format_message())
            sys.exit(exc.exit_code)
        except typer.Abort as exc:  # click's own Ctrl-C (outside a command's handler): exit 130 as ours
            err_console.print("Aborted.", highlight=False)
            sys.exit(130 if isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt) else 1)
        sys.exit(code if isinstance(code, int) else 0)  # typer.Exit(n) comes back as n

    def _path(self, args: Sequence[str] | None, prog_name: str | None) -> str:
        """`actbench sweep` for a usage error click raised before it made the command's context (an option
        missing its value): the commands named in the arguments."""
        path, group = [prog_name or "actbench"], self
        for arg in args if args is not None else sys.argv[1:]:
            sub = getattr(group, "commands", {}).get(arg)
            if sub is None:
                break
            path.append(arg)
            group = sub
        return " ".join(path)


def _click_exceptions() -> Any:
    """Where click's exception classes live: Typer >= 0.2x vendors click as typer._click."""
    try:
        from typer._click import exceptions
    except ImportError:  # older Typer: the click package
        return importlib.import_module("click.exceptions")
    return exceptions


app = typer.Typer(
    cls=_Commands,
    help="actbench: benchmark activation functions for CNN image classifiers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from actbench import __version__

        console.print(f"actbench {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print actbench's version and exit."
    ),
) -> None:
    """actbench: benchmark activation functions for CNN image classifiers."""


console = Console()


err_console = Console(stderr=True)


def _error_line(message: str) -> None:
    from rich.markup import escape  # messages quote user text: "[ray]" or "[64,64]" is not markup

    one = message.replace("\r", "\\r").replace("\n", "\\n")  # user text may hold a line break
    err_console.print(f"[bold red]error:[/] {escape(one)}", highlight=False, soft_wrap=True)


def line(text: str, to_stderr: bool = False) -> None:
    """One line of plain text as given (a path, a message quoting user text): no markup, never rewrapped."""
    (err_console if to_stderr else console).print(text, highlight=False, markup=False, soft_wrap=True)


def warn(message: str) -> None:
    """A warning on stderr: stdout may be an export."""
    from rich.markup import escape

    err_console.print(f"[yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)


def fail(message: str) -> None:
    """Refuse the command: one readable error line, exit 2 (printed by the app's group)."""
    raise UserError(message)


def progress_log(
    log_format: str | None, every_s: float = PROGRESS_EVERY_S, summary_every_s: float = SUMMARY_EVERY_S
) -> ProgressLog | None:
    """The plain log of progress (stdout not a terminal, or --log-format given); None: live display."""
    from actbench.cli.progress import ProgressLog, log_options

    options = log_options(log_format, every_s, summary_every_s)
    return ProgressLog(options) if options else None


def say(log: ProgressLog | None, text: str) -> None:
    """A closing message: a log line in log mode (keeps JSON output parseable), else a console line."""
    if log:
        log.note(text)
    else:
        line(text)


def parse_floats(text: str, option: str) -> list[float]:
    """Finite numbers, e.g. `--a -3,-1,0,1,3` (a repeat is dropped); a bad one fails with one line."""
    import math

    from actbench import lists

    def finite(token: str) -> float:
        value = float(token)
        if not math.isfinite(value):
            raise ValueError(token)
        return value

    return lists.parse(text, option, finite, example="-3,-1,0,1,3")
