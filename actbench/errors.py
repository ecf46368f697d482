"""The one user-error type: bad input from the person running actbench (a config key, an option, a path,
a run folder that cannot be used). The command line prints its message as one line and exits 2 — in one
place (`actbench.cli.app`); every other exception is a bug and keeps its traceback.

`UserError` subclasses ValueError so library callers that already catch ValueError keep working; the
command line catches only `UserError`, so a genuine ValueError from torch or numpy is never dressed as a
user's mistake.
"""

from __future__ import annotations

import difflib
import importlib.util
from collections.abc import Iterable
from typing import Any


class UserError(ValueError):
    """One readable line that names what to change (the key, option or file) and how."""

    exit_code = 2


def close_matches(value: Any, allowed: Iterable[Any]) -> list[str]:
    """Up to three allowed names that look like `value` (difflib's ratio >= 0.6)."""
    return difflib.get_close_matches(str(value), [str(a) for a in allowed], n=3, cutoff=0.6)


def not_allowed(
    what: str, value: Any, allowed: Iterable[Any], more: str = "", cls: type[UserError] = UserError
) -> UserError:
    """ "what: 'value' is not allowed (allowed: a, b[more]); did you mean 'c'?" as a UserError (or the
    subclass `cls`) to raise. `more`: what else is accepted, appended as written (e.g. ", or last,best")."""
    allowed = list(allowed)
    names = ", ".join(str(a) for a in allowed) + more
    near = close_matches(value, allowed)
    hint = f"; did you mean {' or '.join(repr(n) for n in near)}?" if near else ""
    return cls(f"{what}: {value!r} is not allowed (allowed: {names}){hint}")


def require(module: str, extra: str) -> None:
    """UserError (one line, with the install command) when the optional library `module` of the pyproject
    extra `extra` is not installed; checked before work that would need it starts."""
    if importlib.util.find_spec(module) is None:
        raise UserError(f"{extra}: not installed; install it with: pip install 'actbench[{extra}]'")


def exception_line(exc: BaseException, limit: int = 300) -> str:
    """An exception as one line for a run's record or a warning: its type and the first line of its
    message (torch's often run over several), cut at `limit` characters."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    return text if len(text) <= limit else text[: limit - 1] + "…"
